// The demo page's state: slychat-client's ChatStore (clients/js/src/store.ts), run by node's test runner
// from tests/static/test_demo_js.py.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ChatStore, tickState } from "../../../clients/js/dist/index.mjs";

const CUSTOMER = { id: 1, type: "CUSTOMER" };

function message(seq, { from = "VENDOR", read = false, ...rest } = {}) {
  return {
    id: `m${seq}`, chatId: "c1", seq, senderId: from === "VENDOR" ? 7 : 1, senderType: from,
    text: `text ${seq}`, timestamp: `2026-01-01T00:00:${String(seq).padStart(2, "0")}.000Z`,
    read, readAt: null, deliveredAt: null, clientMessageId: null, messageMedias: [], ...rest,
  };
}

function chat(messages, extra = {}) {
  return { id: "c1", productId: "p", vendorId: 7, customerId: 1, productName: "Lamp",
    lastMessageAt: messages.at(-1)?.timestamp ?? null, messages, unreadCount: 0,
    hasMore: false, ...extra };
}

test("a message that arrives twice is held once and counted unread once", () => {
  const store = new ChatStore(CUSTOMER);
  store.putChats([chat([message(1)], { unreadCount: 1 })], { replace: true });
  assert.equal(store.putMessage(message(2)).fresh, true);
  assert.equal(store.putMessage(message(2)).fresh, false); // again, from a sync
  assert.equal(store.applyChange({ type: "message", chatId: "c1", message: message(2) }), true);
  assert.deepEqual(store.messages("c1").map((m) => m.id), ["m1", "m2"]);
  assert.equal(store.chat("c1").unread, 2);
});

test("messages are in seq order, whatever order they arrive in", () => {
  const store = new ChatStore(CUSTOMER);
  store.putChats([chat([message(5)])], { replace: true });
  for (const seq of [9, 6, 8, 7]) store.putMessage(message(seq));
  assert.deepEqual(store.messages("c1").map((m) => m.seq), [5, 6, 7, 8, 9]);
});

test("older messages a sync brings are not counted again", () => {
  // userChats counted every unread up to seq 10; the sync then brings seq 4, unseen here.
  const store = new ChatStore(CUSTOMER);
  store.putChats([chat([message(10)], { unreadCount: 3 })], { replace: true });
  store.applyChange({ type: "message", chatId: "c1", message: message(4) });
  assert.equal(store.chat("c1").unread, 3);
});

test("a late copy never takes back a receipt", () => {
  const store = new ChatStore(CUSTOMER);
  const mine = message(1, { from: "CUSTOMER" });
  store.putChats([chat([mine])], { replace: true });
  store.markRead({ chatId: "c1", readerType: "VENDOR", messageIds: ["m1"],
    readAt: "2026-01-01T00:01:00.000Z", hasMore: false });
  store.putMessage({ ...mine }); // an older copy, read: false
  const held = store.messages("c1")[0];
  assert.equal(held.read, true);
  assert.equal(tickState(held), "read");
});

test("a receipt with hasMore reads every older message of mine too", () => {
  const store = new ChatStore(CUSTOMER);
  const mine = [1, 2, 3].map((seq) => message(seq, { from: "CUSTOMER" }));
  store.putChats([chat(mine)], { replace: true });
  store.markDelivered("c1", ["m1"], "2026-01-01T00:00:30.000Z");
  assert.equal(tickState(store.messages("c1")[0]), "delivered");
  assert.equal(tickState(store.messages("c1")[1]), "sent");
  store.markRead({ chatId: "c1", readerType: "VENDOR", messageIds: ["m2"], readAt: "x",
    hasMore: true });
  assert.deepEqual(store.messages("c1").map(tickState), ["read", "read", "sent"]);
});

test("a deletion removes the message and its unread count", () => {
  const store = new ChatStore(CUSTOMER);
  store.putChats([chat([message(1), message(2)], { unreadCount: 2 })], { replace: true });
  store.applyChange({ type: "deleted", chatId: "c1", messageId: "m2", deletedAt: "x" });
  assert.deepEqual(store.messages("c1").map((m) => m.id), ["m1"]);
  assert.equal(store.chat("c1").unread, 1);
});

test("a message for a chat the page lacks asks for a reload", () => {
  const store = new ChatStore(CUSTOMER);
  assert.equal(store.putMessage(message(1)), null);
  assert.equal(store.applyChange({ type: "message", chatId: "c1", message: message(1) }), false);
});

test("a stored copy of a pending send replaces it", () => {
  const store = new ChatStore(CUSTOMER);
  store.putChats([chat([])], { replace: true });
  store.pending.set("cm-1", { pending: true, clientMessageId: "cm-1", chatId: "c1" });
  store.putMessage(message(1, { from: "CUSTOMER", clientMessageId: "cm-1" }));
  assert.equal(store.pending.size, 0);
});

test("a full reload keeps the chat just started but drops what is gone", () => {
  const store = new ChatStore(CUSTOMER);
  store.putChats([chat([message(1)])], { replace: true });
  store.putProvisionalChat({ id: "c2", productId: "q", vendorId: 8, customerId: 1 });
  store.putChats([], { replace: true });
  assert.deepEqual([...store.chats.keys()], ["c2"]);
});

test("chats are listed newest activity first", () => {
  const store = new ChatStore(CUSTOMER);
  store.putChats([
    { ...chat([]), id: "a", lastMessageAt: "2026-01-01T00:00:01.000Z" },
    { ...chat([]), id: "b", lastMessageAt: "2026-01-02T00:00:01.000Z" },
  ], { replace: true });
  assert.deepEqual(store.sortedChats().map((c) => c.id), ["b", "a"]);
  store.putMessage({ ...message(3), chatId: "a", timestamp: "2026-01-03T00:00:00.000Z" });
  assert.deepEqual(store.sortedChats().map((c) => c.id), ["a", "b"]);
});

test("a SYSTEM notice is neither unread nor mine, and a read receipt leaves it alone", () => {
  const store = new ChatStore(CUSTOMER);
  store.putChats([chat([message(1)], { unreadCount: 1 })], { replace: true });
  const notice = message(2, { from: "SYSTEM", senderId: 0, text: "Order #123 shipped" });
  assert.equal(store.putMessage(notice).fresh, true);
  assert.equal(store.chat("c1").unread, 1);
  assert.equal(store.isIncoming(notice), false);
  assert.equal(store.isMine(notice), false);
  assert.equal(store.isNotice(notice), true);
});
