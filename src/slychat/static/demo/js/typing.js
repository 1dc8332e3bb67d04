// Typing notices, throttled: the server allows a user a few a second (SLYCHAT_RATE_TYPING,
// default "2/s:4"), and the other side needs far fewer. While keys keep coming, `typing`
// goes out at most once per `interval`; after `idle` without a key, one `stoppedTyping`.

export class TypingNotifier {
  // send(event, target): emits `typing` / `stoppedTyping` for target {productId, recipientId}.
  constructor(send, { interval = 2000, idle = 3000, now = () => Date.now(),
    setTimer = (f, ms) => setTimeout(f, ms), clearTimer = (t) => clearTimeout(t) } = {}) {
    this.send = send;
    this.interval = interval;
    this.idle = idle;
    this.now = now;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.target = null; // where the last `typing` went; null: not typing
    this.lastSent = -Infinity;
    this.quietUntil = -Infinity; // after a 429: nothing until then
    this.timer = null;
  }

  // A key was pressed in the composer of the chat `target` names.
  input(target) {
    if (this.target && !sameTarget(this.target, target)) this.stop();
    const now = this.now();
    if (now >= this.quietUntil && (this.target === null || now - this.lastSent >= this.interval)) {
      this.send("typing", target);
      this.target = target;
      this.lastSent = now;
    }
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = this.setTimer(() => this.stop(), this.idle);
  }

  // The message was sent, the chat closed, or the user went quiet: one stoppedTyping.
  stop() {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    if (this.target === null) return;
    const target = this.target;
    this.target = null;
    this.lastSent = -Infinity;
    if (this.now() >= this.quietUntil) this.send("stoppedTyping", target);
  }

  // The server refused a notice (429): stay quiet for `seconds`.
  pause(seconds) {
    this.quietUntil = this.now() + Math.max(0, seconds) * 1000;
  }
}

function sameTarget(a, b) {
  return a.productId === b.productId && a.recipientId === b.recipientId;
}
