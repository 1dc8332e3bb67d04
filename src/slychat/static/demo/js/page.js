// What the signed-in page shows, drawn from the store: the connection banner, notices,
// the chat list and the open conversation. Draws are batched: the events of one task
// (a sync page holds hundreds) draw once.

import { partyName, picture, presenceDot, renderChatList } from "./chatlist.js";
import { ConversationView } from "./conversation.js";
import { byId, h, setText, show } from "./dom.js";
import { price, shortTime } from "./format.js";

const BANNERS = {
  connecting: "Connecting…",
  reconnecting: "Connection lost. Reconnecting…",
  "catching-up": "Reconnected. Catching up…",
};
const NOTICE_MS = 6000;

export class PageView {
  // selected(): the open chat's id or null; onOpen(chatId) opens one; uploads(): the
  // page's files on their way (shown with the outbox's pending messages); archived(): the
  // list shows the archived chats; composing(): {replyTo, editing} of the composer; on: the
  // message actions (see ConversationView).
  constructor({ store, config, selected, uploads, archived, composing, onOpen, on }) {
    this.store = store;
    this.uploads = uploads;
    this.config = config;
    this.selected = selected;
    this.archived = archived;
    this.composing = composing;
    this.onOpen = onOpen;
    this.el = elements();
    this.conversation = new ConversationView({
      list: this.el.messages, scroller: this.el.scroller, config, on,
    });
    this.queued = false;
    this.stopped = false;
    this.pictureKey = null;
  }

  render() {
    if (this.queued || this.stopped) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      if (!this.stopped) this._draw();
    });
  }

  // Signed out: timers still pending must not draw the old user's chats again.
  stop() {
    this.stopped = true;
    clearTimeout(this.noticeTimer);
    this.el.chatList.replaceChildren();
    this.el.messages.replaceChildren();
    show(this.el.banner, false);
    show(this.el.notice, false);
    delete document.body.dataset.role;
    delete document.body.dataset.connection;
  }

  status(status) {
    const text = BANNERS[status];
    setText(this.el.banner, text ?? "");
    show(this.el.banner, Boolean(text));
    document.body.dataset.connection = status;
  }

  notice(text) {
    setText(this.el.notice, text);
    show(this.el.notice, true);
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => show(this.el.notice, false), NOTICE_MS);
  }

  // Said by screen readers (the announcer is aria-live), not shown.
  announce(text) {
    setText(this.el.announcer, ""); // cleared first: the same words twice are said twice
    setTimeout(() => setText(this.el.announcer, text), 50);
  }

  identity(me) {
    setText(this.el.whoami, `${me.type === "CUSTOMER" ? "Customer" : "Vendor"} ${me.id}`);
    show(this.el.whoami, true);
    show(this.el.signOut, true);
    document.body.dataset.role = me.type.toLowerCase();
  }

  attachments() {
    const files = [...this.el.attach.files];
    this.el.attachments.replaceChildren(...files.map((f) => h("li", {}, f.name)));
  }

  composerError(text) {
    setText(this.el.composerError, text);
  }

  _draw() {
    const { el, store } = this;
    const archived = this.archived();
    const shown = renderChatList(el.chatList, store, {
      selectedId: this.selected(), config: this.config, onOpen: this.onOpen, archived,
    });
    show(el.noChats, shown === 0);
    let empty = "No chats yet. They appear here when a customer writes to you.";
    if (archived) empty = "No archived chats.";
    else if (store.me.type === "CUSTOMER") empty = "No chats yet. Start one with “New chat”.";
    setText(el.noChats, empty);
    setText(el.archivedToggle, archived ? "Back to chats" : "Archived chats");
    el.archivedToggle.setAttribute("aria-pressed", String(archived));
    setText(el.chatsTitle, archived ? "Archived chats" : "Chats");
    show(el.moreChats, store.chatsHaveMore);
    const unread = store.totalUnread();
    document.title = unread ? `(${unread}) slychat demo` : "slychat demo";
    this._drawConversation();
  }

  _drawConversation() {
    const { el, store } = this;
    const chat = store.chat(this.selected());
    show(el.convEmpty, !chat);
    show(el.convBody, Boolean(chat));
    if (!chat) return;
    const other = partyName(chat, store);
    setText(el.convTitle, chat.productName || chat.productId);
    const presence = store.presenceOf(chat);
    const seen = presence && !presence.online && presence.lastSeen
      ? `, last seen ${shortTime(presence.lastSeen)}` : "";
    el.convSub.replaceChildren(presenceDot(presence), other,
      chat.productPrice ? ` · ${price(chat.productPrice)}` : "", seen);
    const pictureKey = `${chat.id} ${chat.productImageUrl}`;
    if (this.pictureKey !== pictureKey) { // not reloaded on every draw
      this.pictureKey = pictureKey;
      const shown = picture(chat, this.config);
      shown.id = "conv-picture";
      el.convPicture.replaceWith(shown);
      el.convPicture = shown;
    }
    setText(el.muteToggle, chat.muted ? "Unmute" : "Mute");
    setText(el.archiveToggle, chat.archived ? "Unarchive" : "Archive");
    const { replyTo, editing } = this.composing();
    const barFor = editing ?? replyTo;
    show(el.composeBar, Boolean(barFor));
    if (barFor) {
      const who = store.isMine(barFor) ? "yourself" : other;
      const what = barFor.text || "a photo or file";
      setText(el.composeBarText, editing ? `Editing: ${what}` : `Replying to ${who}: ${what}`);
    }
    setText(el.typing, store.isTyping(chat.id, Date.now()) ? `${other} is typing…` : "");
    show(el.older, chat.olderAvailable);
    const pending = [...store.pending.values(), ...this.uploads().values()]
      .filter((p) => p.chatId === chat.id);
    this.conversation.render(chat.id, [...store.messages(chat.id), ...pending],
      { store, otherName: other });
  }
}

function elements() {
  const ids = {
    banner: "banner", notice: "notice", whoami: "whoami", signOut: "sign-out",
    chatList: "chat-list", noChats: "no-chats", moreChats: "more-chats",
    convEmpty: "conv-empty", convBody: "conv-body", convTitle: "conv-title",
    convSub: "conv-sub", convPicture: "conv-picture", typing: "typing", scroller: "scroller",
    older: "older", messages: "messages", composer: "composer", text: "text",
    attach: "attach", attachments: "attachments", composerError: "composer-error",
    back: "back", announcer: "announcer", chatsTitle: "chats-title",
    archivedToggle: "archived-toggle", chatMenuToggle: "chat-menu-toggle", chatMenu: "chat-menu",
    muteToggle: "mute-toggle", archiveToggle: "archive-toggle", composeBar: "compose-bar",
    composeBarText: "compose-bar-text", composeBarCancel: "compose-bar-cancel",
    back: "back", announcer: "announcer", search: "search", searchQuery: "search-query",
    searchStatus: "search-status", searchResults: "search-results",
  };
  const found = {};
  for (const [key, id] of Object.entries(ids)) found[key] = byId(id);
  return found;
}
