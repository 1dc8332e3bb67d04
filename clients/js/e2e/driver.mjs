// Drives SlyChat clients for the end-to-end tests (tests/e2e/test_client_package.py), in
// Node against a real slychat server. One JSON command per line on stdin, one JSON answer
// per line on stdout: {"id", "result"} or {"id", "error": {statusCode, message}}. Commands
// run concurrently (a `send` answers when its message is stored), so the test can stop and
// start the server while sends are on their way.
//
//   {"id": 1, "op": "open", "name": "c", "url": "...", "tokens": ["jwt", ...], "storage": "/path.json"}
//       a client; its token function hands out `tokens` one per call (the last one again
//       once they run out); `storage`: a JSON file standing in for localStorage
//   {"id": 2, "op": "call", "name": "c", "method": "connect" | "send" | ..., "args": [...]}
//   {"id": 3, "op": "state", "name": "c"}     status, chats, pending, what it heard and sent
//   {"id": 4, "op": "tokens", "name": "c", "tokens": [...]}   what the token function hands out next
//   {"id": 5, "op": "until", "name": "c", "status": "online"}  answers once the status is reached
//   {"id": 6, "op": "upload", "name": "c", "target": {...}, "files": [{name, type, base64}], "options": {...}}

import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";

import * as socketIo from "socket.io-client";

import { SlyChat } from "../dist/index.mjs";

const clients = new Map();

function fileStorage(path) {
  const load = () => {
    try {
      return JSON.parse(readFileSync(path, "utf8"));
    } catch {
      return {};
    }
  };
  const save = (items) => {
    writeFileSync(`${path}.tmp`, JSON.stringify(items));
    renameSync(`${path}.tmp`, path); // whole or not at all, as a browser's storage
  };
  return {
    getItem: (key) => load()[key] ?? null,
    setItem: (key, value) => save({ ...load(), [key]: String(value) }),
    removeItem: (key) => {
      const items = load();
      delete items[key];
      save(items);
    },
  };
}

/** socket.io-client, with every event the client emits on /chat recorded. */
function recordingIo(sent) {
  return {
    Manager: class extends socketIo.Manager {
      socket(namespace, options) {
        const socket = super.socket(namespace, options);
        if (namespace === "/chat" && !socket.__recorded) {
          socket.__recorded = true;
          const emit = socket.emit.bind(socket);
          socket.emit = (event, ...args) => {
            sent.push({ event, payload: typeof args[0] === "function" ? null : args[0] });
            return emit(event, ...args);
          };
        }
        return socket;
      }
    },
  };
}

function open({ name, url, tokens, storage, options = {} }) {
  const entry = { tokens: [...tokens], tokenCalls: 0, heard: [], sent: [], statuses: [] };
  const token = () => {
    entry.tokenCalls += 1;
    return entry.tokens.length > 1 ? entry.tokens.shift() : entry.tokens[0];
  };
  const client = new SlyChat({ url, token, io: recordingIo(entry.sent), reconnectionDelay: 200,
    reconnectionDelayMax: 1000, ...(storage ? { storage: fileStorage(storage) } : {}), ...options });
  for (const event of ["message", "chat", "chats", "edited", "deleted", "read", "delivered", "reactions",
    "typing", "presence", "blocked", "status", "rateLimited", "error"]) {
    client.on(event, (value) => {
      entry.heard.push({ event, value: event === "chats" ? value.length : summary(event, value) });
      if (event === "status") {
        entry.statuses.push(value);
        for (const waiter of entry.waiters ?? []) waiter();
      }
    });
  }
  entry.client = client;
  entry.waiters = [];
  clients.set(name, entry);
  return {};
}

function summary(event, value) {
  if (event === "error") return { statusCode: value.statusCode, message: value.message };
  return value;
}

function state(entry) {
  const c = entry.client;
  return { status: c.status, me: c.me, chats: c.chats, pending: c.pending(), blockedUsers: c.blockedUsers, heard: entry.heard,
    sent: entry.sent, statuses: entry.statuses, tokenCalls: entry.tokenCalls };
}

async function run(command) {
  const entry = clients.get(command.name);
  switch (command.op) {
    case "open":
      return open(command);
    case "call": {
      const result = await entry.client[command.method](...(command.args ?? []));
      if (command.method === "close") await entry.client.flushed();
      return result ?? null;
    }
    case "state":
      return state(entry);
    case "upload": {
      // Node 18+ has Blob: files go as the bytes with a name and a type, as an app holds them.
      const files = command.files.map((f, i) => (i % 2 === 0
        ? { name: f.name, type: f.type, data: Buffer.from(f.base64, "base64") }
        : new Blob([Buffer.from(f.base64, "base64")], { type: f.type })));
      return entry.client.upload(command.target, files, command.options ?? {});
    }
    case "tokens":
      entry.tokens = [...command.tokens];
      return {};
    case "until":
      while (entry.client.status !== command.status) {
        await new Promise((resolve) => entry.waiters.push(resolve));
      }
      entry.waiters = [];
      return {};
    case "exit":
      for (const e of clients.values()) e.client.close();
      await Promise.all([...clients.values()].map((e) => e.client.flushed()));
      setTimeout(() => process.exit(0), 0);
      return {};
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

function answer(line) {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

createInterface({ input: process.stdin }).on("line", (line) => {
  if (!line.trim()) return;
  const command = JSON.parse(line);
  run(command).then(
    (result) => answer({ id: command.id, result }),
    (err) => answer({ id: command.id, error: { statusCode: err?.statusCode ?? null, message: String(err?.message ?? err) } }),
  );
});
