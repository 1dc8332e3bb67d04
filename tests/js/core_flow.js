'use strict';
/*
 * The core flow of docs/protocol.md, driven by the official `socket.io-client` 4.x, the
 * way a browser app uses it: one connection per user carrying `/presence` and `/chat`,
 * the token in the handshake's `auth`.
 *
 * Run by tests/e2e/test_js_client.py. By hand:
 *
 *   SLYCHAT_URL=http://127.0.0.1:8000 \
 *   CUSTOMER_ID=101 CUSTOMER_TOKEN=<jwt> VENDOR_ID=202 VENDOR_TOKEN=<jwt> \
 *   [EXPIRED_TOKEN=<jwt>] node tests/js/core_flow.js
 *
 * The users should be new (no chats yet). The flow runs twice with the same two users:
 * first websocket-only, then with the default transports (HTTP long-polling, upgraded to
 * websocket); the second pass also checks what the first left behind (chat list, an
 * offline message, presence notices). Every wait has a timeout. On success one JSON line is
 * printed and the exit code is 0; on failure a message naming the step goes to stderr and
 * the exit code is 1 (2 if the whole run overran its deadline).
 */

const assert = require('node:assert/strict');
const { io } = require('socket.io-client');

const WAIT_MS = 10000; // any single event or ack
const RUN_MS = 50000; // the whole script; the pytest side allows a little more

const HEX24 = /^[0-9a-f]{24}$/;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const NEW_CHAT_FIELDS = {
  productName: 'Wireless Headphones',
  productPrice: '299.99',
  productImageUrl: 'https://example.com/product-image.jpg',
  storeName: 'Tech Haven',
  storeLogoUrl: 'https://example.com/store-logo.png',
  customerName: 'John Doe',
  customerProfilePic: 'https://example.com/buyer-profile.jpg',
};

// --- configuration --------------------------------------------------------------------------

function config() {
  const env = process.env;
  const missing = ['SLYCHAT_URL', 'CUSTOMER_ID', 'CUSTOMER_TOKEN', 'VENDOR_ID', 'VENDOR_TOKEN']
    .filter((name) => !env[name]);
  if (missing.length) {
    process.stderr.write(`usage: set ${missing.join(', ')} (see the comment at the top)\n`);
    process.exit(1);
  }
  const id = (name) => {
    const value = Number(env[name]);
    if (!Number.isSafeInteger(value)) {
      process.stderr.write(`${name} must be an integer, got ${env[name]}\n`);
      process.exit(1);
    }
    return value;
  };
  return {
    url: env.SLYCHAT_URL.replace(/\/+$/, ''),
    customer: { role: 'customer', type: 'CUSTOMER', id: id('CUSTOMER_ID'), token: env.CUSTOMER_TOKEN },
    vendor: { role: 'vendor', type: 'VENDOR', id: id('VENDOR_ID'), token: env.VENDOR_TOKEN },
    expiredToken: env.EXPIRED_TOKEN || null,
  };
}

// --- failure reporting ----------------------------------------------------------------------

let step = 'starting';

function setStep(name) {
  step = name;
}

function show(value) {
  const text = JSON.stringify(value);
  return text && text.length > 2000 ? `${text.slice(0, 2000)}...` : text;
}

// --- recording sockets ----------------------------------------------------------------------

/** Records every event a socket receives, so that a wait can find one that came earlier. */
class Recorder {
  constructor(socket, name) {
    this.socket = socket;
    this.name = name;
    this.events = []; // {event, args}
    this.taken = new Set();
    this.waiters = new Set();
    this.fatal = null; // set when the server refuses or drops the socket
    socket.onAny((event, ...args) => this.push(event, args));
    socket.on('connect_error', (err) => {
      if (!this.expectRefusal) {
        this.fatal = `${this.name} was refused: ${err.message} ${show(err.data)}`;
      }
      this.push('connect_error', [err]);
    });
    socket.on('disconnect', (reason, details) => {
      this.push('disconnect', [reason, details]);
      if (!this.closing) {
        this.fatal = `${this.name} was disconnected: ${reason}`;
      }
    });
  }

  push(event, args) {
    if (event === 'appError' && !this.allowErrors) {
      this.fatal = `${this.name} got appError ${show(args[0])}`;
    }
    this.events.push({ event, args });
    for (const wake of [...this.waiters]) wake();
  }

  seen() {
    return this.events.map((e) => e.event).join(', ') || 'nothing';
  }

  /** The oldest not yet taken `event` whose first argument matches `where`. */
  wait(event, where = () => true, timeoutMs = WAIT_MS) {
    return new Promise((resolve, reject) => {
      let timer = null;
      const check = () => {
        for (let i = 0; i < this.events.length; i += 1) {
          const e = this.events[i];
          if (!this.taken.has(i) && e.event === event && where(e.args[0])) {
            this.taken.add(i);
            done();
            resolve(e.args[0]);
            return;
          }
        }
        if (this.fatal && event !== 'connect_error' && event !== 'disconnect') {
          done();
          reject(new Error(`waiting for ${event} on ${this.name}: ${this.fatal}; saw ${this.seen()}`));
        }
      };
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      timer = setTimeout(() => {
        done();
        reject(new Error(`no ${event} on ${this.name} within ${timeoutMs} ms; saw ${this.seen()}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Emit with an ack callback, as apps do; resolves with the ack's argument. */
  call(event, payload, timeoutMs = WAIT_MS) {
    return new Promise((resolve, reject) => {
      this.socket.timeout(timeoutMs).emit(event, payload, (err, response) => {
        if (err) {
          reject(new Error(`no ack for ${event} on ${this.name} within ${timeoutMs} ms (${err.message}); saw ${this.seen()}`));
        } else {
          resolve(response);
        }
      });
    });
  }

  close() {
    this.closing = true;
    this.socket.disconnect();
  }
}

/**
 * One user's browser tab: `io(url + '/presence', {auth})` and `io(url + '/chat', {auth})`.
 *
 * In a browser the second `io()` call finds the first one's Manager in socket.io-client's
 * cache and multiplexes `/chat` onto the same connection. This process hosts two users and
 * runs twice, so the cache would hand one user's connection to the other; `forceNew` gives
 * each tab its own Manager and `manager.socket('/chat')` is exactly what `io()` does on a
 * cache hit.
 */
function openTab(url, user, transportOptions) {
  const presenceSocket = io(`${url}/presence`, {
    ...transportOptions,
    forceNew: true,
    reconnection: false,
    timeout: WAIT_MS,
    auth: { token: user.token },
  });
  const manager = presenceSocket.io;
  const chatSocket = manager.socket('/chat', { auth: { token: user.token } });
  const tab = {
    user,
    manager,
    presence: new Recorder(presenceSocket, `${user.role} ${user.id} /presence`),
    chat: new Recorder(chatSocket, `${user.role} ${user.id} /chat`),
    transports: { first: null, upgradedTo: null },
  };
  manager.on('open', () => {
    const engine = manager.engine;
    tab.transports.first = engine.transport.name;
    engine.on('upgrade', (transport) => {
      tab.transports.upgradedTo = transport.name;
    });
  });
  return tab;
}

/** Resolves once a tab's connection runs over websocket (the default transports start with
 * HTTP long-polling and upgrade). */
function upgraded(tab, timeoutMs = WAIT_MS) {
  return new Promise((resolve, reject) => {
    const engine = tab.manager.engine;
    if (engine && engine.transport && engine.transport.name === 'websocket') {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      reject(new Error(`${tab.user.role} ${tab.user.id}: no upgrade to websocket within ${timeoutMs} ms (${show(tab.transports)})`));
    }, timeoutMs);
    engine.once('upgrade', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function closeTab(tab) {
  tab.presence.close();
  tab.chat.close();
}

// --- shape checks ---------------------------------------------------------------------------

function isIso(value) {
  return typeof value === 'string' && ISO_MS.test(value);
}

function checkIso(value, what) {
  assert.ok(isIso(value), `${what}: expected an ISO timestamp with ms and Z, got ${show(value)}`);
}

function checkOk(body, what) {
  assert.ok(body && typeof body === 'object', `${what}: expected an envelope, got ${show(body)}`);
  assert.equal(body.statusCode, 200, `${what}: statusCode, got ${show(body)}`);
  assert.equal(body.error, false, `${what}: error, got ${show(body)}`);
  return body.data;
}

function checkMessage(m, expected, what) {
  assert.ok(m && typeof m === 'object', `${what}: expected a message, got ${show(m)}`);
  assert.match(String(m.id), HEX24, `${what}: id is not 24 hex characters: ${show(m)}`);
  assert.match(String(m.chatId), HEX24, `${what}: chatId is not 24 hex characters: ${show(m)}`);
  if (expected.chatId) assert.equal(m.chatId, expected.chatId, `${what}: chatId`);
  assert.equal(m.senderId, expected.sender.id, `${what}: senderId (a number) in ${show(m)}`);
  assert.equal(m.senderType, expected.sender.type, `${what}: senderType in ${show(m)}`);
  assert.equal(m.text, expected.text, `${what}: text`);
  checkIso(m.timestamp, `${what}: timestamp`);
  assert.equal(typeof m.read, 'boolean', `${what}: read in ${show(m)}`);
  assert.equal(typeof m.recipientOnline, 'boolean', `${what}: recipientOnline in ${show(m)}`);
  assert.deepEqual(m.messageMedias, [], `${what}: messageMedias`);
  assert.ok(Number.isInteger(m.seq) && m.seq > 0, `${what}: seq in ${show(m)}`);
  for (const key of ['readAt', 'deliveredAt']) {
    assert.ok(key in m, `${what}: no ${key} in ${show(m)}`);
    if (m[key] !== null) checkIso(m[key], `${what}: ${key}`);
  }
  return m;
}

const CHAT_FIELDS = [
  'id', 'productId', 'vendorId', 'customerId', 'productImageUrl', 'productPrice',
  'productName', 'storeLogoUrl', 'customerProfilePic', 'customerName', 'storeName',
  'lastMessageAt', 'createdAt', 'updatedAt', 'messages', 'unreadCount', 'hasMore',
];

function checkChat(chat, expected, what) {
  assert.ok(chat && typeof chat === 'object', `${what}: expected a chat, got ${show(chat)}`);
  for (const key of CHAT_FIELDS) {
    assert.ok(key in chat, `${what}: no ${key} in ${show(chat)}`);
  }
  assert.match(String(chat.id), HEX24, `${what}: id is not 24 hex characters`);
  assert.equal(chat.productId, expected.productId, `${what}: productId`);
  assert.equal(chat.vendorId, expected.vendor.id, `${what}: vendorId (a number)`);
  assert.equal(chat.customerId, expected.customer.id, `${what}: customerId (a number)`);
  for (const [key, value] of Object.entries(NEW_CHAT_FIELDS)) {
    assert.equal(chat[key], value, `${what}: ${key}`);
  }
  for (const key of ['lastMessageAt', 'createdAt', 'updatedAt']) checkIso(chat[key], `${what}: ${key}`);
  assert.ok(Array.isArray(chat.messages), `${what}: messages is not a list`);
  assert.equal(typeof chat.hasMore, 'boolean', `${what}: hasMore`);
  assert.ok(Number.isInteger(chat.unreadCount), `${what}: unreadCount`);
  return chat;
}

function checkList(body, what) {
  const data = checkOk(body, what);
  assert.equal(typeof body.message, 'string', `${what}: message`);
  assert.ok(Array.isArray(data), `${what}: data is not a list: ${show(body)}`);
  return data;
}

function checkOnlineNotice(body, user, what) {
  assert.deepEqual(
    body,
    { statusCode: 200, error: false, message: 'User is online', data: { userId: user.id, userType: user.type } },
    what,
  );
}

const about = (user) => (body) => Boolean(body && body.data && body.data.userId === user.id
  && body.data.userType === user.type);

// --- the flow -------------------------------------------------------------------------------

/** Connect a tab and wait for its handshake events: userIsOnline, userChats, offlineMessages. */
async function connectTab(cfg, user, transportOptions, label) {
  setStep(`${label}: ${user.role} connects to /presence and /chat`);
  const tab = openTab(cfg.url, user, transportOptions);
  checkOnlineNotice(await tab.presence.wait('userIsOnline'), user, `${label}: ${user.role} userIsOnline`);
  const chats = checkList(await tab.chat.wait('userChats'), `${label}: ${user.role} userChats`);
  const offline = checkList(await tab.chat.wait('offlineMessages'), `${label}: ${user.role} offlineMessages`);
  return { tab, chats, offline };
}

async function runPass(cfg, label, transportOptions, previous) {
  const { customer, vendor } = cfg;
  const summary = { transport: label };

  // The vendor first, so that it is there when the customer comes online.
  const v = await connectTab(cfg, vendor, transportOptions, label);
  const vendorTab = v.tab;
  if (!previous) {
    assert.deepEqual(v.chats, [], `${label}: a new vendor has no chats`);
    assert.deepEqual(v.offline, [], `${label}: a new vendor has no offline messages`);
  } else {
    setStep(`${label}: the vendor's chat list after the first pass`);
    assert.equal(v.chats.length, 1, `${label}: vendor userChats: ${show(v.chats)}`);
    const chat = checkChat(v.chats[0], { productId: previous.productId, vendor, customer }, `${label}: vendor userChats[0]`);
    assert.equal(chat.id, previous.chatId);
    assert.deepEqual(chat.messages.map((m) => m.id), previous.messageIds, `${label}: the messages, oldest first`);
    assert.deepEqual(chat.messages.map((m) => m.seq), [1, 2, 3], `${label}: seq`);
    assert.equal(chat.unreadCount, 1, `${label}: the vendor never read the customer's message`);
    assert.deepEqual(v.offline, [], `${label}: the vendor was not sent anything while away`);
  }

  const c = await connectTab(cfg, customer, transportOptions, label);
  const customerTab = c.tab;
  if (!previous) {
    assert.deepEqual(c.chats, [], `${label}: a new customer has no chats`);
    assert.deepEqual(c.offline, [], `${label}: a new customer has no offline messages`);
  } else {
    setStep(`${label}: the customer comes back`);
    const online = await vendorTab.chat.wait('userIsOnline', about(customer));
    checkOnlineNotice(online, customer, `${label}: the vendor's /chat hears the customer is online`);

    assert.equal(c.chats.length, 1, `${label}: customer userChats: ${show(c.chats)}`);
    const chat = checkChat(c.chats[0], { productId: previous.productId, vendor, customer }, `${label}: customer userChats[0]`);
    assert.deepEqual(chat.messages.map((m) => m.id), previous.messageIds, `${label}: the messages, oldest first`);
    assert.equal(chat.unreadCount, 1, `${label}: the message sent while the customer was away is unread`);

    setStep(`${label}: offlineMessages`);
    assert.equal(c.offline.length, 1, `${label}: customer offlineMessages: ${show(c.offline)}`);
    checkMessage(c.offline[0], { chatId: previous.chatId, sender: vendor, text: previous.offlineText }, `${label}: offline message`);
    assert.equal(c.offline[0].id, previous.offlineId, `${label}: the offline message's id`);
    assert.equal(c.offline[0].recipientOnline, false, `${label}: the offline message's recipientOnline`);
    const delivered = checkOk(await vendorTab.chat.wait('messagesDelivered'), `${label}: messagesDelivered`);
    assert.equal(delivered.chatId, previous.chatId, `${label}: messagesDelivered chatId`);
    assert.deepEqual(delivered.messageIds, [previous.offlineId], `${label}: messagesDelivered messageIds`);
    checkIso(delivered.deliveredAt, `${label}: messagesDelivered deliveredAt`);
  }

  // The customer's first message about a new product opens a chat.
  setStep(`${label}: customer sendMessage (new chat)`);
  const productId = `js-${label}-${customer.id}-${Date.now().toString(36)}`;
  const firstText = `Is it in stock? (${label})`;
  const clientMessageId = `js-${label}-${Math.random().toString(36).slice(2)}`;
  const sent = await customerTab.chat.call('sendMessage', {
    productId,
    recipientId: vendor.id,
    text: firstText,
    clientMessageId,
    ...NEW_CHAT_FIELDS,
  });
  const first = checkMessage(checkOk(sent, `${label}: sendMessage ack`), { sender: customer, text: firstText }, `${label}: sendMessage ack`);
  assert.equal(first.seq, 1, `${label}: the first message's seq`);
  assert.equal(first.read, false, `${label}: the first message is unread`);
  assert.equal(first.recipientOnline, true, `${label}: the vendor is online`);
  assert.equal(first.clientMessageId, clientMessageId, `${label}: clientMessageId is echoed`);
  const chatId = first.chatId;

  setStep(`${label}: vendor newChat`);
  const newChat = await vendorTab.chat.wait('newChat');
  assert.equal(newChat.statusCode, 200, `${label}: newChat statusCode: ${show(newChat)}`);
  assert.equal(newChat.error, false, `${label}: newChat error`);
  assert.deepEqual(newChat.data, {}, `${label}: newChat data (the chat sits in message)`);
  const chat = checkChat(newChat.message, { productId, vendor, customer }, `${label}: newChat chat`);
  assert.equal(chat.id, chatId, `${label}: newChat chat id`);
  assert.equal(chat.messages.length, 1, `${label}: newChat messages: ${show(chat.messages)}`);
  checkMessage(chat.messages[0], { chatId, sender: customer, text: firstText }, `${label}: newChat message`);
  assert.equal(chat.messages[0].id, first.id, `${label}: newChat message id`);
  assert.equal(chat.unreadCount, 1, `${label}: newChat unreadCount for the vendor`);

  setStep(`${label}: customer receiveMessage (own message)`);
  const own = await customerTab.chat.wait('receiveMessage');
  assert.equal(own.statusCode, 200, `${label}: receiveMessage statusCode`);
  assert.equal(own.error, false, `${label}: receiveMessage error`);
  assert.equal(own.message, null, `${label}: receiveMessage message: ${show(own)}`);
  assert.ok(Array.isArray(own.data) && own.data.length === 1, `${label}: receiveMessage data: ${show(own)}`);
  checkMessage(own.data[0], { chatId, sender: customer, text: firstText }, `${label}: receiveMessage data[0]`);
  assert.equal(own.data[0].id, first.id, `${label}: receiveMessage id`);

  // The vendor answers in the existing chat.
  setStep(`${label}: vendor sendMessage (reply)`);
  const replyText = `Yes, we have it (${label})`;
  const replyAck = await vendorTab.chat.call('sendMessage', { productId, recipientId: customer.id, text: replyText });
  const reply = checkMessage(checkOk(replyAck, `${label}: reply ack`), { chatId, sender: vendor, text: replyText }, `${label}: reply ack`);
  assert.equal(reply.seq, 2, `${label}: the reply's seq`);
  assert.equal(reply.recipientOnline, true, `${label}: the customer is online`);

  setStep(`${label}: customer receiveMessage (reply)`);
  const got = await customerTab.chat.wait('receiveMessage');
  assert.equal(got.message, null, `${label}: receiveMessage message: ${show(got)}`);
  assert.ok(Array.isArray(got.data) && got.data.length === 1, `${label}: receiveMessage data: ${show(got)}`);
  checkMessage(got.data[0], { chatId, sender: vendor, text: replyText }, `${label}: customer receiveMessage`);
  assert.equal(got.data[0].id, reply.id, `${label}: receiveMessage id`);

  setStep(`${label}: vendor receiveMessage (own reply, and not the customer's first message)`);
  const echo = await vendorTab.chat.wait('receiveMessage');
  assert.equal(echo.data[0].id, reply.id, `${label}: the vendor's first receiveMessage: ${show(echo)}`);

  // Read receipts.
  setStep(`${label}: customer markAsRead`);
  const readAck = await customerTab.chat.call('markAsRead', { productId, recipientId: vendor.id });
  checkOk(readAck, `${label}: markAsRead ack`);
  assert.equal(readAck.message, 'Messages marked as read', `${label}: markAsRead ack message`);
  setStep(`${label}: vendor updateReadReceipts`);
  const receipt = await vendorTab.chat.wait('updateReadReceipts');
  assert.equal(receipt.message, 'Messages marked as read', `${label}: updateReadReceipts message`);
  const receiptData = checkOk(receipt, `${label}: updateReadReceipts`);
  assert.equal(receiptData.chatId, chatId, `${label}: updateReadReceipts chatId`);
  assert.equal(receiptData.readerId, customer.id, `${label}: updateReadReceipts readerId`);
  assert.equal(receiptData.readerType, 'CUSTOMER', `${label}: updateReadReceipts readerType`);
  checkIso(receiptData.readAt, `${label}: updateReadReceipts readAt`);
  assert.deepEqual(receiptData.messageIds, [reply.id], `${label}: updateReadReceipts messageIds`);

  // Presence: a vendor sharing a chat with the customer may ask about them.
  setStep(`${label}: vendor checkOnlinePresence (customer online)`);
  const presenceAck = await vendorTab.presence.call('checkOnlinePresence', { userId: customer.id, userType: 'customer' });
  const presence = await vendorTab.presence.wait('onlinePresence');
  const status = checkOk(presence, `${label}: onlinePresence`);
  assert.equal(status.userId, customer.id, `${label}: onlinePresence userId`);
  assert.equal(status.userType, 'CUSTOMER', `${label}: onlinePresence userType`);
  assert.equal(status.status, 'online', `${label}: onlinePresence status: ${show(presence)}`);
  assert.ok(status.lastSeen === null || isIso(status.lastSeen), `${label}: onlinePresence lastSeen`);
  assert.deepEqual(presenceAck, presence, `${label}: the checkOnlinePresence ack is the onlinePresence envelope`);

  if (!transportOptions.transports) {
    setStep(`${label}: the connections upgrade from polling to websocket`);
    await upgraded(customerTab);
    await upgraded(vendorTab);
  }

  // The customer leaves; the vendor hears of it.
  setStep(`${label}: customer disconnects; vendor userIsOffline`);
  closeTab(customerTab);
  const gone = checkOk(await vendorTab.chat.wait('userIsOffline', about(customer)), `${label}: userIsOffline`);
  checkIso(gone.lastSeen, `${label}: userIsOffline lastSeen`);
  const after = checkOk(
    await vendorTab.presence.call('checkOnlinePresence', { userId: customer.id, userType: 'customer' }),
    `${label}: checkOnlinePresence after the customer left`,
  );
  assert.equal(after.status, 'offline', `${label}: the customer is offline: ${show(after)}`);
  assert.equal(after.lastSeen, gone.lastSeen, `${label}: lastSeen`);
  await vendorTab.presence.wait('onlinePresence', (b) => b && b.data && b.data.status === 'offline');

  summary.chatId = chatId;
  summary.messageIds = [first.id, reply.id];
  let next = null;
  if (!previous) {
    // A message while the customer is away: the next pass gets it in offlineMessages.
    setStep(`${label}: vendor sendMessage while the customer is offline`);
    const offlineText = `Still interested? (${label})`;
    const offlineAck = await vendorTab.chat.call('sendMessage', { productId, recipientId: customer.id, text: offlineText });
    const offline = checkMessage(checkOk(offlineAck, `${label}: offline message ack`), { chatId, sender: vendor, text: offlineText }, `${label}: offline message ack`);
    assert.equal(offline.seq, 3, `${label}: the offline message's seq`);
    assert.equal(offline.recipientOnline, false, `${label}: the customer was offline`);
    assert.equal(offline.deliveredAt, null, `${label}: nobody received the offline message yet`);
    const echoed = await vendorTab.chat.wait('receiveMessage');
    assert.equal(echoed.data[0].id, offline.id, `${label}: the vendor's receiveMessage`);
    summary.messageIds.push(offline.id);
    next = { productId, chatId, messageIds: summary.messageIds, offlineId: offline.id, offlineText };
  }

  summary.transports = { customer: customerTab.transports, vendor: vendorTab.transports };
  closeTab(vendorTab);
  return { summary, next };
}

/** A bad token is refused with connect_error carrying {error, message, statusCode: 401}. */
async function refused(cfg, namespace, token, transportOptions, label) {
  setStep(`bad token (${label}) on ${namespace}`);
  const socket = io(`${cfg.url}${namespace}`, {
    ...transportOptions,
    forceNew: true,
    reconnection: false,
    timeout: WAIT_MS,
    auth: { token },
  });
  const rec = new Recorder(socket, `bad token (${label}) ${namespace}`);
  rec.closing = true;
  rec.expectRefusal = true;
  try {
    const err = await rec.wait('connect_error');
    assert.ok(!rec.events.some((e) => e.event === 'connect'), `${label}: ${namespace} admitted a bad token`);
    assert.ok(err instanceof Error, `${label}: connect_error is an Error`);
    assert.ok(err.data && typeof err.data === 'object', `${label}: connect_error without data (${err.message}): a transport failure, not a refusal`);
    assert.equal(err.data.error, true, `${label}: err.data.error: ${show(err.data)}`);
    assert.equal(err.data.statusCode, 401, `${label}: err.data.statusCode: ${show(err.data)}`);
    assert.ok(typeof err.data.message === 'string' && err.data.message, `${label}: err.data.message: ${show(err.data)}`);
    return err.data;
  } finally {
    socket.disconnect();
  }
}

async function main() {
  const cfg = config();
  const deadline = setTimeout(() => {
    process.stderr.write(`FAIL: the run overran ${RUN_MS} ms during: ${step}\n`);
    process.exit(2);
  }, RUN_MS);
  deadline.unref();

  const websocket = { transports: ['websocket'] };
  const defaults = {}; // polling first, then the upgrade to websocket

  const passes = [];
  const one = await runPass(cfg, 'websocket', websocket, null);
  passes.push(one.summary);
  for (const who of ['customer', 'vendor']) {
    assert.equal(one.summary.transports[who].first, 'websocket', `websocket pass: ${who} transport`);
  }
  const two = await runPass(cfg, 'polling', defaults, one.next);
  passes.push(two.summary);
  for (const who of ['customer', 'vendor']) {
    const t = two.summary.transports[who];
    assert.equal(t.first, 'polling', `default transports: the ${who} starts with polling`);
    assert.equal(t.upgradedTo, 'websocket', `default transports: the ${who}'s connection was not upgraded: ${show(t)}`);
  }

  const badTokens = [['malformed', 'not-a-jwt']];
  if (cfg.expiredToken) badTokens.push(['expired', cfg.expiredToken]);
  let refusals = 0;
  for (const [kind, token] of badTokens) {
    for (const namespace of ['/presence', '/chat']) {
      for (const [label, options] of [['websocket', websocket], ['polling', defaults]]) {
        await refused(cfg, namespace, token, options, `${kind}, ${label}`);
        refusals += 1;
      }
    }
  }

  clearTimeout(deadline);
  const version = require('socket.io-client/package.json').version;
  process.stdout.write(`${JSON.stringify({ ok: true, node: process.version, socketIoClient: version, passes, refusals })}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    const detail = err && err.stack ? err.stack : String(err);
    process.stderr.write(`FAIL during: ${step}\n${detail}\n`);
    process.exit(1);
  },
);
