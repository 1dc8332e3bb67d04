// The package's public types. Payload shapes come from the server's AsyncAPI document
// (src/generated/protocol.ts); src/protocol-pending.ts keeps the names of the contract
// features written there by hand before the document carried them.

import type * as Documented from "./generated/protocol.js";
import type * as Pending from "./protocol-pending.js";
import type { SlyChatError } from "./errors.js";

export type Role = Documented.Role;
/** A message, with the fields of the contract's conversation features when the server sends them. */
export type Message = Pending.FeatureMessage;
/** A chat as the server sends it (with a page of messages). */
export type Chat = Pending.FeatureChat;
export type MediaItem = Documented.MediaItem;
export type SyncChange = Documented.SyncData["changes"][number];
export type ReadData = Documented.ReadData;
export type DeliveredData = Documented.DeliveredData;
export type DeletedData = Documented.DeletedData;
export type TypingData = Documented.TypingData;
export type ErrorObject = Documented.Error;
export type Reaction = Documented.ReactionItem;
export type ReactionsData = Documented.ReactionsData;
export type ReplyQuote = Documented.ReplyPreview;
/** A page of search results (`searchMessages`), newest first: the messages with the
 * contract's feature fields when the server sends them. */
export type SearchData = Omit<Documented.SearchData, "messages"> & { messages: Message[] };
/** `search`'s options: searchMessages' payload but its query. */
export type SearchOptions = Omit<Documented.SearchMessages, "query">;
export type ChatSettingsData = Documented.ChatSettingsData;
/** A user this user blocks (`blockedUsers`), and since when. */
export type BlockedUser = Documented.BlockedUser;
/** What `block` and `unblock` resolve with: whether the caller blocks the user now. */
export type BlockData = Documented.BlockData;
/** Why a message or a user is reported. */
export type ReportReason = Documented.ReportMessage["reason"];
/** What `reportUser` takes. */
export type ReportUserInput = Documented.ReportUser;
/** What a report resolves with: the report, and whether this call opened it (false: the
 * caller's open report of the same message or user, which the server folded it into). */
export type ReportResult = Documented.ReportReceivedData & { created: boolean };

/** Who this client is signed in as (the server says so when /presence opens). */
export interface Identity {
  id: number;
  type: "CUSTOMER" | "VENDOR";
}

/** A held chat: every message this client holds, oldest first (seq order). */
export type ChatView = Omit<Chat, "messages" | "unreadCount" | "hasMore"> & {
  messages: Message[];
  /** Messages to this user not read yet. */
  unreadCount: number;
  /** Older messages exist on the server beyond the oldest held (see `loadOlder`). */
  hasMore: boolean;
  /** Made up from a send's new-chat fields until the server's copy arrives. */
  provisional: boolean;
};

/** The chat fields a chat's first message must carry (`productName`, `storeName` and
 * `customerName` required when the chat does not exist yet). */
export type NewChatFields = Pick<
  Documented.SendMessage,
  | "productName"
  | "productPrice"
  | "productImageUrl"
  | "storeName"
  | "storeLogoUrl"
  | "customerName"
  | "customerProfilePic"
>;

/** Names a chat: by id (one this client holds), or by product and the other party. */
export type ChatTarget = { chatId: string } | { productId: string; recipientId: number };

/** What `send` takes. */
export type SendInput = ChatTarget &
  NewChatFields & {
    text: string;
    /** The id of a message of the same chat this one replies to. */
    replyTo?: string;
  };

/** A message of mine in the outbox: not acknowledged yet, or refused. */
export interface PendingMessage {
  pending: true;
  clientMessageId: string;
  /** null until known (a message that creates its chat). */
  chatId: string | null;
  productId: string;
  recipientId: number;
  text: string | null;
  replyTo: string | null;
  senderId: number | null;
  senderType: Role | null;
  /** When `send` was called. */
  timestamp: string;
  messageMedias: MediaItem[];
  /** Why it is held back right now ("Waiting 2 s: sending too fast"), or null. */
  note: string | null;
  /** Set when the server refused it for good; `retry` or `discard` it. */
  failed: string | null;
  /** The new-chat fields it carries. */
  fields: NewChatFields;
}

export interface Presence {
  userId: number;
  userType: Role;
  online: boolean;
  lastSeen: string | null;
}

export interface TypingInfo {
  /** null while the chat does not exist yet (the other party is about to start it). */
  chatId: string | null;
  productId: string;
  userId: number;
  userType: Role;
  /** false: they stopped typing. */
  typing: boolean;
}

export type ConnectionStatus =
  | "idle"
  | "connecting"
  | "online"
  | "reconnecting"
  | "catching-up"
  | "closed";

export interface RateLimitedInfo {
  /** The event or route that was refused. */
  action: string;
  /** Seconds until it goes again. */
  retryAfter: number;
}

/** Every event a SlyChat emits, with its listener's arguments. */
export interface SlyChatEvents {
  /** A message new to this client, once: live, or caught up after a reconnect. */
  message: (message: Message, chat: ChatView | null) => void;
  /** A chat appeared, or its fields or settings changed. */
  chat: (chat: ChatView) => void;
  /** The chat list was (re)loaded or another page of it came. */
  chats: (chats: ChatView[]) => void;
  edited: (message: Message) => void;
  deleted: (deleted: DeletedData) => void;
  read: (receipt: ReadData) => void;
  delivered: (delivered: DeliveredData) => void;
  reactions: (reactions: ReactionsData) => void;
  typing: (typing: TypingInfo) => void;
  presence: (presence: Presence) => void;
  /** The list of users I block was loaded or changed (by this client or another of mine). */
  blocked: (blocked: BlockedUser[]) => void;
  /** The outbox changed: a message was added, stored, held back or refused. */
  outbox: (pending: PendingMessage[]) => void;
  status: (status: ConnectionStatus) => void;
  rateLimited: (info: RateLimitedInfo) => void;
  error: (error: SlyChatError) => void;
}

export type SlyChatEvent = keyof SlyChatEvents;

/** A Web Storage-like store (localStorage, sessionStorage, or your own; async ones too). */
export interface StorageLike {
  getItem(key: string): string | null | Promise<string | null>;
  setItem(key: string, value: string): void | Promise<void>;
  removeItem(key: string): void | Promise<void>;
}

/** A file to upload: a Blob or File, or bytes with a name and a type. */
export type UploadFile =
  | Blob
  | { name: string; type: string; data: Blob | ArrayBuffer | Uint8Array };

export type UploadTarget = ChatTarget & NewChatFields;

export interface UploadOptions {
  /** Sent with the first file group. */
  text?: string;
  replyTo?: string;
}
