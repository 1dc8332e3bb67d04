// How reasons, users, times and messages read on the page.

const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export const REASONS = {
  spam: "Spam",
  scam: "Scam",
  harassment: "Harassment",
  off_platform: "Off-platform contact",
  inappropriate: "Inappropriate",
  other: "Other",
};

export const ACTIONS = {
  dismiss: "Dismissed",
  delete_message: "Message deleted",
  suspend_user: "User suspended",
  lift: "Suspension lifted",
};

export function reason(value) {
  return REASONS[value] ?? String(value);
}

export function time(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : when.format(date);
}

// "Customer 12", "Vendor 4", "System".
export function user(userType, userId) {
  const type = String(userType ?? "").toLowerCase();
  if (type === "system") return "System";
  return `${type.charAt(0).toUpperCase()}${type.slice(1)} ${userId}`;
}

export function target(report) {
  return user(report.target.userType, report.target.userId);
}

export function reporter(report) {
  return report.automatic ? "Automatic (the server)" : user(report.reporter.userType, report.reporter.userId);
}

// The media a message carries (the wire shape names the list three ways).
export function mediaOf(message) {
  return message?.messageMedias ?? message?.messageMedia ?? message?.messageImages ?? [];
}

// What a message says, for the context list: its text, or what it carries.
export function messageText(message) {
  if (message.deletedAt) return "(deleted)";
  if (message.text) return message.text;
  const media = mediaOf(message);
  if (media.some((m) => m.mimeType?.startsWith("image/"))) return "(a photo)";
  return media.length ? "(a file)" : "";
}

// A datetime-local input's value (the moderator's local time) as an ISO instant, or null.
export function untilFromInput(value) {
  if (!value) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new Error("That suspension end is not a date and time.");
  if (date.getTime() <= Date.now()) throw new Error("A suspension must end in the future (or leave it empty).");
  return date.toISOString();
}
