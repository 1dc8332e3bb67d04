// The demo page's typing throttle: slychat-client's TypingNotifier (clients/js/src/typing.ts), on a fake clock.
import assert from "node:assert/strict";
import { test } from "node:test";

import { TypingNotifier } from "../../../clients/js/dist/index.mjs";

function harness() {
  const clock = { now: 0, timers: [] };
  const sent = [];
  const notifier = new TypingNotifier((event, target) => sent.push([clock.now, event, target.productId]), {
    now: () => clock.now,
    setTimer: (fn, ms) => {
      const timer = { at: clock.now + ms, fn };
      clock.timers.push(timer);
      return timer;
    },
    clearTimer: (timer) => {
      clock.timers = clock.timers.filter((t) => t !== timer);
    },
  });
  const advance = (to) => {
    for (;;) {
      const due = clock.timers.filter((t) => t.at <= to).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      clock.timers = clock.timers.filter((t) => t !== due);
      clock.now = due.at;
      due.fn();
    }
    clock.now = to;
  };
  return { clock, sent, notifier, advance };
}

const LAMP = { productId: "lamp", recipientId: 7 };
const MUG = { productId: "mug", recipientId: 7 };

test("a key every 250 ms sends one notice per 2 s, then one stop after 3 s idle", () => {
  const { sent, notifier, advance } = harness();
  for (let t = 0; t <= 5000; t += 250) {
    advance(t);
    notifier.input(LAMP);
  }
  advance(20000);
  assert.deepEqual(sent, [
    [0, "typing", "lamp"], [2000, "typing", "lamp"], [4000, "typing", "lamp"],
    [8000, "stoppedTyping", "lamp"],
  ]);
});

test("sending stops at once, and only once", () => {
  const { sent, notifier, advance } = harness();
  notifier.input(LAMP);
  advance(500);
  notifier.stop();
  notifier.stop();
  advance(10000);
  assert.deepEqual(sent.map((s) => s[1]), ["typing", "stoppedTyping"]);
});

test("typing in another chat stops the first", () => {
  const { sent, notifier } = harness();
  notifier.input(LAMP);
  notifier.input(MUG);
  assert.deepEqual(sent.map((s) => `${s[1]}:${s[2]}`), ["typing:lamp", "stoppedTyping:lamp", "typing:mug"]);
});

test("after a 429 the notifier stays quiet until retryAfter has passed", () => {
  const { sent, notifier, advance } = harness();
  notifier.pause(1.5);
  notifier.input(LAMP);
  advance(1000);
  notifier.input(LAMP);
  assert.deepEqual(sent, []);
  advance(1600);
  notifier.input(LAMP);
  assert.deepEqual(sent.map((s) => s[1]), ["typing"]);
});
