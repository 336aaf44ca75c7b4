// A clock for the library's timers (src/_clock.ts) that moves only when the
// test moves it: a connect or idle timeout, a minSpeed window, a backoff or
// a wait for a host's transfer runs out when the test says, after the event
// it waits for, so no pause of a loaded machine (a process stopped for a
// second or three) can run it out first. A timer due now (a delay of 0 or
// less) fires by itself, on the runtime's next turn, as a real one would.
//
// Install it before the downloads it times are made, and let it go (`using`)
// after they are done: every timer the library sets meanwhile is its own.

import { type Clock, type TimerHandle, useClock } from "../../src/_clock.ts";

interface Timer {
  /** When it fires, on this clock. */
  due: number;
  /** The delay it was set with. */
  delay: number;
  callback: () => void;
}

/** A {@linkcode Clock} that moves by {@linkcode ManualClock.advance} alone. */
export class ManualClock implements Clock {
  // Far from 0, as `performance.now()` is in a process that ran a while.
  #now = 1_000_000;
  #timers = new Set<Timer>();
  #armed: { delay: number; resolve: () => void }[] = [];
  #previous: Clock;

  /** Puts this clock in place of the library's (see {@linkcode useManualClock}). */
  constructor() {
    this.#previous = useClock(this);
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer: Timer = {
      due: this.#now + Math.max(0, ms),
      delay: ms,
      callback,
    };
    this.#timers.add(timer);
    if (ms <= 0) setTimeout(() => this.#fire(timer), 0);
    this.#armed = this.#armed.filter((waiter) => {
      if (waiter.delay !== ms) return true;
      waiter.resolve();
      return false;
    });
    return timer;
  }

  clearTimeout(timer: TimerHandle | undefined): void {
    this.#timers.delete(timer as Timer);
  }

  /**
   * Moves the time on by `ms`, firing each timer that falls due on the way,
   * in order, at its time (those the fired ones set too), all before it
   * returns: nothing else runs in between.
   */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: Timer | undefined;
      for (const timer of this.#timers) {
        if (timer.due <= end && (next === undefined || timer.due < next.due)) {
          next = timer;
        }
      }
      if (next === undefined) break;
      this.#now = Math.max(this.#now, next.due);
      this.#fire(next);
    }
    this.#now = end;
  }

  /**
   * Moves the time on by `ms` firing nothing, as for a process stopped that
   * long (SIGSTOP): the timers due meanwhile fire late, at the next
   * {@linkcode ManualClock.advance} (`advance(0)`: as the process runs again).
   */
  jump(ms: number): void {
    this.#now += ms;
  }

  /**
   * Resolves once a timer set with a delay of `ms` is pending (at once if
   * one is): the library is waiting on it.
   */
  armed(ms: number): Promise<void> {
    for (const timer of this.#timers) {
      if (timer.delay === ms) return Promise.resolve();
    }
    return new Promise((resolve) => this.#armed.push({ delay: ms, resolve }));
  }

  /** Puts back the clock this one replaced. */
  [Symbol.dispose](): void {
    useClock(this.#previous);
  }

  #fire(timer: Timer): void {
    if (!this.#timers.delete(timer)) return;
    timer.callback();
  }
}

/**
 * Runs the library's timers on a new {@linkcode ManualClock} until it is
 * disposed of.
 *
 * @example
 * ```ts
 * using clock = useManualClock();
 * // ... start a download, wait for its body to stall ...
 * clock.advance(60_000); // its idle timeout, and nothing else, runs out
 * ```
 */
export function useManualClock(): ManualClock {
  return new ManualClock();
}

/**
 * Lets each backoff of `download` pass as soon as it is waited for (its
 * `retry` event tells how long it is): a test of what comes after a retry,
 * on a clock that moves only when told.
 *
 * @example
 * ```ts
 * import { Download } from "../../mod.ts";
 *
 * using clock = useManualClock();
 * const download = new Download("http://127.0.0.1:9/f", "f", {
 *   backoffBase: 1,
 *   backoffCap: 5,
 * });
 * skipBackoffs(clock, download);
 * ```
 */
export function skipBackoffs(clock: ManualClock, download: EventTarget): void {
  download.addEventListener("retry", async (event) => {
    const { delay } = event as Event & { delay: number };
    await clock.armed(delay);
    clock.advance(delay);
  });
}
