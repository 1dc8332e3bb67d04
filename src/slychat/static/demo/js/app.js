// The signed-in page: a SlyChat client (the slychat-client package) holds the chats and
// keeps them up to date, the page view draws its store, and the user's actions go back
// out through it (sends through its outbox, so nothing is lost or sent twice).

import { SlyChat } from "../dist/slychat-client.js";
import { kindOf, mintDevToken } from "./api.js";
import { partyName } from "./chatlist.js";
import { preview } from "./format.js";
import { NewChatForm } from "./newchat.js";
import { PageView } from "./page.js";
import { SearchBox } from "./search.js";

const PAGE = 30; // messages per joinChat page
const READ_DELAY_MS = 150; // a burst of arrivals is read with one markAsRead
const REDRAWN_ON = ["chat", "chats", "edited", "deleted", "read", "delivered", "reactions",
  "typing", "presence", "outbox"];

export class App {
  // session: {token, role, id, devMode}; onSignOut(message) ends it.
  constructor(config, session, { onSignOut }) {
    this.config = config;
    this.session = session;
    this.onSignOut = onSignOut;
    this.selectedId = null;
    this.readTimer = null;
    this.cleanups = [];
    this.uploads = new Map(); // files on their way: shown as pending until stored
    this.replyTo = null; // the message the composer answers
    this.editing = null; // the message of mine the composer edits
    this.showArchived = false; // the list shows the archived chats
    this.client = new SlyChat({
      url: location.origin,
      // A pasted token is the only one there is: refused, it ends the session. Dev mode
      // asks the server for new ones.
      token: session.devMode ? () => this._token() : session.token,
      transports: config.transports, // as the server allows (SLYCHAT_TRANSPORTS)
      // Per window, per user: a reload keeps the sync cursor and what is still unsent.
      storage: sessionStorage,
      storageKey: `slychat-demo:${session.role}:${session.id}`,
    });
    this.store = this.client.store;
    this.store.me = { id: session.id, type: session.role.toUpperCase() };
    this.view = new PageView({
      store: this.store, config, selected: () => this.selectedId, uploads: () => this.uploads,
      archived: () => this.showArchived,
      composing: () => ({ replyTo: this.replyTo, editing: this.editing }),
      onOpen: (id) => this.openChat(id),
      on: {
        delete: (m) => this.deleteMessage(m),
        retry: (m) => this.client.retry(m.clientMessageId).catch(() => {}),
        reply: (m) => this.compose({ replyTo: m }),
        edit: (m) => this.compose({ editing: m }),
        react: (m, emoji) => this.react(m, emoji),
        missing: () => this.view.notice("That message is further up: load older messages."),
      },
    });
    this.search = new SearchBox({
      el: this.view.el, client: this.client, store: this.store,
      onPick: (m) => this.openAt(m),
    });
    this._listen();
    this._bindUi();
    this._identityChanged();
    this._connect();
  }

  stop() {
    this.stopped = true;
    this.client.close();
    this.view.stop();
    this.search.stop();
    clearTimeout(this.readTimer);
    for (const undo of this.cleanups) undo();
  }

  // --- the client --------------------------------------------------------------------------

  _listen() {
    const c = this.client;
    for (const event of REDRAWN_ON) this.cleanups.push(c.on(event, () => this.view.render()));
    this.cleanups.push(
      c.on("status", (status) => {
        this.view.status(status);
        if (status === "online") this._online();
        if (status === "closed" && this.tokenRefused && !this.stopped) {
          this.onSignOut("The server refused this token (expired, revoked or not valid). Sign in again.");
        }
      }),
      c.on("message", (m, chat) => {
        if (this.store.isIncoming(m)) this._announce(m, chat);
        this._readIfWatching();
        this.view.render();
      }),
      c.on("rateLimited", ({ action, retryAfter }) => {
        const seconds = Math.max(1, Math.ceil(retryAfter));
        const what = action === "sendMessage" ? "sending" : "trying";
        this.view.notice(`Slow down: ${what} again in ${seconds} s.`);
      }),
      c.on("error", (err) => this._error(err)),
    );
  }

  async _connect() {
    try {
      await this.client.connect();
    } catch (err) {
      if (this.stopped) return;
      if (err?.statusCode === 401 && this.session.devMode) {
        // A restarted dev-mode server made up a new secret: the next token is a new one.
        this.refreshToken = true;
        setTimeout(() => this._connect(), 200);
      } else if (err?.statusCode === 401) {
        this.onSignOut("The server refused this token (expired, revoked or not valid). Sign in again.");
      } else {
        this.view.notice(err?.message ?? "Could not connect");
        setTimeout(() => this._connect(), 2000);
      }
    }
  }

  // The token for each (re)connection: the one the page holds, until the server refuses it.
  // Dev mode then asks the server for a new one (a dev-mode server that restarted with a new
  // secret: its kept one removed, or on PostgreSQL, where it keeps none).
  async _token() {
    if (!this.session.devMode || !this.refreshToken) return this.session.token;
    this.refreshToken = false;
    try {
      const minted = await mintDevToken(this.session.role, this.session.id);
      this.session.token = minted.token;
      sessionStorage.setItem("slychat-demo", JSON.stringify(this.session));
    } catch (err) {
      this.view.notice(`Could not get a new token: ${err.message}`);
    }
    return this.session.token;
  }

  _online() {
    this._identityChanged();
    this._readIfWatching();
    this.view.render();
  }

  _error(err) {
    if (!err) return;
    if (err.statusCode === 401) {
      // Dev mode mints another token for the next try; a pasted one refused ends the
      // session once the client gives up on it (status "closed").
      if (this.session.devMode) this.refreshToken = true;
      else this.tokenRefused = true;
      return;
    }
    this.view.notice(err.message ?? "Something went wrong");
  }

  _announce(m, chat) {
    if (!m || !chat) return;
    const about = chat.productName ?? "a product";
    this.view.announce(`New message from ${partyName(chat, this.store)} about ${about}: ${preview(m)}`);
  }

  _identityChanged() {
    const me = this.store.me;
    if (this.shownMe && this.shownMe.id === me.id && this.shownMe.type === me.type) return;
    this.shownMe = me;
    this.view.identity(me);
    this.newChat.allow(this.config.chatStarters.includes(me.type));
    this.view.render();
  }

  // --- actions -----------------------------------------------------------------------------

  async openChat(chatId) {
    if (this.selectedId !== chatId) {
      this.client.stopTyping();
      this.compose({});
      this.view.el.chatMenu.hidden = true;
    }
    this.selectedId = chatId;
    document.body.classList.add("show-conversation");
    this.view.render();
    this.view.el.convTitle.focus();
    const chat = this.store.chat(chatId);
    if (!chat || chat.provisional) return;
    try {
      await this.client.openChat(chatId, { limit: PAGE }); // the newest page, and read
      this.view.render();
    } catch (err) {
      if (err?.statusCode) this._error(err);
    }
  }

  // A search result: its chat, with older pages loaded until the message is there, shown
  // in the middle of the conversation and marked.
  async openAt(m) {
    await this.openChat(m.chatId);
    const find = () => this.view.el.messages.querySelector(`[data-id="${CSS.escape(m.id)}"]`);
    for (let pages = 0; !find() && pages < 50 && this.selectedId === m.chatId; pages++) {
      const chat = this.store.chat(m.chatId);
      if (!chat?.olderAvailable) break;
      await this.loadOlder();
    }
    const found = find();
    if (!found) return;
    for (const old of this.view.el.messages.querySelectorAll(".found")) old.classList.remove("found");
    found.classList.add("found");
    found.scrollIntoView({ block: "center" });
  }

  closeChat() {
    this.client.stopTyping();
    this.selectedId = null;
    document.body.classList.remove("show-conversation");
    this.view.render();
    queueMicrotask(() => this.view.el.chatList.querySelector("[data-chat-id]")?.focus());
  }

  async loadOlder() {
    const chatId = this.selectedId;
    if (!chatId || this.store.oldestSeq(chatId) === null || this.loadingOlder) return;
    this.loadingOlder = true;
    try {
      await this.client.loadOlder(chatId, { limit: PAGE });
      this.view.render();
    } catch (err) {
      if (err?.statusCode) this._error(err);
    } finally {
      this.loadingOlder = false;
    }
  }

  async deleteMessage(m) {
    const what = m.text ? `“${m.text.slice(0, 60)}”` : "this file";
    if (!window.confirm(`Delete ${what} for both of you?`)) return;
    try {
      await this.client.deleteMessage(m.id);
      this.view.render();
      this.view.el.text.focus();
    } catch (err) {
      this.view.notice(err?.message ?? "Could not delete the message");
    }
  }

  // The composer answers `replyTo`, edits `editing` (its text put in it), or neither.
  compose({ replyTo = null, editing = null }) {
    const { el } = this.view;
    const wasEditing = this.editing;
    this.replyTo = replyTo;
    this.editing = editing;
    if (editing) el.text.value = editing.text ?? "";
    else if (wasEditing) el.text.value = "";
    this.view.render();
    if (replyTo || editing) el.text.focus();
  }

  async react(m, emoji) {
    try {
      if (emoji === null) await this.client.unreact(m.id);
      else await this.client.react(m.id, emoji);
      this.view.render();
    } catch (err) {
      this.view.notice(err?.message ?? "Could not react");
    }
  }

  async updateSettings(change) {
    const chatId = this.selectedId;
    if (!chatId) return;
    this.view.el.chatMenu.hidden = true;
    this.view.el.chatMenuToggle.setAttribute("aria-expanded", "false");
    try {
      const settings = await this.client.updateChatSettings(chatId, change);
      this.view.announce(`${settings.muted ? "Muted" : "Not muted"}, ${settings.archived ? "archived" : "not archived"}`);
      if (change.archived !== undefined) this.closeChat();
      this.view.render();
    } catch (err) {
      this.view.notice(err?.message ?? "Could not change the chat's settings");
    }
  }

  async toggleArchived() {
    this.showArchived = !this.showArchived;
    this.view.render();
    if (!this.showArchived) return;
    try {
      await this.client.archivedChats(); // held from then on, with the others
      this.view.render();
    } catch (err) {
      this.view.notice(err?.message ?? "Could not load the archived chats");
    }
  }

  // The customer's first message about a product: the chat exists once it is stored.
  async startChat(fields) {
    const message = await this.client.send(fields);
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
    this.client.stopTyping();
    if (this.editing) {
      const editing = this.editing;
      if (!text) {
        this.view.composerError("An edited message needs text: delete it instead.");
        return;
      }
      this.compose({});
      el.text.value = "";
      this.client.editMessage(editing.id, text).then(
        () => this.view.render(),
        (err) => this.view.notice(err?.message ?? "Could not edit the message"),
      );
      el.text.focus();
      return;
    }
    const replyTo = this.replyTo?.id;
    this.compose({});
    if (files.length) {
      const problem = this._filesProblem(files);
      if (problem) {
        this.view.composerError(problem);
        return;
      }
      this._upload(chat, text, files, replyTo);
    } else {
      // A refusal shows on the message.
      this.client.send({ chatId: chat.id, text, ...(replyTo ? { replyTo } : {}) }).catch(() => {});
    }
    el.text.value = "";
    el.attach.value = "";
    this.view.attachments();
    el.text.focus();
  }

  // What the server would refuse anyway, said before the upload: the kinds and limits.
  _filesProblem(files) {
    const counts = new Map();
    for (const file of files) {
      const kind = kindOf(file);
      if (!kind) return `${file.name}: only JPEG, PNG, WebP photos and PDFs can be sent`;
      const limit = kind === "pdf" ? this.config.maxPdfBytes : this.config.maxImageBytes;
      if (file.size > limit) return `${file.name} is larger than ${Math.floor(limit / 1024 / 1024)} MB`;
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
    }
    for (const n of counts.values()) {
      if (n > this.config.maxFiles) return `At most ${this.config.maxFiles} files per message`;
    }
    return "";
  }

  async _upload(chat, text, files, replyTo) {
    const key = `upload-${Date.now()}-${Math.random()}`;
    const me = this.store.me;
    this.uploads.set(key, {
      pending: true, clientMessageId: key, chatId: chat.id, text: text || null,
      note: `Uploading ${files.length === 1 ? files[0].name : `${files.length} files`}…`,
      senderId: me.id, senderType: me.type, timestamp: new Date().toISOString(),
      messageMedias: [], failed: null,
    });
    this.view.render();
    try {
      await this.client.upload({ chatId: chat.id }, files, { text, ...(replyTo ? { replyTo } : {}) });
      this.uploads.delete(key);
    } catch (err) {
      const item = this.uploads.get(key);
      item.note = null;
      item.failed = `Upload failed: ${err?.message ?? "not sent"}`;
    }
    this.view.render();
  }

  _typed() {
    const chat = this.store.chat(this.selectedId);
    if (!chat) return;
    if (!this.view.el.text.value.trim()) this.client.stopTyping();
    else this.client.typing(chat.id);
  }

  // The open chat's new messages are on screen: mark them read.
  _readIfWatching() {
    const chat = this.store.chat(this.selectedId);
    if (!chat || !this.store.hasUnread(chat.id) || document.visibilityState !== "visible") return;
    if (this.client.status !== "online" || this.readTimer) return;
    this.readTimer = setTimeout(async () => {
      this.readTimer = null;
      try {
        await this.client.markAsRead(chat.id);
        this.view.render();
      } catch (err) {
        if (err?.statusCode) this._error(err);
      }
    }, READ_DELAY_MS);
  }

  // --- DOM events --------------------------------------------------------------------------

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
    on(el.text, "blur", () => this.client.stopTyping());
    on(el.attach, "change", () => this.view.attachments());
    on(el.back, "click", () => this.closeChat());
    on(el.older, "click", () => this.loadOlder());
    on(el.scroller, "scroll", () => {
      if (el.scroller.scrollTop < 40 && this.store.chat(this.selectedId)?.olderAvailable) {
        this.loadOlder();
      }
    });
    on(el.moreChats, "click", () => this.client.loadMoreChats().catch((err) => this._error(err)));
    on(document, "visibilitychange", () => this._readIfWatching());
    on(el.signOut, "click", () => this.onSignOut(""));
    on(el.composeBarCancel, "click", () => {
      this.compose({});
      el.text.focus();
    });
    on(el.chatMenuToggle, "click", () => {
      el.chatMenu.hidden = !el.chatMenu.hidden;
      el.chatMenuToggle.setAttribute("aria-expanded", String(!el.chatMenu.hidden));
      if (!el.chatMenu.hidden) el.muteToggle.focus();
    });
    on(el.muteToggle, "click", () => this.updateSettings({ muted: !this.store.chat(this.selectedId)?.muted }));
    on(el.archiveToggle, "click", () => this.updateSettings({ archived: !this.store.chat(this.selectedId)?.archived }));
    on(el.archivedToggle, "click", () => this.toggleArchived());
    this.newChat = new NewChatForm({
      config: this.config, userId: this.session.id, start: (f) => this.startChat(f), on,
    });
  }
}
