// Messages on their way out. `add` gives each a fresh clientMessageId and writes the whole
// queue to storage before it can go on the wire; the queue is drained one message at a
// time, oldest first, and a message leaves the queue only once the server has acknowledged
// storing it (or refused it for good). Every retry (after a drop, a timeout, a 429, a
// restart of this process) sends the same clientMessageId, which the server never stores
// twice: so each message is stored once, and in the order it was written.

import { unref } from "./connection.js";
import { isFinal, SlyChatError } from "./errors.js";
import type { PersistentState } from "./storage.js";
import type { ChatStore } from "./store.js";
import type { Message, NewChatFields, PendingMessage, RateLimitedInfo } from "./types.js";

/** The wire payload of one `sendMessage`. */
export type SendPayload = NewChatFields & {
  productId: string;
  recipientId: number;
  text: string;
  clientMessageId: string;
  replyTo?: string;
};

/** One queued message, as stored. */
export interface OutboxEntry {
  payload: SendPayload;
  chatId: string | null;
  createdAt: string;
}

interface Waiter {
  resolve: (message: Message) => void;
  reject: (error: SlyChatError) => void;
}

export interface OutboxHooks {
  /** Sends one event with an ack: resolves with the ack, rejects with a SlyChatError. */
  request: (event: string, payload: SendPayload) => Promise<{ data: Message }>;
  /** Connected and caught up: sends may go. */
  canSend: () => boolean;
  /** A message of the queue is stored (its chat may be new to this client). */
  onStored: (message: Message, entry: OutboxEntry) => void;
  onChange: () => void;
  onRateLimited: (info: RateLimitedInfo) => void;
  sleep?: (ms: number) => Promise<void>;
}

const KEY = "outbox";
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];

export class Outbox {
  private queue: OutboxEntry[] = [];
  private readonly restoredIds = new Set<string>();
  private readonly waiters = new Map<string, Waiter>();
  private pumping = false;
  private readonly restored: Promise<void>;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly state: PersistentState,
    private readonly store: ChatStore,
    private readonly hooks: OutboxHooks,
  ) {
    this.sleep = hooks.sleep ?? ((ms) => new Promise((resolve) => unref(setTimeout(resolve, ms))));
    this.restored = this.restore();
  }

  /** Resolves once what an earlier run left in storage is back in the queue. */
  ready(): Promise<void> {
    return this.restored;
  }

  /** The messages not stored yet, oldest first (refused ones included). */
  get pending(): PendingMessage[] {
    return [...this.store.pending.values()];
  }

  /** Queues a message; resolves with the stored message, rejects when the server refuses it. */
  add(payload: Omit<SendPayload, "clientMessageId">, chatId: string | null): Promise<Message> {
    const entry: OutboxEntry = {
      payload: { ...payload, clientMessageId: newClientMessageId() },
      chatId,
      createdAt: new Date().toISOString(),
    };
    const done = this.wait(entry.payload.clientMessageId);
    this.queue.push(entry);
    this.show(entry);
    void this.persist();
    this.drain();
    return done;
  }

  /** A refused message again, with the same clientMessageId. */
  retry(clientMessageId: string): Promise<Message> {
    const shown = this.store.pending.get(clientMessageId);
    if (!shown || !shown.failed) {
      return Promise.reject(new SlyChatError("No refused message with this clientMessageId", 0));
    }
    shown.failed = null;
    const entry: OutboxEntry = {
      payload: payloadOf(shown),
      chatId: shown.chatId,
      createdAt: shown.timestamp,
    };
    const done = this.wait(clientMessageId);
    this.queue.push(entry);
    void this.persist();
    this.hooks.onChange();
    this.drain();
    return done;
  }

  /** Forgets a refused message. */
  discard(clientMessageId: string): boolean {
    const shown = this.store.pending.get(clientMessageId);
    if (!shown || !shown.failed) return false;
    this.store.pending.delete(clientMessageId);
    this.hooks.onChange();
    return true;
  }

  /** A stored copy of a queued message arrived by another route (its echo, a sync page). */
  stored(message: Message): void {
    const id = message.clientMessageId;
    const entry = this.queue.find((e) => e.payload.clientMessageId === id);
    if (entry) this.settle(entry, message);
  }

  /** Drops what an earlier run left in storage: it was queued by another user. */
  dropRestored(): number {
    const dropped = this.queue.filter((e) => this.restoredIds.has(e.payload.clientMessageId));
    if (!dropped.length) return 0;
    this.queue = this.queue.filter((e) => !dropped.includes(e));
    for (const e of dropped) this.store.pending.delete(e.payload.clientMessageId);
    this.restoredIds.clear();
    void this.persist();
    this.hooks.onChange();
    return dropped.length;
  }

  /** Sends what is queued, if the connection allows. */
  drain(): void {
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      await this.restored;
      let failures = 0;
      while (this.queue.length > 0 && this.hooks.canSend()) {
        const entry = this.queue[0]!;
        await this.state.settled(); // on disk before it goes on the wire
        const wait = await this.sendOne(entry);
        if (wait === null) {
          failures = 0;
        } else if (wait === "offline") {
          break; // drained again once reconnected and caught up
        } else if (wait === "retry") {
          await this.sleep(BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)]!);
          failures += 1;
        } else {
          await this.sleep(wait);
        }
      }
    } finally {
      this.pumping = false;
    }
    // Something may have been added (or the connection come back) during the last await.
    if (this.queue.length > 0 && this.hooks.canSend()) this.drain();
  }

  /** null: settled; a number: wait that long (429); "retry": back off; "offline": stop. */
  private async sendOne(entry: OutboxEntry): Promise<number | "retry" | "offline" | null> {
    const shown = this.store.pending.get(entry.payload.clientMessageId);
    try {
      const ack = await this.hooks.request("sendMessage", entry.payload);
      if (shown) shown.note = null;
      this.settle(entry, ack.data);
      return null;
    } catch (caught) {
      if (!this.queue.includes(entry)) return null; // stored meanwhile (its echo came first)
      const err = caught instanceof SlyChatError ? caught : new SlyChatError(String(caught), 0);
      if (err.statusCode === 429) {
        const seconds = Math.max(0.05, err.retryAfter ?? 1);
        if (shown) shown.note = `Waiting ${Math.ceil(seconds)} s: sending too fast`;
        this.hooks.onRateLimited({ action: "sendMessage", retryAfter: seconds });
        this.hooks.onChange();
        return Math.ceil(seconds * 1000);
      }
      if (isFinal(err)) {
        this.queue.splice(this.queue.indexOf(entry), 1);
        if (shown) {
          shown.note = null;
          shown.failed = err.message;
        }
        void this.persist();
        this.finish(entry.payload.clientMessageId, null, err);
        this.hooks.onChange();
        return null;
      }
      // Not connected, no answer in time (it may be stored: the same id goes again), a
      // token gone bad (a new one comes with the reconnect), or the server's 5xx.
      if (shown) shown.note = "Waiting for the connection";
      this.hooks.onChange();
      return this.hooks.canSend() ? "retry" : "offline";
    }
  }

  private settle(entry: OutboxEntry, message: Message): void {
    const index = this.queue.indexOf(entry);
    if (index < 0) return;
    this.queue.splice(index, 1);
    this.store.pending.delete(entry.payload.clientMessageId);
    void this.persist();
    this.hooks.onStored(message, entry);
    this.finish(entry.payload.clientMessageId, message, null);
    this.hooks.onChange();
  }

  private wait(clientMessageId: string): Promise<Message> {
    return new Promise<Message>((resolve, reject) => {
      this.waiters.set(clientMessageId, { resolve, reject });
    });
  }

  private finish(id: string, message: Message | null, error: SlyChatError | null): void {
    const waiter = this.waiters.get(id);
    if (!waiter) return; // queued by an earlier run of the app: nobody waits for it here
    this.waiters.delete(id);
    if (message) waiter.resolve(message);
    else waiter.reject(error ?? new SlyChatError("Not sent", 0));
  }

  private show(entry: OutboxEntry): void {
    const me = this.store.me;
    const p = entry.payload;
    this.store.pending.set(p.clientMessageId, {
      pending: true,
      clientMessageId: p.clientMessageId,
      chatId: entry.chatId,
      productId: p.productId,
      recipientId: p.recipientId,
      text: p.text,
      replyTo: p.replyTo ?? null,
      senderId: me?.id ?? null,
      senderType: me?.type ?? null,
      timestamp: entry.createdAt,
      messageMedias: [],
      note: null,
      failed: null,
      fields: newChatFieldsOf(p),
    });
    this.hooks.onChange();
  }

  private persist(): Promise<void> {
    return this.state.write(KEY, this.queue.length ? { version: 1, queue: this.queue } : null);
  }

  private async restore(): Promise<void> {
    const saved = await this.state.read(KEY);
    const list = (saved as { version?: number; queue?: unknown } | null)?.queue;
    if (!Array.isArray(list)) return;
    const earlier = list.filter(isEntry);
    const known = new Set(this.queue.map((e) => e.payload.clientMessageId));
    const fresh = earlier.filter((e) => !known.has(e.payload.clientMessageId));
    // What an earlier run queued is older than anything sent since this one started.
    this.queue = [...fresh, ...this.queue];
    for (const e of fresh) this.restoredIds.add(e.payload.clientMessageId);
    const shown = new Map(this.store.pending);
    this.store.pending.clear();
    for (const entry of fresh) this.show(entry);
    for (const [id, item] of shown) this.store.pending.set(id, item);
    await this.persist();
  }
}

const NEW_CHAT_KEYS = [
  "productName", "productPrice", "productImageUrl", "storeName", "storeLogoUrl",
  "customerName", "customerProfilePic",
] as const;

/** The new-chat fields `source` gives (null and undefined count as not given). */
export function newChatFieldsOf(source: Partial<NewChatFields>): NewChatFields {
  const fields: Record<string, unknown> = {};
  for (const key of NEW_CHAT_KEYS) {
    const value = source[key];
    if (value !== undefined && value !== null) fields[key] = value;
  }
  return fields as NewChatFields;
}

function payloadOf(shown: PendingMessage): SendPayload {
  return {
    ...shown.fields,
    productId: shown.productId,
    recipientId: shown.recipientId,
    text: shown.text ?? "",
    clientMessageId: shown.clientMessageId,
    ...(shown.replyTo ? { replyTo: shown.replyTo } : {}),
  };
}

function isEntry(value: unknown): value is OutboxEntry {
  const p = (value as OutboxEntry | null)?.payload;
  return typeof p?.clientMessageId === "string" && typeof p.productId === "string"
    && typeof p.recipientId === "number" && typeof p.text === "string";
}

/** 128 random bits as hex. crypto.randomUUID needs a secure context in browsers, and Node 18
 * has no global `crypto` without a flag: there, Math.random's bits do (an id only has to
 * differ from this sender's other ids in the same chat). */
export function newClientMessageId(): string {
  const bytes = new Uint8Array(16);
  const webCrypto = (globalThis as { crypto?: { getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (typeof webCrypto?.getRandomValues === "function") webCrypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
