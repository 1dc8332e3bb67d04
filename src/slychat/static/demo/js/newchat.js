// "New chat": a customer picks a product from the demo's catalog and writes to its store.
// The first message carries the new-chat fields (product, store, customer name).

import { CATALOG, pictureUrl } from "./catalog.js";
import { byId, h, setText, show } from "./dom.js";
import { price } from "./format.js";

const NAME_KEY = "slychat-demo-name";

export class NewChatForm {
  // start(fields) sends the first message and resolves once the chat is open.
  constructor({ config, userId, start, on }) {
    this.config = config;
    this.start = start;
    this.form = byId("new-chat");
    this.toggle = byId("new-chat-toggle");
    this.error = byId("new-chat-error");
    this.form.product.replaceChildren(...CATALOG.map((p, i) =>
      h("option", { value: String(i) }, `${p.productName} (${price(p.productPrice)}, ${p.storeName})`)));
    this.form.customerName.value = localStorage.getItem(NAME_KEY) ?? `Customer ${userId}`;
    on(this.toggle, "click", () => this.open(this.form.hidden));
    on(byId("new-chat-cancel"), "click", () => this.open(false));
    on(this.form, "submit", (e) => this._submit(e));
  }

  // Only those in SLYCHAT_CHAT_STARTERS (customers, by default) start chats.
  allow(canStart) {
    show(this.toggle, canStart);
    if (!canStart) show(this.form, false);
  }

  open(visible) {
    show(this.form, visible);
    this.toggle.setAttribute("aria-expanded", String(visible));
    if (visible) this.form.product.focus();
    else this.toggle.focus();
  }

  async _submit(event) {
    event.preventDefault();
    const form = this.form;
    const product = CATALOG[Number(form.product.value)] ?? CATALOG[0];
    const vendorId = Number.parseInt(form.vendorId.value, 10);
    const customerName = form.customerName.value.trim();
    const text = form.text.value.trim();
    const problem = !Number.isInteger(vendorId) || vendorId < 0 ? "Enter the vendor's id (a number)."
      : !customerName ? "Enter your name."
        : !text ? "Write a message."
          : text.length > this.config.maxTextLength
            ? `Messages are at most ${this.config.maxTextLength} characters.` : "";
    setText(this.error, problem);
    if (problem) return;
    try {
      await this.start({
        productId: product.productId, recipientId: vendorId, text,
        productName: product.productName, productPrice: product.productPrice,
        productImageUrl: this._picture(product), storeName: product.storeName, customerName,
      });
      localStorage.setItem(NAME_KEY, customerName);
      form.text.value = "";
      show(this.form, false);
      this.toggle.setAttribute("aria-expanded", "false");
    } catch (err) {
      setText(this.error, err?.message ?? "Could not start the chat");
    }
  }

  // The catalog's pictures live on this server; with SLYCHAT_MEDIA_HOSTS set, the server
  // accepts product pictures from those hosts only, so the chat then goes without one.
  _picture(product) {
    const hosts = this.config.imageHosts;
    const host = location.hostname.toLowerCase();
    const accepted = !hosts.length || hosts.some((name) => host === name || host.endsWith(`.${name}`));
    return accepted ? pictureUrl(product) : undefined;
  }
}
