// The time the library's timers run on: what time it is (`now()`,
// milliseconds on `performance.now()`'s scale) and callbacks after a delay.
// The backoff's sleep, the connect and idle timeouts (`_timers.ts`), the
// minSpeed check (`_transfer/speed_check.ts`), the wait for a host's
// transfer (`_transfer/budget.ts`), the rate limit's pace
// (`_transfer/rate_limiter.ts`) and the times a `Retry-After` is measured
// against (`_job.ts`, `_transfer/sources.ts`) all read `clock`, and nothing
// else: they agree on what time it is.
//
// `clock` is the system's (`performance.now()`, `setTimeout`) unless a test
// puts another in its place with `useClock()` (tests/_helpers/manual_clock.ts
// moves only when the test says), so that a test of a timeout asserts what
// happens when the time is up, not that a loaded machine kept to a schedule.
// Nothing else swaps it: one clock per process, read where the time is needed.

/** A pending callback of a {@linkcode Clock}: what its `setTimeout` returns. */
export type TimerHandle = unknown;

/** A source of time and of timers. */
export interface Clock {
  /** Milliseconds, on a monotonic scale (`performance.now()`'s). */
  now(): number;
  /** Calls `callback` once, `ms` from now (at once for 0 or less). */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  /** Cancels a pending callback; `undefined` or a spent one is ignored. */
  clearTimeout(timer: TimerHandle | undefined): void;
}

/** The system's clock: `performance.now()` and the runtime's timers. */
export const SYSTEM_CLOCK: Clock = {
  now: (): number => performance.now(),
  setTimeout: (callback: () => void, ms: number): TimerHandle =>
    setTimeout(callback, ms),
  clearTimeout: (timer: TimerHandle | undefined): void =>
    clearTimeout(timer as ReturnType<typeof setTimeout> | undefined),
};

/** The clock the library's timers run on (see the module comment). */
export let clock: Clock = SYSTEM_CLOCK;

/**
 * Makes `next` the clock of every timer set from now on, and every reading
 * of the time; returns the clock it replaces, to be put back.
 *
 * @example Run a test on a clock of its own
 * ```ts
 * import { SYSTEM_CLOCK, useClock } from "./_clock.ts";
 *
 * const previous = useClock(SYSTEM_CLOCK);
 * try {
 *   // ... downloads whose timers run on that clock ...
 * } finally {
 *   useClock(previous);
 * }
 * ```
 */
export function useClock(next: Clock): Clock {
  const previous = clock;
  clock = next;
  return previous;
}
