// The chat list: one button per chat, newest activity first, with the product, the other
// party, their presence, the last message and the unread count.

import { h, imageAllowed } from "./dom.js";
import { preview, price, shortTime } from "./format.js";

// `archived`: the chats the user archived, else the others; how many rows it drew.
export function renderChatList(list, store, { selectedId, config, onOpen, archived = false }) {
  const focusedId = document.activeElement?.dataset?.chatId ?? null;
  const rows = store.sortedChats()
    .filter((chat) => Boolean(chat.archived) === archived)
    .map((chat) => h("li", {},
      chatButton(chat, store, { selected: chat.id === selectedId, config, onOpen })));
  list.replaceChildren(...rows);
  // A live update must not steal the keyboard user's place in the list.
  if (focusedId) list.querySelector(`[data-chat-id="${CSS.escape(focusedId)}"]`)?.focus();
  return rows.length;
}

function chatButton(chat, store, { selected, config, onOpen }) {
  const last = store.lastMessage(chat.id);
  const presence = store.presenceOf(chat);
  const typing = store.isTyping(chat.id, Date.now());
  const mine = last && store.isMine(last);
  // The open chat is being read (its markAsRead is on the way): no badge for it.
  const unread = selected && document.visibilityState === "visible" ? 0 : chat.unread;
  return h("button", {
    type: "button",
    class: "chat-row",
    dataset: { chatId: chat.id, unread: String(chat.unread), muted: String(Boolean(chat.muted)) },
    "aria-current": selected ? "true" : null,
    onclick: () => onOpen(chat.id),
  },
  picture(chat, config),
  h("span", { class: "row-main" },
    h("span", { class: "row-top" },
      h("span", { class: "row-title" }, chat.productName || chat.productId,
        chat.muted ? h("span", { class: "row-muted", dataset: { muted: "true" } },
          h("span", { "aria-hidden": "true" }, "🔕"),
          h("span", { class: "visually-hidden" }, " (muted)")) : null),
      h("time", { class: "row-time", datetime: chat.lastMessageAt ?? "" },
        shortTime(chat.lastMessageAt))),
    h("span", { class: "row-sub" },
      presenceDot(presence),
      h("span", { class: "row-party" }, partyName(chat, store)),
      chat.productPrice ? h("span", { class: "row-price" }, ` · ${price(chat.productPrice)}`) : null),
    h("span", { class: "row-preview" },
      typing ? h("em", {}, "typing…") : [mine ? "You: " : "", preview(last)])),
  unread > 0
    ? h("span", { class: "badge" }, String(unread),
      h("span", { class: "visually-hidden" }, unread === 1 ? " unread message" : " unread messages"))
    : null);
}

export function picture(chat, config) {
  const src = imageAllowed(chat.productImageUrl, config);
  if (src) {
    return h("span", { class: "picture" },
      h("img", { src, alt: "", width: 48, height: 48, loading: "lazy", decoding: "async" }));
  }
  const initial = (chat.productName || chat.productId || "?").trim().charAt(0).toUpperCase();
  return h("span", { class: "picture placeholder", "aria-hidden": "true" }, initial);
}

export function presenceDot(presence) {
  const online = presence?.online === true;
  return h("span", { class: "presence" },
    h("span", { class: `dot${online ? " online" : ""}`, "aria-hidden": "true",
      dataset: { online: String(online) } }),
    h("span", { class: "visually-hidden" }, online ? "(online) " : "(offline) "));
}

// Who the other party is: a customer sees the store, a vendor the customer.
export function partyName(chat, store) {
  const other = store.counterpart(chat);
  if (other.type === "VENDOR") return chat.storeName || `Vendor ${other.id}`;
  return chat.customerName || `Customer ${other.id}`;
}
