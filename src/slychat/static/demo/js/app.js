// The signed-in page: the connection's events go into the store, the store is drawn by
// the page view, and the user's actions go back out as events.

import { mintDevToken } from "./api.js";
import { partyName } from "./chatlist.js";
import { Connection } from "./connection.js";
import { preview } from "./format.js";
import { NewChatForm } from "./newchat.js";
import { Outbox } from "./outbox.js";
import { PageView } from "./page.js";
import { ChatStore } from "./store.js";
import { TypingNotifier } from "./typing.js";

const PAGE = 30; // messages per joinChat page
const TYPING_SHOWN_MS = 6000; // a typing notice lapses without a fresh one
const PRESENCE_CHECKS = 25; // counterparts asked about at once, within the event budget
const READ_DELAY_MS = 150; // a burst of arrivals is read with one markAsRead

export class App {
  // session: {token, role, id, devMode}; onSignOut(message) ends it.
  constructor(io, config, session, { onSignOut }) {
    this.config = config;
    this.session = session;
    this.onSignOut = onSignOut;
    this.store = new ChatStore({ id: session.id, type: session.role.toUpperCase() });
    this.selectedId = null;
    this.presenceAsked = new Set();
    this.readTimer = null;
    this.cleanups = [];
    this.view = new PageView({
      store: this.store, config, selected: () => this.selectedId,
      onOpen: (id) => this.openChat(id), onDelete: (m) => this.deleteMessage(m),
      onRetry: (m) => this.outbox.retry(m),
    });
    this.connection = new Connection(io, {
      origin: location.origin, token: session.token, transports: config.transports,
      handlers: this._handlers(),
    });
    this.outbox = new Outbox({
      store: this.store, connection: this.connection, token: () => this.connection.token,
      onChange: () => this.view.render(), onNotice: (text) => this.view.notice(text),
    });
    this.typing = new TypingNotifier((event, target) => this.connection.notify(event, target));
    this._bindUi();
    this._identityChanged();
  }

  stop() {
    this.typing.stop();
    this.connection.close();
    this.view.stop();
    clearTimeout(this.readTimer);
    for (const undo of this.cleanups) undo();
  }

  // --- connection events -----------------------------------------------------------------

  _handlers() {
    return {
      onStatus: (status) => this.view.status(status),
      onPresenceUp: () => this._askPresence(),
      onIdentity: ({ userId, userType }) => {
        // The server's word on who the token names (a pasted token may surprise).
        if (userId === this.store.me.id && userType === this.store.me.type) return;
        this.store.me = { id: userId, type: userType };
        this._identityChanged();
      },
      onUserChats: (env, { replace }) => {
        this.store.putChats(env.data, { replace, hasMore: env.hasMore });
        if (replace) this.presenceAsked.clear();
        this._askPresence();
        this.view.render();
      },
      onChanges: (changes) => {
        let unknown = false;
        for (const change of changes) unknown = !this.store.applyChange(change) || unknown;
        if (unknown) this.connection.refreshChats();
        this.view.render();
      },
      onOffline: (messages) => this._messages(messages, { live: false }),
      onEvent: (name, env) => this._event(name, env),
      onCaughtUp: () => {
        this.outbox.flush();
        this.presenceAsked.clear(); // who came and went while we were away
        this._askPresence();
        this._readIfWatching();
        this.view.render();
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
    const store = this.store;
    switch (name) {
      case "receiveMessage":
      case "receiveMedia":
        this._messages(data, { live: true });
        return;
      case "newChat": {
        const chat = store.putChat(env.message, { counted: true });
        this._announce(env.message.messages?.[0], chat);
        this._askPresence();
        break;
      }
      case "loadMessages":
        store.putChat(data, { opened: true });
        break;
      case "messagesDelivered":
        store.markDelivered(data.chatId, data.messageIds, data.deliveredAt);
        break;
      case "updateReadReceipts":
        store.markRead(data);
        break;
      case "messageDeleted":
        store.removeMessage(data.chatId, data.messageId);
        break;
      case "userTyping":
        if (!data.chatId) return; // before the chat exists: nothing on screen to mark
        store.setTyping(data.chatId, Date.now() + TYPING_SHOWN_MS);
        setTimeout(() => this.view.render(), TYPING_SHOWN_MS + 50);
        break;
      case "stoppedTyping":
        if (data.chatId) store.setTyping(data.chatId, null);
        break;
      case "userIsOnline":
      case "userIsOffline":
        store.setPresence(data.userType, data.userId, name === "userIsOnline", data.lastSeen);
        break;
      case "onlinePresence":
        store.setPresence(data.userType, data.userId, data.status === "online", data.lastSeen);
        break;
      default:
        return;
    }
    this.view.render();
  }

  _messages(messages, { live }) {
    let unknown = false;
    for (const m of messages ?? []) {
      const put = this.store.putMessage(m);
      if (!put) unknown = true;
      else if (live && put.fresh && this.store.isIncoming(m)) this._announce(m, put.chat);
    }
    if (unknown) this.connection.refreshChats(); // a chat this page has not seen yet
    this._readIfWatching();
    this.view.render();
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
      this.view.notice(`Could not get a new token: ${err.message}`);
      return null;
    }
  }

  _appError(err) {
    if (!err || err.statusCode === 401) return; // handled as a refused token
    if (err.statusCode === 429) {
      const seconds = Math.max(1, Math.ceil(err.retryAfter ?? 1));
      this.view.notice(`Slow down: the server asks to wait ${seconds} s.`);
    } else {
      this.view.notice(err.message ?? "Something went wrong");
    }
  }

  _announce(m, chat) {
    if (!m || !chat) return;
    const about = chat.productName ?? "a product";
    this.view.announce(`New message from ${partyName(chat, this.store)} about ${about}: ${preview(m)}`);
  }

  _identityChanged() {
    const me = this.store.me;
    this.view.identity(me);
    this.newChat.allow(this.config.chatStarters.includes(me.type));
    this.view.render();
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

  async openChat(chatId) {
    if (this.selectedId !== chatId) this.typing.stop();
    this.selectedId = chatId;
    document.body.classList.add("show-conversation");
    this.view.render();
    this.view.el.convTitle.focus();
    const chat = this.store.chat(chatId);
    if (!chat || chat.provisional) return;
    try {
      // loadMessages brings the newest page, and the chat is read.
      await this.connection.request("joinChat", { chatId, limit: PAGE });
      this.store.markOpened(chatId);
      this.view.render();
    } catch (err) {
      if (err?.statusCode) this._appError(err);
    }
  }

  closeChat() {
    this.typing.stop();
    this.selectedId = null;
    document.body.classList.remove("show-conversation");
    this.view.render();
    queueMicrotask(() => this.view.el.chatList.querySelector("[data-chat-id]")?.focus());
  }

  async loadOlder() {
    const chatId = this.selectedId;
    const oldest = chatId ? this.store.oldestSeq(chatId) : null;
    if (oldest === null || this.loadingOlder) return;
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
      this.view.render();
      this.view.el.text.focus();
    } catch (err) {
      this.view.notice(err?.message ?? "Could not delete the message");
    }
  }

  // The customer's first message about a product: the chat exists once it is stored.
  async startChat(fields) {
    const message = await this.outbox.startChat(fields);
    this.store.putProvisionalChat({
      id: message.chatId, productId: fields.productId, vendorId: fields.recipientId,
      customerId: this.store.me.id, productName: fields.productName,
      productPrice: fields.productPrice, productImageUrl: fields.productImageUrl,
      storeName: fields.storeName, customerName: fields.customerName,
      lastMessageAt: message.timestamp,
    });
    this.store.putMessage(message);
    this.connection.refreshChats(); // the server's copy of the chat replaces ours
    this._askPresence();
    await this.openChat(message.chatId);
  }

  async _send(event) {
    event.preventDefault();
    const { el } = this.view;
    const chat = this.store.chat(this.selectedId);
    if (!chat) return;
    const text = el.text.value.trim();
    const files = [...el.attach.files];
    this.view.composerError("");
    if (!text && !files.length) return;
    if (text.length > this.config.maxTextLength) {
      this.view.composerError(`Messages are at most ${this.config.maxTextLength} characters.`);
      return;
    }
    this.typing.stop();
    try {
      if (files.length) await this.outbox.sendFiles(chat, text, files, this.config);
      else this.outbox.sendText(chat, text);
    } catch (err) {
      this.view.composerError(err.message);
      return;
    }
    el.text.value = "";
    el.attach.value = "";
    this.view.attachments();
    el.text.focus();
  }

  _typed() {
    const chat = this.store.chat(this.selectedId);
    if (!chat) return;
    if (!this.view.el.text.value.trim()) {
      this.typing.stop();
      return;
    }
    this.typing.input({ productId: chat.productId, recipientId: this.store.counterpart(chat).id });
  }

  // The open chat's new messages are on screen: mark them read.
  _readIfWatching() {
    const chat = this.store.chat(this.selectedId);
    if (!chat || !this.store.hasUnread(chat.id) || document.visibilityState !== "visible") return;
    if (!this.connection.online || this.readTimer) return;
    this.readTimer = setTimeout(async () => {
      this.readTimer = null;
      try {
        await this.connection.request("markAsRead", { chatId: chat.id });
        this.store.markOpened(chat.id);
        this.view.render();
      } catch (err) {
        if (err?.statusCode) this._appError(err);
      }
    }, READ_DELAY_MS);
  }

  // --- DOM events ------------------------------------------------------------------------

  _bindUi() {
    const { el } = this.view;
    const on = (target, type, fn) => {
      target.addEventListener(type, fn);
      this.cleanups.push(() => target.removeEventListener(type, fn));
    };
    on(el.composer, "submit", (e) => this._send(e));
    on(el.text, "input", () => this._typed());
    on(el.text, "keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { // Shift+Enter: a new line
        e.preventDefault();
        el.composer.requestSubmit();
      }
    });
    on(el.text, "blur", () => this.typing.stop());
    on(el.attach, "change", () => this.view.attachments());
    on(el.back, "click", () => this.closeChat());
    on(el.older, "click", () => this.loadOlder());
    on(el.scroller, "scroll", () => {
      if (el.scroller.scrollTop < 40 && this.store.chat(this.selectedId)?.olderAvailable) {
        this.loadOlder();
      }
    });
    on(el.moreChats, "click", () => {
      const last = this.store.sortedChats().at(-1);
      if (last) this.connection.moreChats(last.id);
    });
    on(document, "visibilitychange", () => this._readIfWatching());
    on(el.signOut, "click", () => this.onSignOut(""));
    this.newChat = new NewChatForm({
      config: this.config, userId: this.session.id, start: (f) => this.startChat(f), on,
    });
  }
}
