// Messages on their way out. Each send carries a clientMessageId, so sending it again
// (after a drop, a timeout or a 429) can never store it twice: the server answers a
// repeat with the message it already holds. A message typed while offline waits here and
// goes out once the page has caught up.

import { kindOf, upload } from "./api.js";

export class Outbox {
  constructor({ store, connection, token, onChange, onNotice }) {
    this.store = store;
    this.connection = connection;
    this.token = token; // () => the current token (uploads send it as a Bearer header)
    this.onChange = onChange;
    this.onNotice = onNotice;
    this.queue = []; // texts not yet acknowledged, oldest first
    this.pumping = false;
  }

  // A text message into an existing chat. Texts go out one at a time, in the order they
  // were written: a message held back (429, a drop) holds back the ones after it, so
  // retries never reorder a conversation.
  sendText(chat, text) {
    const target = this.store.counterpart(chat);
    const item = this._pending(chat.id, {
      text,
      payload: { productId: chat.productId, recipientId: target.id, text },
    });
    this.queue.push(item);
    this._pump();
  }

  // The customer's first message about a product: it creates the chat. Resolves to the
  // stored message (its chatId names the chat), or rejects with the server's reason.
  async startChat(fields) {
    const payload = { ...fields, clientMessageId: newId() };
    for (let attempt = 0; ; attempt += 1) {
      try {
        const ack = await this.connection.request("sendMessage", payload);
        return ack.data;
      } catch (err) {
        if (err?.statusCode !== 429 || attempt >= 2) throw err;
        await sleep((err.retryAfter ?? 1) * 1000); // the same clientMessageId: no double
      }
    }
  }

  // Files (photos, PDFs) into an existing chat: one upload per kind, the text with the first.
  async sendFiles(chat, text, files, config) {
    const groups = new Map();
    for (const file of files) {
      const kind = kindOf(file);
      if (!kind) throw new Error(`${file.name}: only JPEG, PNG, WebP photos and PDFs can be sent`);
      const limit = kind === "pdf" ? config.maxPdfBytes : config.maxImageBytes;
      if (file.size > limit) {
        throw new Error(`${file.name} is larger than ${Math.floor(limit / 1024 / 1024)} MB`);
      }
      if (!groups.has(kind)) groups.set(kind, []);
      groups.get(kind).push(file);
    }
    for (const list of groups.values()) {
      if (list.length > config.maxFiles) throw new Error(`At most ${config.maxFiles} files per message`);
    }
    const target = this.store.counterpart(chat);
    let caption = text;
    for (const [kind, list] of groups) {
      const item = this._pending(chat.id, {
        text: caption || null,
        note: `Uploading ${list.length === 1 ? list[0].name : `${list.length} files`}…`,
        upload: { kind, files: list },
        payload: { productId: chat.productId, recipientId: target.id, text: caption },
      });
      caption = "";
      this._upload(item);
    }
  }

  retry(item) {
    item.failed = null;
    if (item.upload) {
      this._upload(item);
    } else {
      this.queue.push(item);
      this._pump();
    }
  }

  // After (re)connecting and catching up: what is still waiting goes out.
  flush() {
    this._pump();
  }

  async _pump() {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length && this.connection.online) {
        const item = this.queue[0];
        const wait = await this._sendOne(item);
        if (wait === null) this.queue.shift(); // stored, or failed for good
        else if (wait === Infinity) break; // offline: flush() resumes after the catch-up
        else await sleep(wait);
      }
    } finally {
      this.pumping = false;
    }
  }

  // Sends one text. Returns null when it is settled, or how long to wait before the
  // same message (the same clientMessageId) goes again.
  async _sendOne(item) {
    item.inFlight = true;
    try {
      const ack = await this.connection.request("sendMessage", item.payload);
      item.note = null;
      this._stored(ack.data);
      return null;
    } catch (err) {
      const status = err?.statusCode;
      if (status === 429) {
        const seconds = Math.max(1, Math.ceil(err.retryAfter ?? 1));
        item.note = `Waiting ${seconds} s (sending too fast)`;
        this.onNotice(`Slow down: sending again in ${seconds} s.`);
        this.onChange();
        return seconds * 1000;
      }
      if (!status) {
        // Offline, or no ack in time: it may be stored already; the same id goes again.
        item.note = "Waiting for the connection";
        this.onChange();
        return this.connection.online ? 2000 : Infinity;
      }
      item.note = null;
      item.failed = err?.message ?? "Not sent";
      this.onChange();
      return null;
    } finally {
      item.inFlight = false;
    }
  }

  _pending(chatId, { text, note = null, payload, upload: files = null }) {
    const me = this.store.me;
    const clientMessageId = newId();
    const item = {
      pending: true, clientMessageId, chatId, text, note, upload: files,
      payload: { ...payload, clientMessageId },
      senderId: me.id, senderType: me.type, timestamp: new Date().toISOString(),
      messageMedias: [], failed: null, inFlight: false,
    };
    this.store.pending.set(clientMessageId, item);
    this.onChange();
    return item;
  }

  async _upload(item) {
    item.inFlight = true;
    try {
      const { status, body } = await upload(item.upload.kind, this.token(), item.payload,
        item.upload.files);
      if (status === 201) {
        // A new chat comes back whole; an existing chat's upload, as its message.
        this._stored(Array.isArray(body.data?.messages) ? body.data.messages[0] : body.data);
      } else {
        this._failed(item, body, () => this._upload(item));
      }
    } catch (err) {
      this._failed(item, { message: `Upload failed: ${err.message}` }, null);
    } finally {
      item.inFlight = false;
    }
  }

  _stored(message) {
    this.store.pending.delete(message.clientMessageId);
    this.store.putMessage(message);
    this.onChange();
  }

  _failed(item, err, again) {
    if (err?.statusCode === 429 && again) {
      // Over the upload rate: say so and go again when the server says it may.
      const seconds = Math.max(1, Math.ceil(err.retryAfter ?? 1));
      item.note = `Waiting ${seconds} s (uploading too fast)`;
      this.onNotice(`Slow down: uploading again in ${seconds} s.`);
      setTimeout(() => {
        item.note = null;
        again();
      }, seconds * 1000);
    } else {
      item.note = null;
      item.failed = err?.message ?? "Not sent";
    }
    this.onChange();
  }
}

// 128 random bits as hex: crypto.randomUUID() needs a secure context (https or
// loopback), and the demo may be opened over plain http on a LAN address.
export function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
