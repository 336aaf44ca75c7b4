// A timeout that can be pushed back cheaply: `touch()` only records the time,
// and the one timer re-arms itself for what is left when it fires early, so a
// busy body costs no timer calls per chunk.

import { MAX_TIMER_DELAY } from "./_retry.ts";

/** Calls `onTimeout` once `ms` pass without a `touch()`. */
export class Watchdog {
  #ms: number;
  #onTimeout: () => void;
  #last = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

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
      this.#last = performance.now();
      this.#arm(ms);
    }
  }

  /** Pushes the limit back to `ms` from now. */
  touch(): void {
    this.#last = performance.now();
  }

  /** Stops the watch for good. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(delay: number): void {
    this.#timer = setTimeout(() => {
      const left = this.#last + this.#ms - performance.now();
      if (left > 1) this.#arm(left);
      else {
        this.#timer = undefined;
        this.#onTimeout();
      }
    }, Math.min(delay, MAX_TIMER_DELAY));
  }
}
