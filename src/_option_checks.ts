// Checks of option values, shared by every options object: each returns
// the value if it is in range, else throws a `RangeError` (a `TypeError` for
// a wrong type: a number given as a string, "5M") whose message starts with
// `context` (`Cannot download "<url>"`, `Cannot create DownloadManager`) and
// names the option.

import { MIN_RATE } from "./_transfer/rate_limiter.ts";

/**
 * The error for `value`, not what `rule` says: a `TypeError` when it is not
 * a number at all, else a `RangeError`.
 */
export function outOfRange(
  context: string,
  rule: string,
  value: unknown,
): TypeError | RangeError {
  const message = `${context}: ${rule}, got ${String(value)}`;
  return typeof value === "number"
    ? new RangeError(message)
    : new TypeError(message);
}

/**
 * An options argument, checked: `value` if it is an object, `{}` for
 * `undefined`; else a `TypeError` whose message starts with `context` and
 * shows `example`. A value given where the options go, as the Python seed
 * takes it (`PersistLimit(size, 1)`, `download(url, "data.csv")`, a
 * callback), would otherwise be read as no options at all.
 */
export function optionsOf<T extends object>(
  context: string,
  value: T | undefined,
  example: string,
): T {
  if (value === undefined) return {} as T;
  if (typeof value === "object" && value !== null) return value;
  const given: unknown = value;
  const shown = typeof given === "string"
    ? JSON.stringify(given)
    : typeof given === "function"
    ? "a function"
    : String(given);
  throw new TypeError(
    `${context}: options must be an object, such as ${example}, got ${shown}`,
  );
}

/**
 * A bandwidth limit, checked: at least `MIN_RATE` bytes per second, or
 * `Infinity` (also for `undefined`: no limit); else a `RangeError` whose
 * message starts with `context` (e.g. `Cannot download "<url>"`).
 */
export function rateOf(value: number | undefined, context: string): number {
  const rate = value ?? Infinity;
  if (typeof rate !== "number" || !(rate >= MIN_RATE)) {
    throw outOfRange(
      context,
      "rateLimit must be at least 1 byte per second, or Infinity",
      value,
    );
  }
  return rate;
}

/** A minimum speed: 0 or more bytes per second, finite. */
export function speedOf(context: string, value: number): number {
  if (typeof value !== "number" || !(value >= 0) || value === Infinity) {
    throw outOfRange(
      context,
      "minSpeed must be 0 or more bytes per second",
      value,
    );
  }
  return value;
}

/** A whole number of 0 or more. */
export function count(context: string, name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw outOfRange(
      context,
      `${name} must be a whole number of 0 or more`,
      value,
    );
  }
  return value;
}

/** 0 or more milliseconds (`Infinity` too). */
export function duration(context: string, name: string, value: number): number {
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw outOfRange(context, `${name} must be 0 or more milliseconds`, value);
  }
  return value;
}

/** More than 0 milliseconds. */
export function positive(context: string, name: string, value: number): number {
  if (typeof value !== "number" || !(value > 0)) {
    throw outOfRange(
      context,
      `${name} must be more than 0 milliseconds`,
      value,
    );
  }
  return value;
}

/** `true` or `false`: a `TypeError` otherwise. */
export function flag(context: string, name: string, value: boolean): boolean {
  if (typeof value !== "boolean") {
    throw new TypeError(
      `${context}: ${name} must be true or false, got ${value}`,
    );
  }
  return value;
}

/** A positive whole number, or `Infinity`. */
export function countOrInfinity(
  context: string,
  name: string,
  value: number,
): number {
  if (!(Number.isSafeInteger(value) || value === Infinity) || value < 1) {
    throw outOfRange(
      context,
      `${name} must be a positive integer or Infinity`,
      value,
    );
  }
  return value;
}
