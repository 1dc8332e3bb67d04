// The two namespaces on one Socket.IO Manager, and the catch-up protocol around them:
// /presence opens first (the /chat handshake waits until the server has said who this
// user is on /presence), /chat sends the initial state, and after a drop the client
// reconnects with its sync cursor and pages through `syncMessages` until nothing is
// missing. Events go to `handlers`; this module keeps no chat state beyond the cursor.

import { offline, SlyChatError } from "./errors.js";
import type { ConnectionStatus, ErrorObject, Identity } from "./types.js";

/* The parts of socket.io-client this client uses (its `Manager` and `Socket`). */
export interface SocketLike {
  readonly connected: boolean;
  readonly active: boolean;
  on(event: string, listener: (...args: any[]) => void): unknown;
  emit(event: string, ...args: any[]): unknown;
  connect(): unknown;
  disconnect(): unknown;
}

export interface ManagerLike {
  socket(namespace: string, options: { auth: (cb: (data: object) => void) => void }): SocketLike;
  on(event: string, listener: (...args: any[]) => void): unknown;
}

/** The socket.io-client module, or anything with its `Manager`. */
export interface IoModule {
  Manager: new (url: string, options: Record<string, unknown>) => ManagerLike;
}

export type TokenSource = string | (() => string | Promise<string>);

/** The token in use: a fixed string, or a function asked again for every new connection
 * (and after the server refused the token), shared by both namespaces and the HTTP routes. */
export class Tokens {
  private current: Promise<string> | null = null;

  constructor(
    private source: TokenSource,
    private readonly onFailure: (err: SlyChatError) => void,
  ) {}

  get renewable(): boolean {
    return typeof this.source === "function";
  }

  set(source: TokenSource): void {
    this.source = source;
    this.current = null;
  }

  /** The next `get` asks the token function again. */
  invalidate(): void {
    this.current = null;
  }

  get(): Promise<string> {
    if (!this.current) {
      const source = this.source;
      this.current = Promise.resolve()
        .then(() => (typeof source === "function" ? source() : source))
        .catch((err: unknown) => {
          this.current = null;
          this.onFailure(new SlyChatError(`The token function failed: ${String(err)}`, 0));
          return ""; // refused with 401, then asked again
        });
    }
    return this.current;
  }
}

export interface Envelope {
  statusCode: number;
  error: boolean;
  message: unknown;
  data: any;
  [beside: string]: unknown;
}

export interface ConnectionHandlers {
  onStatus(status: ConnectionStatus): void;
  /** Who the server says this user is (each time /presence opens). */
  onIdentity(me: Identity): void;
  /** A `userChats` page; `replace`: a full (re)load. */
  onUserChats(env: Envelope, replace: boolean): void;
  onChanges(changes: unknown[]): void;
  onOffline(messages: unknown[]): void;
  onEvent(name: string, env: Envelope, namespace: "/chat" | "/presence"): void;
  /** Connected, chats loaded and everything missed applied. */
  onCaughtUp(): void;
  onCursor(cursor: string): void;
  onError(error: SlyChatError): void;
}

export interface ConnectionOptions {
  io: IoModule;
  url: string;
  tokens: Tokens;
  cursor: string | null;
  transports?: string[];
  ackTimeout: number;
  reconnectionDelay: number;
  reconnectionDelayMax: number;
  handlers: ConnectionHandlers;
}

/** Server events handed to `onEvent` (the initial state and sync pages are handled here). */
const CHAT_EVENTS = [
  "newChat", "receiveMessage", "receiveMedia", "messagesDelivered", "updateReadReceipts",
  "messageDeleted", "userTyping", "stoppedTyping", "userIsOnline", "userIsOffline",
  "loadMessages", "messageEdited", "messageReactions", "chatSettings", "searchMessages",
  "blockedUsers",
];
/** Refusals that reconnecting cannot fix. */
const FINAL_REFUSALS = new Set([400, 403, 404]);

type Step = "chats" | "sync" | "offline" | "reload";

export class Connection {
  status: ConnectionStatus = "idle";
  cursor: string | null;
  private readonly tokens: Tokens;
  private readonly handlers: ConnectionHandlers;
  private manager: ManagerLike | null = null;
  presence: SocketLike | null = null;
  chat: SocketLike | null = null;
  private everOnline = false;
  private replaceNextChats = true;
  private syncing = false;
  private steps = new Set<Step>();
  private closed = false;
  private identity = deferred<void>();
  private reopenTimer: ReturnType<typeof setTimeout> | null = null;
  private reopenFailures = 0;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  private readonly inFlight = new Map<SocketLike, Set<(err: SlyChatError) => void>>();
  private opened: { resolve: () => void; reject: (e: SlyChatError) => void } | null = null;

  constructor(private readonly options: ConnectionOptions) {
    this.tokens = options.tokens;
    this.cursor = options.cursor;
    this.handlers = options.handlers;
  }

  get online(): boolean {
    return this.status === "online";
  }

  /** Opens both namespaces; resolves once caught up, rejects when the server refuses. */
  open(): Promise<void> {
    this.closed = false;
    const done = new Promise<void>((resolve, reject) => {
      this.opened = { resolve, reject };
    });
    if (this.manager) return done;
    const { io, url, transports, reconnectionDelay, reconnectionDelayMax } = this.options;
    const manager = new io.Manager(url, {
      reconnectionDelay,
      reconnectionDelayMax,
      randomizationFactor: 0.3,
      autoConnect: true,
      ...(transports ? { transports } : {}),
    });
    // Before the sockets subscribe: each new engine connection fetches a fresh token.
    manager.on("open", () => this.tokens.invalidate());
    this.manager = manager;
    this.setStatus("connecting");
    // Created in this order, so the manager opens (and reopens) /presence before /chat.
    this.presence = manager.socket("/presence", {
      auth: (cb) => {
        void this.tokens.get().then((token) => cb({ token }));
      },
    });
    this.chat = manager.socket("/chat", {
      auth: (cb) => {
        void this.chatAuth().then(cb);
      },
    });
    this.wirePresence(this.presence);
    this.wireChat(this.chat);
    return done;
  }

  close(): void {
    this.closed = true;
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.reopenTimer = null;
    this.setStatus("closed");
    const sockets = [this.presence, this.chat];
    this.manager = this.presence = this.chat = null;
    for (const s of sockets) s?.disconnect(); // the manager closes its connection with the last
    this.failOpen(new SlyChatError("The client was closed", 0));
  }

  /** An event with an ack: resolves with the ack's envelope, rejects with a SlyChatError. */
  request(event: string, payload: unknown, namespace: "/chat" | "/presence" = "/chat"): Promise<Envelope> {
    const socket = namespace === "/chat" ? this.chat : this.presence;
    if (!socket?.connected) return Promise.reject(offline());
    return new Promise<Envelope>((resolve, reject) => {
      let pending = this.inFlight.get(socket);
      if (!pending) {
        pending = new Set();
        this.inFlight.set(socket, pending);
      }
      const set = pending;
      const fail = (err: SlyChatError): void => {
        clearTimeout(timer);
        set.delete(fail);
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new SlyChatError(`No answer to ${event} in time`, 0)),
        this.options.ackTimeout,
      );
      unref(timer);
      set.add(fail);
      socket.emit(event, payload ?? {}, (ack: Envelope | ErrorObject) => {
        clearTimeout(timer);
        set.delete(fail);
        if (ack && (ack as ErrorObject).error === true) reject(SlyChatError.from(ack as ErrorObject));
        else resolve(ack as Envelope);
      });
    });
  }

  /** Fire and forget (typing): dropped while offline rather than queued; `onRefused` hears a refusal. */
  notify(event: string, payload: unknown, onRefused: (err: SlyChatError) => void): void {
    if (!this.chat?.connected) return;
    this.chat.emit(event, payload, (ack: ErrorObject | Envelope) => {
      if (ack && (ack as ErrorObject).error === true) onRefused(SlyChatError.from(ack as ErrorObject));
    });
  }

  /** A full reload of the chat list (after a sync reset). */
  reloadChats(): void {
    this.replaceNextChats = true;
    this.ask("getUserChats", {});
  }

  /** The first page again, merged in (for a chat this client has not seen yet). Calls made
   * while one is on its way become one more, not one each. */
  refreshChats(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.refreshAgain = false;
          await this.request("getUserChats", {}).catch((err: SlyChatError) => {
            if (err.statusCode) this.handlers.onError(err);
          });
        } while (this.refreshAgain && this.chat?.connected);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  // --- wiring ------------------------------------------------------------------------------

  private wirePresence(p: SocketLike): void {
    p.on("connect", () => {
      // Back after a drop of /presence alone: /chat never left, nothing to catch up.
      if (this.chat?.connected && this.steps.size === 0 && this.everOnline && this.status !== "online") {
        this.setStatus("online");
        this.handlers.onCaughtUp();
      }
    });
    p.on("userIsOnline", (env: Envelope) => {
      const data = env?.data as { userId: number; userType: Identity["type"] } | undefined;
      if (data) this.handlers.onIdentity({ id: data.userId, type: data.userType });
      this.identity.resolve();
    });
    p.on("onlinePresence", (env: Envelope) => this.handlers.onEvent("onlinePresence", env, "/presence"));
    p.on("appError", (err: ErrorObject) => this.appError(err));
    p.on("connect_error", (err: { message?: string; data?: ErrorObject }) => this.refused(p, err));
    p.on("disconnect", (reason: string) => {
      this.identity = deferred<void>();
      this.lost(p, reason);
    });
  }

  private wireChat(c: SocketLike): void {
    c.on("connect", () => this.chatOpened());
    c.on("disconnect", (reason: string) => this.lost(c, reason));
    c.on("connect_error", (err: { message?: string; data?: ErrorObject }) => this.refused(c, err));
    c.on("appError", (err: ErrorObject) => this.appError(err));
    c.on("userChats", (env: Envelope) => this.userChats(env));
    c.on("syncMessages", (env: Envelope) => this.syncPage(env));
    c.on("offlineMessages", (env: Envelope) => this.offline(env));
    for (const name of CHAT_EVENTS) {
      c.on(name, (env: Envelope) => {
        this.handlers.onEvent(name, env, "/chat");
        // Kept once applied: a restart resumes after what the app has seen.
        if (!this.syncing) this.takeCursor(cursorOfEvent(name, env));
      });
    }
  }

  private async chatAuth(): Promise<object> {
    // /presence first: the server admits /chat only for a user who is online, and the
    // identity it states decides whether the stored cursor is this user's.
    await withTimeout(this.identity.promise, this.options.ackTimeout);
    const token = await this.tokens.get();
    return this.cursor ? { token, syncCursor: this.cursor } : { token };
  }

  private chatOpened(): void {
    // What the server sends now: userChats, then the first sync page when we gave it a
    // cursor, then offlineMessages (empty after a sync: the sync carried those).
    this.syncing = Boolean(this.cursor);
    this.replaceNextChats = !this.cursor;
    this.steps = new Set<Step>(this.syncing ? ["chats", "sync", "offline"] : ["chats", "offline"]);
    this.setStatus(this.everOnline ? "catching-up" : "connecting");
  }

  private userChats(env: Envelope): void {
    const replace = this.replaceNextChats;
    this.replaceNextChats = false;
    // A full load says where the feed stands; during a sync its pages say it instead.
    if (replace && !this.syncing) this.takeCursor(env.syncCursor as string | undefined);
    this.handlers.onUserChats(env, replace);
    this.done("chats");
    this.done("reload");
  }

  private syncPage(env: Envelope): void {
    const data = env.data as {
      changes: unknown[]; hasMore: boolean; syncCursor: string; reset?: boolean; pushed?: boolean;
    };
    if (data.pushed) {
      // The server's own page: changes this socket missed while the fan-out between its
      // nodes was broken. Merged like a page we asked for; the server sends the next one
      // itself, and a catch-up of ours in progress keeps its own steps and cursor.
      this.handlers.onChanges(data.changes);
      if (!this.syncing) this.takeCursor(data.syncCursor);
      return;
    }
    if (data.reset) {
      // The cursor is too old or not ours: start over from a full list.
      this.syncing = false;
      this.takeCursor(data.syncCursor);
      this.steps.add("reload");
      this.done("sync");
      this.reloadChats();
      return;
    }
    this.handlers.onChanges(data.changes);
    this.takeCursor(data.syncCursor);
    if (data.hasMore) {
      this.ask("syncMessages", { since: data.syncCursor });
    } else {
      this.syncing = false;
      this.done("sync");
    }
  }

  private offline(env: Envelope): void {
    this.handlers.onOffline(env.data as unknown[]);
    if (env.hasMore) this.ask("getOfflineMessages", {});
    else this.done("offline");
  }

  private done(step: Step): void {
    if (!this.steps.delete(step) || this.steps.size > 0) return;
    this.everOnline = true;
    this.reopenFailures = 0;
    this.setStatus("online");
    this.opened?.resolve();
    this.opened = null;
    this.handlers.onCaughtUp();
  }

  private ask(event: string, payload: unknown): void {
    this.request(event, payload).catch((err: SlyChatError) => {
      // A catch-up request that failed is made again by the next reconnect; say why.
      if (err.statusCode) this.handlers.onError(err);
    });
  }

  private takeCursor(cursor: string | null | undefined): void {
    if (typeof cursor === "string" && cursor && cursor !== this.cursor) {
      this.cursor = cursor;
      this.handlers.onCursor(cursor);
    }
  }

  private appError(err: ErrorObject): void {
    // Answers to this client's requests reach their promises; what is left is about the
    // connection itself: a token gone bad (the server disconnects next), a failed handshake.
    if (err?.statusCode === 401) this.tokens.invalidate();
    if ([401, 500, 503].includes(err?.statusCode) || err?.message === "Connect to the presence namespace first") {
      this.handlers.onError(SlyChatError.from(err));
    }
  }

  private lost(socket: SocketLike, reason: string): void {
    for (const fail of this.inFlight.get(socket) ?? []) fail(offline());
    this.inFlight.delete(socket);
    if (this.closed) return;
    if (socket === this.chat) {
      // The catch-up starts over with the next /chat connect.
      this.syncing = false;
      this.steps.clear();
    }
    if (this.everOnline) this.setStatus("reconnecting");
    // The server itself closed this namespace (a token gone bad, a failed handshake):
    // socket.io-client leaves reconnecting to us.
    if (reason === "io server disconnect") this.reopen();
  }

  private refused(socket: SocketLike, err: { message?: string; data?: ErrorObject }): void {
    if (this.closed || socket.active) return; // the manager retries transport failures itself
    const error = SlyChatError.from(err?.data ?? { message: err?.message ?? "Connection refused", statusCode: 0 });
    if (!this.everOnline) {
      // The first connect: the app hears why at once (a bad token is not retried).
      this.failOpen(error);
      this.close();
      return;
    }
    this.handlers.onError(error);
    const status = error.statusCode;
    if (FINAL_REFUSALS.has(status) || (status === 401 && !this.tokens.renewable)) {
      this.close(); // nothing this client can change: a new token or client is needed
      return;
    }
    this.tokens.invalidate();
    this.reopen();
  }

  /** Reopens whichever namespace the server closed, one attempt at a time, backing off. */
  private reopen(): void {
    if (this.reopenTimer || this.closed) return;
    const delay = Math.min(30000, 250 * 2 ** this.reopenFailures) * (0.8 + Math.random() * 0.4);
    this.reopenFailures += 1;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = null;
      if (this.closed) return;
      this.tokens.invalidate();
      for (const s of [this.presence, this.chat]) if (s && !s.active) s.connect();
    }, delay);
  }

  private failOpen(error: SlyChatError): void {
    this.opened?.reject(error);
    this.opened = null;
  }

  private setStatus(status: ConnectionStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.handlers.onStatus(status);
  }
}

function cursorOfEvent(name: string, env: Envelope): string | null {
  if (name === "receiveMessage" || name === "receiveMedia") return env?.data?.[0]?.syncCursor ?? null;
  if (name === "newChat") return env?.message && typeof env.message === "object"
    ? ((env.message as { messages?: { syncCursor?: string }[] }).messages?.at(-1)?.syncCursor ?? null)
    : null;
  return null;
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** `promise`, or nothing after `ms`; the timer does not hold a Node process open. */
function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const lapse = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    unref(timer);
  });
  return Promise.race([promise, lapse]).finally(() => clearTimeout(timer));
}

/** Node's timers keep the process alive; a client's own waits must not. */
export function unref(timer: unknown): void {
  (timer as { unref?: () => void } | null)?.unref?.();
}
