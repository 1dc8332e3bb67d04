// What survives a reload or a restart, in the app's storage: the sync cursor, the outbox
// and whose they are. Writes go out one after another in the order made (so an older
// state never lands after a newer one), and each can be awaited.

import type { StorageLike } from "./types.js";

export class PersistentState {
  private chain: Promise<void> = Promise.resolve();

  /** storage: none keeps everything in memory only (nothing survives a restart). */
  constructor(
    private readonly storage: StorageLike | undefined,
    private readonly prefix: string,
    private readonly onFailure: (err: unknown) => void,
  ) {}

  get durable(): boolean {
    return this.storage !== undefined;
  }

  /** The stored value, or null (nothing stored, or not JSON this client wrote). */
  async read(name: string): Promise<unknown> {
    if (!this.storage) return null;
    await this.chain;
    try {
      const text = await this.storage.getItem(this.key(name));
      return text === null || text === undefined ? null : (JSON.parse(text) as unknown);
    } catch {
      return null;
    }
  }

  /** Queues a write (null removes the key); resolves once it is done. */
  write(name: string, value: unknown): Promise<void> {
    const storage = this.storage;
    if (!storage) return this.chain;
    const key = this.key(name);
    const text = value === null ? null : JSON.stringify(value);
    this.chain = this.chain.then(async () => {
      try {
        if (text === null) await storage.removeItem(key);
        else await storage.setItem(key, text);
      } catch (err) {
        this.onFailure(err); // a full or broken storage: the client goes on from memory
      }
    });
    return this.chain;
  }

  /** Resolves once every write made so far is done. */
  settled(): Promise<void> {
    return this.chain;
  }

  private key(name: string): string {
    return `${this.prefix}:${name}`;
  }
}

/** A StorageLike kept in memory: for tests, or to share one store between clients of a process. */
export function memoryStorage(): StorageLike & { readonly size: number } {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => {
      items.set(key, String(value));
    },
    removeItem: (key) => {
      items.delete(key);
    },
    get size() {
      return items.size;
    },
  };
}
