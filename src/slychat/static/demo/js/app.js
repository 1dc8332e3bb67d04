// The signed-in page: wires the connection's events into the store, the store into the
// views, and the user's actions back out as events.

import { mintDevToken } from "./api.js";
import { CATALOG, pictureUrl } from "./catalog.js";
import { partyName, picture, presenceDot, renderChatList } from "./chatlist.js";
import { Connection } from "./connection.js";
import { ConversationView } from "./conversation.js";
import { byId, h, setText, show } from "./dom.js";
import { price, preview, shortTime } from "./format.js";
import { Outbox } from "./outbox.js";
import { ChatStore } from "./store.js";
import { TypingNotifier } from "./typing.js";

const PAGE = 30; // messages per joinChat page
const TYPING_SHOWN_MS = 6000; // a typing notice lapses without a fresh one
const PRESENCE_CHECKS = 25; // counterparts asked about at once, within the event budget

const BANNERS = {
  connecting: "Connecting…",
  reconnecting: "Connection lost. Reconnecting…",
  "catching-up": "Reconnected. Catching up…",
};

export class App {
  // session: {token, role, id, devMode}
  constructor(io, config, session, { onSignOut }) {
    this.config = config;
    this.session = session;
    this.onSignOut = onSignOut;
    this.store = new ChatStore({ id: session.id, type: session.role.toUpperCase() });
    this.selectedId = null;
    this.presenceAsked = new Set();
    this.renderQueued = false;
    this.readTimer = null;
    this.el = elements();
    this.connection = new Connection(io, {
      origin: location.origin, token: session.token, handlers: this._handlers(),
    });
    this.outbox = new Outbox({
      store: this.store, connection: this.connection, token: () => this.connection.token,
      onChange: () => this.render(), onNotice: (text) => this.notice(text),
    });
    this.typing = new TypingNotifier((event, target) => this.connection.notify(event, target));
    this.view = new ConversationView({
      list: this.el.messages, scroller: this.el.scroller, config,
      onDelete: (m) => this.deleteMessage(m), onRetry: (m) => this.outbox.retry(m),
    });
    this.cleanups = [];
    this._bindUi();
    this._showIdentity();
    this.render();
  }

  stop() {
    this.typing.stop();
    this.connection.close();
    for (const undo of this.cleanups) undo();
    this.el.chatList.replaceChildren();
    this.el.messages.replaceChildren();
    show(this.el.banner, false);
  }

  // --- connection events -----------------------------------------------------------------

  _handlers() {
    return {
      onStatus: (status) => this._status(status),
      onPresenceUp: () => this._askPresence(),
      onIdentity: (data) => this._identity(data),
      onUserChats: (env, { replace }) => {
        this.store.putChats(env.data, { replace, hasMore: env.hasMore });
        if (replace) this.presenceAsked.clear();
        this._askPresence();
        this.render();
      },
      onChanges: (changes) => {
        let unknown = false;
        for (const change of changes) unknown = !this.store.applyChange(change) || unknown;
        if (unknown) this.connection.refreshChats();
        this.render();
      },
      onOffline: (messages) => this._messages(messages, { live: false }),
      onEvent: (name, env) => this._event(name, env),
      onCaughtUp: () => {
        this.outbox.flush();
        this.presenceAsked.clear();
        this._askPresence();
        this._readIfWatching();
        this.render();
      },
      onAppError: (err) => this._appError(err),
      onRefused: (event, err) => {
        if (err.statusCode === 429 && (event === "typing" || event === "stoppedTyping")) {
          this.typing.pause(err.retryAfter ?? 1);
        }
      },
      onTokenRefused: () => this._tokenRefused(),
    };
  }

  _event(name, env) {
    const data = env?.data;
    switch (name) {
      case "receiveMessage":
      case "receiveMedia":
        this._messages(data, { live: true });
        return;
      case "newChat": {
        const chat = env.message;
        this.store.putChat(chat, { counted: true });
        this._announce(chat.messages?.[0], chat);
        this._askPresence();
        break;
      }
      case "loadMessages":
        this.store.putChat(data, { opened: true });
        break;
      case "messagesDelivered":
        this.store.markDelivered(data.chatId, data.messageIds, data.deliveredAt);
        break;
      case "updateReadReceipts":
        this.store.markRead(data);
        break;
      case "messageDeleted":
        this.store.removeMessage(data.chatId, data.messageId);
        break;
      case "userTyping":
      case "stoppedTyping":
        if (!data.chatId) return; // before the chat exists: nothing on screen to mark
        this.store.setTyping(data.chatId, name === "userTyping" ? Date.now() + TYPING_SHOWN_MS : null);
        if (name === "userTyping") setTimeout(() => this.render(), TYPING_SHOWN_MS + 50);
        break;
      case "userIsOnline":
      case "userIsOffline":
      case "onlinePresence": {
        const online = name === "onlinePresence" ? data.status === "online" : name === "userIsOnline";
        this.store.setPresence(data.userType, data.userId, online, data.lastSeen);
        break;
      }
      default:
        return;
    }
    this.render();
  }

  _messages(messages, { live }) {
    let unknown = false;
    for (const m of messages ?? []) {
      const put = this.store.putMessage(m);
      if (!put) {
        unknown = true;
        continue;
      }
      if (live && put.fresh && this.store.isIncoming(m)) this._announce(m, put.chat);
    }
    if (unknown) this.connection.refreshChats();
    this._readIfWatching();
    this.render();
  }

  _status(status) {
    const text = BANNERS[status];
    setText(this.el.banner, text ?? "");
    show(this.el.banner, Boolean(text));
    this.el.banner.dataset.status = status;
    document.body.dataset.connection = status;
  }

  _identity({ userId, userType }) {
    // The server's word on who the token names (a pasted token may not be who we thought).
    if (userId === this.store.me.id && userType === this.store.me.type) return;
    this.store.me = { id: userId, type: userType };
    this._showIdentity();
    this.render();
  }

  async _tokenRefused() {
    if (!this.session.devMode) {
      this.onSignOut("The server refused this token (expired, revoked or not valid). Sign in again.");
      return null;
    }
    try {
      // Dev mode: a restarted server made up a new secret; ask it for a new token.
      const minted = await mintDevToken(this.session.role, this.session.id);
      this.session.token = minted.token;
      sessionStorage.setItem("slychat-demo", JSON.stringify(this.session));
      return minted.token;
    } catch (err) {
      this.notice(`Could not get a new token: ${err.message}`);
      return null;
    }
  }

  _appError(err) {
    if (!err) return;
    if (err.statusCode === 429) {
      const seconds = Math.max(1, Math.ceil(err.retryAfter ?? 1));
      this.notice(`Slow down: the server asks to wait ${seconds} s.`);
    } else if (err.statusCode !== 401) {
      this.notice(err.message ?? "Something went wrong");
    }
  }

  notice(text) {
    setText(this.el.notice, text);
    show(this.el.notice, true);
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => show(this.el.notice, false), 6000);
  }

  _announce(m, chat) {
    if (!m || !chat) return;
    const text = `New message from ${partyName(chat, this.store)} about ${chat.productName ?? "a product"}: ${preview(m)}`;
    // Cleared first, so the same words said twice are announced twice.
    setText(this.el.announcer, "");
    setTimeout(() => setText(this.el.announcer, text), 50);
  }

  // Ask /presence about the other party of each chat, once each (a few per burst: every
  // event spends from the connection's allowance).
  async _askPresence() {
    if (!this.connection.presence.connected) return;
    const people = [];
    for (const chat of this.store.sortedChats()) {
      const who = this.store.counterpart(chat);
      const key = `${who.type}:${who.id}`;
      if (!this.presenceAsked.has(key) && people.length < PRESENCE_CHECKS) {
        this.presenceAsked.add(key);
        people.push(who);
      }
    }
    for (const who of people) {
      try {
        const ack = await this.connection.requestPresence("checkOnlinePresence",
          { userId: who.id, userType: who.type });
        this._event("onlinePresence", ack);
      } catch {
        this.presenceAsked.delete(`${who.type}:${who.id}`); // asked again after a reconnect
      }
    }
  }

  // --- actions ---------------------------------------------------------------------------

  async openChat(chatId, { focus = true } = {}) {
    if (this.selectedId !== chatId) this.typing.stop();
    this.selectedId = chatId;
    document.body.classList.add("show-conversation");
    this.render();
    if (focus) this.el.convTitle.focus();
    const chat = this.store.chat(chatId);
    if (!chat || chat.provisional) return;
    try {
      // loadMessages brings the newest page and marks the chat read.
      await this.connection.request("joinChat", { chatId, limit: PAGE });
      this.store.markOpened(chatId);
      this.render();
    } catch (err) {
      if (err?.statusCode) this._appError(err);
    }
  }

  closeChat() {
    this.typing.stop();
    this.selectedId = null;
    document.body.classList.remove("show-conversation");
    this.render();
    this.el.chatList.querySelector("[data-chat-id]")?.focus();
  }

  async loadOlder() {
    const chatId = this.selectedId;
    const oldest = chatId ? this.store.oldestSeq(chatId) : null;
    if (!chatId || oldest === null || this.loadingOlder) return;
    this.loadingOlder = true;
    try {
      await this.connection.request("joinChat", { chatId, before: oldest, limit: PAGE });
    } catch (err) {
      if (err?.statusCode) this._appError(err);
    } finally {
      this.loadingOlder = false;
    }
  }

  async deleteMessage(m) {
    const what = m.text ? `“${m.text.slice(0, 60)}”` : "this file";
    if (!window.confirm(`Delete ${what} for both of you?`)) return;
    try {
      await this.connection.request("deleteMessage", { messageId: m.id });
      this.store.removeMessage(m.chatId, m.id);
      this.render();
      this.el.text.focus();
    } catch (err) {
      this.notice(err?.message ?? "Could not delete the message");
    }
  }

  async _send(event) {
    event.preventDefault();
    const chat = this.store.chat(this.selectedId);
    if (!chat) return;
    const text = this.el.text.value.trim();
    const files = [...this.el.attach.files];
    setText(this.el.composerError, "");
    if (!text && !files.length) return;
    if (text.length > this.config.maxTextLength) {
      setText(this.el.composerError, `Messages are at most ${this.config.maxTextLength} characters.`);
      return;
    }
    this.typing.stop();
    try {
      if (files.length) await this.outbox.sendFiles(chat, text, files, this.config);
      else this.outbox.sendText(chat, text);
    } catch (err) {
      setText(this.el.composerError, err.message);
      return;
    }
    this.el.text.value = "";
    this.el.attach.value = "";
    this._showAttachments();
    this.el.text.focus();
  }

  async _startChat(event) {
    event.preventDefault();
    const form = this.el.newChat;
    const product = CATALOG[Number(form.product.value)] ?? CATALOG[0];
    const vendorId = Number.parseInt(form.vendorId.value, 10);
    const customerName = form.customerName.value.trim();
    const text = form.text.value.trim();
    const problem = !Number.isInteger(vendorId) || vendorId < 0 ? "Enter the vendor's id (a number)."
      : !customerName ? "Enter your name." : !text ? "Write a message." : "";
    setText(this.el.newChatError, problem);
    if (problem) return;
    const fields = {
      productId: product.productId, recipientId: vendorId, text,
      productName: product.productName, productPrice: product.productPrice,
      productImageUrl: pictureUrl(product), storeName: product.storeName, customerName,
    };
    try {
      const message = await this.outbox.startChat(fields);
      this.store.putProvisionalChat({
        id: message.chatId, productId: product.productId, vendorId, customerId: this.store.me.id,
        productName: product.productName, productPrice: product.productPrice,
        productImageUrl: fields.productImageUrl, storeName: product.storeName, customerName,
        lastMessageAt: message.timestamp,
      });
      this.store.putMessage(message);
      localStorage.setItem("slychat-demo-name", customerName);
      form.text.value = "";
      this._toggleNewChat(false);
      this.connection.refreshChats(); // the server's copy of the chat replaces ours
      this._askPresence();
      await this.openChat(message.chatId);
    } catch (err) {
      setText(this.el.newChatError, err?.message ?? "Could not start the chat");
    }
  }

  _typed() {
    const chat = this.store.chat(this.selectedId);
    if (!chat) return;
    if (!this.el.text.value.trim()) {
      this.typing.stop();
      return;
    }
    this.typing.input({ productId: chat.productId, recipientId: this.store.counterpart(chat).id });
  }

  // Mark the open chat read when its new messages are on screen.
  _readIfWatching() {
    const chat = this.store.chat(this.selectedId);
    if (!chat || chat.unread === 0 || document.visibilityState !== "visible") return;
    if (!this.connection.online || this.readTimer) return;
    this.readTimer = setTimeout(async () => {
      this.readTimer = null;
      try {
        await this.connection.request("markAsRead", { chatId: chat.id });
        this.store.markOpened(chat.id);
        this.render();
      } catch (err) {
        if (err?.statusCode) this._appError(err);
      }
    }, 300);
  }

  // --- rendering -------------------------------------------------------------------------

  render() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    queueMicrotask(() => {
      this.renderQueued = false;
      this._render();
    });
  }

  _render() {
    const { el, store } = this;
    renderChatList(el.chatList, store, {
      selectedId: this.selectedId, config: this.config, onOpen: (id) => this.openChat(id),
    });
    const count = store.chats.size;
    show(el.noChats, count === 0);
    setText(el.noChats, store.me.type === "CUSTOMER"
      ? "No chats yet. Start one with “New chat”."
      : "No chats yet. They appear here when a customer writes to you.");
    show(el.moreChats, store.chatsHaveMore);
    const unread = store.totalUnread();
    document.title = unread ? `(${unread}) slychat demo` : "slychat demo";
    this._renderConversation();
  }

  _renderConversation() {
    const { el, store } = this;
    const chat = store.chat(this.selectedId);
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
    const shown = picture(chat, this.config);
    shown.id = "conv-picture";
    el.convPicture.replaceWith(shown);
    el.convPicture = shown;
    setText(el.typing, store.isTyping(chat.id, Date.now()) ? `${other} is typing…` : "");
    show(el.older, chat.olderAvailable);
    const pending = [...store.pending.values()].filter((p) => p.chatId === chat.id);
    this.view.render(chat.id, [...store.messages(chat.id), ...pending], { store, otherName: other });
  }

  _showIdentity() {
    const { me } = this.store;
    setText(this.el.whoami, `${me.type === "CUSTOMER" ? "Customer" : "Vendor"} ${me.id}`);
    show(this.el.whoami, true);
    show(this.el.signOut, true);
    document.body.dataset.role = me.type.toLowerCase();
    const starts = this.config.chatStarters.includes(me.type);
    show(this.el.newChatToggle, starts);
  }

  _showAttachments() {
    const files = [...this.el.attach.files];
    this.el.attachments.replaceChildren(...files.map((f) => h("li", {}, f.name)));
  }

  _toggleNewChat(open) {
    show(this.el.newChat, open);
    this.el.newChatToggle.setAttribute("aria-expanded", String(open));
    if (open) this.el.newChat.product.focus();
    else this.el.newChatToggle.focus();
  }

  // --- DOM events ------------------------------------------------------------------------

  _bindUi() {
    const { el } = this;
    const on = (target, type, fn) => {
      target.addEventListener(type, fn);
      this.cleanups.push(() => target.removeEventListener(type, fn));
    };
    on(el.composer, "submit", (e) => this._send(e));
    on(el.text, "input", () => this._typed());
    on(el.text, "keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        el.composer.requestSubmit();
      }
    });
    on(el.text, "blur", () => this.typing.stop());
    on(el.attach, "change", () => this._showAttachments());
    on(el.back, "click", () => this.closeChat());
    on(el.older, "click", () => this.loadOlder());
    on(el.scroller, "scroll", () => {
      if (el.scroller.scrollTop < 40) {
        const chat = this.store.chat(this.selectedId);
        if (chat?.olderAvailable) this.loadOlder();
      }
    });
    on(el.moreChats, "click", () => {
      const last = this.store.sortedChats().at(-1);
      if (last) this.connection.moreChats(last.id);
    });
    on(el.newChatToggle, "click", () => this._toggleNewChat(el.newChat.hidden));
    on(el.newChatCancel, "click", () => this._toggleNewChat(false));
    on(el.newChat, "submit", (e) => this._startChat(e));
    on(document, "visibilitychange", () => this._readIfWatching());
    on(el.signOut, "click", () => this.onSignOut(""));
    this._fillCatalog();
  }

  _fillCatalog() {
    const form = this.el.newChat;
    form.product.replaceChildren(...CATALOG.map((p, i) =>
      h("option", { value: String(i) }, `${p.productName} (${price(p.productPrice)}, ${p.storeName})`)));
    form.customerName.value = localStorage.getItem("slychat-demo-name") ?? `Customer ${this.session.id}`;
  }
}

function elements() {
  const ids = {
    banner: "banner", notice: "notice", whoami: "whoami", signOut: "sign-out",
    chatList: "chat-list", noChats: "no-chats", moreChats: "more-chats",
    newChatToggle: "new-chat-toggle", newChat: "new-chat", newChatCancel: "new-chat-cancel",
    newChatError: "new-chat-error", convEmpty: "conv-empty", convBody: "conv-body",
    convTitle: "conv-title", convSub: "conv-sub", convPicture: "conv-picture", typing: "typing",
    scroller: "scroller", older: "older", messages: "messages", composer: "composer",
    text: "text", attach: "attach", attachments: "attachments", composerError: "composer-error",
    back: "back", announcer: "announcer",
  };
  const found = {};
  for (const [key, id] of Object.entries(ids)) found[key] = byId(id);
  return found;
}
