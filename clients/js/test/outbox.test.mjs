// The outbox, with the fake transport: a message is stored before it goes on the wire,
// drained in order, stored once whatever breaks, and survives a restart with its storage.
import assert from "node:assert/strict";
import { test } from "node:test";

import { memoryStorage, SlyChat } from "../dist/index.mjs";
import { FakeServer, NEW_CHAT, until } from "./fake-server.mjs";

const CUSTOMER = "CUSTOMER:1";

function client(server, extra = {}) {
  return new SlyChat({ url: "http://fake", token: CUSTOMER, io: server.io, ackTimeout: 300,
    presenceChecks: 0, ...extra });
}

function storedTexts(server) {
  return [...server.chats.values()].flatMap((c) => c.messages.map((m) => m.text));
}

test("a send before connect() is in storage before anything goes on the wire", async () => {
  const server = new FakeServer();
  const storage = memoryStorage();
  const c = client(server, { storage });
  const sent = c.send({ productId: "p1", recipientId: 7, text: "hello", ...NEW_CHAT });
  await c.flushed();
  const saved = JSON.parse(storage.getItem("slychat:outbox"));
  assert.equal(saved.queue.length, 1);
  assert.equal(saved.queue[0].payload.text, "hello");
  assert.match(saved.queue[0].payload.clientMessageId, /^[0-9a-f]{32}$/);
  assert.equal(server.received.length, 0);
  assert.equal(c.pending().length, 1);

  await c.connect();
  const message = await sent;
  assert.equal(message.text, "hello");
  assert.equal(message.clientMessageId, saved.queue[0].payload.clientMessageId);
  assert.deepEqual(storedTexts(server), ["hello"]);
  await c.flushed();
  assert.equal(storage.getItem("slychat:outbox"), null); // nothing left to send
  assert.equal(c.pending().length, 0);
  // The chat it created is in the list at once (made up, then the server's copy).
  await until(() => c.chats.length === 1 && !c.chats[0].provisional, "the server's chat");
  assert.deepEqual(c.chats[0].messages.map((m) => m.text), ["hello"]);
  c.close();
});

test("sends are stored in the order written, each once, through a 429", async () => {
  const server = new FakeServer();
  const c = client(server);
  await c.connect();
  const limited = [];
  c.on("rateLimited", (info) => limited.push(info));
  await c.send({ productId: "p1", recipientId: 7, text: "first", ...NEW_CHAT });
  server.fail("sendMessage", { statusCode: 429, message: "Too many messages", retryAfter: 0.05 }, 2);
  const texts = ["a", "b", "c", "d", "e"];
  const results = await Promise.all(texts.map((text) => c.send({ productId: "p1", recipientId: 7, text })));
  assert.deepEqual(results.map((m) => m.text), texts);
  assert.deepEqual(storedTexts(server), ["first", ...texts]);
  assert.deepEqual(results.map((m) => m.seq), [2, 3, 4, 5, 6]);
  assert.equal(limited.length, 2);
  assert.equal(limited[0].retryAfter, 0.05);
  // One at a time: "b" never left before "a" was stored.
  const order = server.sent("sendMessage").map((r) => r.payload.text);
  assert.deepEqual(order, ["first", "a", "a", "a", "b", "c", "d", "e"]);
  c.close();
});

test("a refusal rejects with its statusCode and the next message still goes", async () => {
  const server = new FakeServer();
  const c = client(server);
  await c.connect();
  await c.send({ productId: "p1", recipientId: 7, text: "first", ...NEW_CHAT });
  server.fail("sendMessage", { statusCode: 413, message: "Text too long" });
  const refused = c.send({ productId: "p1", recipientId: 7, text: "x".repeat(10) });
  const next = c.send({ productId: "p1", recipientId: 7, text: "after" });
  await assert.rejects(refused, (err) => err.name === "SlyChatError" && err.statusCode === 413);
  assert.equal((await next).text, "after");
  const [failed] = c.pending();
  assert.equal(failed.failed, "Text too long");
  // Retried by the user: the same clientMessageId, stored this time.
  const again = await c.retry(failed.clientMessageId);
  assert.equal(again.clientMessageId, failed.clientMessageId);
  assert.deepEqual(storedTexts(server), ["first", "after", "xxxxxxxxxx"]);
  assert.equal(c.pending().length, 0);
  c.close();
});

test("a send whose ack is lost is sent again with the same id and stored once", async () => {
  const server = new FakeServer();
  const c = client(server);
  await c.connect();
  await c.send({ productId: "p1", recipientId: 7, text: "first", ...NEW_CHAT });
  server.silent.add("sendMessage"); // stored, never acknowledged
  const sending = c.send({ productId: "p1", recipientId: 7, text: "lost ack" });
  await until(() => server.sent("sendMessage").length === 2, "the send");
  server.silent.clear();
  server.drop(); // the connection breaks before the ack; it comes back by itself
  const message = await sending;
  assert.equal(message.text, "lost ack");
  assert.deepEqual(storedTexts(server), ["first", "lost ack"]);
  const ids = server.sent("sendMessage").slice(1).map((r) => r.payload.clientMessageId);
  assert.ok(ids.length >= 2 && ids.every((id) => id === ids[0]), "the same clientMessageId each time");
  c.close();
});

test("sends while the server is away resolve once it is back, in order, each stored once", async () => {
  const server = new FakeServer();
  const c = client(server);
  await c.connect();
  await c.send({ productId: "p1", recipientId: 7, text: "first", ...NEW_CHAT });
  server.drop({ down: true });
  await until(() => c.status === "reconnecting", "reconnecting");
  const sends = ["one", "two", "three"].map((text) => c.send({ productId: "p1", recipientId: 7, text }));
  server.up();
  const stored = await Promise.all(sends);
  assert.deepEqual(stored.map((m) => m.text), ["one", "two", "three"]);
  assert.deepEqual(storedTexts(server), ["first", "one", "two", "three"]);
  c.close();
});

test("the outbox survives a restart: the next client with the same storage sends it once", async () => {
  const server = new FakeServer();
  const storage = memoryStorage();
  const first = client(server, { storage });
  await first.connect();
  await first.send({ productId: "p1", recipientId: 7, text: "first", ...NEW_CHAT });
  server.drop({ down: true });
  const lost = ["one", "two"].map((text) => first.send({ productId: "p1", recipientId: 7, text }));
  await first.flushed();
  first.close(); // the page is reloaded; its promises never settle
  void lost;

  server.up();
  const second = client(server, { storage });
  const later = second.send({ productId: "p1", recipientId: 7, text: "three" });
  const seen = [];
  second.on("message", (m) => seen.push(m.text));
  await second.connect();
  assert.equal((await later).text, "three");
  await until(() => second.pending().length === 0, "the outbox drained");
  assert.deepEqual(storedTexts(server), ["first", "one", "two", "three"]); // older ones first
  await second.flushed();
  assert.equal(storage.getItem("slychat:outbox"), null);
  assert.deepEqual(seen.filter((t) => t !== "first"), ["one", "two", "three"]);
  second.close();
});

test("a message stored before the restart is not sent again, and its echo settles it", async () => {
  const server = new FakeServer();
  const storage = memoryStorage();
  const first = client(server, { storage });
  await first.connect();
  await first.send({ productId: "p1", recipientId: 7, text: "first", ...NEW_CHAT });
  server.silent.add("sendMessage");
  void first.send({ productId: "p1", recipientId: 7, text: "stored, ack lost" });
  await until(() => server.sent("sendMessage").length === 2, "the send");
  await first.flushed();
  first.close();
  server.silent.clear();

  const second = client(server, { storage });
  await second.connect();
  await until(() => second.pending().length === 0, "the outbox drained");
  assert.deepEqual(storedTexts(server), ["first", "stored, ack lost"]);
  second.close();
});

test("what another user left in the storage is never sent as this user", async () => {
  const server = new FakeServer();
  const storage = memoryStorage();
  const vendor = new SlyChat({ url: "http://fake", token: "VENDOR:7", io: server.io, storage, presenceChecks: 0 });
  await vendor.connect();
  vendor.close();
  const other = new SlyChat({ url: "http://fake", token: "VENDOR:7", io: server.io, storage, presenceChecks: 0 });
  void other.send({ productId: "p1", recipientId: 1, text: "vendor's" });
  await other.flushed();
  other.close();

  const customer = client(server, { storage });
  await customer.connect();
  assert.equal(customer.pending().length, 0);
  assert.equal(server.sent("sendMessage").length, 0);
  assert.equal(JSON.parse(storage.getItem("slychat:me")).type, "CUSTOMER");
  const handshake = [...server.received]; // the customer's /chat auth carried no vendor cursor
  assert.ok(handshake.every((r) => r.event !== "syncMessages"));
  customer.close();
});
