'use strict';
/*
 * A client written the plain way, with no reconnection code of its own: the official
 * `socket.io-client` must come back by itself after the server it was on drains and stops
 * (a graceful shutdown closes the transport; it never sends "io server disconnect").
 *
 * Run by tests/e2e/test_shutdown.py, which stops the server once this script prints its
 * first `connect` line and starts another on the same address. Environment: SLYCHAT_URL,
 * CUSTOMER_ID, CUSTOMER_TOKEN, VENDOR_ID, TRANSPORTS (comma-separated). One JSON line per
 * step on stdout; exit code 0 once a message is acked after the reconnection, 1 on a
 * failure, 2 when the deadline passes.
 */

const { io } = require('socket.io-client');

const RUN_MS = 40000;
const env = process.env;
const transports = (env.TRANSPORTS || 'websocket').split(',');
const options = {
  auth: { token: env.CUSTOMER_TOKEN },
  transports,
  reconnectionDelay: 200,
  reconnectionDelayMax: 1000,
};

function say(line) {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

setTimeout(() => {
  say({ event: 'deadline' });
  process.exit(2);
}, RUN_MS).unref();

// One connection (one Manager) carrying both namespaces, as the platform's clients do.
const presence = io(`${env.SLYCHAT_URL}/presence`, options);
const chat = io(`${env.SLYCHAT_URL}/chat`, options);
let connects = 0;

// `details` says why a transport failed (the request's status, or the socket error).
function describe(details) {
  if (!details) return undefined;
  const { description, context, message } = details;
  const status = context && context.status;
  return { message, description: description && String(description.message || description), status };
}
presence.on('disconnect', (reason, details) =>
  say({ event: 'disconnect', ns: '/presence', reason, details: describe(details) }),
);
chat.on('disconnect', (reason, details) =>
  say({ event: 'disconnect', ns: '/chat', reason, details: describe(details) }),
);
chat.on('connect', () => {
  connects += 1;
  say({ event: 'connect', n: connects });
  if (connects < 2) return;
  chat.emit(
    'sendMessage',
    {
      productId: `reconnect-${env.CUSTOMER_ID}`,
      recipientId: Number(env.VENDOR_ID),
      text: 'back after the restart',
      clientMessageId: `js-${env.CUSTOMER_ID}`,
      productName: 'Wireless Headphones',
      productPrice: '299.99',
      storeName: 'Tech Haven',
      customerName: 'John Doe',
    },
    (ack) => {
      say({ event: 'ack', ack });
      process.exit(ack && ack.error === false ? 0 : 1);
    },
  );
});
