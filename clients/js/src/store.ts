// The client's state: chats, their messages, receipts, reactions, presence and typing. No
// sockets here: the connection feeds it and the app reads it. Everything is keyed by id,
// so a message that arrives twice (live and again in a catch-up) is held once, and a
// chat's messages are ordered by the server's `seq`, never by arrival.

import type { ReadChange, ReadData } from "./generated/protocol.js";
import type { BlockedUser, Chat, ChatView, Identity, Message, PendingMessage, Presence, SyncChange } from "./types.js";
import type { ReactionItem as Reaction, ReplyPreview } from "./generated/protocol.js";

const CHAT_FIELDS = [
  "productId", "vendorId", "customerId", "productImageUrl", "productPrice", "productName",
  "storeLogoUrl", "customerProfilePic", "customerName", "storeName", "lastMessageAt",
  "createdAt", "updatedAt", "muted", "archived", "blocked",
] as const;

type ChatFields = Omit<Chat, "messages" | "unreadCount" | "hasMore" | "id">;

/** A chat as the store holds it. */
export interface ChatRecord extends Partial<ChatFields> {
  id: string;
  messages: Map<string, Message>;
  /** Messages to this user not read yet. */
  unread: number;
  /** `unread` counts every incoming message up to this seq (from a listing). */
  countedThroughSeq: number;
  /** Older messages exist on the server beyond the oldest held. */
  olderAvailable: boolean;
  /** Made up from a send's new-chat fields until the server's copy arrives. */
  provisional: boolean;
}

export interface PutChatOptions {
  /** Its `unreadCount` counts every message up to the newest it holds (a listing). */
  counted?: boolean;
  /** The user just read it (joinChat). */
  opened?: boolean;
}

interface ReadReceipt {
  chatId: string;
  /** null (an old feed entry): not this user. */
  readerType: ReadData["readerType"] | null;
  messageIds: readonly string[];
  readAt: string | null;
  hasMore?: boolean;
}

export class ChatStore {
  me: Identity | null;
  readonly chats = new Map<string, ChatRecord>();
  /** clientMessageId -> a message of mine not acknowledged yet (the outbox's, for display). */
  readonly pending = new Map<string, PendingMessage>();
  /** "TYPE:id" -> presence. */
  readonly presence = new Map<string, Presence>();
  /** chatId -> time (ms) the typing indicator lapses. */
  readonly typing = new Map<string, number>();
  chatsHaveMore = false;
  /** The users this user blocks, oldest block first; null until the server listed them. */
  blockedUsers: BlockedUser[] | null = null;
  /** Told when a stored copy of a pending message of mine arrives (by any route). */
  onStored: ((message: Message) => void) | null = null;

  constructor(me: Identity | null = null) {
    this.me = me;
  }

  // --- chats -------------------------------------------------------------------------------

  /** A `userChats` page. `replace`: the first page of a (re)load, the truth about which
   * chats exist (provisional ones are kept); otherwise the page is merged in. */
  putChats(chats: readonly Chat[], { replace = false, hasMore = false } = {}): void {
    if (replace) {
      const provisional = [...this.chats.values()].filter((c) => c.provisional);
      this.chats.clear();
      for (const c of provisional) this.chats.set(c.id, c);
    }
    for (const chat of chats) this.putChat(chat, { counted: true });
    this.chatsHaveMore = hasMore;
  }

  /** A chat object from the server, merged into what is held. */
  putChat(chat: Partial<Chat> & { id: string }, { counted = false, opened = false }: PutChatOptions = {}): ChatRecord {
    let record = this.chats.get(chat.id);
    if (!record) {
      record = { id: chat.id, messages: new Map(), unread: 0, countedThroughSeq: 0,
        olderAvailable: false, provisional: false };
      this.chats.set(chat.id, record);
    }
    const target = record as unknown as Record<string, unknown>;
    for (const key of CHAT_FIELDS) if (key in chat) target[key] = (chat as Record<string, unknown>)[key];
    record.provisional = false;
    // Once the list is known it decides `blocked`: the server announces a block only with
    // the list, so a chat object listed before it (over HTTP, say) may say otherwise.
    if (this.blockedUsers !== null) record.blocked = this.blocks(this.counterpart(record));
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
    if (opened) this.markOpened(chat.id);
    return record;
  }

  /** The chat a send just created, before the server's copy of it arrives. */
  putProvisionalChat(fields: Partial<ChatFields> & { id: string }): ChatRecord {
    const held = this.chats.get(fields.id);
    if (held) return held;
    const record: ChatRecord = { ...fields, messages: new Map(), unread: 0, countedThroughSeq: 0,
      olderAvailable: false, provisional: true };
    this.chats.set(record.id, record);
    return record;
  }

  chat(id: string): ChatRecord | null {
    return this.chats.get(id) ?? null;
  }

  /** Newest activity first, as the server lists them. */
  sortedChats(): ChatRecord[] {
    return [...this.chats.values()].sort(
      (a, b) => (b.lastMessageAt ?? "").localeCompare(a.lastMessageAt ?? "") || b.id.localeCompare(a.id),
    );
  }

  /** The other party of a chat. */
  counterpart(chat: Pick<ChatRecord, "vendorId" | "customerId">): Identity {
    return this.me?.type === "VENDOR"
      ? { id: chat.customerId ?? 0, type: "CUSTOMER" }
      : { id: chat.vendorId ?? 0, type: "VENDOR" };
  }

  findChat(productId: string, counterpartId: number): ChatRecord | null {
    for (const c of this.chats.values()) {
      if (c.productId === productId && this.counterpart(c).id === counterpartId) return c;
    }
    return null;
  }

  totalUnread(): number {
    let n = 0;
    for (const c of this.chats.values()) n += c.unread;
    return n;
  }

  /** The public, read-only shape of a held chat: its messages in seq order. */
  view(record: ChatRecord): ChatView {
    const { messages: _held, unread, countedThroughSeq: _counted, olderAvailable, ...fields } = record;
    return {
      ...(fields as ChatFields & { id: string; provisional: boolean }),
      messages: this.messages(record.id),
      unreadCount: unread,
      hasMore: olderAvailable,
    };
  }

  // --- messages ----------------------------------------------------------------------------

  /** The other party's message: unread until read. A SYSTEM notice is neither incoming nor mine. */
  isIncoming(m: Pick<Message, "senderType">): boolean {
    return this.me !== null && m.senderType !== this.me.type && !this.isNotice(m);
  }

  isMine(m: Pick<Message, "senderType">): boolean {
    return this.me !== null && m.senderType === this.me.type;
  }

  isNotice(m: Pick<Message, "senderType">): boolean {
    return m.senderType === "SYSTEM";
  }

  /** One message, from any source: {chat, fresh} (fresh: not held before), or null when its
   * chat is unknown (the caller reloads the chat list). */
  putMessage(m: Message): { chat: ChatRecord; fresh: boolean } | null {
    const record = this.chats.get(m.chatId);
    if (!record) return null;
    const fresh = this._put(record, m);
    if (fresh && this.isIncoming(m) && !m.read && m.seq > record.countedThroughSeq) {
      record.unread += 1;
      record.countedThroughSeq = m.seq;
    }
    if (fresh && this.isIncoming(m)) this.typing.delete(m.chatId);
    if (!record.lastMessageAt || m.timestamp > record.lastMessageAt) record.lastMessageAt = m.timestamp;
    return { chat: record, fresh };
  }

  private _put(record: ChatRecord, m: Message): boolean {
    const held = record.messages.get(m.id);
    const settled = Boolean(m.clientMessageId && this.isMine(m) && this.pending.delete(m.clientMessageId));
    // A copy never takes back a receipt an event already gave.
    const merged: Message = held ? { ...held, ...m } : { ...m };
    if (held) {
      merged.read = held.read || m.read;
      merged.readAt = m.readAt ?? held.readAt;
      merged.deliveredAt = m.deliveredAt ?? held.deliveredAt;
      if (m.reactions === undefined && held.reactions !== undefined) merged.reactions = held.reactions;
    }
    record.messages.set(m.id, merged);
    if (held && held.text !== merged.text) this.requote(record, m.id, { text: preview(merged.text) });
    if (settled) this.onStored?.(merged);
    return !held;
  }

  /** Replies quoting `messageId` read it as it is now (the server's previews do so too). */
  private requote(record: ChatRecord, messageId: string, change: Partial<ReplyPreview>): void {
    for (const [id, q] of record.messages) {
      if (q.replyTo?.id === messageId) record.messages.set(id, { ...q, replyTo: { ...q.replyTo, ...change } });
    }
  }

  /** A chat's messages, oldest first (seq order). */
  messages(chatId: string): Message[] {
    const record = this.chats.get(chatId);
    if (!record) return [];
    return [...record.messages.values()].sort((a, b) => a.seq - b.seq);
  }

  message(chatId: string, messageId: string): Message | null {
    return this.chats.get(chatId)?.messages.get(messageId) ?? null;
  }

  /** Where a message is held, by its id alone. */
  findMessage(messageId: string): Message | null {
    for (const record of this.chats.values()) {
      const m = record.messages.get(messageId);
      if (m) return m;
    }
    return null;
  }

  lastMessage(chatId: string): Message | null {
    const list = this.messages(chatId);
    return list.length ? list[list.length - 1]! : null;
  }

  oldestSeq(chatId: string): number | null {
    const record = this.chats.get(chatId);
    if (!record || record.messages.size === 0) return null;
    let oldest = Infinity;
    for (const m of record.messages.values()) oldest = Math.min(oldest, m.seq);
    return oldest;
  }

  removeMessage(chatId: string, messageId: string): boolean {
    const record = this.chats.get(chatId);
    const held = record?.messages.get(messageId);
    if (!record || !held) return false;
    record.messages.delete(messageId);
    if (this.isIncoming(held) && !held.read && record.unread > 0) record.unread -= 1;
    this.requote(record, messageId, { text: null, deleted: true });
    return true;
  }

  markDelivered(chatId: string, messageIds: readonly string[], at: string | null): boolean {
    const record = this.chats.get(chatId);
    if (!record) return false;
    if (at === null) return true; // a feed entry without its time: nothing to show
    for (const id of messageIds) {
      const m = record.messages.get(id);
      if (m && !m.deliveredAt) m.deliveredAt = at;
    }
    return true;
  }

  /** A read receipt. The reader read everything the other party sent up to now: the listed
   * ids, and with `hasMore` every older one too. */
  markRead({ chatId, readerType, messageIds, readAt, hasMore = false }: ReadReceipt): boolean {
    const record = this.chats.get(chatId);
    if (!record) return false;
    const listed = new Set(messageIds);
    const readerIsMe = this.me !== null && readerType === this.me.type;
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
    if (readerIsMe) record.unread = hasMore ? 0 : Math.max(0, record.unread - listed.size);
    return true;
  }

  /** Whether the chat holds a message from the other party not read yet (the counter can lag
   * behind messages a catch-up brought in, so the messages themselves are asked too). */
  hasUnread(chatId: string): boolean {
    const record = this.chats.get(chatId);
    if (!record) return false;
    if (record.unread > 0) return true;
    for (const m of record.messages.values()) if (this.isIncoming(m) && !m.read) return true;
    return false;
  }

  /** This user read the chat (joinChat, markAsRead). */
  markOpened(chatId: string): void {
    const record = this.chats.get(chatId);
    if (!record) return;
    record.unread = 0;
    for (const m of record.messages.values()) if (this.isIncoming(m)) m.read = true;
  }

  setReactions(chatId: string, messageId: string, reactions: Reaction[]): boolean {
    const m = this.chats.get(chatId)?.messages.get(messageId);
    if (!m) return false;
    m.reactions = reactions;
    return true;
  }

  setSettings(chatId: string, settings: { muted?: boolean; archived?: boolean }): boolean {
    const record = this.chats.get(chatId);
    if (!record) return false;
    if (settings.muted !== undefined) record.muted = settings.muted;
    if (settings.archived !== undefined) record.archived = settings.archived;
    return true;
  }

  /** One `syncMessages` change. Returns false when it names a chat this store does not hold. */
  applyChange(change: SyncChange): boolean {
    switch (change.type) {
      case "chat":
        this.putChat(change.chat);
        return true;
      case "message":
      case "edited":
        return this.putMessage(change.message) !== null;
      case "read":
        return this.markRead(readOf(change));
      case "delivered":
        return this.markDelivered(change.chatId, change.messageIds, change.deliveredAt);
      case "deleted":
        if (change.messageId !== null) this.removeMessage(change.chatId, change.messageId);
        return true;
      case "reactions":
        this.setReactions(change.chatId, change.messageId, change.reactions);
        return this.chats.has(change.chatId);
      case "settings":
        return this.setSettings(change.chatId, change);
      default:
        return true; // a kind this client does not know yet: nothing to hold
    }
  }

  // --- blocks ------------------------------------------------------------------------------

  /** The whole list of users this user blocks; the chats whose `blocked` flag changed. */
  setBlocked(list: readonly BlockedUser[]): ChatRecord[] {
    this.blockedUsers = list.map((b) => ({ ...b }));
    const changed: ChatRecord[] = [];
    for (const record of this.chats.values()) {
      const blocked = this.blocks(this.counterpart(record));
      if ((record.blocked ?? false) !== blocked) changed.push(record);
      record.blocked = blocked;
    }
    return changed;
  }

  /** Whether this user blocks `who` (as far as the list held says). */
  blocks(who: Identity): boolean {
    return (this.blockedUsers ?? []).some((b) => b.userId === who.id && b.userType === who.type);
  }

  // --- presence and typing -----------------------------------------------------------------

  setPresence(type: string, id: number, online: boolean, lastSeen: string | null = null): Presence {
    const key = `${type}:${id}`;
    const held = this.presence.get(key);
    const presence: Presence = { userId: id, userType: type as Presence["userType"], online,
      lastSeen: lastSeen ?? held?.lastSeen ?? null };
    this.presence.set(key, presence);
    return presence;
  }

  presenceOf(chat: Pick<ChatRecord, "vendorId" | "customerId">): Presence | null {
    const who = this.counterpart(chat);
    return this.presence.get(`${who.type}:${who.id}`) ?? null;
  }

  setTyping(chatId: string, until: number | null): void {
    if (until === null) this.typing.delete(chatId);
    else this.typing.set(chatId, until);
  }

  isTyping(chatId: string, now: number = Date.now()): boolean {
    const until = this.typing.get(chatId);
    return until !== undefined && until > now;
  }
}

function readOf(change: ReadChange): ReadReceipt {
  return { chatId: change.chatId, readerType: change.readerType, messageIds: change.messageIds,
    readAt: change.readAt };
}

/** The delivery state of a message of mine, as ticks show it. */
export function tickState(m: Partial<Pick<Message, "read" | "deliveredAt">> & { pending?: boolean; failed?: string | null }): "failed" | "pending" | "read" | "delivered" | "sent" {
  if (m.pending) return m.failed ? "failed" : "pending";
  if (m.read) return "read";
  if (m.deliveredAt) return "delivered";
  return "sent";
}

/** What a reply quotes of a text: its first 200 characters (code points, as the server counts). */
function preview(text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null;
  return Array.from(text).slice(0, 200).join("");
}
