// One chat's messages: a keyed list (an element per message, updated in place), so that
// receipts and new messages change only what changed, pictures are not reloaded, and
// the reader's scroll position holds while older messages are added above.

import { h, imageAllowed, safeUrl } from "./dom.js";
import { fileSize, shortTime } from "./format.js";
import { tickState } from "./store.js";

const TICKS = {
  pending: { mark: "…", label: "Sending" },
  failed: { mark: "!", label: "Not sent" },
  sent: { mark: "✓", label: "Sent" },
  delivered: { mark: "✓✓", label: "Delivered" },
  read: { mark: "✓✓", label: "Read" },
};
const THUMB_WIDTH = 220;

export class ConversationView {
  constructor({ list, scroller, config, onDelete, onRetry }) {
    this.list = list;
    this.scroller = scroller;
    this.config = config;
    this.onDelete = onDelete;
    this.onRetry = onRetry;
    this.items = new Map(); // key -> {el, signature}
    this.chatId = null;
  }

  // items: the chat's messages in seq order, then this page's pending sends.
  render(chatId, items, { store, otherName }) {
    const switched = chatId !== this.chatId;
    if (switched) {
      this.items.clear();
      this.list.replaceChildren();
      this.chatId = chatId;
    }
    const s = this.scroller;
    const atBottom = s.scrollHeight - s.scrollTop - s.clientHeight < 48;
    const fromBottom = s.scrollHeight - s.scrollTop;
    const firstBefore = this.list.firstElementChild;

    const wanted = new Set();
    let previous = null;
    for (const m of items) {
      const key = m.pending ? `pending:${m.clientMessageId}` : m.id;
      wanted.add(key);
      const signature = signatureOf(m);
      let item = this.items.get(key);
      if (!item || item.signature !== signature) {
        const el = this._message(m, store, otherName);
        if (item) item.el.replaceWith(el);
        item = { el, signature };
        this.items.set(key, item);
      }
      const expectedNext = previous ? previous.nextElementSibling : this.list.firstElementChild;
      if (expectedNext !== item.el) {
        if (previous) previous.after(item.el);
        else this.list.prepend(item.el);
      }
      previous = item.el;
    }
    for (const [key, item] of this.items) {
      if (!wanted.has(key)) {
        item.el.remove();
        this.items.delete(key);
      }
    }

    if (switched || atBottom) {
      s.scrollTop = s.scrollHeight;
    } else if (firstBefore && this.list.firstElementChild !== firstBefore) {
      s.scrollTop = s.scrollHeight - fromBottom; // older messages came in above
    }
  }

  _message(m, store, otherName) {
    if (store.isNotice(m)) {
      return h("li", { class: "msg notice", dataset: { id: m.id ?? "", seq: String(m.seq) } },
        h("p", { class: "notice-text" },
          h("span", { class: "visually-hidden" }, "Notice: "),
          m.text ?? "",
          m.timestamp ? h("time", { datetime: m.timestamp }, ` · ${shortTime(m.timestamp)}`) : null));
    }
    const mine = store.isMine(m);
    const state = mine ? tickState(m) : null;
    const tick = state ? TICKS[state] : null;
    return h("li", {
      class: `msg ${mine ? "mine" : "theirs"}`,
      dataset: { id: m.id ?? "", seq: m.pending ? "" : String(m.seq), state: state ?? "received" },
    },
    h("div", { class: "bubble" },
      h("span", { class: "visually-hidden" }, mine ? "You: " : `${otherName}: `),
      media(m, this.config),
      m.text ? h("p", { class: "text" }, m.text) : null,
      h("p", { class: "meta" },
        m.note ? h("span", { class: "note" }, m.note, " ") : null,
        m.timestamp ? h("time", { datetime: m.timestamp }, shortTime(m.timestamp)) : null,
        tick ? h("span", { class: `ticks ${state}`, dataset: { state } },
          h("span", { "aria-hidden": "true" }, ` ${tick.mark}`),
          h("span", { class: "visually-hidden" }, ` ${tick.label}`)) : null),
      m.failed ? h("p", { class: "error" }, m.failed) : null,
      actions(m, mine, { onDelete: this.onDelete, onRetry: this.onRetry })));
  }
}

function actions(m, mine, { onDelete, onRetry }) {
  if (!mine) return null;
  if (m.pending) {
    return m.failed
      ? h("button", { type: "button", class: "link", onclick: () => onRetry(m) }, "Retry")
      : null;
  }
  const what = m.text ? `“${m.text.slice(0, 40)}”` : "this file";
  return h("button", {
    type: "button", class: "link delete", "aria-label": `Delete message ${what}`,
    onclick: () => onDelete(m),
  }, "Delete");
}

function media(m, config) {
  const list = m.messageMedias ?? [];
  if (!list.length) return null;
  return h("div", { class: "media" }, list.map((item) => mediaItem(item, config)));
}

function mediaItem(item, config) {
  const href = safeUrl(item.url ?? item.imageUrl)?.href;
  if (!href) return null;
  const size = fileSize(item.size);
  const thumb = item.mimeType?.startsWith("image/")
    ? imageAllowed(item.thumbnailUrl ?? item.url, config)
    : null;
  if (thumb) {
    const width = Math.min(THUMB_WIDTH, item.width || THUMB_WIDTH);
    const height = item.width && item.height ? Math.round((width * item.height) / item.width) : null;
    return h("a", { href, target: "_blank", rel: "noopener noreferrer", class: "photo" },
      h("img", { src: thumb, alt: `Photo, ${size}`, width, height, loading: "lazy",
        decoding: "async" }));
  }
  const label = item.mimeType === "application/pdf" ? "PDF document" : "File";
  return h("a", { href, target: "_blank", rel: "noopener noreferrer", class: "file",
    download: "" }, `${label} (${size})`);
}

function signatureOf(m) {
  return JSON.stringify([m.text, m.read, m.deliveredAt, m.failed, m.note, m.pending,
    (m.messageMedias ?? []).length, m.timestamp]);
}
