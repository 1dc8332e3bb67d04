// SlyChat: one signed-in user's chat. The connection feeds the store, the store's changes
// become events, the app's actions go out as events (sends through the outbox) or over
// HTTP (history, uploads).

import * as socketIo from "socket.io-client";

import {
  Connection,
  Tokens,
  type Envelope,
  type IoModule,
  type TokenSource,
} from "./connection.js";
import { Emitter } from "./emitter.js";
import { SlyChatError } from "./errors.js";
import { Http, type FetchLike } from "./http.js";
import { newChatFieldsOf, newClientMessageId, Outbox, type OutboxEntry, type SendPayload } from "./outbox.js";
import { PersistentState } from "./storage.js";
import { ChatStore, type ChatRecord } from "./store.js";
import { TypingNotifier, type TypingTarget } from "./typing.js";
import type {
  BlockData,
  BlockedUser,
  Chat,
  ChatSettingsData,
  ChatTarget,
  ChatView,
  ConnectionStatus,
  DeletedData,
  Identity,
  Message,
  NewChatFields,
  PendingMessage,
  Presence,
  ReactionsData,
  ReadData,
  ReportReason,
  ReportResult,
  ReportUserInput,
  Role,
  SearchData,
  SearchOptions,
  SendInput,
  SlyChatEvents,
  StorageLike,
  SyncChange,
  UploadFile,
  UploadOptions,
  UploadTarget,
} from "./types.js";

export interface SlyChatOptions {
  /** The server, e.g. "https://chat.example.com" (the namespaces and routes are added). */
  url: string;
  /** The user's JWT, or a function returning a fresh one (asked on every reconnect). */
  token: TokenSource;
  /** Where the sync cursor and the outbox survive a reload or restart (sessionStorage,
   * localStorage, or anything with getItem/setItem/removeItem). One user's per prefix. */
  storage?: StorageLike;
  /** Prefix of the storage keys. Default "slychat". */
  storageKey?: string;
  /** Engine.IO transports, as the server allows (default: polling, then websocket). */
  transports?: ("polling" | "websocket")[];
  /** How long to wait for an ack, in ms. Default 10000. */
  ackTimeout?: number;
  /** Reconnection delays of socket.io-client, in ms. Defaults 500 and 5000. */
  reconnectionDelay?: number;
  reconnectionDelayMax?: number;
  /** Ask /presence about the other party of each chat (at most this many at once; 0: never).
   * Default 25. */
  presenceChecks?: number;
  /** Messages per page for `openChat` and `loadOlder`. Default 30. */
  pageSize?: number;
  /** Typing notices: at most one per `interval` ms; `stoppedTyping` after `idle` ms. */
  typing?: { interval?: number; idle?: number };
  /** A socket.io-client module of your own (default: the one this package depends on). */
  io?: IoModule;
  /** A fetch of your own (default: the global one). */
  fetch?: FetchLike;
}

const TYPING_SHOWN_MS = 6000; // a typing notice lapses without a fresh one
const ANNOUNCED_KEPT = 10000; // message ids remembered as announced
const RATE_LIMIT_TRIES = 5;

const UPLOAD_ROUTES: [RegExp, string][] = [
  [/^image\//, "send-image"],
  [/^application\/pdf$/, "send-pdf"],
  [/^video\//, "send-video"],
];

export class SlyChat extends Emitter<SlyChatEvents> {
  /** The state behind `chats`: for apps that want the raw records. */
  readonly store = new ChatStore();
  private readonly options: SlyChatOptions;
  private readonly state: PersistentState;
  private readonly tokens: Tokens;
  private readonly outbox: Outbox;
  private readonly http: Http;
  private readonly notifier: TypingNotifier;
  private connection: Connection | null = null;
  private connecting: Promise<void> | null = null;
  private wanted = false; // connect() called and close() not since
  /** Requests whose answer comes as a server event after their ack, oldest first. */
  private readonly expected: {
    event: string;
    match: (data: any) => boolean;
    resolve: (data: any) => void;
    reject: (err: SlyChatError) => void;
  }[] = [];
  private readonly restored: Promise<{ cursor: string | null; me: Identity | null }>;
  private storedMe: Identity | null = null;
  private readonly announced = new Set<string>();
  private awaitingChat: Message[] = [];
  private readonly presenceAsked = new Set<string>();
  private readonly typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** The list of blocked users asked for after the latest (re)connect. */
  private blockedLoading: Promise<void> = Promise.resolve();

  constructor(options: SlyChatOptions) {
    super();
    if (!options || typeof options.url !== "string" || !options.url) {
      throw new TypeError("SlyChat needs { url, token }");
    }
    this.options = options;
    const report = (err: SlyChatError): void => this.emit("error", err);
    this.tokens = new Tokens(options.token, report);
    this.state = new PersistentState(options.storage, options.storageKey ?? "slychat", (err) =>
      report(new SlyChatError(`Storage failed: ${String(err)}`, 0)));
    this.http = new Http(options.url.replace(/\/+$/, ""), this.tokens, options.fetch,
      (info) => this.emit("rateLimited", info));
    this.outbox = new Outbox(this.state, this.store, {
      request: (event, payload) => this.request(event, payload) as Promise<{ data: Message }>,
      canSend: () => this.connection?.online === true,
      onStored: (message, entry) => this.sentStored(message, entry),
      onChange: () => this.emit("outbox", this.outbox.pending),
      onRateLimited: (info) => this.emit("rateLimited", info),
    });
    this.store.onStored = (message) => this.outbox.stored(message);
    this.notifier = new TypingNotifier((event, target) => {
      this.connection?.notify(event, target, (err) => {
        if (err.statusCode === 429) this.notifier.pause(err.retryAfter ?? 1);
      });
    }, options.typing);
    this.restored = this.restore();
  }

  // --- reading -----------------------------------------------------------------------------

  /** The chat list, newest activity first, kept up to date. */
  get chats(): ChatView[] {
    return this.store.sortedChats().map((record) => this.store.view(record));
  }

  chat(chatId: string): ChatView | null {
    const record = this.store.chat(chatId);
    return record ? this.store.view(record) : null;
  }

  /** A chat's held messages, oldest first. */
  messages(chatId: string): Message[] {
    return this.store.messages(chatId);
  }

  /** Messages of mine not stored yet (or refused), oldest first; of one chat with `chatId`. */
  pending(chatId?: string): PendingMessage[] {
    const all = this.outbox.pending;
    return chatId === undefined ? all : all.filter((p) => p.chatId === chatId);
  }

  get totalUnread(): number {
    return this.store.totalUnread();
  }

  /** More chats than `chats` holds exist (see `loadMoreChats`). */
  get hasMoreChats(): boolean {
    return this.store.chatsHaveMore;
  }

  /** The users I block, oldest block first: loaded on every (re)connect (`connect()`
   * resolves once it is), then kept up to date by the server's `blockedUsers` events, which
   * every client of mine hears after each change. Empty until first loaded. */
  get blockedUsers(): BlockedUser[] {
    return (this.store.blockedUsers ?? []).map((b) => ({ ...b }));
  }

  /** Who the server says this user is; null until /presence first opened. */
  get me(): Identity | null {
    return this.store.me;
  }

  get status(): ConnectionStatus {
    return this.connection?.status ?? "idle";
  }

  /** The other party's presence in a chat, or a user's; null until known. */
  presenceOf(chatId: string): Presence | null;
  presenceOf(userId: number, userType: Role): Presence | null;
  presenceOf(chatOrUser: string | number, userType?: Role): Presence | null {
    if (typeof chatOrUser === "number") return this.store.presence.get(`${userType}:${chatOrUser}`) ?? null;
    const record = this.store.chat(chatOrUser);
    return record ? this.store.presenceOf(record) : null;
  }

  /** The other party is typing in this chat. */
  isTyping(chatId: string): boolean {
    return this.store.isTyping(chatId);
  }

  // --- connecting --------------------------------------------------------------------------

  /** Opens /presence, then /chat; resolves once the chats are loaded, everything missed
   * since the stored cursor is applied and the blocked list is loaded. Rejects with the server's refusal (401 for a bad
   * token). After `close()`, connects again. */
  connect(): Promise<void> {
    this.wanted = true;
    if (!this.connecting) {
      this.connecting = this.open().finally(() => {
        this.connecting = null;
      });
    }
    return this.connecting;
  }

  private async open(): Promise<void> {
    const { cursor } = await this.restored;
    await this.outbox.ready();
    if (!this.wanted) throw new SlyChatError("The client was closed", 0);
    if (this.connection && this.connection.status !== "closed") return; // connected already
    const connection = new Connection({
      io: this.options.io ?? (socketIo as unknown as IoModule),
      url: this.options.url.replace(/\/+$/, ""),
      tokens: this.tokens,
      cursor: this.connection?.cursor ?? cursor,
      ackTimeout: this.options.ackTimeout ?? 10000,
      reconnectionDelay: this.options.reconnectionDelay ?? 500,
      reconnectionDelayMax: this.options.reconnectionDelayMax ?? 5000,
      ...(this.options.transports ? { transports: this.options.transports } : {}),
      handlers: {
        onStatus: (status) => {
          // Lists asked for on a connection that is gone will not come.
          if (status === "reconnecting" || status === "closed") {
            for (const w of this.expected.splice(0)) w.reject(new SlyChatError("Not connected", 0));
          }
          this.emit("status", status);
        },
        onIdentity: (me) => this.identified(me),
        onUserChats: (env, replace) => this.userChats(env, replace),
        onChanges: (changes) => this.changes(changes as SyncChange[]),
        onOffline: (messages) => this.arrived(messages as Message[]),
        onEvent: (name, env) => this.event(name, env),
        onCaughtUp: () => this.caughtUp(),
        onCursor: (c) => void this.state.write("cursor", c),
        onError: (err) => this.emit("error", err),
      },
    });
    this.connection = connection;
    await connection.open();
    await this.blockedLoading; // asked for once caught up; never rejects
  }

  /** Closes both namespaces. Queued messages stay queued (and stored, with `storage`):
   * they go out on the next `connect()`, of this client or of the next one with this storage. */
  close(): void {
    this.wanted = false;
    this.notifier.stop();
    this.connection?.close();
    for (const timer of this.typingTimers.values()) clearTimeout(timer);
    this.typingTimers.clear();
  }

  /** Another token (or token function) from now on: the next reconnect uses it. */
  setToken(token: TokenSource): void {
    this.tokens.set(token);
  }

  /** Resolves once everything written to storage so far is there. */
  flushed(): Promise<void> {
    return this.state.settled();
  }

  // --- sending -----------------------------------------------------------------------------

  /** Queues a message (before `connect()` too, and while offline); resolves with the stored
   * message once the server acknowledged it, rejects with a SlyChatError carrying
   * `statusCode` when the server refuses it (400, 403, 404, 413). */
  send(input: SendInput): Promise<Message> {
    let target: { productId: string; recipientId: number; chatId: string | null };
    try {
      target = this.resolveTarget(input);
    } catch (err) {
      return Promise.reject(err);
    }
    if (typeof input.text !== "string") return Promise.reject(new SlyChatError("text is required", 400));
    const payload: Omit<SendPayload, "clientMessageId"> = {
      ...newChatFieldsOf(input),
      productId: target.productId,
      recipientId: target.recipientId,
      text: input.text,
      ...(input.replyTo ? { replyTo: input.replyTo } : {}),
    };
    return this.outbox.add(payload, target.chatId);
  }

  /** A message the server refused, again (same clientMessageId). */
  retry(clientMessageId: string): Promise<Message> {
    return this.outbox.retry(clientMessageId);
  }

  /** Forgets a message the server refused. */
  discard(clientMessageId: string): boolean {
    return this.outbox.discard(clientMessageId);
  }

  /** Files (and a caption) as media messages, through the upload routes: one message per
   * kind (images, PDFs, videos), the caption with the first. Resolves with the stored messages. */
  async upload(target: UploadTarget, files: readonly UploadFile[], options: UploadOptions = {}): Promise<Message[]> {
    const where = this.resolveTarget(target);
    const groups = new Map<string, UploadFile[]>();
    for (const file of files) {
      const type = typeOf(file);
      const route = UPLOAD_ROUTES.find(([pattern]) => pattern.test(type))?.[1];
      if (!route) throw new SlyChatError(`Cannot send a file of type '${type || "unknown"}'`, 415);
      groups.set(route, [...(groups.get(route) ?? []), file]);
    }
    if (groups.size === 0) throw new SlyChatError("Attach at least one file", 400);
    const stored: Message[] = [];
    let caption = options.text;
    for (const [route, list] of groups) {
      const fields: Record<string, string> = {
        ...stringFields(newChatFieldsOf(target as NewChatFields)),
        productId: where.productId,
        recipientId: String(where.recipientId),
        clientMessageId: newClientMessageId(), // the same for every retry of this upload
      };
      if (caption) fields.text = caption;
      if (options.replyTo) fields.replyTo = options.replyTo;
      caption = undefined;
      const { body } = await this.http.json<{ data: Chat | Message }>("POST", `/api/v1/chat/${route}`,
        () => formOf(fields, list));
      const data = body.data;
      if ("messages" in data && Array.isArray(data.messages)) {
        // A new chat comes back whole; an existing chat's upload, as its message.
        this.store.putChat(data, { counted: true });
        this.emit("chat", this.chat(data.id)!);
        for (const m of data.messages) this.arrived([m]);
        stored.push(...data.messages.slice(0, 1));
      } else {
        this.arrived([data as Message]);
        stored.push(data as Message);
      }
    }
    return stored;
  }

  // --- reading and changing chats ----------------------------------------------------------

  /** Opens a chat: its newest page of messages, and every message in it is marked read. */
  async openChat(chatId: string, { limit = this.options.pageSize ?? 30 } = {}): Promise<ChatView> {
    await this.answered("loadMessages", (chat: Chat) => chat?.id === chatId, "joinChat", { chatId, limit });
    this.store.markOpened(chatId);
    const view = this.chat(chatId);
    if (!view) throw new SlyChatError("Chat not found", 404);
    this.emit("chat", view);
    return view;
  }

  /** The page of history before the oldest message held (over HTTP: nothing is marked read). */
  async loadOlder(chatId: string, { limit = this.options.pageSize ?? 30 } = {}): Promise<{ messages: Message[]; hasMore: boolean }> {
    const record = this.store.chat(chatId);
    if (!record || record.provisional || record.vendorId === undefined || record.customerId === undefined) {
      throw new SlyChatError("Chat not found", 404);
    }
    const oldest = this.store.oldestSeq(chatId);
    const query = new URLSearchParams({ limit: String(limit) });
    if (oldest !== null) query.set("before", String(oldest));
    const path = `/api/v1/chat/${encodeURIComponent(record.productId ?? "")}/${record.vendorId}/${record.customerId}?${query}`;
    const { body } = await this.http.json<{ data: Chat }>("GET", path);
    const page = body.data;
    this.store.putChat(page);
    this.emit("chat", this.chat(chatId)!);
    return { messages: page.messages, hasMore: page.hasMore };
  }

  /** The next page of the chat list; resolves with whether more remain. */
  async loadMoreChats(): Promise<boolean> {
    const last = this.store.sortedChats().filter((c) => !c.provisional).at(-1);
    await this.answered("userChats", () => true, "getUserChats", last ? { before: last.id } : {});
    return this.store.chatsHaveMore;
  }

  /** The chats I archived (the chat list holds the others), over HTTP; they are held from
   * then on, with `archived: true`, until unarchived. */
  async archivedChats(): Promise<ChatView[]> {
    const { body } = await this.http.json<{ data: Chat[] }>("GET", "/api/v1/chat?archived=true");
    for (const chat of body.data) this.store.putChat(chat, { counted: true });
    this.emit("chats", this.chats);
    return body.data.map((c) => this.chat(c.id)).filter((c): c is ChatView => c !== null);
  }

  /** Every message the other party sent in the chat becomes read; they get a read receipt. */
  async markAsRead(chatId: string): Promise<ReadData> {
    const ack = await this.call("markAsRead", { chatId });
    this.store.markOpened(chatId);
    const view = this.chat(chatId);
    if (view) this.emit("chat", view);
    return ack.data as ReadData;
  }

  /** Replaces the text of a message of mine (within the server's edit window). */
  async editMessage(messageId: string, text: string): Promise<Message> {
    const ack = await this.call("editMessage", { messageId, text });
    const message = ack.data as Message;
    this.store.putMessage(message);
    return message;
  }

  /** Deletes a message of mine, for both parties. */
  async deleteMessage(messageId: string): Promise<DeletedData> {
    const ack = await this.call("deleteMessage", { messageId });
    const data = ack.data as DeletedData;
    this.store.removeMessage(data.chatId, data.messageId);
    return data;
  }

  /** My reaction to a message (it replaces the one I had). */
  async react(messageId: string, emoji: string): Promise<ReactionsData> {
    return this.reactions(await this.call("addReaction", { messageId, emoji }));
  }

  /** Removes my reaction to a message. */
  async unreact(messageId: string): Promise<ReactionsData> {
    return this.reactions(await this.call("removeReaction", { messageId }));
  }

  /** Messages of my chats (of one with `chatId`) matching every word of `query`, newest
   * first; the next page with `before: result.next`. */
  async search(query: string, { chatId, before, limit }: SearchOptions = {}): Promise<SearchData> {
    return this.answered("searchMessages", () => true, "searchMessages", {
      query, ...(chatId ? { chatId } : {}), ...(before ? { before } : {}), ...(limit ? { limit } : {}),
    });
  }

  /** Mutes or archives a chat (for me only). */
  async updateChatSettings(chatId: string, settings: { muted?: boolean; archived?: boolean }): Promise<ChatSettingsData> {
    const ack = await this.call("updateChatSettings", { chatId, ...settings });
    const data = ack.data as ChatSettingsData;
    this.settings(data);
    return data;
  }

  /** I block a user: nothing flows between us, in any of our chats, until I unblock them
   * (their sends and mine get 403; history stays readable). `userType` defaults to my
   * counterpart's role (a customer blocks vendors, a vendor customers) once the client
   * knows who I am. Blocking someone blocked already changes nothing. */
  async block(userId: number, userType?: Role): Promise<BlockData> {
    return this.changeBlock("blockUser", userId, userType);
  }

  /** Lifts my block of a user (lifting none is no failure). */
  async unblock(userId: number, userType?: Role): Promise<BlockData> {
    return this.changeBlock("unblockUser", userId, userType);
  }

  /** Reports a message of the other party to the platform's moderators; resolves with the
   * report (`created: false` when my report of it is open already: the same one). */
  async reportMessage(messageId: string, reason: ReportReason, note?: string): Promise<ReportResult> {
    return this.report("reportMessage", { messageId, reason, ...(note !== undefined ? { note } : {}) });
  }

  /** Reports a user I share a chat with (`chatId`: the chat whose latest messages the
   * moderators see; by default our chat with the latest activity). */
  async reportUser({ userId, userType, reason, note, chatId }: ReportUserInput): Promise<ReportResult> {
    return this.report("reportUser", {
      userId, userType, reason, ...(note !== undefined && note !== null ? { note } : {}),
      ...(chatId ? { chatId } : {}),
    });
  }

  /** Call on every key press in a chat's composer: throttled `typing`, then `stoppedTyping`
   * once the user pauses. Before a chat exists, name it by product and recipient. */
  typing(chat: string | TypingTarget): void {
    if (typeof chat === "string" && this.store.chat(chat)?.blocked) return; // refused anyway (403)
    const target = typeof chat === "string" ? this.typingTarget(chat) : chat;
    if (target) this.notifier.input(target);
  }

  /** The message was sent or the composer left: `stoppedTyping` now. */
  stopTyping(): void {
    this.notifier.stop();
  }

  /** Asks /presence whether a user is online. */
  async checkPresence(userId: number, userType: Role): Promise<Presence> {
    const ack = await this.call("checkOnlinePresence", { userId, userType }, "/presence");
    return this.presenceChanged(ack.data as { userId: number; userType: Role; status: string; lastSeen: string | null });
  }

  // --- requests ----------------------------------------------------------------------------

  private async changeBlock(event: "blockUser" | "unblockUser", userId: number, userType?: Role): Promise<BlockData> {
    const me = this.store.me;
    const type = userType ?? (me ? (me.type === "VENDOR" ? "CUSTOMER" : "VENDOR") : undefined);
    if (type === undefined) {
      throw new SlyChatError("userType is required until the client knows who it is signed in as", 400);
    }
    const data = (await this.call(event, { userId, userType: type })).data as BlockData;
    // The server's `blockedUsers` (sent to all my sockets) replaces the list; until it
    // comes, the held list says what the ack said, so the caller sees it at once.
    const held = this.store.blockedUsers ?? [];
    const same = (b: BlockedUser): boolean => b.userId === data.userId && b.userType === data.userType;
    if (!data.blocked) this.blockedListed(held.filter((b) => !same(b)));
    else if (!held.some(same)) {
      this.blockedListed([...held, { userId: data.userId, userType: data.userType, blockedAt: data.blockedAt ?? "" }]);
    }
    return data;
  }

  private async report(event: "reportMessage" | "reportUser", payload: object): Promise<ReportResult> {
    const ack = await this.call(event, payload);
    const data = ack.data as { id: string; status: ReportResult["status"] };
    return { id: data.id, status: data.status, created: ack.statusCode === 201 };
  }

  /** Asks for the list of users I block (each (re)connect: changes made while this client
   * was away reach it no other way). A server without blocking answers 400: the list stays empty. */
  private loadBlocked(): Promise<void> {
    return this.answered<BlockedUser[]>("blockedUsers", () => true, "getBlockedUsers", {}).then(
      () => undefined, // the event itself updated the list
      (err: unknown) => {
        if (err instanceof SlyChatError && err.statusCode !== 0 && err.statusCode !== 400) this.emit("error", err);
      },
    );
  }

  /** A whole list of the users I block: held, the chats' `blocked` flags follow it. */
  private blockedListed(list: readonly BlockedUser[]): void {
    const before = JSON.stringify(this.store.blockedUsers);
    const changed = this.store.setBlocked(list);
    if (JSON.stringify(this.store.blockedUsers) !== before) this.emit("blocked", this.blockedUsers);
    for (const record of changed) this.emit("chat", this.store.view(record));
  }

  /** A list request: its ack is a small confirmation and the list comes as the server event
   * `event` (the first one `match` accepts, in the order asked); resolves with its data. */
  private async answered<T>(event: string, match: (data: any) => boolean, request: string, payload: unknown): Promise<T> {
    let resolve!: (data: T) => void;
    let reject!: (err: SlyChatError) => void;
    const data = new Promise<T>((yes, no) => {
      resolve = yes;
      reject = no;
    });
    // Handled here too: a connection lost while the request is still on its way rejects
    // this promise before anyone awaits it.
    data.catch(() => undefined);
    const waiter = { event, match, resolve, reject };
    this.expected.push(waiter);
    try {
      await this.call(request, payload);
    } catch (err) {
      // A refused request sends no list: it must not take the next one's.
      const i = this.expected.indexOf(waiter);
      if (i >= 0) this.expected.splice(i, 1);
      throw err;
    }
    return data;
  }

  /** Hands a list event to the request waiting for it. */
  private deliver(event: string, data: unknown): void {
    const i = this.expected.findIndex((w) => w.event === event && w.match(data));
    if (i >= 0) this.expected.splice(i, 1)[0]!.resolve(data);
  }

  private request(event: string, payload: unknown, namespace: "/chat" | "/presence" = "/chat"): Promise<Envelope> {
    if (!this.connection) return Promise.reject(new SlyChatError("Not connected: call connect() first", 0));
    return this.connection.request(event, payload, namespace);
  }

  /** A request whose 429 is waited out (a few times). */
  private async call(event: string, payload: unknown, namespace: "/chat" | "/presence" = "/chat"): Promise<Envelope> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.request(event, payload, namespace);
      } catch (err) {
        if (!(err instanceof SlyChatError) || err.statusCode !== 429 || attempt >= RATE_LIMIT_TRIES) throw err;
        const seconds = err.retryAfter ?? 1;
        this.emit("rateLimited", { action: event, retryAfter: seconds });
        await new Promise((resolve) => setTimeout(resolve, Math.max(50, seconds * 1000)));
      }
    }
  }

  // --- what the server says ----------------------------------------------------------------

  private async restore(): Promise<{ cursor: string | null; me: Identity | null }> {
    const [cursor, me] = await Promise.all([this.state.read("cursor"), this.state.read("me")]);
    this.storedMe = isIdentity(me) ? me : null;
    if (this.storedMe && !this.store.me) this.store.me = this.storedMe;
    return { cursor: typeof cursor === "string" ? cursor : null, me: this.storedMe };
  }

  private identified(me: Identity): void {
    const stored = this.storedMe;
    if (stored && (stored.id !== me.id || stored.type !== me.type)) {
      // Storage of another user: their cursor would only be reset by the server, and what
      // they queued must never go out as this user's.
      if (this.connection) this.connection.cursor = null;
      void this.state.write("cursor", null);
      this.outbox.dropRestored();
      this.store.chats.clear();
      this.store.blockedUsers = null;
      this.announced.clear();
    }
    this.store.me = me;
    for (const p of this.store.pending.values()) {
      p.senderId = me.id;
      p.senderType = me.type;
    }
    if (!stored || stored.id !== me.id || stored.type !== me.type) void this.state.write("me", me);
    this.storedMe = me;
  }

  private userChats(env: Envelope, replace: boolean): void {
    this.store.putChats(env.data as Chat[], { replace, hasMore: Boolean(env.hasMore) });
    if (replace) this.presenceAsked.clear();
    this.placeAwaiting();
    this.emit("chats", this.chats);
    this.deliver("userChats", env.data);
    void this.askPresence();
  }

  private changes(changes: SyncChange[]): void {
    let unknown = false;
    for (const change of changes) {
      const known = this.store.applyChange(change);
      switch (change.type) {
        case "message":
          if (known) this.announce(change.message);
          else this.awaitingChat.push(change.message);
          break;
        case "chat":
          this.emit("chat", this.chat(change.chatId)!);
          break;
        case "edited":
          if (known) this.emit("edited", this.store.message(change.chatId, change.message.id) ?? change.message);
          break;
        case "read":
          this.emit("read", {
            // An old feed entry may lack the reader: it is then the other party (as the store reads it).
            chatId: change.chatId, readerId: change.readerId ?? 0,
            readerType: change.readerType ?? (this.store.me?.type === "VENDOR" ? "CUSTOMER" : "VENDOR"),
            readAt: change.readAt ?? "", messageIds: change.messageIds,
            count: change.messageIds.length, hasMore: false,
          });
          break;
        case "delivered":
          if (change.deliveredAt !== null) {
            this.emit("delivered", { chatId: change.chatId, messageIds: change.messageIds, deliveredAt: change.deliveredAt });
          }
          break;
        case "deleted":
          if (change.messageId !== null) {
            this.emit("deleted", { chatId: change.chatId, messageId: change.messageId,
              deletedAt: change.deletedAt ?? "" });
          }
          break;
        case "reactions":
          this.emit("reactions", { chatId: change.chatId, messageId: change.messageId, reactions: change.reactions });
          break;
        case "settings": {
          const view = this.chat(change.chatId);
          if (view) this.emit("chat", view);
          break;
        }
        default:
          break;
      }
      unknown = unknown || !known;
    }
    if (unknown) void this.refreshChats();
  }

  /** Messages from a live event, an offline batch or an upload. */
  private arrived(messages: readonly Message[]): void {
    let unknown = false;
    for (const m of messages ?? []) {
      if (this.store.putMessage(m)) this.announce(m);
      else {
        this.awaitingChat.push(m);
        unknown = true;
      }
    }
    if (unknown) void this.refreshChats(); // a chat this client has not seen yet
  }

  private event(name: string, env: Envelope): void {
    const data = env?.data;
    switch (name) {
      case "receiveMessage":
      case "receiveMedia":
        this.arrived(data as Message[]);
        return;
      case "newChat": {
        const chat = env.message as Chat;
        this.store.putChat(chat, { counted: true });
        this.emit("chat", this.chat(chat.id)!);
        for (const m of chat.messages ?? []) this.announce(m);
        this.placeAwaiting();
        void this.askPresence();
        return;
      }
      case "loadMessages": {
        const chat = data as Chat;
        this.store.putChat(chat, { opened: true });
        this.deliver(name, chat);
        return;
      }
      case "messagesDelivered":
        this.store.markDelivered(data.chatId, data.messageIds, data.deliveredAt);
        this.emit("delivered", data);
        return;
      case "updateReadReceipts":
        this.store.markRead(data);
        this.emit("read", data);
        return;
      case "messageDeleted":
        this.store.removeMessage(data.chatId, data.messageId);
        this.emit("deleted", data);
        return;
      case "messageEdited": {
        const message = data as Message;
        this.store.putMessage(message);
        this.emit("edited", this.store.message(message.chatId, message.id) ?? message);
        return;
      }
      case "messageReactions":
        this.reactions(env);
        this.emit("reactions", data);
        return;
      case "chatSettings":
        this.settings(data);
        return;
      case "searchMessages":
        this.deliver(name, data);
        return;
      case "blockedUsers":
        this.blockedListed(Array.isArray(data) ? (data as BlockedUser[]) : []);
        this.deliver(name, data);
        return;
      case "userTyping":
      case "stoppedTyping":
        this.typed(data, name === "userTyping");
        return;
      case "userIsOnline":
      case "userIsOffline":
        this.presenceChanged({ ...data, status: name === "userIsOnline" ? "online" : "offline" });
        return;
      case "onlinePresence":
        this.presenceChanged(data);
        return;
      default:
        return;
    }
  }

  private caughtUp(): void {
    this.blockedLoading = this.loadBlocked();
    this.outbox.drain();
    this.presenceAsked.clear(); // who came and went while we were away
    void this.askPresence();
  }

  /** Emits `message` for a message new to this client, once. */
  private announce(m: Message): void {
    if (this.announced.has(m.id)) return;
    this.announced.add(m.id);
    if (this.announced.size > ANNOUNCED_KEPT) {
      const oldest = this.announced.values().next().value;
      if (oldest !== undefined) this.announced.delete(oldest);
    }
    this.emit("message", this.store.message(m.chatId, m.id) ?? m, this.chat(m.chatId));
  }

  private placeAwaiting(): void {
    const waiting = this.awaitingChat;
    this.awaitingChat = [];
    for (const m of waiting) {
      if (this.store.putMessage(m)) this.announce(m);
      else this.awaitingChat.push(m);
    }
  }

  private async refreshChats(): Promise<void> {
    await this.connection?.refreshChats();
    // Still unknown after the first page: a chat this client cannot list; say them anyway.
    const left = this.awaitingChat;
    this.awaitingChat = [];
    for (const m of left) this.announce(m);
  }

  /** A message of my outbox was stored: held, and its chat made up if it is new to me. */
  private sentStored(message: Message, entry: OutboxEntry): void {
    if (!this.store.chat(message.chatId) && this.store.me) {
      const me = this.store.me;
      const p = entry.payload;
      const customer = me.type === "CUSTOMER";
      this.store.putProvisionalChat({
        id: message.chatId, productId: p.productId,
        vendorId: customer ? p.recipientId : me.id, customerId: customer ? me.id : p.recipientId,
        productName: p.productName ?? null, productPrice: p.productPrice ?? null,
        productImageUrl: p.productImageUrl ?? null, storeName: p.storeName ?? null,
        storeLogoUrl: p.storeLogoUrl ?? null, customerName: p.customerName ?? null,
        customerProfilePic: p.customerProfilePic ?? null,
        lastMessageAt: message.timestamp, createdAt: message.timestamp, updatedAt: message.timestamp,
      });
      this.emit("chat", this.chat(message.chatId)!);
      void this.refreshChats(); // the server's copy of the chat replaces this one
    }
    for (const p of this.store.pending.values()) {
      if (p.chatId === null && p.productId === entry.payload.productId && p.recipientId === entry.payload.recipientId) {
        p.chatId = message.chatId;
      }
    }
    if (this.store.putMessage(message)) this.announce(message);
  }

  private reactions(env: Envelope): ReactionsData {
    const data = env.data as ReactionsData;
    this.store.setReactions(data.chatId, data.messageId, data.reactions);
    return data;
  }

  private settings(data: ChatSettingsData): void {
    if (this.store.setSettings(data.chatId, data)) this.emit("chat", this.chat(data.chatId)!);
  }

  private typed(data: { chatId: string | null; productId: string; senderId: number; senderType: Role }, typing: boolean): void {
    const chatId = data.chatId;
    if (chatId) {
      clearTimeout(this.typingTimers.get(chatId));
      this.typingTimers.delete(chatId);
      if (typing) {
        this.store.setTyping(chatId, Date.now() + TYPING_SHOWN_MS);
        // Without a fresh notice it lapses: listeners hear that it stopped.
        this.typingTimers.set(chatId, setTimeout(() => {
          this.typingTimers.delete(chatId);
          this.store.setTyping(chatId, null);
          this.emit("typing", { chatId, productId: data.productId, userId: data.senderId, userType: data.senderType, typing: false });
        }, TYPING_SHOWN_MS));
      } else {
        this.store.setTyping(chatId, null);
      }
    }
    this.emit("typing", { chatId, productId: data.productId, userId: data.senderId, userType: data.senderType, typing });
  }

  private presenceChanged(data: { userId: number; userType: Role; status: string; lastSeen?: string | null }): Presence {
    const presence = this.store.setPresence(data.userType, data.userId, data.status === "online", data.lastSeen ?? null);
    this.emit("presence", presence);
    return presence;
  }

  /** Asks /presence about the other party of each chat, once each per connection (a few
   * per burst: every event spends from the connection's allowance). */
  private async askPresence(): Promise<void> {
    const limit = this.options.presenceChecks ?? 25;
    if (!limit || !this.connection?.presence?.connected || !this.store.me) return;
    const people: Identity[] = [];
    for (const chat of this.store.sortedChats()) {
      const who = this.store.counterpart(chat);
      const key = `${who.type}:${who.id}`;
      if (!this.presenceAsked.has(key) && people.length < limit) {
        this.presenceAsked.add(key);
        people.push(who);
      }
    }
    for (const who of people) {
      try {
        await this.checkPresence(who.id, who.type);
      } catch {
        this.presenceAsked.delete(`${who.type}:${who.id}`); // asked again after a reconnect
      }
    }
  }

  // --- helpers -----------------------------------------------------------------------------

  private resolveTarget(target: ChatTarget): { productId: string; recipientId: number; chatId: string | null } {
    if ("chatId" in target && target.chatId !== undefined) {
      const record = this.store.chat(target.chatId);
      if (!record || record.productId === undefined || !this.store.me) {
        throw new SlyChatError(`Unknown chat ${target.chatId}: name it by productId and recipientId`, 404);
      }
      return { productId: record.productId, recipientId: this.store.counterpart(record).id, chatId: record.id };
    }
    const { productId, recipientId } = target as { productId: string; recipientId: number };
    if (typeof productId !== "string" || !Number.isInteger(recipientId)) {
      throw new SlyChatError("Name the chat: chatId, or productId and recipientId", 400);
    }
    return { productId, recipientId, chatId: this.store.findChat(productId, recipientId)?.id ?? null };
  }

  private typingTarget(chatId: string): TypingTarget | null {
    const record: ChatRecord | null = this.store.chat(chatId);
    if (!record || record.productId === undefined || !this.store.me) return null;
    return { productId: record.productId, recipientId: this.store.counterpart(record).id };
  }
}

function stringFields(fields: NewChatFields): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined && value !== null) out[key] = String(value);
  return out;
}

function typeOf(file: UploadFile): string {
  return (file as { type?: string }).type ?? "";
}

function formOf(fields: Record<string, string>, files: readonly UploadFile[]): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  files.forEach((file, i) => {
    const name = safeName((file as { name?: string }).name, i);
    if (file instanceof Blob) {
      form.append(`file${i + 1}`, file, name);
    } else {
      const blob = file.data instanceof Blob ? file.data : new Blob([file.data as BlobPart], { type: file.type });
      form.append(`file${i + 1}`, blob, name);
    }
  });
  return form;
}

/** The server refuses names with path parts or control characters; it never uses the name
 * anyway, so anything odd is replaced. */
function safeName(name: string | undefined, i: number): string {
  const plain = typeof name === "string" && /^[\w .()+-]{1,100}$/u.test(name) && !name.includes("..");
  return plain ? name : `file${i + 1}`;
}

function isIdentity(value: unknown): value is Identity {
  const v = value as Identity | null;
  return Number.isInteger(v?.id) && (v?.type === "CUSTOMER" || v?.type === "VENDOR");
}
