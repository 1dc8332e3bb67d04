// The search box over the chat list: the user's messages holding every word typed (the
// last one as it is being typed), newest first, through the client's `search`; choosing
// a result opens its chat at that message.

import { h, setText, show } from "./dom.js";
import { preview, shortTime } from "./format.js";

const DEBOUNCE_MS = 250; // one request per pause in typing, not per key

export class SearchBox {
  constructor({ el, client, store, onPick }) {
    this.el = el;
    this.client = client;
    this.store = store;
    this.onPick = onPick;
    this.timer = null;
    this.asked = 0; // the newest request: older answers arriving late are dropped
    this.undo = [];
    const on = (target, type, fn) => {
      target.addEventListener(type, fn);
      this.undo.push(() => target.removeEventListener(type, fn));
    };
    on(el.search, "submit", (e) => { e.preventDefault(); this._run(); });
    on(el.searchQuery, "input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this._run(), DEBOUNCE_MS);
    });
  }

  stop() {
    clearTimeout(this.timer);
    for (const undo of this.undo) undo();
  }

  async _run() {
    const query = this.el.searchQuery.value.trim();
    const asked = ++this.asked;
    if (query.length < 2) {
      this._show([], "");
      return;
    }
    try {
      const page = await this.client.search(query);
      if (asked !== this.asked) return;
      this._show(page.messages, page.messages.length ? "" : "No messages found.");
    } catch (err) {
      if (asked === this.asked) this._show([], err?.message ?? "Search failed");
    }
  }

  _show(messages, status) {
    const { searchResults: list, searchStatus } = this.el;
    list.replaceChildren(...messages.map((m) => h("li", {}, this._hit(m))));
    show(list, messages.length > 0);
    setText(searchStatus, status);
    show(searchStatus, Boolean(status));
  }

  _hit(m) {
    const chat = this.store.chat(m.chatId);
    const title = chat ? chat.productName || chat.productId : "Chat";
    return h("button", {
      type: "button",
      class: "search-hit",
      dataset: { messageId: m.id, chatId: m.chatId },
      onclick: () => this.onPick(m),
    },
    h("span", { class: "row-top" },
      h("span", { class: "row-title" }, title),
      h("time", { class: "row-time", datetime: m.timestamp ?? "" }, shortTime(m.timestamp))),
    h("span", { class: "row-preview" }, preview(m)));
  }
}
