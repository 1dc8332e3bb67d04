// slychat-client: the public API.

export { SlyChat, type SlyChatOptions } from "./client.js";
export { SlyChatError } from "./errors.js";
export { ChatStore, tickState, type ChatRecord, type PutChatOptions } from "./store.js";
export { TypingNotifier, type TypingOptions, type TypingTarget } from "./typing.js";
export { memoryStorage } from "./storage.js";
export type { IoModule, ManagerLike, SocketLike, TokenSource } from "./connection.js";
export type { FetchLike } from "./http.js";
export type * from "./types.js";
export type * as Protocol from "./generated/protocol.js";
export type * as PendingProtocol from "./protocol-pending.js";
