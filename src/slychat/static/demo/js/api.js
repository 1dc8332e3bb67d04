// The HTTP side of the page: its settings, dev tokens, and media uploads.

export async function loadConfig() {
  const response = await fetch("/demo/config.json", { cache: "no-cache" });
  if (!response.ok) throw new Error(`config: HTTP ${response.status}`);
  return response.json();
}

// Dev mode only (the server has no key of its own): a token for any customer or vendor.
export async function mintDevToken(role, id) {
  const response = await fetch("/api/dev/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ role, id }),
  });
  const body = await response.json().catch(() => null);
  if (!response.ok || !body || body.error) {
    throw new Error(body?.message ?? `The server refused a dev token (HTTP ${response.status})`);
  }
  return body.data; // {token, userId, userType, expiresIn}
}

export const UPLOAD_ROUTES = { image: "send-image", pdf: "send-pdf" };

// A media message: `fields` are sendMessage's (productId, recipientId, text, ...), `files`
// File objects of one kind. Resolves to {status, body}; the body is the server's envelope
// or error object (429 carries retryAfter).
export async function upload(kind, token, fields, files) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined && value !== null && value !== "") form.append(name, String(value));
  }
  files.forEach((file, i) => form.append(`file${i + 1}`, file, safeName(file.name, i)));
  const response = await fetch(`/api/v1/chat/${UPLOAD_ROUTES[kind]}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
    body: form,
  });
  const body = await response.json().catch(() => ({
    error: true, statusCode: response.status, message: `Upload failed (HTTP ${response.status})`,
  }));
  if (response.status === 429 && body.retryAfter === undefined) {
    body.retryAfter = Number(response.headers.get("Retry-After")) || 1;
  }
  return { status: response.status, body };
}

// The server refuses names with path parts or control characters; the name is never
// used anyway, so anything odd is replaced.
function safeName(name, i) {
  const plain = /^[\w .()+-]{1,100}$/u.test(name) && !name.includes("..");
  return plain ? name : `file${i + 1}`;
}

export function kindOf(file) {
  if (file.type === "application/pdf") return "pdf";
  if (["image/jpeg", "image/png", "image/webp"].includes(file.type)) return "image";
  return null;
}
