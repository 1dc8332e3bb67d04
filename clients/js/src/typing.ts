// Typing notices, throttled: the server allows a user a few a second (SLYCHAT_RATE_TYPING)
// and the other side needs far fewer. While keys keep coming, `typing` goes out at most
// once per `interval`; after `idle` without a key, one `stoppedTyping`.

export interface TypingTarget {
  productId: string;
  recipientId: number;
}

export interface TypingOptions {
  interval?: number;
  idle?: number;
  now?: () => number;
  setTimer?: (f: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

export class TypingNotifier {
  private readonly interval: number;
  private readonly idle: number;
  private readonly now: () => number;
  private readonly setTimer: (f: () => void, ms: number) => unknown;
  private readonly clearTimer: (t: unknown) => void;
  private target: TypingTarget | null = null; // where the last `typing` went; null: not typing
  private lastSent = -Infinity;
  private quietUntil = -Infinity; // after a 429: nothing until then
  private timer: unknown = null;

  /** send(event, target): emits `typing` / `stoppedTyping` for target {productId, recipientId}. */
  constructor(
    private readonly send: (event: "typing" | "stoppedTyping", target: TypingTarget) => void,
    { interval = 2000, idle = 3000, now = () => Date.now(),
      setTimer = (f, ms) => setTimeout(f, ms),
      clearTimer = (t) => clearTimeout(t as ReturnType<typeof setTimeout>) }: TypingOptions = {},
  ) {
    this.interval = interval;
    this.idle = idle;
    this.now = now;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
  }

  /** A key was pressed in the composer of the chat `target` names. */
  input(target: TypingTarget): void {
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

  /** The message was sent, the chat closed, or the user went quiet: one stoppedTyping. */
  stop(): void {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    if (this.target === null) return;
    const target = this.target;
    this.target = null;
    this.lastSent = -Infinity;
    if (this.now() >= this.quietUntil) this.send("stoppedTyping", target);
  }

  /** The server refused a notice (429): stay quiet for `seconds`. */
  pause(seconds: number): void {
    this.quietUntil = this.now() + Math.max(0, seconds) * 1000;
  }
}

function sameTarget(a: TypingTarget, b: TypingTarget): boolean {
  return a.productId === b.productId && a.recipientId === b.recipientId;
}
