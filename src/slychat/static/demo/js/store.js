// The page's state: chats, their messages, receipts, presence and typing. No DOM and no
// sockets here: the connection feeds it, the views read it. Everything is keyed by id, so
// a message that arrives twice (live and again in a catch-up) is held once, and lists are
// ordered by the server's `seq`, never by arrival.

export class ChatStore {
  constructor(me) {
    this.me = me; // {id, type: "CUSTOMER" | "VENDOR"}
    this.chats = new Map(); // id -> chat record (below)
    this.pending = new Map(); // clientMessageId -> a message not yet acknowledged
    this.presence = new Map(); // "TYPE:id" -> {online, lastSeen}
    this.typing = new Map(); // chatId -> time (ms) the indicator lapses
    this.chatsHaveMore = false;
  }

  // --- chats -----------------------------------------------------------------------------

  // A `userChats` page. `replace`: the first page after a (re)load, which is the truth
  // about which chats exist; otherwise the page is merged in.
  putChats(chats, { replace = false, hasMore = false } = {}) {
    if (replace) {
      const pending = [...this.chats.values()].filter((c) => c.provisional);
      this.chats.clear();
      for (const c of pending) this.chats.set(c.id, c);
    }
    for (const chat of chats) this.putChat(chat, { counted: true });
    this.chatsHaveMore = hasMore;
  }

  // A chat object from the server. `counted`: its `unreadCount` counts every message up
  // to the newest it holds (userChats), so later arrivals up to there are not counted again.
  putChat(chat, { counted = false, opened = false } = {}) {
    let record = this.chats.get(chat.id);
    if (!record) {
      record = { id: chat.id, messages: new Map(), unread: 0, countedThroughSeq: 0,
        olderAvailable: false };
      this.chats.set(chat.id, record);
    }
    for (const key of CHAT_FIELDS) if (key in chat) record[key] = chat[key];
    record.provisional = false;
    const messages = Array.isArray(chat.messages) ? chat.messages : [];
    const oldestHeld = this.oldestSeq(chat.id);
    for (const m of messages) this._put(record, m);
    const oldestPage = messages.length ? Math.min(...messages.map((m) => m.seq)) : null;
    // `hasMore` speaks of what is older than this page: it is ours when the page reaches
    // at least as far back as anything held.
    if (oldestHeld === null || oldestPage === null || oldestPage <= oldestHeld) {
      record.olderAvailable = Boolean(chat.hasMore);
    }
    if (counted && typeof chat.unreadCount === "number") {
      record.unread = chat.unreadCount;
      const newest = messages.length ? Math.max(...messages.map((m) => m.seq)) : 0;
      record.countedThroughSeq = Math.max(record.countedThroughSeq, newest);
    }
    if (opened) {
      record.unread = 0;
      for (const m of record.messages.values()) if (this.isIncoming(m)) m.read = true;
    }
    return record;
  }

  // The chat a customer just started, before the server's copy of it arrives.
  putProvisionalChat(fields) {
    if (this.chats.has(fields.id)) return this.chats.get(fields.id);
    const record = { ...fields, messages: new Map(), unread: 0, countedThroughSeq: 0,
      olderAvailable: false, provisional: true };
    this.chats.set(record.id, record);
    return record;
  }

  chat(id) {
    return this.chats.get(id) ?? null;
  }

  // Newest activity first, as the server lists them.
  sortedChats() {
    return [...this.chats.values()].sort(
      (a, b) => (b.lastMessageAt ?? "").localeCompare(a.lastMessageAt ?? "")
        || b.id.localeCompare(a.id),
    );
  }

  counterpart(chat) {
    return this.me.type === "CUSTOMER"
      ? { id: chat.vendorId, type: "VENDOR" }
      : { id: chat.customerId, type: "CUSTOMER" };
  }

  findChat(productId, counterpartId) {
    for (const c of this.chats.values()) {
      if (c.productId === productId && this.counterpart(c).id === counterpartId) return c;
    }
    return null;
  }

  totalUnread() {
    let n = 0;
    for (const c of this.chats.values()) n += c.unread;
    return n;
  }

  // --- messages --------------------------------------------------------------------------

  // The other party's message: unread until read, announced. A SYSTEM notice (the
  // platform's, e.g. "Order #123 shipped") is neither incoming nor mine.
  isIncoming(m) {
    return m.senderType !== this.me.type && !this.isNotice(m);
  }

  isMine(m) {
    return m.senderType === this.me.type;
  }

  isNotice(m) {
    return m.senderType === "SYSTEM";
  }

  // One message, from any source. Returns {chat, fresh} (fresh: not held before), or null
  // when its chat is unknown (the caller reloads the chat list).
  putMessage(m) {
    const record = this.chats.get(m.chatId);
    if (!record) return null;
    const fresh = this._put(record, m);
    if (fresh && this.isIncoming(m) && !m.read && m.seq > record.countedThroughSeq) {
      record.unread += 1;
      record.countedThroughSeq = m.seq;
    }
    if (fresh && this.isIncoming(m)) this.typing.delete(m.chatId);
    if (!record.lastMessageAt || m.timestamp > record.lastMessageAt) {
      record.lastMessageAt = m.timestamp;
    }
    return { chat: record, fresh };
  }

  _put(record, m) {
    const held = record.messages.get(m.id);
    if (m.clientMessageId && this.isMine(m)) this.pending.delete(m.clientMessageId);
    // A copy never takes back a receipt an event already gave.
    const merged = held ? { ...held, ...m } : { ...m };
    if (held) {
      merged.read = held.read || m.read;
      merged.readAt = m.readAt ?? held.readAt;
      merged.deliveredAt = m.deliveredAt ?? held.deliveredAt;
    }
    record.messages.set(m.id, merged);
    return !held;
  }

  messages(chatId) {
    const record = this.chats.get(chatId);
    if (!record) return [];
    return [...record.messages.values()].sort((a, b) => a.seq - b.seq);
  }

  lastMessage(chatId) {
    const list = this.messages(chatId);
    return list.length ? list[list.length - 1] : null;
  }

  oldestSeq(chatId) {
    const record = this.chats.get(chatId);
    if (!record || record.messages.size === 0) return null;
    let oldest = Infinity;
    for (const m of record.messages.values()) oldest = Math.min(oldest, m.seq);
    return oldest;
  }

  removeMessage(chatId, messageId) {
    const record = this.chats.get(chatId);
    const held = record?.messages.get(messageId);
    if (!held) return false;
    record.messages.delete(messageId);
    if (this.isIncoming(held) && !held.read && record.unread > 0) record.unread -= 1;
    return true;
  }

  markDelivered(chatId, messageIds, at) {
    const record = this.chats.get(chatId);
    if (!record) return false;
    for (const id of messageIds) {
      const m = record.messages.get(id);
      if (m && !m.deliveredAt) m.deliveredAt = at;
    }
    return true;
  }

  // A read receipt. The reader read everything the other party sent up to now: listed
  // ids, and with `hasMore` every older one too.
  markRead({ chatId, readerType, messageIds, readAt, hasMore }) {
    const record = this.chats.get(chatId);
    if (!record) return false;
    const listed = new Set(messageIds);
    const readerIsMe = readerType === this.me.type;
    let newest = 0;
    for (const id of listed) newest = Math.max(newest, record.messages.get(id)?.seq ?? 0);
    for (const m of record.messages.values()) {
      const sentToReader = readerIsMe ? this.isIncoming(m) : this.isMine(m);
      if (!sentToReader || m.read) continue;
      if (listed.has(m.id) || (hasMore && m.seq <= newest)) {
        m.read = true;
        m.readAt = readAt;
        m.deliveredAt = m.deliveredAt ?? readAt;
      }
    }
    if (readerIsMe) {
      record.unread = hasMore ? 0 : Math.max(0, record.unread - listed.size);
    }
    return true;
  }

  // Whether the chat holds a message from the other party not read yet. The counter can
  // lag behind messages that a catch-up brought in while an own send was being answered,
  // so the messages themselves are asked too.
  hasUnread(chatId) {
    const record = this.chats.get(chatId);
    if (!record) return false;
    if (record.unread > 0) return true;
    for (const m of record.messages.values()) if (this.isIncoming(m) && !m.read) return true;
    return false;
  }

  // The page itself read the chat (joinChat, markAsRead).
  markOpened(chatId) {
    const record = this.chats.get(chatId);
    if (!record) return;
    record.unread = 0;
    for (const m of record.messages.values()) if (this.isIncoming(m)) m.read = true;
  }

  // One `syncMessages` change. Returns false when it names a chat this page does not hold.
  applyChange(change) {
    switch (change.type) {
      case "chat":
        this.putChat(change.chat);
        return true;
      case "message":
        return this.putMessage(change.message) !== null;
      case "read":
        return this.markRead(change);
      case "delivered":
        return this.markDelivered(change.chatId, change.messageIds, change.deliveredAt);
      case "deleted":
        this.removeMessage(change.chatId, change.messageId);
        return true;
      default:
        return true; // a kind this page does not know yet: nothing to show
    }
  }

  // --- presence and typing ---------------------------------------------------------------

  setPresence(type, id, online, lastSeen = null) {
    const key = `${type}:${id}`;
    const held = this.presence.get(key);
    this.presence.set(key, { online, lastSeen: lastSeen ?? held?.lastSeen ?? null });
  }

  presenceOf(chat) {
    const who = this.counterpart(chat);
    return this.presence.get(`${who.type}:${who.id}`) ?? null;
  }

  setTyping(chatId, until) {
    if (until === null) this.typing.delete(chatId);
    else this.typing.set(chatId, until);
  }

  isTyping(chatId, now) {
    const until = this.typing.get(chatId);
    return until !== undefined && until > now;
  }
}

// The delivery state of a message of mine, as the ticks show it.
export function tickState(m) {
  if (m.pending) return m.failed ? "failed" : "pending";
  if (m.read) return "read";
  if (m.deliveredAt) return "delivered";
  return "sent";
}

const CHAT_FIELDS = [
  "productId", "vendorId", "customerId", "productImageUrl", "productPrice", "productName",
  "storeLogoUrl", "customerProfilePic", "customerName", "storeName", "lastMessageAt",
  "createdAt", "updatedAt",
];
