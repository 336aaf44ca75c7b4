// Whether a file in a manager's directory may be used as it is, or must be
// asked of the server again: the `revalidate` option's meaning. A file with a
// record (see `_disk/record.ts`) is fresh while the server vouched for it
// within `maxAge`, or after the revalidation was asked for (another process
// checked it meanwhile: one request for both). A file without one (from an
// older version, or copied in) is unknown: fresh while its modification time
// is within `maxAge`, and downloaded again, unconditionally, after. A time
// well in the future (a clock set wrong) proves nothing: not fresh.

import type { CacheRecord, FileFacts } from "./_disk/record.ts";
import type { Revalidate } from "./download_manager_options.ts";

/**
 * The wall clock, in milliseconds since the epoch, finer than a millisecond:
 * a check and a revalidation asked for in the same millisecond (by two
 * processes) are still ordered.
 */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * How far after now a time may be and still be taken as now, in ms: the
 * clocks of processes (their {@linkcode wallClock}s drift apart) and of a
 * network file system's server differ by a little. A check or a file
 * dated further ahead comes from a clock set wrong (set back since, or
 * another machine's), and proves nothing about its age.
 */
export const CLOCK_SLACK = 60_000;

/** A revalidation asked for, as a job carries it. */
export interface Revalidation {
  /** How long a check stays good, in ms (`0`: `"always"`). */
  maxAge: number;
  /** When it was asked for ({@linkcode wallClock}). */
  since: number;
}

/**
 * The `maxAge` of `revalidate`, or `undefined` for `"never"`; a
 * `RangeError` for anything else than those or a number of 0 or more.
 */
export function maxAgeOf(
  revalidate: Revalidate,
  context: string,
): number | undefined {
  if (revalidate === "never" || revalidate === Infinity) return undefined;
  if (revalidate === "always") return 0;
  if (typeof revalidate !== "number" || !(revalidate >= 0)) {
    throw new RangeError(
      `${context}: revalidate must be "never", "always" or milliseconds of 0 or more, got ${
        String(revalidate)
      }`,
    );
  }
  return revalidate;
}

/**
 * Whether the file `facts` describes, with `record` (if it has one), may be
 * used as it is at `now` under `revalidation`.
 */
export function isFresh(
  revalidation: Revalidation,
  record: CacheRecord | undefined,
  facts: FileFacts,
  now: number,
): boolean {
  const { maxAge, since } = revalidation;
  const dated = record === undefined ? facts.mtime : record.checked;
  if (dated - now > CLOCK_SLACK) return false;
  if (record === undefined) return maxAge > 0 && now - facts.mtime < maxAge;
  return record.checked > since || now - record.checked < maxAge;
}
