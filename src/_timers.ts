// Time for downloads: `sleep` (a backoff that a cancel cuts short), and the
// `Watchdog`, a timeout that can be pushed back cheaply: `touch()` only
// records the time, and the one timer re-arms itself for what is left when it
// fires early, so a busy body costs no timer calls per chunk. `restart()`
// moves it to another limit the same way: a download's connect and idle
// timeouts share one timer. Both run on `clock` (`_clock.ts`).

import { clock, type TimerHandle } from "./_clock.ts";

/** The longest delay `setTimeout` takes; longer ones fire at once. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * Resolves after `ms` (any length: long waits re-arm in steps `setTimeout`
 * can take), or rejects with the signal's reason when it aborts.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const end = clock.now() + ms;
    let timer: TimerHandle | undefined;
    function arm(delay: number): void {
      timer = clock.setTimeout(() => {
        const left = end - clock.now();
        if (left > 1) arm(left);
        else {
          signal.removeEventListener("abort", onAbort);
          resolve();
        }
      }, Math.min(delay, MAX_TIMER_DELAY));
    }
    function onAbort(): void {
      clock.clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener("abort", onAbort, { once: true });
    arm(ms);
  });
}

/** Calls `onTimeout` once `ms` pass without a `touch()`. */
export class Watchdog {
  #ms: number;
  #onTimeout: () => void;
  #last = 0;
  #timer: TimerHandle | undefined;
  /** When the timer fires (`clock.now()` time). */
  #due = 0;

  /**
   * Starts the watch.
   *
   * @param ms The limit; `Infinity` or 0 disables it.
   * @param onTimeout Called once, when the limit passes.
   */
  constructor(ms: number, onTimeout: () => void) {
    this.#ms = ms;
    this.#onTimeout = onTimeout;
    if (ms > 0 && Number.isFinite(ms)) {
      this.#last = clock.now();
      this.#arm(ms);
    }
  }

  /** Pushes the limit back to `ms` from now. */
  touch(): void {
    this.#last = clock.now();
  }

  /**
   * Watches anew: calls `onTimeout` (instead of the earlier callback) once
   * `ms` pass from now without a `touch()`. A timer that fires no later than
   * that is kept: it re-arms itself for what is left.
   *
   * @param ms The limit; `Infinity` or 0 disables the watch.
   * @param onTimeout Called once, when the limit passes.
   */
  restart(ms: number, onTimeout: () => void): void {
    this.#ms = ms;
    this.#onTimeout = onTimeout;
    if (!(ms > 0 && Number.isFinite(ms))) return this.stop();
    this.#last = clock.now();
    if (this.#timer !== undefined && this.#due <= this.#last + ms) return;
    clock.clearTimeout(this.#timer);
    this.#arm(ms);
  }

  /** Stops the watch (until a `restart()`). */
  stop(): void {
    clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(delay: number): void {
    const bounded = Math.min(delay, MAX_TIMER_DELAY);
    this.#due = clock.now() + bounded;
    this.#timer = clock.setTimeout(() => {
      const left = this.#last + this.#ms - clock.now();
      if (left > 1) this.#arm(left);
      else {
        this.#timer = undefined;
        this.#onTimeout();
      }
    }, bounded);
  }
}
