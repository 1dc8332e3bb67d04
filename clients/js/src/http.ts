// The HTTP routes the client uses beside the sockets: a chat's history without marking it
// read, and media uploads. `fetch` and `FormData` are the platform's (browsers, Node 18+).
// A 429 is waited out, a 5xx or a network failure retried a few times, a 401 retried once
// with a fresh token; any other refusal rejects with the server's status.

import { unref, type Tokens } from "./connection.js";
import { SlyChatError } from "./errors.js";
import type { ErrorObject, RateLimitedInfo } from "./types.js";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

const ATTEMPTS = 5;

export class Http {
  constructor(
    private readonly base: string,
    private readonly tokens: Tokens,
    private readonly fetchImpl: FetchLike | undefined,
    private readonly onRateLimited: (info: RateLimitedInfo) => void,
  ) {}

  /** The JSON answer of `method path`; `body()` builds the request body for each attempt. */
  async json<T>(method: string, path: string, body?: () => BodyInit): Promise<{ status: number; body: T }> {
    const fetchImpl = this.fetchImpl ?? (globalThis.fetch as FetchLike | undefined);
    if (!fetchImpl) throw new SlyChatError("No fetch here: pass the `fetch` option", 0);
    let refreshed = false;
    for (let attempt = 1; ; attempt += 1) {
      const token = await this.tokens.get();
      let response: Response;
      try {
        response = await fetchImpl(`${this.base}${path}`, {
          method,
          headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
          ...(body ? { body: body() } : {}),
        });
      } catch (err) {
        if (attempt >= ATTEMPTS) throw new SlyChatError(`${method} ${path} failed: ${String(err)}`, 0);
        await pause(backoff(attempt));
        continue;
      }
      const parsed = (await response.json().catch(() => null)) as (T & Partial<ErrorObject>) | null;
      if (response.ok && parsed) return { status: response.status, body: parsed };
      const error = SlyChatError.from(parsed, `${method} ${path}: HTTP ${response.status}`);
      const status = response.status;
      if (status === 429 && attempt < ATTEMPTS) {
        const seconds = error.retryAfter ?? (Number(response.headers.get("Retry-After")) || 1);
        this.onRateLimited({ action: path, retryAfter: seconds });
        await pause(Math.max(50, seconds * 1000));
        continue;
      }
      if (status === 401 && !refreshed && this.tokens.renewable) {
        refreshed = true;
        this.tokens.invalidate();
        continue;
      }
      if (status >= 500 && attempt < ATTEMPTS) {
        await pause(backoff(attempt));
        continue;
      }
      throw new SlyChatError(error.message, status, error.retryAfter);
    }
  }
}

function backoff(attempt: number): number {
  return Math.min(8000, 250 * 2 ** attempt);
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => unref(setTimeout(resolve, ms)));
}
