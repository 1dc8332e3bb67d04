// One chat's messages: a keyed list (an element per message, updated in place), so that
// receipts and new messages change only what changed, pictures are not reloaded, and
// the reader's scroll position holds while older messages are added above.

import { h, imageAllowed, safeUrl } from "./dom.js";
import { fileSize, shortTime } from "./format.js";
import { tickState } from "../dist/slychat-client.js";

const TICKS = {
  pending: { mark: "…", label: "Sending" },
  failed: { mark: "!", label: "Not sent" },
  sent: { mark: "✓", label: "Sent" },
  delivered: { mark: "✓✓", label: "Delivered" },
  read: { mark: "✓✓", label: "Read" },
};
const THUMB_WIDTH = 220;
// The small picker on a message: one reaction per person, a tap on another replaces it.
export const REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"];
const FLASH_MS = 1600;
const MASKED_NOTE = "Contact details are hidden to keep the deal on the platform";

export class ConversationView {
  // on: {delete, retry, reply, edit, react(m, emoji | null)}: what the message actions do.
  constructor({ list, scroller, config, on }) {
    this.list = list;
    this.scroller = scroller;
    this.config = config;
    this.on = on;
    this.items = new Map(); // key -> {el, signature}
    this.chatId = null;
    this.pickerFor = null; // the message whose reaction picker is open: kept across redraws
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
    const who = (sender) => (store.isMine(sender) ? "You" : otherName);
    return h("li", {
      class: `msg ${mine ? "mine" : "theirs"}`,
      tabindex: "-1",
      dataset: { id: m.id ?? "", seq: m.pending ? "" : String(m.seq), state: state ?? "received" },
    },
    h("div", { class: "bubble" },
      h("span", { class: "visually-hidden" }, mine ? "You: " : `${otherName}: `),
      quote(m.replyTo, who, (id) => this.jumpTo(id)),
      media(m, this.config),
      m.text ? h("p", { class: "text" }, m.text) : null,
      // The server hid contact details (or words its rules mask) from everyone, the
      // sender included: say why, so that the mask does not read as a glitch.
      m.masked ? h("p", { class: "masked-note" }, MASKED_NOTE) : null,
      h("p", { class: "meta" },
        m.note ? h("span", { class: "note" }, m.note, " ") : null,
        m.editedAt ? h("span", { class: "edited", title: `Edited ${shortTime(m.editedAt)}` },
          "edited ") : null,
        m.timestamp ? h("time", { datetime: m.timestamp }, shortTime(m.timestamp)) : null,
        tick ? h("span", { class: `ticks ${state}`, dataset: { state } },
          h("span", { "aria-hidden": "true" }, ` ${tick.mark}`),
          h("span", { class: "visually-hidden" }, ` ${tick.label}`)) : null),
      reactions(m, who),
      m.failed ? h("p", { class: "error" }, m.failed) : null,
      actions(m, mine, store, this.on, this.pickers())));
  }

  pickers() {
    return {
      isOpen: (id) => this.pickerFor === id,
      set: (id) => {
        this.pickerFor = id;
      },
    };
  }

  // A tap on a quote: its message, scrolled to and marked for a moment (when it is held;
  // older history is loaded first by the caller's `loadOlder`).
  jumpTo(id) {
    const el = this.items.get(id)?.el;
    if (!el) {
      this.on.missing?.(id);
      return;
    }
    el.scrollIntoView({ block: "center" });
    el.classList.add("flash");
    el.focus({ preventScroll: true });
    setTimeout(() => el.classList.remove("flash"), FLASH_MS);
  }
}

function quote(q, who, jump) {
  if (!q) return null;
  const text = q.deleted ? "Deleted message" : q.text || (q.hasMedia ? "Photo or file" : "");
  const author = who({ senderId: q.senderId, senderType: q.senderType });
  // The visible words are the button's name (with what they mean said around them).
  return h("button", {
    type: "button", class: "quote", dataset: { quotes: q.id }, onclick: () => jump(q.id),
  },
  h("span", { class: "visually-hidden" }, "Replying to "),
  h("span", { class: "quote-who" }, author),
  h("span", { class: "visually-hidden" }, ": "),
  h("span", { class: "quote-text" }, text));
}

function reactions(m, who) {
  const list = m.reactions ?? [];
  if (!list.length) return null;
  return h("ul", { class: "reactions", "aria-label": "Reactions" },
    list.map((r) => h("li", { class: "reaction", title: who({ senderId: r.userId, senderType: r.userType }) },
      r.emoji,
      h("span", { class: "visually-hidden" },
        ` from ${who({ senderId: r.userId, senderType: r.userType })}`))));
}

function actions(m, mine, store, on, pickers) {
  if (m.pending) {
    return mine && m.failed
      ? h("button", { type: "button", class: "link", onclick: () => on.retry(m) }, "Retry")
      : null;
  }
  const what = m.text ? `“${m.text.slice(0, 40)}”` : "this file";
  const myReaction = (m.reactions ?? []).find((r) => store.isMine({ senderId: r.userId,
    senderType: r.userType }))?.emoji ?? null;
  const open = pickers.isOpen(m.id);
  const picker = h("div", { class: "picker", role: "group", "aria-label": "Pick a reaction",
    hidden: !open },
  REACTIONS.map((emoji) => h("button", {
    type: "button", "aria-pressed": String(emoji === myReaction), "aria-label": `React ${emoji}`,
    onclick: () => {
      pickers.set(null);
      on.react(m, emoji === myReaction ? null : emoji); // the same one again takes it back
    },
  }, emoji)));
  const toggle = h("button", {
    type: "button", class: "link react", "aria-expanded": String(open),
    "aria-label": `React to ${what}`,
    onclick: () => {
      picker.hidden = !picker.hidden;
      pickers.set(picker.hidden ? null : m.id);
      toggle.setAttribute("aria-expanded", String(!picker.hidden));
      if (!picker.hidden) picker.querySelector("button")?.focus();
    },
  }, "React");
  return h("div", { class: "msg-actions" },
    h("button", { type: "button", class: "link reply", "aria-label": `Reply to ${what}`,
      onclick: () => on.reply(m) }, "Reply"),
    toggle,
    mine && m.text ? h("button", { type: "button", class: "link edit",
      "aria-label": `Edit message ${what}`, onclick: () => on.edit(m) }, "Edit") : null,
    mine ? h("button", { type: "button", class: "link delete",
      "aria-label": `Delete message ${what}`, onclick: () => on.delete(m) }, "Delete") : null,
    picker);
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
    (m.messageMedias ?? []).length, m.timestamp, m.editedAt, m.reactions, m.replyTo, m.masked]);
}
