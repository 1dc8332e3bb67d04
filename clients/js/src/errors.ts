// One error type for everything the client rejects with or reports.

import type { ErrorObject } from "./types.js";

export class SlyChatError extends Error {
  /** The server's status (400, 401, 403, 404, 413, 429, 503...), or 0 for a local failure
   * (not connected, no answer in time, the client was closed). */
  readonly statusCode: number;
  /** 429 only: the seconds the server asked to wait. */
  readonly retryAfter: number | undefined;

  constructor(message: string, statusCode: number, retryAfter?: number) {
    super(message);
    this.name = "SlyChatError";
    this.statusCode = statusCode;
    this.retryAfter = retryAfter;
  }

  /** From the server's error object (an ack, appError, an HTTP body or connect_error data). */
  static from(body: Partial<ErrorObject> | null | undefined, fallback = "Request failed"): SlyChatError {
    const status = typeof body?.statusCode === "number" ? body.statusCode : 0;
    const retry = typeof body?.retryAfter === "number" ? body.retryAfter : undefined;
    return new SlyChatError(typeof body?.message === "string" ? body.message : fallback, status, retry);
  }
}

/** Refusals the same request would get again: 4xx, except 401 (a new token may fix it),
 * 408 and 429 (waiting fixes them). */
export function isFinal(error: SlyChatError): boolean {
  const s = error.statusCode;
  return s >= 400 && s < 500 && s !== 401 && s !== 408 && s !== 429;
}

export function offline(): SlyChatError {
  return new SlyChatError("Not connected", 0);
}
