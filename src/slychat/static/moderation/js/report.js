// One report: what was reported (shown and original text side by side, earlier versions,
// media, the messages around it), the decisions so far, and the other reports against
// the same user.

import { byId, h, setText, show } from "./dom.js";
import * as f from "./format.js";
import { reportRow } from "./queue.js";

export function renderReport(report) {
  setText(byId("detail-title"), `${f.reason(report.reason)}: ${f.target(report)}`);
  renderFacts(report);
  const message = report.snapshot?.message ?? null;
  show(byId("snapshot-message"), message !== null);
  if (message) renderMessage(message);
  // The context is the messages around the reported one: it is put back in its place.
  const around = report.snapshot?.context ?? [];
  const conversation = message ? [...around, message].sort((x, y) => x.seq - y.seq) : around;
  renderContext(conversation, message?.id);
  renderDecisions(report.decisions ?? []);
  const open = report.status === "open";
  show(byId("decide"), open);
  // A user report names no message to delete.
  show(byId("delete-message"), report.target.kind === "message");
  setText(byId("decide-error"), "");
}

function renderFacts(report) {
  const facts = [
    ["Status", report.status === "open" ? "Open" : "Resolved"],
    ["Reason", f.reason(report.reason)],
    ["Reported", report.target.kind === "message" ? `A message by ${f.target(report)}` : f.target(report)],
    ["Open reports against them", String(report.targetOpenReports ?? 0)],
    ["Reported by", f.reporter(report)],
    ["When", f.time(report.createdAt)],
    ["Reporter's note", report.note || "None"],
  ];
  if (report.target.chatId) facts.push(["Chat", report.target.chatId]);
  byId("facts").replaceChildren(...facts.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

function renderMessage(message) {
  const shown = byId("shown-text");
  const original = byId("original-text");
  setText(shown, f.messageText(message) || "(no text)");
  // No original text: what users saw is what the sender wrote.
  const same = message.originalText === null || message.originalText === undefined;
  setText(original, same ? "The same: nothing was masked." : message.originalText);
  original.classList.toggle("none", same);
  const versions = message.versions ?? [];
  show(byId("versions-box"), versions.length > 0);
  // Oldest first; each one until the edit that replaced it.
  byId("versions").replaceChildren(
    ...versions.map((v) =>
      h(
        "li",
        {},
        h("span", { class: "text" }, v.text),
        " ",
        h("span", { class: "when" }, v.replacedAt ? `(until ${f.time(v.replacedAt)})` : ""),
      ),
    ),
  );
}

function renderContext(messages, reportedId) {
  byId("context").replaceChildren(
    ...messages.map((m) =>
      h(
        "li",
        { class: m.id === reportedId ? "reported" : null, dataset: { id: m.id } },
        h("span", { class: "who" }, f.user(m.senderType, m.senderId)),
        " ",
        h("span", { class: "when" }, f.time(m.timestamp)),
        m.id === reportedId ? h("span", { class: "tag" }, "reported") : null,
        h("p", { class: "text" }, f.messageText(m)),
      ),
    ),
  );
  show(byId("no-context"), messages.length === 0);
}

function renderDecisions(decisions) {
  byId("decisions").replaceChildren(
    ...decisions.map((d) =>
      h(
        "li",
        { dataset: { action: d.action } },
        h("strong", {}, f.ACTIONS[d.action] ?? d.action),
        d.until ? ` until ${f.time(d.until)}` : "",
        ` by ${d.keyName} `,
        h("span", { class: "when" }, f.time(d.decidedAt)),
        d.note ? h("p", { class: "text" }, d.note) : null,
      ),
    ),
  );
  show(byId("no-decisions"), decisions.length === 0);
}

// The snapshot's media: images as thumbnails fetched with the key (blob: URLs, which
// `keep` records for the caller to revoke when the report closes), other files as a button
// that downloads them. `current()` says whether this report is still the one shown.
export async function renderMedia(report, api, { keep, current, onError }) {
  const items = report.snapshot?.media ?? [];
  const list = byId("media");
  list.replaceChildren();
  show(byId("media-box"), items.length > 0);
  const fetchUrl = async (item) => {
    const blob = await api.media(report.id, item.mediaId ?? item.id);
    const url = URL.createObjectURL(blob);
    if (current()) return keep(url);
    URL.revokeObjectURL(url); // arrived after the report closed
    return null;
  };
  for (const [index, item] of items.entries()) {
    const label = `File ${index + 1} of ${items.length}${item.mimeType ? ` (${item.mimeType})` : ""}`;
    if (isImage(item)) {
      const li = h("li", {}, h("span", {}, label));
      list.append(li);
      try {
        const url = await fetchUrl(item);
        if (!url) return;
        li.prepend(h("img", { src: url, alt: `Image ${index + 1} of the reported conversation` }));
      } catch (err) {
        if (current()) onError(err);
      }
    } else {
      const download = async () => {
        try {
          const url = await fetchUrl(item);
          if (url) h("a", { href: url, download: `report-${report.id}-${index + 1}` }).click();
        } catch (err) {
          onError(err);
        }
      };
      list.append(h("li", {}, h("button", { type: "button", onclick: download }, `Download ${label}`)));
    }
  }
}

// Images have a thumbnail (the media route answers with it); an item without a type is
// taken for an image when it has one.
function isImage(item) {
  return item.mimeType ? item.mimeType.startsWith("image/") : Boolean(item.thumbnailUrl);
}

export function renderOthers(reports, currentId, onOpen) {
  const others = reports.filter((r) => r.id !== currentId);
  byId("others").replaceChildren(...others.map((r) => reportRow(r, false, onOpen)));
  show(byId("no-others"), others.length === 0);
}
