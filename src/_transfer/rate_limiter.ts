// A bandwidth limit that several connections draw from: the bytes each one
// has read are paid for in time before it reads again. A connection that
// read `n` bytes waits until the limit's schedule has room for them; the
// schedule is shared, so four connections under one limit get a quarter of
// it each, and what one leaves unused the others take. Bytes are never held
// back: a read is paid for after it (the bytes are in memory already), so
// the file runs ahead of the limit by at most the last read of each
// connection, and by a credit (`creditOf`) that absorbs timer lateness: a
// connection woken late reads what it missed, up to that. Under a limit a
// read takes what the limit allows in a tenth of a second (`pacedReadOf`,
// 1 KiB at least, a chunk at most), so the bytes reach the file, and
// progress is told, steadily (at 50 KiB/s a chunk of 256 KiB took 5 s),
// and eight connections at 20 KiB/s start with 36 KiB at once, not 588 KB.
// The credit is one such read, or `CREDIT_TIME` of the limit when that is
// more: at 200 MiB/s a chunk lasts 1.25 ms, less than a timer's lateness
// and the writes between two reads, and a limit held to a chunk gave
// 150 MiB/s.
//
// The limit can change at any time: waiting connections re-plan at once,
// and what they owe is converted to the new rate. Listeners hear when a
// limit appears where there was none (the runtime's pipe, which no limit
// can pace, then hands over to reads that can be).

import { clock } from "../_clock.ts";
import { MAX_TIMER_DELAY } from "../_timers.ts";

/**
 * The least limit, in bytes per second: a limit is refused below it
 * (`rateOf`). Fractions of a byte a second mean nothing to a download, and
 * far below it the schedule's arithmetic overflows: at 1e-300 a read cost
 * `Infinity` ms and was not held back at all, at 5e-324 waits became
 * `NaN` and the timers spun at 0 ms.
 */
export const MIN_RATE = 1;

/**
 * The time one paced read is worth at its limit, in milliseconds: under a
 * limit a read takes no more than this share of a second's bytes (see
 * `pacedReadOf`), so bytes reach the file, and progress is told, about ten
 * times a second, however low the limit.
 */
export const PACED_READ_TIME = 100;

/**
 * The least bytes a paced read may take: below 10 KiB/s reads are this
 * size and come less often (once a second at 1 KiB/s), not smaller.
 */
export const MIN_PACED_READ = 1024;

/**
 * The most bytes one read may take under `rate` (bytes per second): what
 * the limit allows in `PACED_READ_TIME`, or `MIN_PACED_READ`.
 */
export function pacedReadOf(rate: number): number {
  return Math.max(MIN_PACED_READ, Math.floor(rate * PACED_READ_TIME / 1000));
}

/** The most bytes the schedule may lag behind the clock, but for `CREDIT_TIME`: one default chunk. */
export const CREDIT = 256 * 1024;

/** The least time the schedule may lag behind the clock, in milliseconds. */
export const CREDIT_TIME = 5;

/**
 * The bytes the schedule may lag behind the clock under `rate`: one paced
 * read (`pacedReadOf`), up to a chunk (`CREDIT`), or `CREDIT_TIME` of the
 * limit when that is more.
 */
export function creditOf(rate: number): number {
  return Math.max(
    Math.min(CREDIT, pacedReadOf(rate)),
    rate * CREDIT_TIME / 1000,
  );
}

/** A shared bandwidth limit (see the module comment). */
export class RateLimiter {
  #rate: number;
  // When the bytes taken so far are paid for (`clock.now()` time), and
  // how many were taken in all: a read waits for its own place in the
  // schedule (its end less what was taken after it), not for the end,
  // which the others push on while it sleeps.
  #paidUntil = -Infinity;
  #taken = 0;
  // Wakes the connections waiting now (the limit changed), and who hears a
  // limit appear. Made when first needed: every download has a limiter of
  // its own, and most never have a limit.
  #wakers: Set<() => void> | undefined;
  #listeners: Set<() => void> | undefined;

  /** @param rate Bytes per second; `Infinity` for no limit. */
  constructor(rate: number = Infinity) {
    this.#rate = rate;
  }

  /** The limit, in bytes per second (`Infinity`: none). */
  get rate(): number {
    return this.#rate;
  }

  /** Whether there is a limit now. */
  get limited(): boolean {
    return this.#rate !== Infinity;
  }

  /**
   * Changes the limit; `Infinity` lifts it. Connections waiting now re-plan
   * at the new rate, owing the same bytes.
   */
  set(rate: number): void {
    const now = clock.now();
    const wasLimited = this.limited;
    if (wasLimited && this.#paidUntil > now) {
      // What is owed, at the new rate.
      this.#paidUntil = now + (this.#paidUntil - now) * this.#rate / rate;
    } else if (!wasLimited) {
      this.#paidUntil = -Infinity; // a new schedule
    }
    this.#rate = rate;
    for (const wake of [...this.#wakers ?? []]) wake();
    if (!wasLimited && this.limited) {
      for (const listener of [...this.#listeners ?? []]) listener();
    }
  }

  /**
   * Calls `listener` whenever a limit is set where there was none. Returns
   * the function that stops it.
   */
  onLimited(listener: () => void): () => void {
    const listeners = this.#listeners ??= new Set();
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  /**
   * Pays for `bytes` just read: resolves once the limit allows the next
   * read (at once without a limit). Rejects with the signal's reason if it
   * aborts meanwhile. Returns the milliseconds waited.
   */
  async take(bytes: number, signal: AbortSignal): Promise<number> {
    if (!this.limited) return 0;
    const start = clock.now();
    this.#paidUntil = Math.max(this.#paidUntil, start) +
      bytes * 1000 / this.#rate;
    const mine = this.#taken += bytes;
    for (;;) {
      // Its place: where the schedule was once these bytes were taken, at
      // the rate now. Up to the credit may be read ahead of it.
      const wait = this.#paidUntil -
        (this.#taken - mine + creditOf(this.#rate)) * 1000 / this.#rate -
        clock.now();
      if (wait <= 0 || !this.limited) break;
      await this.#nap(wait, signal);
    }
    return clock.now() - start;
  }

  /** Waits `ms`, or until the limit changes; rejects if `signal` aborts. */
  #nap(ms: number, signal: AbortSignal): Promise<void> {
    const wakers = this.#wakers ??= new Set();
    return new Promise((resolve, reject) => {
      signal.throwIfAborted();
      const end = (): void => {
        clock.clearTimeout(timer);
        wakers.delete(wake);
        signal.removeEventListener("abort", abort);
      };
      const wake = (): void => {
        end();
        resolve();
      };
      const abort = (): void => {
        end();
        reject(signal.reason);
      };
      const timer = clock.setTimeout(wake, Math.min(ms, MAX_TIMER_DELAY));
      wakers.add(wake);
      signal.addEventListener("abort", abort, { once: true });
    });
  }
}

/**
 * The limits one download's reads are paced by: its own, and its
 * manager's, shared with its other downloads.
 */
export class Throttle {
  /** The limits, each paid in turn. */
  readonly limiters: readonly RateLimiter[];

  /** @param limiters The limits (none: reads are never held back). */
  constructor(limiters: readonly RateLimiter[]) {
    this.limiters = limiters;
  }

  /** Whether any limit holds now (asked at every read: a plain loop). */
  get limited(): boolean {
    for (const limiter of this.limiters) {
      if (limiter.limited) return true;
    }
    return false;
  }

  /**
   * The most bytes the next read may take: `most`, or less while a limit
   * holds (`pacedReadOf` the lowest). A plain loop: asked at every read.
   */
  readSize(most: number): number {
    let size = most;
    for (const limiter of this.limiters) {
      if (limiter.limited) size = Math.min(size, pacedReadOf(limiter.rate));
    }
    return size;
  }

  /** Pays for `bytes` under every limit; returns the milliseconds waited. */
  async take(bytes: number, signal: AbortSignal): Promise<number> {
    let waited = 0;
    for (const limiter of this.limiters) {
      waited += await limiter.take(bytes, signal);
    }
    return waited;
  }

  /** Calls `listener` when any of the limits appears; returns its remover. */
  onLimited(listener: () => void): () => void {
    const removers = this.limiters.map((limiter) =>
      limiter.onLimited(listener)
    );
    return () => removers.forEach((remove) => remove());
  }
}
