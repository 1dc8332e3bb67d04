// Trust and safety with the fake transport: blocking (the list, the chats' `blocked`
// flag, a refused send that stays refused) and reports (created, then folded).
import assert from "node:assert/strict";
import { test } from "node:test";

import { SlyChat } from "../dist/index.mjs";
import { FakeServer, NEW_CHAT, until } from "./fake-server.mjs";

function open(server, token, extra = {}) {
  return new SlyChat({ url: "http://fake", token, io: server.io, ackTimeout: 300, presenceChecks: 0, ...extra });
}

async function pair() {
  const server = new FakeServer();
  const customer = open(server, "CUSTOMER:1");
  const vendor = open(server, "VENDOR:7");
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

test("connect() resolves with the blocked list loaded, and the chats flagged by it", async () => {
  const server = new FakeServer();
  server.blocks.set("VENDOR:7", [{ userId: 1, userType: "CUSTOMER", blockedAt: "2026-01-01T00:00:00.000Z" }]);
  server.chats.set("c1", { id: "c1", productId: "p1", vendorId: 7, customerId: 1, productName: "Lamp",
    storeName: "Lamp Co", customerName: "Ada", lastMessageAt: "2026-01-01T00:00:00.000Z",
    createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-01T00:00:00.000Z", messages: [] });
  const vendor = open(server, "VENDOR:7");
  const heard = record(vendor, "blocked");
  assert.deepEqual(vendor.blockedUsers, []);
  await vendor.connect();
  assert.deepEqual(vendor.blockedUsers, [{ userId: 1, userType: "CUSTOMER", blockedAt: "2026-01-01T00:00:00.000Z" }]);
  assert.equal(heard.length, 1);
  assert.equal(vendor.chats[0].blocked, true);
  vendor.close();
});

test("block: the list and the chat flag change on every client of the blocker; the other's send is refused once, 403, and never retried", async () => {
  const { server, customer, vendor, chatId } = await pair();
  const secondTab = open(server, "CUSTOMER:1");
  await secondTab.connect();
  const lists = record(customer, "blocked");
  const otherLists = record(secondTab, "blocked");
  const chats = record(customer, "chat");

  const data = await customer.block(7); // userType: the counterpart of a customer
  assert.equal(data.blocked, true);
  assert.equal(data.userType, "VENDOR");
  assert.deepEqual(customer.blockedUsers.map((b) => [b.userId, b.userType]), [[7, "VENDOR"]]);
  assert.equal(customer.chat(chatId).blocked, true); // at once, before the server's list comes
  await until(() => otherLists.length === 1 && secondTab.chat(chatId)?.blocked === true, "the second tab's list");
  assert.equal(lists.length, 1, "the ack and the server's list: one change, one event");
  assert.ok(chats.some((c) => c.id === chatId && c.blocked), "a chat event for the flag");
  assert.equal(vendor.chat(chatId).blocked, false, "only the blocker's chats carry it");

  const refused = vendor.send({ chatId, text: "Please answer" });
  await assert.rejects(refused, (err) => err.statusCode === 403);
  const after = vendor.send({ chatId, text: "still not" });
  await assert.rejects(after, (err) => err.statusCode === 403);
  const sends = () => server.sent("sendMessage").filter((r) => r.user?.type === "VENDOR").length;
  await new Promise((resolve) => setTimeout(resolve, 700)); // past the outbox's first back-off step
  assert.equal(sends(), 2, "each refused send went once");
  assert.deepEqual(vendor.pending().map((p) => p.failed !== null), [true, true]);

  await customer.unblock(7);
  assert.deepEqual(customer.blockedUsers, []);
  assert.equal(customer.chat(chatId).blocked, false);
  await until(() => secondTab.blockedUsers.length === 0 && secondTab.chat(chatId).blocked === false, "unblocked there");
  const [failed] = vendor.pending();
  const again = await vendor.retry(failed.clientMessageId);
  assert.equal(again.text, "Please answer");
  for (const c of [customer, secondTab, vendor]) c.close();
});

test("blocking twice changes nothing; the role must be the counterpart's", async () => {
  const { customer, vendor } = await pair();
  const first = await customer.block(7, "VENDOR");
  const lists = record(customer, "blocked");
  const second = await customer.block(7);
  assert.equal(second.blockedAt, first.blockedAt);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(lists.length, 0);
  await assert.rejects(customer.block(2, "CUSTOMER"), (err) => err.statusCode === 400);
  const none = await customer.unblock(3); // lifting a block that is not there is no failure
  assert.equal(none.blocked, false);
  assert.equal(customer.blockedUsers.length, 1);
  customer.close();
  vendor.close();
});

test("block before the client knows who it is needs the userType", async () => {
  const server = new FakeServer();
  const client = open(server, "CUSTOMER:1");
  await assert.rejects(client.block(7), (err) => err.statusCode === 400 && /userType/.test(err.message));
  client.close();
});

test("a block made while a client was away reaches it on reconnect", async () => {
  const { server, customer, vendor, chatId } = await pair();
  server.drop({ down: true });
  await until(() => customer.status === "reconnecting", "reconnecting");
  server.blocks.set("CUSTOMER:1", [{ userId: 7, userType: "VENDOR", blockedAt: server.now() }]); // another device
  server.up();
  await until(() => customer.status === "online", "online");
  await until(() => customer.blockedUsers.length === 1, "the list");
  assert.equal(customer.chat(chatId).blocked, true);
  customer.close();
  vendor.close();
});

test("reports resolve with {id, status, created}; the same target again is the same report", async () => {
  const { customer, vendor, first } = await pair();
  const report = await vendor.reportMessage(first.id, "scam", "asks for a bank transfer");
  assert.deepEqual(Object.keys(report).sort(), ["created", "id", "status"]);
  assert.equal(report.status, "open");
  assert.equal(report.created, true);
  const again = await vendor.reportMessage(first.id, "spam");
  assert.equal(again.id, report.id);
  assert.equal(again.created, false);
  const user = await customer.reportUser({ userId: 7, userType: "VENDOR", reason: "harassment" });
  assert.equal(user.created, true);
  assert.notEqual(user.id, report.id);
  await assert.rejects(vendor.reportMessage("0".repeat(24), "spam"), (err) => err.statusCode === 404);
  customer.close();
  vendor.close();
});
