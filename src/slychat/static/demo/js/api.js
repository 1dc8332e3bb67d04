// The HTTP side of the page: its settings and dev tokens (uploads go through the client).

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

// What the page lets through the file picker: photos and PDFs (the server decides from the
// bytes; this only says early what it would refuse).
export function kindOf(file) {
  if (file.type === "application/pdf") return "pdf";
  if (["image/jpeg", "image/png", "image/webp"].includes(file.type)) return "image";
  return null;
}
