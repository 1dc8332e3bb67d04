// The two namespaces on one Socket.IO Manager, and the catch-up protocol around them:
// /presence opens first (the server admits /chat only for a user who is online), /chat
// sends the initial state, and after a drop the page reconnects with its sync cursor and
// pages through `syncMessages` until nothing is missing. Events are handed to `handlers`;
// this module keeps no chat state of its own beyond the cursor.

const ACK_TIMEOUT_MS = 10000;
const CHAT_EVENTS = [
  "newChat", "receiveMessage", "receiveMedia", "messagesDelivered", "updateReadReceipts",
  "messageDeleted", "userTyping", "stoppedTyping", "userIsOnline", "userIsOffline",
  "loadMessages",
];

export class Connection {
  // io: the socket.io-client module; handlers: see App in app.js.
  constructor(io, { origin, token, transports, handlers }) {
    this.token = token;
    this.handlers = handlers;
    this.cursor = null; // the newest sync cursor this page holds
    this.status = "connecting"; // connecting | online | reconnecting | catching-up | closed
    this.everOnline = false;
    this.replaceNextChats = true; // the next userChats is a full (re)load
    this.syncing = false; // a syncMessages run is in progress: its pages own the cursor
    this.steps = new Set(); // catch-up steps still running after a connect
    this.closed = false;
    this.tokenRefused = false; // the server said 401: get a new token before reopening
    this.reopenTimer = null;
    this.manager = new io.Manager(origin, {
      reconnectionDelay: 500,
      reconnectionDelayMax: 4000,
      randomizationFactor: 0.3,
      transports, // as the server allows (SLYCHAT_TRANSPORTS)
    });
    // Created in this order, so the manager opens (and reopens) /presence before /chat.
    this.presence = this.manager.socket("/presence", { auth: (cb) => cb({ token: this.token }) });
    this.chat = this.manager.socket("/chat", {
      auth: (cb) => cb(this.cursor ? { token: this.token, syncCursor: this.cursor }
        : { token: this.token }),
    });
    this._wirePresence();
    this._wireChat();
  }

  get online() {
    return this.chat.connected;
  }

  close() {
    this.closed = true;
    this._setStatus("closed");
    this.presence.disconnect();
    this.chat.disconnect();
    this.manager.engine?.close();
  }

  // An event with an ack: resolves to the ack's envelope, rejects with the server's error
  // object ({statusCode, message, retryAfter}) or a timeout.
  async request(event, payload) {
    if (!this.chat.connected) throw offline();
    const ack = await this.chat.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload ?? {});
    if (ack && ack.error) throw ack;
    return ack;
  }

  async requestPresence(event, payload) {
    if (!this.presence.connected) throw offline();
    const ack = await this.presence.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
    if (ack && ack.error) throw ack;
    return ack;
  }

  // Fire and forget (typing): dropped while offline rather than queued for later.
  notify(event, payload) {
    if (this.chat.connected) this.chat.emit(event, payload, (ack) => {
      if (ack && ack.error) this.handlers.onRefused(event, ack);
    });
  }

  // A full reload of the chat list (after a sync reset, or for a chat this page lacks).
  reloadChats() {
    this.replaceNextChats = true;
    this._ask("getUserChats", {});
  }

  // The first page again, merged in (a chat this page has not seen yet). Requests made
  // while one is on its way become one more, not one each.
  async refreshChats() {
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = true;
    try {
      do {
        this.refreshAgain = false;
        await this.request("getUserChats", {}).catch((err) => {
          if (err?.statusCode) this.handlers.onAppError(err);
        });
      } while (this.refreshAgain && this.chat.connected);
    } finally {
      this.refreshing = false;
    }
  }

  moreChats(before) {
    this._ask("getUserChats", { before });
  }

  // --- wiring ----------------------------------------------------------------------------

  _wirePresence() {
    const p = this.presence;
    p.on("connect", () => {
      // Back after a drop of /presence alone: /chat never left, nothing to catch up.
      if (this.chat.connected && this.steps.size === 0 && this.everOnline) {
        this._setStatus("online");
      }
      this.handlers.onPresenceUp();
    });
    p.on("userIsOnline", (env) => this.handlers.onIdentity(env.data));
    p.on("onlinePresence", (env) => this.handlers.onEvent("onlinePresence", env));
    p.on("appError", (err) => this.handlers.onAppError(err));
    p.on("connect_error", (err) => this._refused(p, err));
    p.on("disconnect", (reason) => this._lost(p, reason));
  }

  _wireChat() {
    const c = this.chat;
    c.on("connect", () => this._chatOpened());
    c.on("disconnect", (reason) => this._lost(c, reason));
    c.on("connect_error", (err) => this._refused(c, err));
    c.on("appError", (err) => {
      if (err?.statusCode === 401) this.tokenRefused = true;
      this.handlers.onAppError(err);
    });
    c.on("userChats", (env) => this._userChats(env));
    c.on("syncMessages", (env) => this._syncPage(env));
    c.on("offlineMessages", (env) => this._offline(env));
    for (const name of CHAT_EVENTS) {
      c.on(name, (env) => {
        if (!this.syncing) this._takeCursor(cursorOfEvent(name, env));
        this.handlers.onEvent(name, env);
      });
    }
  }

  _chatOpened() {
    // What the server sends now: userChats, then the first sync page when we gave it a
    // cursor, then offlineMessages (empty after a sync: the sync carried those).
    this.syncing = Boolean(this.cursor);
    this.replaceNextChats = !this.cursor;
    this.steps = new Set(this.syncing ? ["chats", "sync", "offline"] : ["chats", "offline"]);
    this._setStatus(this.everOnline ? "catching-up" : "connecting");
  }

  _userChats(env) {
    const replace = this.replaceNextChats;
    this.replaceNextChats = false;
    // A full load says where the feed stands; during a sync its pages say it instead.
    if (replace && !this.syncing) this._takeCursor(env.syncCursor);
    this.handlers.onUserChats(env, { replace });
    this._done("chats");
    this._done("reload");
  }

  _syncPage(env) {
    const data = env.data;
    if (data.reset) {
      // The cursor is too old or not ours any more: start over from a full list.
      this.syncing = false;
      this.cursor = data.syncCursor;
      this.steps.add("reload");
      this._done("sync");
      this.reloadChats();
      return;
    }
    this.handlers.onChanges(data.changes);
    this.cursor = data.syncCursor;
    if (data.hasMore) {
      this._ask("syncMessages", { since: data.syncCursor });
    } else {
      this.syncing = false;
      this._done("sync");
    }
  }

  _offline(env) {
    this.handlers.onOffline(env.data);
    if (env.hasMore) this._ask("getOfflineMessages", {});
    else this._done("offline");
  }

  _done(step) {
    if (!this.steps.delete(step) || this.steps.size > 0) return;
    this.everOnline = true;
    this._setStatus("online");
    this.handlers.onCaughtUp();
  }

  _ask(event, payload) {
    this.request(event, payload).catch((err) => {
      // A catch-up request that failed is retried by the next reconnect; say why.
      if (err?.statusCode) this.handlers.onAppError(err);
    });
  }

  _takeCursor(cursor) {
    if (typeof cursor === "string" && cursor) this.cursor = cursor;
  }

  _lost(socket, reason) {
    if (this.closed) return;
    this.syncing = false;
    if (this.status !== "connecting" || this.everOnline) this._setStatus("reconnecting");
    // The server itself closed this namespace (a bad token, /chat before /presence, a
    // failed handshake): socket.io-client leaves that to us.
    if (reason === "io server disconnect") this._reopen();
  }

  _refused(socket, err) {
    if (this.closed || socket.active) return; // the manager retries transport failures
    const status = err?.data?.statusCode;
    if (status === 401) this.tokenRefused = true;
    this.handlers.onAppError(err?.data ?? { statusCode: status ?? 0, message: err?.message });
    this._reopen();
  }

  // Reopens whichever namespace the server closed, once at a time; with a fresh token
  // first when the old one was refused (dev mode mints another).
  _reopen() {
    if (this.reopenTimer) return;
    const delay = this.tokenRefused ? 100 : 1000 + Math.random() * 1000;
    this.reopenTimer = setTimeout(async () => {
      this.reopenTimer = null;
      if (this.tokenRefused) {
        this.tokenRefused = false;
        const token = await this.handlers.onTokenRefused();
        if (!token) return;
        this.token = token;
      }
      if (this.closed) return;
      // `active`: subscribed to the manager (connected, or reconnecting by itself).
      for (const s of [this.presence, this.chat]) if (!s.active) s.connect();
    }, delay);
  }

  _setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.handlers.onStatus(status);
  }
}

function cursorOfEvent(name, env) {
  if (name === "receiveMessage" || name === "receiveMedia") return env?.data?.[0]?.syncCursor;
  if (name === "newChat") return env?.message?.messages?.at(-1)?.syncCursor;
  return null;
}

function offline() {
  return { error: true, statusCode: 0, message: "Not connected: this will be retried." };
}
