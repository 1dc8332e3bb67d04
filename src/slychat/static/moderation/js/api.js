// The moderation API (/api/v1/admin/reports...), the only thing this page talks to: every
// request carries the key in an Authorization header, and no cookie (credentials: "omit").

const BASE = "/api/v1/admin";

// A refusal, with what the page needs to say about it.
export class ApiError extends Error {
  constructor(status, message, retryAfter = null) {
    super(message);
    this.status = status; // 0: the server could not be reached
    this.retryAfter = retryAfter; // seconds, on a 429
  }
}

export class ModerationApi {
  constructor(key) {
    this.key = key;
  }

  // GET /reports: {reports, hasMore, next, countsByReason}.
  reports({ status, before, limit, targetUserType, targetUserId } = {}) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries({ status, before, limit, targetUserType, targetUserId })) {
      if (value !== undefined && value !== null && value !== "") query.set(name, String(value));
    }
    return this.json("GET", `/reports?${query}`);
  }

  report(id) {
    return this.json("GET", `/reports/${encodeURIComponent(id)}`);
  }

  // action: dismiss | delete_message | suspend_user; until: an ISO time or null.
  resolve(id, action, note, until) {
    const body = { action };
    if (note) body.note = note;
    if (action === "suspend_user" && until) body.until = until;
    return this.json("POST", `/reports/${encodeURIComponent(id)}/resolve`, body);
  }

  // A media file of a report's snapshot, as a Blob (shown through a blob: URL).
  async media(reportId, mediaId) {
    const path = `/reports/${encodeURIComponent(reportId)}/media/${encodeURIComponent(mediaId)}`;
    const response = await this.send("GET", path);
    return response.blob();
  }

  async json(method, path, body) {
    const response = await this.send(method, path, body);
    const reply = await response.json().catch(() => null);
    if (!reply || reply.error) throw new ApiError(response.status, "The server's answer could not be read.");
    return reply.data;
  }

  async send(method, path, body) {
    const headers = { Authorization: `Bearer ${this.key}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(`${BASE}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "The server could not be reached: check the connection and try again.");
    }
    if (!response.ok) throw await refusal(response);
    return response;
  }
}

async function refusal(response) {
  const reply = await response.json().catch(() => null);
  const said = typeof reply?.message === "string" ? reply.message : "";
  const retryAfter = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  return new ApiError(response.status, said, Number.isFinite(retryAfter) ? retryAfter : null);
}

// What the page says about a refusal: the status in plain words, then the server's reason.
export function describe(err) {
  if (!(err instanceof ApiError)) return `Something went wrong: ${err.message}`;
  const said = err.message ? ` (${err.message})` : "";
  switch (err.status) {
    case 0:
      return err.message;
    case 400:
      return `The server refused the request${said}.`;
    case 401:
      return `The API key was refused: it is mistyped, revoked or unknown${said}. Sign in again with a valid key.`;
    case 403:
      return `This key may not do that: reading reports needs moderation:read, deciding needs moderation:write${said}.`;
    case 404:
      return `Not found: the report no longer exists${said}.`;
    case 409:
      return `Someone already resolved this report${said}: showing its decisions as they stand.`;
    case 429: {
      const wait = err.retryAfter ? ` Try again in ${err.retryAfter} s.` : " Wait a little and try again.";
      return `Too many requests with this key${said}.${wait}`;
    }
    default:
      return `The server answered HTTP ${err.status}${said}.`;
  }
}
