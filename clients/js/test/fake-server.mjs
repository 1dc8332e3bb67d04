// A fake transport for the unit tests: an in-process stand-in for socket.io-client's
// Manager and Socket, wired to a small model of the slychat server (chats, per-user change
// feeds with cursors, idempotent sends, the /chat initial state), with knobs to refuse,
// rate-limit, drop a connection or stop answering. Tokens are "CUSTOMER:1" / "VENDOR:7";
// anything else is refused with 401.

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

class FakeSocket {
  constructor(manager, namespace, auth) {
    this.manager = manager;
    this.namespace = namespace;
    this.auth = auth;
    this.connected = false;
    this.active = true;
    this.listeners = new Map();
    this.user = null;
  }

  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, []);
    this.listeners.get(event).push(fn);
    return this;
  }

  deliver(event, ...args) {
    for (const fn of this.listeners.get(event) ?? []) fn(...args);
  }

  emit(event, payload, ack) {
    const server = this.manager.server;
    server.received.push({ namespace: this.namespace, event, payload, user: this.user });
    setTimeout(() => {
      if (!this.connected) return;
      const reply = server.handle(this, event, payload ?? {});
      if (reply !== undefined && ack && this.connected) ack(reply);
    }, 0);
  }

  connect() {
    this.active = true;
    if (this.manager.open) this.manager.handshake(this);
    return this;
  }

  disconnect() {
    this.active = false;
    const was = this.connected;
    this.connected = false;
    this.manager.server.left(this);
    if (was) this.deliver("disconnect", "io client disconnect");
    this.manager.maybeClose();
    return this;
  }

  serverDisconnect() {
    this.active = false;
    this.connected = false;
    this.manager.server.left(this);
    this.deliver("disconnect", "io server disconnect");
  }
}

class FakeManager {
  constructor(server, url, options) {
    this.server = server;
    this.url = url;
    this.options = options;
    this.sockets = [];
    this.listeners = new Map();
    this.open = false;
    this.closed = false;
    server.managers.push(this);
    this.alive = setInterval(() => {}, 1000); // as a real connection holds the process open
    setTimeout(() => this.tryOpen(), 0);
  }

  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, []);
    this.listeners.get(event).push(fn);
    return this;
  }

  socket(namespace, { auth }) {
    const socket = new FakeSocket(this, namespace, auth);
    this.sockets.push(socket);
    return socket;
  }

  tryOpen() {
    if (this.closed || this.open) return;
    if (this.server.down) {
      for (const s of this.sockets) if (s.active) s.deliver("connect_error", new Error("xhr poll error"));
      setTimeout(() => this.tryOpen(), 5);
      return;
    }
    this.open = true;
    this.server.opens += 1;
    for (const fn of this.listeners.get("open") ?? []) fn();
    for (const s of this.sockets) if (s.active) this.handshake(s);
  }

  handshake(socket) {
    socket.auth((data) => {
      if (!this.open || !socket.active || socket.connected) return;
      this.server.admit(socket, data);
    });
  }

  /** The transport broke (a network blip, a restart): every socket drops, then reconnects. */
  drop() {
    if (!this.open) return;
    this.open = false;
    for (const s of this.sockets) {
      if (s.connected) {
        s.connected = false;
        this.server.left(s);
        s.deliver("disconnect", "transport close");
      }
    }
    setTimeout(() => this.tryOpen(), 5);
  }

  maybeClose() {
    if (this.sockets.every((s) => !s.active)) {
      this.open = false;
      this.closed = true;
      clearInterval(this.alive);
    }
  }
}

export class FakeServer {
  constructor({ syncPage = 200 } = {}) {
    this.managers = [];
    this.sockets = new Set();
    this.received = [];
    this.opens = 0;
    this.down = false;
    this.syncPage = syncPage;
    this.chats = new Map();
    this.feeds = new Map(); // user key -> changes
    this.byClientId = new Map();
    this.epoch = 1; // a restart with a new key invalidates every cursor
    this.nextId = 1;
    this.clock = Date.parse("2026-01-01T00:00:00.000Z");
    this.failures = []; // {event, error, times} refusals to answer with, in order
    this.silent = new Set(); // events stored but never acked (then the test drops the line)
    this.deliveredOffline = new Set();
    this.blocks = new Map(); // blocker key -> [{userId, userType, blockedAt}], oldest first
    this.reports = []; // {id, reporter, target, status}
    const server = this;
    this.io = {
      Manager: class {
        constructor(url, options) {
          return new FakeManager(server, url, options);
        }
      },
    };
  }

  // --- knobs -------------------------------------------------------------------------------

  /** The next `times` `event`s get `error` instead of running. */
  fail(event, error, times = 1) {
    this.failures.push({ event, error: { error: true, message: error.message ?? "refused", ...error }, times });
  }

  /** Every connection breaks; with `down`, reconnects fail until `up()`. */
  drop({ down = false } = {}) {
    this.down = down;
    for (const m of this.managers) m.drop();
  }

  up() {
    this.down = false;
  }

  sent(event) {
    return this.received.filter((r) => r.event === event);
  }

  // --- model -------------------------------------------------------------------------------

  key(user) {
    return `${user.type}:${user.id}`;
  }

  now() {
    this.clock += 1000;
    return new Date(this.clock).toISOString();
  }

  id() {
    return (this.nextId++).toString(16).padStart(24, "0");
  }

  feed(user) {
    const key = this.key(user);
    if (!this.feeds.has(key)) this.feeds.set(key, []);
    return this.feeds.get(key);
  }

  cursorOf(user, position) {
    return `v1.${this.epoch}.${this.key(user)}.${position}`;
  }

  /** The position a cursor names in `user`'s feed, or null (not theirs, another key). */
  positionOf(user, cursor) {
    const m = /^v1\.(\d+)\.([A-Z]+:\d+)\.(\d+)$/.exec(cursor ?? "");
    if (!m || Number(m[1]) !== this.epoch || m[2] !== this.key(user)) return null;
    return Number(m[3]);
  }

  record(user, change) {
    const feed = this.feed(user);
    feed.push(change);
    return this.cursorOf(user, feed.length);
  }

  chatFor(sender, productId, recipientId) {
    const vendorId = sender.type === "VENDOR" ? sender.id : recipientId;
    const customerId = sender.type === "CUSTOMER" ? sender.id : recipientId;
    for (const c of this.chats.values()) {
      if (c.productId === productId && c.vendorId === vendorId && c.customerId === customerId) return c;
    }
    return { productId, vendorId, customerId, id: null };
  }

  parties(chat) {
    return [{ id: chat.customerId, type: "CUSTOMER" }, { id: chat.vendorId, type: "VENDOR" }];
  }

  other(chat, user) {
    return this.parties(chat).find((p) => this.key(p) !== this.key(user));
  }

  view(chat, viewer, { messages = chat.messages } = {}) {
    const { messages: _all, ...fields } = chat;
    const unreadCount = chat.messages.filter((m) => !m.read && m.senderType !== viewer.type && !m.deletedAt).length;
    return { ...fields, messages: messages.filter((m) => !m.deletedAt).map((m) => ({ ...m })), unreadCount,
      hasMore: false, blocked: this.blocking(viewer, this.other(chat, viewer)) };
  }

  socketsOf(user) {
    return [...this.sockets].filter((s) => s.namespace === "/chat" && s.user && this.key(s.user) === this.key(user));
  }

  online(user) {
    return [...this.sockets].some((s) => s.namespace === "/presence" && s.user && this.key(s.user) === this.key(user));
  }

  /** A message stored while the fan-out between nodes is broken: no socket hears of it. */
  storeUnheard(sender, payload) {
    this.unheard = true;
    try {
      return this.store(sender, payload);
    } finally {
      this.unheard = false;
    }
  }

  /** What a node does once its fan-out is back: the changes after `position` pushed to
   * each of `user`'s sockets, unasked, as syncMessages pages with `pushed: true`. */
  pushSync(user, position, limit = this.syncPage) {
    const feed = this.feed(user);
    for (let at = position; at < feed.length; at += limit) {
      const changes = structuredClone(feed.slice(at, at + limit));
      const end = at + changes.length;
      const data = { changes, hasMore: end < feed.length, syncCursor: this.cursorOf(user, end), pushed: true };
      for (const s of this.socketsOf(user)) {
        s.deliver("syncMessages", { statusCode: 200, error: false, message: "Changes have been sent successfully", data });
      }
    }
  }

  /** Whether `blocker` blocks `user`. */
  blocking(blocker, user) {
    return (this.blocks.get(this.key(blocker)) ?? []).some((b) => b.userId === user.id && b.userType === user.type);
  }

  /** Stores a message from `sender` (the same as a client's sendMessage). */
  store(sender, payload) {
    const target = this.chatFor(sender, String(payload.productId), Number(payload.recipientId));
    const recipientOf = { id: Number(payload.recipientId), type: sender.type === "CUSTOMER" ? "VENDOR" : "CUSTOMER" };
    if (this.blocking(sender, recipientOf) || this.blocking(recipientOf, sender)) {
      return { error: { error: true, statusCode: 403, message: "You cannot message this user: one of you has blocked the other" } };
    }
    const idKey = `${this.key(sender)}|${target.productId}|${target.vendorId}|${target.customerId}|${payload.clientMessageId}`;
    if (payload.clientMessageId && this.byClientId.has(idKey)) return { message: this.byClientId.get(idKey), repeat: true };
    let chat = target.id ? target : null;
    const created = !chat;
    if (!chat) {
      if (!payload.productName || !payload.storeName || !payload.customerName) {
        return { error: { error: true, statusCode: 400, message: "A new chat needs productName, storeName, customerName" } };
      }
      const at = this.now();
      chat = { id: this.id(), productId: target.productId, vendorId: target.vendorId, customerId: target.customerId,
        productImageUrl: payload.productImageUrl ?? null, productPrice: payload.productPrice ?? null,
        productName: payload.productName, storeLogoUrl: null, customerProfilePic: null,
        customerName: payload.customerName, storeName: payload.storeName, lastMessageAt: at, createdAt: at,
        updatedAt: at, messages: [] };
      this.chats.set(chat.id, chat);
    }
    const recipient = this.other(chat, sender);
    const timestamp = this.now();
    const message = { id: this.id(), chatId: chat.id, seq: chat.messages.length + 1, senderId: sender.id,
      senderType: sender.type, text: payload.text, timestamp, read: false, readAt: null,
      recipientOnline: this.online(recipient), deliveredAt: this.socketsOf(recipient).length ? timestamp : null,
      clientMessageId: payload.clientMessageId ?? null, deletedAt: null, messageMedias: [], messageMedia: [],
      messageImages: [], syncCursor: null };
    chat.messages.push(message);
    chat.lastMessageAt = chat.updatedAt = timestamp;
    if (payload.clientMessageId) this.byClientId.set(idKey, message);
    const cursors = new Map();
    for (const party of this.parties(chat)) {
      if (created) this.record(party, { type: "chat", chatId: chat.id, chat: { ...this.view(chat, party, { messages: [] }), unreadCount: 0 } });
      cursors.set(this.key(party), this.record(party, { type: "message", chatId: chat.id, message: { ...message } }));
    }
    const copy = (user) => ({ ...message, syncCursor: cursors.get(this.key(user)) });
    if (this.unheard) return { message: copy(sender), repeat: false };
    for (const s of this.socketsOf(recipient)) {
      if (created) s.deliver("newChat", { statusCode: 200, error: false, message: { ...this.view(chat, recipient), messages: [copy(recipient)], unreadCount: 1 }, data: {} });
      else s.deliver("receiveMessage", { statusCode: 200, error: false, message: null, data: [copy(recipient)] });
    }
    for (const s of this.socketsOf(sender)) s.deliver("receiveMessage", { statusCode: 200, error: false, message: null, data: [copy(sender)] });
    return { message: copy(sender), repeat: false };
  }

  // --- the protocol ------------------------------------------------------------------------

  admit(socket, auth) {
    const m = /^(CUSTOMER|VENDOR):(\d+)$/.exec(auth?.token ?? "");
    if (!m) {
      socket.active = false;
      const err = new Error("Invalid token");
      err.data = { error: true, message: "Invalid token", statusCode: 401 };
      socket.deliver("connect_error", err);
      return;
    }
    socket.user = { type: m[1], id: Number(m[2]) };
    socket.connected = true;
    socket.authData = auth;
    this.sockets.add(socket);
    socket.deliver("connect");
    if (socket.namespace === "/presence") {
      socket.deliver("userIsOnline", { statusCode: 200, error: false, message: "User is online", data: { userId: socket.user.id, userType: socket.user.type } });
      return;
    }
    setTimeout(() => this.initialState(socket, auth), 0);
  }

  initialState(socket, auth) {
    if (!socket.connected) return;
    const user = socket.user;
    this.emitChats(socket, "Chats have been sent successfully");
    let synced = false;
    if (typeof auth.syncCursor === "string") {
      synced = this.positionOf(user, auth.syncCursor) !== null;
      this.emitSync(socket, auth.syncCursor, this.syncPage);
    }
    socket.deliver("offlineMessages", { statusCode: 200, error: false, message: "Offline messages has been sent successfully",
      data: synced ? [] : this.undelivered(user), hasMore: false });
  }

  undelivered(user) {
    const out = [];
    for (const chat of this.chats.values()) {
      if (!this.parties(chat).some((p) => this.key(p) === this.key(user))) continue;
      for (const m of chat.messages) {
        if (m.senderType !== user.type && !m.deliveredAt && !m.deletedAt && !this.deliveredOffline.has(m.id)) {
          this.deliveredOffline.add(m.id);
          out.push({ ...m });
        }
      }
    }
    return out;
  }

  userChats(user) {
    return [...this.chats.values()]
      .filter((c) => this.parties(c).some((p) => this.key(p) === this.key(user)))
      .sort((a, b) => b.lastMessageAt.localeCompare(a.lastMessageAt))
      .map((c) => this.view(c, user));
  }

  emitChats(socket, message = "Chats has been sent successfully") {
    const user = socket.user;
    const data = this.userChats(user);
    const env = { statusCode: 200, error: false, message, data, totalUnread: 0, hasMore: false,
      syncCursor: this.cursorOf(user, this.feed(user).length) };
    socket.deliver("userChats", env);
    return env;
  }

  emitSync(socket, since, limit) {
    const user = socket.user;
    const position = this.positionOf(user, since);
    const feed = this.feed(user);
    let data;
    if (position === null) {
      data = { changes: [], hasMore: false, syncCursor: this.cursorOf(user, feed.length), reset: true };
    } else {
      const changes = feed.slice(position, position + limit);
      const end = position + changes.length;
      data = { changes: structuredClone(changes), hasMore: end < feed.length, syncCursor: this.cursorOf(user, end) };
    }
    socket.deliver("syncMessages", { statusCode: 200, error: false, message: "Changes have been sent successfully", data });
    return data;
  }

  left(socket) {
    this.sockets.delete(socket);
  }

  handle(socket, event, payload) {
    const failure = this.failures.find((f) => f.event === event && f.times > 0);
    if (failure) {
      failure.times -= 1;
      socket.deliver("appError", failure.error);
      return failure.error;
    }
    const user = socket.user;
    const ok = (message, data, extra = {}) => ({ statusCode: 200, error: false, message, data, ...extra });
    switch (event) {
      case "sendMessage": {
        const result = this.store(user, payload);
        if (result.error) return result.error;
        if (this.silent.has(event)) return undefined;
        return ok("Message has been sent", result.message);
      }
      case "getUserChats": {
        const env = this.emitChats(socket);
        return ok(env.message, { count: env.data.length, hasMore: false, syncCursor: env.syncCursor, totalUnread: 0 },
          { syncCursor: env.syncCursor, totalUnread: 0 });
      }
      case "syncMessages": {
        const data = this.emitSync(socket, payload.since, payload.limit ?? this.syncPage);
        return ok("Changes have been sent successfully", { count: data.changes.length, hasMore: data.hasMore,
          syncCursor: data.syncCursor, ...(data.reset ? { reset: true } : {}) });
      }
      case "getOfflineMessages":
        socket.deliver("offlineMessages", { statusCode: 200, error: false, message: "Offline messages has been sent successfully", data: [], hasMore: false });
        return ok("Offline messages has been sent successfully", { count: 0, hasMore: false });
      case "joinChat": {
        const chat = this.chats.get(payload.chatId);
        if (!chat) return { error: true, statusCode: 404, message: "Chat not found" };
        this.read(chat, user);
        socket.deliver("loadMessages", ok("Chats has been loaded", { ...this.view(chat, user), unreadCount: 0 }));
        return ok("Chats has been loaded", { count: chat.messages.length, hasMore: false, chatId: chat.id });
      }
      case "markAsRead": {
        const chat = this.chats.get(payload.chatId);
        if (!chat) return { error: true, statusCode: 404, message: "Chat not found" };
        return ok("Messages marked as read", this.read(chat, user));
      }
      case "deleteMessage": {
        const found = this.findMessage(payload.messageId);
        if (!found) return { error: true, statusCode: 404, message: "Message not found" };
        const { chat, message } = found;
        if (message.senderType !== user.type) return { error: true, statusCode: 403, message: "Only the sender can delete a message" };
        message.deletedAt = this.now();
        message.text = null;
        const data = { chatId: chat.id, messageId: message.id, deletedAt: message.deletedAt };
        this.toParties(chat, "messageDeleted", ok("Message has been deleted successfully", data), { type: "deleted", ...data });
        return ok("Message has been deleted successfully", data);
      }
      case "editMessage": {
        const found = this.findMessage(payload.messageId);
        if (!found) return { error: true, statusCode: 404, message: "Message not found" };
        const { chat, message } = found;
        message.text = payload.text;
        message.editedAt = this.now();
        this.toParties(chat, "messageEdited", ok("Message has been edited", { ...message }), { type: "edited", chatId: chat.id, message: { ...message } });
        return ok("Message has been edited", { ...message });
      }
      case "addReaction":
      case "removeReaction": {
        const found = this.findMessage(payload.messageId);
        if (!found) return { error: true, statusCode: 404, message: "Message not found" };
        const { chat, message } = found;
        const others = (message.reactions ?? []).filter((r) => !(r.userId === user.id && r.userType === user.type));
        message.reactions = event === "addReaction"
          ? [...others, { emoji: payload.emoji, userId: user.id, userType: user.type, reactedAt: this.now() }] : others;
        const data = { chatId: chat.id, messageId: message.id, reactions: message.reactions };
        this.toParties(chat, "messageReactions", ok("Reactions updated", data), { type: "reactions", ...data });
        return ok("Reactions updated", data);
      }
      case "searchMessages": {
        const words = String(payload.query).toLowerCase().split(/\s+/);
        const messages = [...this.chats.values()]
          .filter((c) => (!payload.chatId || c.id === payload.chatId) && this.parties(c).some((p) => this.key(p) === this.key(user)))
          .flatMap((c) => c.messages)
          .filter((m) => !m.deletedAt && words.every((w) => (m.text ?? "").toLowerCase().includes(w)))
          .reverse();
        socket.deliver("searchMessages", ok("Search results", { messages, hasMore: false, next: null }));
        return ok("Search results", { count: messages.length, hasMore: false });
      }
      case "updateChatSettings": {
        const data = { chatId: payload.chatId, muted: Boolean(payload.muted), archived: Boolean(payload.archived) };
        for (const s of this.socketsOf(user)) s.deliver("chatSettings", ok("Chat settings updated", data));
        this.record(user, { type: "settings", ...data });
        return ok("Chat settings updated", data);
      }
      case "blockUser":
      case "unblockUser": {
        const who = { id: Number(payload.userId), type: String(payload.userType).toUpperCase() };
        if (who.type !== (user.type === "CUSTOMER" ? "VENDOR" : "CUSTOMER")) {
          return { error: true, statusCode: 400, message: "Invalid data provided: userType: not your counterpart" };
        }
        const list = this.blocks.get(this.key(user)) ?? [];
        const held = list.find((b) => b.userId === who.id && b.userType === who.type);
        let changed = false;
        if (event === "blockUser" && !held) {
          list.push({ userId: who.id, userType: who.type, blockedAt: this.now() });
          changed = true;
        } else if (event === "unblockUser" && held) {
          list.splice(list.indexOf(held), 1);
          changed = true;
        }
        this.blocks.set(this.key(user), list);
        if (changed) for (const s of this.socketsOf(user)) this.emitBlocked(s);
        const now = list.find((b) => b.userId === who.id && b.userType === who.type);
        return ok(event === "blockUser" ? "User has been blocked" : "User has been unblocked",
          { userId: who.id, userType: who.type, blocked: Boolean(now), blockedAt: now?.blockedAt ?? null });
      }
      case "getBlockedUsers": {
        const data = this.emitBlocked(socket);
        return ok("Blocked users have been sent successfully", { count: data.length, hasMore: false });
      }
      case "reportMessage":
      case "reportUser": {
        const target = event === "reportMessage" ? `m:${payload.messageId}` : `u:${payload.userType}:${payload.userId}`;
        if (event === "reportMessage" && !this.findMessage(payload.messageId)) {
          return { error: true, statusCode: 404, message: "Message not found" };
        }
        const open = this.reports.find((r) => r.reporter === this.key(user) && r.target === target && r.status === "open");
        if (open) return { statusCode: 200, error: false, message: "Report received", data: { id: open.id, status: "open" } };
        const report = { id: this.id(), reporter: this.key(user), target, status: "open", payload };
        this.reports.push(report);
        return { statusCode: 201, error: false, message: "Report received", data: { id: report.id, status: "open" } };
      }
      case "checkOnlinePresence":
        return ok("Presence has been retrieved", { userId: Number(payload.userId), userType: payload.userType,
          status: this.online({ id: Number(payload.userId), type: payload.userType }) ? "online" : "offline", lastSeen: null });
      case "typing":
      case "stoppedTyping": {
        const chat = this.chatFor(user, payload.productId, payload.recipientId);
        const data = { chatId: chat.id, productId: payload.productId, senderId: user.id, senderType: user.type };
        const recipient = { id: Number(payload.recipientId), type: user.type === "CUSTOMER" ? "VENDOR" : "CUSTOMER" };
        for (const s of this.socketsOf(recipient)) s.deliver(event === "typing" ? "userTyping" : "stoppedTyping", ok("User is typing", data));
        return ok("User is typing", data);
      }
      default:
        return { error: true, statusCode: 400, message: `Unknown event '${event}'` };
    }
  }

  emitBlocked(socket) {
    const data = structuredClone(this.blocks.get(this.key(socket.user)) ?? []);
    socket.deliver("blockedUsers", { statusCode: 200, error: false, message: "Blocked users have been sent successfully",
      data, hasMore: false });
    return data;
  }

  findMessage(id) {
    for (const chat of this.chats.values()) {
      const message = chat.messages.find((m) => m.id === id && !m.deletedAt);
      if (message) return { chat, message };
    }
    return null;
  }

  read(chat, reader) {
    const readAt = this.now();
    const marked = chat.messages.filter((m) => m.senderType !== reader.type && !m.read && !m.deletedAt);
    for (const m of marked) {
      m.read = true;
      m.readAt = readAt;
    }
    const data = { chatId: chat.id, readerId: reader.id, readerType: reader.type, readAt,
      messageIds: marked.map((m) => m.id), count: marked.length, hasMore: false };
    for (const party of this.parties(chat)) this.record(party, { type: "read", chatId: chat.id, messageIds: data.messageIds, readAt, readerId: reader.id, readerType: reader.type });
    for (const s of this.socketsOf(this.other(chat, reader))) s.deliver("updateReadReceipts", { statusCode: 200, error: false, message: "Messages marked as read", data });
    return data;
  }

  toParties(chat, event, env, change) {
    for (const party of this.parties(chat)) {
      this.record(party, structuredClone(change));
      for (const s of this.socketsOf(party)) s.deliver(event, structuredClone(env));
    }
  }
}

/** Waits until `check()` is truthy (the fake answers on timers: a few turns of the loop). */
export async function until(check, what = "condition", turns = 2000) {
  for (let i = 0; i < turns; i += 1) {
    const value = check();
    if (value) return value;
    await tick();
  }
  throw new Error(`timed out waiting for ${what}`);
}

export const NEW_CHAT = { productName: "Lamp", storeName: "Lamp Co", customerName: "Ada" };
