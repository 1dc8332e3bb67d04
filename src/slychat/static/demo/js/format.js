// How times, sizes and prices read on the page.

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

// "14:05" today, "Mar 5 14:05" on another day.
export function shortTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const today = new Date().toDateString() === date.toDateString();
  return today ? timeFormat.format(date) : `${dayFormat.format(date)} ${timeFormat.format(date)}`;
}

export function fileSize(bytes) {
  const n = Number(bytes);
  if (!Number.isFinite(n)) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// Prices are free text on the wire ("299", "299.99", "$12"): shown as given, with a
// currency sign only when it is a bare number.
export function price(value) {
  if (value === null || value === undefined || value === "") return "";
  const text = String(value);
  return /^\d+(\.\d+)?$/.test(text) ? `$${text}` : text;
}

// What a chat list row says about a message: its text, or what it carries.
export function preview(m) {
  if (!m) return "No messages yet";
  if (m.text) return m.text.length > 80 ? `${m.text.slice(0, 80)}…` : m.text;
  const media = m.messageMedias ?? [];
  if (media.some((item) => item.mimeType?.startsWith("image/"))) return "Photo";
  if (media.length) return "PDF";
  return "";
}
