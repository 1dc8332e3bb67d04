// Merging what the server says into the chat list, with the fake transport: receipts,
// deletions, edits, reactions, settings, typing and presence, live and through a sync.
import assert from "node:assert/strict";
import { test } from "node:test";

import { memoryStorage, SlyChat } from "../dist/index.mjs";
import { FakeServer, NEW_CHAT, until } from "./fake-server.mjs";

function open(server, token, extra = {}) {
  return new SlyChat({ url: "http://fake", token, io: server.io, ackTimeout: 300, presenceChecks: 0, ...extra });
}

async function pair(extra = {}) {
  const server = new FakeServer();
  const customer = open(server, "CUSTOMER:1", extra);
  const vendor = open(server, "VENDOR:7", extra);
  await Promise.all([customer.connect(), vendor.connect()]);
  const first = await customer.send({ productId: "p1", recipientId: 7, text: "Is it in stock?", ...NEW_CHAT });
  await until(() => vendor.chats.length === 1 && customer.chats.length === 1 && !customer.chats[0].provisional, "the chat");
  return { server, customer, vendor, chatId: first.chatId, first };
}

function record(client, event) {
  const seen = [];
  client.on(event, (value) => seen.push(value));
  return seen;
}

test("a new chat reaches the other side once, unread, as a chat and a message", async () => {
  const server = new FakeServer();
  const customer = open(server, "CUSTOMER:1");
  const vendor = open(server, "VENDOR:7");
  await Promise.all([customer.connect(), vendor.connect()]);
  const chats = record(vendor, "chat");
  const messages = record(vendor, "message");
  await customer.send({ productId: "p1", recipientId: 7, text: "Is it in stock?", ...NEW_CHAT });
  await until(() => messages.length === 1, "the message");
  assert.equal(chats[0].productName, "Lamp");
  assert.equal(messages[0].text, "Is it in stock?");
  assert.equal(vendor.chats[0].unreadCount, 1);
  assert.equal(vendor.totalUnread, 1);
  assert.equal(customer.chats[0].unreadCount, 0);
  customer.close();
  vendor.close();
});

test("read receipts and deletions are merged on both sides", async () => {
  const { customer, vendor, chatId, first } = await pair();
  const reads = record(customer, "read");
  const deletions = record(vendor, "deleted");
  await vendor.openChat(chatId);
  await until(() => reads.length === 1, "the receipt");
  assert.deepEqual(reads[0].messageIds, [first.id]);
  assert.equal(customer.messages(chatId)[0].read, true);
  assert.equal(vendor.chat(chatId).unreadCount, 0);

  const second = await customer.send({ chatId, text: "Hello?" });
  await until(() => vendor.messages(chatId).length === 2, "the second");
  await customer.deleteMessage(second.id);
  await until(() => deletions.length === 1, "the deletion");
  assert.deepEqual(vendor.messages(chatId).map((m) => m.text), ["Is it in stock?"]);
  assert.deepEqual(customer.messages(chatId).map((m) => m.text), ["Is it in stock?"]);
  assert.equal(vendor.chat(chatId).unreadCount, 0);
  customer.close();
  vendor.close();
});

test("edits, reactions and chat settings: live, and after a reconnect through the sync", async () => {
  const { server, customer, vendor, chatId, first } = await pair();
  const edits = record(vendor, "edited");
  const reactions = record(customer, "reactions");
  const edited = await customer.editMessage(first.id, "Is it in stock in black?");
  assert.equal(edited.text, "Is it in stock in black?");
  await until(() => edits.length === 1, "the edit");
  assert.equal(vendor.messages(chatId)[0].text, "Is it in stock in black?");
  assert.ok(vendor.messages(chatId)[0].editedAt);

  await vendor.react(first.id, "👍");
  await until(() => reactions.length === 1, "the reaction");
  assert.deepEqual(customer.messages(chatId)[0].reactions.map((r) => r.emoji), ["👍"]);

  const settings = await vendor.updateChatSettings(chatId, { muted: true });
  assert.deepEqual(settings, { chatId, muted: true, archived: false });
  assert.equal(vendor.chat(chatId).muted, true);

  // Away, then back: the sync carries an edit, a reaction removed and a setting.
  server.drop({ down: true });
  await until(() => vendor.status === "reconnecting", "reconnecting");
  server.up();
  await until(() => customer.status === "online" && vendor.status === "online", "back");
  vendor.close();
  const later = await customer.editMessage(first.id, "Still there?");
  assert.equal(later.text, "Still there?");
  await customer.unreact(first.id); // a reaction of the customer's own is none: nothing changes
  const again = open(server, "VENDOR:7");
  await again.connect();
  assert.equal(again.messages(chatId)[0].text, "Still there?");
  assert.deepEqual(again.messages(chatId)[0].reactions.map((r) => r.emoji), ["👍"]);
  customer.close();
  again.close();
});

test("changes from the sync feed are applied: edited, reactions, settings, deleted", async () => {
  const server = new FakeServer();
  const storage = memoryStorage();
  const vendor = open(server, "VENDOR:7", { storage });
  const customer = open(server, "CUSTOMER:1");
  await Promise.all([customer.connect(), vendor.connect()]);
  const m1 = await customer.send({ productId: "p1", recipientId: 7, text: "one", ...NEW_CHAT });
  const m2 = await customer.send({ productId: "p1", recipientId: 7, text: "two" });
  await until(() => vendor.messages(m1.chatId).length === 2, "both");
  await vendor.flushed();
  vendor.close();

  await customer.editMessage(m1.id, "one, edited");
  await customer.react(m1.id, "❤️");
  await customer.deleteMessage(m2.id);
  server.record({ id: 7, type: "VENDOR" }, { type: "settings", chatId: m1.chatId, muted: false, archived: true });

  const back = open(server, "VENDOR:7", { storage });
  const events = { edited: record(back, "edited"), reactions: record(back, "reactions"),
    deleted: record(back, "deleted"), messages: record(back, "message") };
  await back.connect();
  assert.deepEqual(back.messages(m1.chatId).map((m) => m.text), ["one, edited"]);
  assert.deepEqual(back.messages(m1.chatId)[0].reactions.map((r) => r.emoji), ["❤️"]);
  assert.equal(back.chat(m1.chatId).archived, true);
  assert.equal(events.edited.length, 1);
  assert.equal(events.reactions.length, 1);
  assert.deepEqual(events.deleted.map((d) => d.messageId), [m2.id]);
  assert.deepEqual(events.messages, []); // nothing new: only changes to what it had
  customer.close();
  back.close();
});

test("search resolves with the results the server sends after its ack", async () => {
  const { customer, vendor, chatId } = await pair();
  await customer.send({ chatId, text: "black headphones please" });
  const [found, none] = await Promise.all([
    vendor.search("black head", { chatId }),
    vendor.search("nothing like this"),
  ]);
  assert.deepEqual(found.messages.map((m) => m.text), ["black headphones please"]);
  assert.deepEqual(none.messages, []);
  customer.close();
  vendor.close();
});

test("typing notices are throttled and reach the other side", async () => {
  const { server, customer, vendor, chatId } = await pair({ typing: { interval: 10000, idle: 50 } });
  const typing = record(vendor, "typing");
  for (let i = 0; i < 5; i += 1) customer.typing(chatId);
  await until(() => typing.length === 2, "typing, then stopped");
  assert.deepEqual(typing.map((t) => t.typing), [true, false]);
  assert.equal(typing[0].chatId, chatId);
  assert.equal(server.sent("typing").length, 1);
  assert.equal(vendor.isTyping(chatId), false);
  customer.close();
  vendor.close();
});

test("presence of the chats' other parties is asked for and kept", async () => {
  const server = new FakeServer();
  const customer = open(server, "CUSTOMER:1", { presenceChecks: 25 });
  const vendor = open(server, "VENDOR:7");
  await vendor.connect();
  await customer.connect();
  const { chatId } = await customer.send({ productId: "p1", recipientId: 7, text: "hi", ...NEW_CHAT });
  await until(() => customer.presenceOf(chatId)?.online === true, "the vendor's presence");
  assert.deepEqual(customer.presenceOf(7, "VENDOR"), { userId: 7, userType: "VENDOR", online: true, lastSeen: null });
  customer.close();
  vendor.close();
});
