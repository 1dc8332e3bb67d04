// Cursor handling and catch-up, with the fake transport: the cursor a client keeps, the
// sync pages after a reconnect or restart, and the reload after a reset.
import assert from "node:assert/strict";
import { test } from "node:test";

import { memoryStorage, SlyChat } from "../dist/index.mjs";
import { FakeServer, NEW_CHAT, until } from "./fake-server.mjs";

const VENDOR = { id: 7, type: "VENDOR" };

function customer(server, extra = {}) {
  return new SlyChat({ url: "http://fake", token: "CUSTOMER:1", io: server.io, ackTimeout: 300,
    presenceChecks: 0, ...extra });
}

function fromVendor(server, text) {
  return server.store(VENDOR, { productId: "p1", recipientId: 1, text });
}

async function chatWithVendor(server, c) {
  await c.connect();
  await c.send({ productId: "p1", recipientId: 7, text: "hello", ...NEW_CHAT });
}

test("the cursor kept is the newest one seen: the chat list's, then each message's", async () => {
  const server = new FakeServer();
  const storage = memoryStorage();
  const c = customer(server, { storage });
  await c.connect();
  await c.flushed();
  assert.equal(JSON.parse(storage.getItem("slychat:cursor")), server.cursorOf({ id: 1, type: "CUSTOMER" }, 0));
  await c.send({ productId: "p1", recipientId: 7, text: "hello", ...NEW_CHAT });
  const { message } = fromVendor(server, "hi there");
  await until(() => c.messages(message.chatId).length === 2, "the reply");
  await c.flushed();
  const feed = server.feed({ id: 1, type: "CUSTOMER" });
  assert.equal(JSON.parse(storage.getItem("slychat:cursor")), server.cursorOf({ id: 1, type: "CUSTOMER" }, feed.length));
  c.close();
});

test("closed while five messages arrive: the next client with the storage gets exactly those five, once", async () => {
  const server = new FakeServer({ syncPage: 2 }); // three pages of changes
  const storage = memoryStorage();
  const first = customer(server, { storage });
  await chatWithVendor(server, first);
  await first.flushed();
  first.close();
  const texts = ["1", "2", "3", "4", "5"];
  for (const text of texts) fromVendor(server, text);

  const second = customer(server, { storage });
  const seen = [];
  second.on("message", (m) => seen.push(m.text));
  await second.connect(); // resolves once caught up
  assert.deepEqual(seen, texts);
  const chat = second.chats[0];
  assert.deepEqual(chat.messages.map((m) => m.text), ["hello", ...texts]);
  assert.equal(chat.unreadCount, 5);
  // Paged: each request starts where the page before it stopped.
  const sinces = server.sent("syncMessages").map((r) => r.payload.since);
  assert.equal(sinces.length, 2);
  assert.equal(new Set(sinces).size, 2);
  // A reconnect of the same client brings nothing twice.
  server.drop();
  await until(() => second.status === "online" && server.opens >= 3, "reconnected");
  fromVendor(server, "6");
  await until(() => seen.length === 6, "the live one");
  assert.deepEqual(seen, [...texts, "6"]);
  second.close();
});

test("messages missed during a drop are caught up once, the live ones around it too", async () => {
  const server = new FakeServer();
  const c = customer(server);
  await chatWithVendor(server, c);
  const seen = [];
  c.on("message", (m) => seen.push(m.text));
  fromVendor(server, "live");
  await until(() => seen.length === 1, "live");
  server.drop({ down: true });
  await until(() => c.status === "reconnecting", "reconnecting");
  fromVendor(server, "missed 1");
  fromVendor(server, "missed 2");
  const statuses = [];
  c.on("status", (s) => statuses.push(s));
  server.up();
  await until(() => seen.length === 3 && c.status === "online", "caught up");
  assert.deepEqual(seen, ["live", "missed 1", "missed 2"]);
  assert.deepEqual(statuses, ["catching-up", "online"]);
  const auth = [...server.sockets].find((s) => s.namespace === "/chat").authData;
  assert.match(auth.syncCursor, /^v1\./);
  c.close();
});

test("a reset reloads the chats and keeps the server's new cursor", async () => {
  const server = new FakeServer();
  const storage = memoryStorage();
  const first = customer(server, { storage });
  await chatWithVendor(server, first);
  await first.flushed();
  first.close();
  server.epoch += 1; // the server's cursor key changed: every stored cursor is refused
  fromVendor(server, "after the reset");

  const second = customer(server, { storage });
  const lists = [];
  second.on("chats", (chats) => lists.push(chats.map((c) => c.messages.length)));
  const mark = server.received.length;
  await second.connect();
  const asked = server.received.slice(mark).map((r) => r.event);
  assert.deepEqual(asked, ["getUserChats", "getBlockedUsers"]); // the reload, then the blocked list
  assert.deepEqual(lists.at(-1), [2]);
  assert.deepEqual(second.chats[0].messages.map((m) => m.text), ["hello", "after the reset"]);
  await second.flushed();
  const kept = JSON.parse(storage.getItem("slychat:cursor"));
  assert.equal(server.positionOf({ id: 1, type: "CUSTOMER" }, kept), server.feed({ id: 1, type: "CUSTOMER" }).length);
  second.close();
});

test("connect() rejects a refused token with 401, and says why", async () => {
  const server = new FakeServer();
  const c = new SlyChat({ url: "http://fake", token: "not a token", io: server.io, presenceChecks: 0 });
  await assert.rejects(c.connect(), (err) => err.statusCode === 401 && err.message === "Invalid token");
  assert.equal(c.status, "closed");
});

test("the token function is asked again on every reconnect", async () => {
  const server = new FakeServer();
  let calls = 0;
  const c = new SlyChat({ url: "http://fake", token: () => {
    calls += 1;
    return Promise.resolve("CUSTOMER:1");
  }, io: server.io, presenceChecks: 0 });
  await c.connect();
  assert.equal(calls, 1); // once for both namespaces
  server.drop();
  await until(() => server.opens === 2 && c.status === "online", "reconnected");
  assert.equal(calls, 2);
  c.close();
});

test("the server closing /presence alone: it is reopened, and what was sent meanwhile goes out", async () => {
  const server = new FakeServer();
  const c = customer(server);
  await chatWithVendor(server, c);
  const [presence] = [...server.sockets].filter((s) => s.namespace === "/presence");
  const [chat] = [...server.sockets].filter((s) => s.namespace === "/chat");
  presence.serverDisconnect();
  assert.equal(c.status, "reconnecting");
  const sent = c.send({ productId: "p1", recipientId: 7, text: "while /presence was away" });
  assert.equal((await sent).text, "while /presence was away");
  assert.equal(c.status, "online");
  // /chat never left: the same socket, nothing synced.
  assert.ok(chat.connected && server.sockets.has(chat));
  assert.equal(server.sent("syncMessages").length, 0);
  c.close();
});

test("connect() called twice connects once", async () => {
  const server = new FakeServer();
  const c = customer(server);
  await Promise.all([c.connect(), c.connect()]);
  await c.connect(); // connected already
  assert.equal(server.opens, 1);
  assert.equal([...server.sockets].length, 2);
  c.close();
});

test("pages the server pushes after a fan-out break are merged once, in order, unasked", async () => {
  const server = new FakeServer({ syncPage: 2 });
  const storage = memoryStorage();
  const c = customer(server, { storage });
  await chatWithVendor(server, c);
  await c.flushed();
  const me = { id: 1, type: "CUSTOMER" };
  const before = server.feed(me).length;
  const seen = [];
  c.on("message", (m) => seen.push(m.text));
  const texts = ["a", "b", "c"];
  for (const text of texts) server.storeUnheard(VENDOR, { productId: "p1", recipientId: 1, text });
  assert.deepEqual(seen, []); // nothing reached the socket
  const asked = server.sent("syncMessages").length;
  server.pushSync(me, before); // two pages: [a, b], [c]
  await until(() => seen.length === 3, "the pushed messages");
  server.pushSync(me, before); // pushed again: nothing new
  await c.flushed();
  assert.deepEqual(seen, texts);
  assert.deepEqual(c.chats[0].messages.map((m) => m.text), ["hello", ...texts]);
  assert.equal(server.sent("syncMessages").length, asked); // the client asked for nothing
  assert.equal(JSON.parse(storage.getItem("slychat:cursor")), server.cursorOf(me, server.feed(me).length));
  c.close();
});
