// When to try a download again, and how long to wait first: exponential
// backoff with full jitter, or the server's Retry-After when it sent one.

import {
  HTTPError,
  NetworkError,
  ProtocolError,
  ProxyError,
  RetriesExhaustedError,
  TimeoutError,
} from "../errors.ts";
import { parseHttpDate } from "./http_date.ts";

/** Statuses that say "try again later". */
const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** Retry timing, in milliseconds. */
export interface BackoffOptions {
  /** The first retry waits up to this long; each next one up to twice as long. */
  backoffBase: number;
  /** No backoff wait is longer than this. */
  backoffCap: number;
  /** A server's Retry-After is honoured up to this long. */
  retryAfterCap: number;
}

/**
 * Connection failures that no retry mends: a name that does not exist, a
 * rejected certificate, a port the runtime's `fetch` refuses.
 */
const FINAL_NETWORK_CODES = new Set(["ENOTFOUND", "CERT", "BAD_PORT"]);

/**
 * A {@linkcode ProtocolError} that the next attempt would meet again: the
 * server's choice, not a broken transfer (a body in a coding that cannot be
 * decoded here, a mirror serving another file). Not retried; callers see a
 * `ProtocolError`.
 */
export class FinalProtocolError extends ProtocolError {}

/**
 * Whether an attempt that failed with `error` is worth another: connection
 * failures (but a name that does not exist, a rejected certificate, or a
 * port the runtime's `fetch` refuses),
 * timeouts, broken bodies, and the statuses that mean "later" (a proxy's
 * too, or a refusal of a proxy whose status the runtime does not tell),
 * but not a proxy variable the runtime cannot use.
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof HTTPError) return RETRY_STATUSES.has(error.status);
  if (error instanceof ProxyError) {
    if (error.variable !== undefined) return false;
    return error.status === undefined || RETRY_STATUSES.has(error.status);
  }
  if (error instanceof NetworkError) {
    return !FINAL_NETWORK_CODES.has(error.code);
  }
  if (error instanceof FinalProtocolError) return false;
  return error instanceof TimeoutError || error instanceof ProtocolError;
}

/**
 * Whether a download that failed with `error` leaves bytes a later
 * download may resume past (see `TransferOptions.keepPartialOnError`): the
 * bytes its attempts would have resumed past had it any left. That is a
 * failure of the connection or a stall (any `NetworkError`, a
 * `TimeoutError`), a server or proxy that said "later" (a status
 * {@linkcode isRetryable} retries), or a `ProtocolError` a retry resumes
 * past (a body that ended short, where no length told a drop from an end),
 * in every attempt counted. Each byte on disk then was checked as of the
 * version the sidecar names, and the next download asks with `If-Range`:
 * one of another version, or a server that ignores the range, replaces
 * them. Not an answer that says the file is gone or refused (404, 410,
 * 403), a `ProtocolError` no retry mends, an `IntegrityError`, or anything
 * else: the bytes are then worthless, or not known to be sound (where a
 * `ProtocolError` showed them to be of another version or range, the
 * attempt dropped them already). With mirrors (`sources`), a source's
 * answer speaks for that source alone: one source that failed so (every
 * attempt of its own) is enough, since it may serve the rest later, though
 * another answered 404 or serves another file.
 */
export function leavesResumable(error: unknown): boolean {
  if (error instanceof RetriesExhaustedError) {
    return error.sources === undefined
      ? error.errors.every(leavesResumable)
      : error.errors.some(leavesResumable);
  }
  return error instanceof NetworkError || error instanceof TimeoutError ||
    isRetryable(error);
}

/**
 * A `Retry-After` longer than this (in milliseconds) from a source of a file
 * that has others sends the download to the next at once: the source is
 * busy, and another may not be (see `_transfer/sources.ts`).
 */
export const BUSY_RETRY_AFTER = 2_000;

/** Connection failures that say a host is not serving now. */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/**
 * Whether a source that failed with `error`, a failure worth another
 * attempt, is better left at once when the file has another source to try
 * (aria2 goes on to the next URI as readily): it refused the connection, or
 * cannot be reached, or asked to be left alone for longer than
 * {@linkcode BUSY_RETRY_AFTER} (the `Retry-After` it sent, not the capped
 * wait). It is asked again once the others have been.
 */
export function leavesSource(error: unknown): boolean {
  if (error instanceof NetworkError) return UNREACHABLE_CODES.has(error.code);
  return error instanceof HTTPError && error.retryAfter !== undefined &&
    error.retryAfter > BUSY_RETRY_AFTER;
}

/**
 * Whether `error` holds the server's `Retry-After`, which
 * {@linkcode retryDelay} waits (capped) instead of a backoff of ours.
 */
export function sentRetryAfter(
  error: unknown,
): error is HTTPError & { retryAfter: number } {
  return error instanceof HTTPError && error.retryAfter !== undefined;
}

/**
 * How long to wait before attempt `attempt + 1` after `error`: the server's
 * Retry-After (capped), else a random time in [0, min(cap, base * 2^(attempt-1))].
 */
export function retryDelay(
  error: unknown,
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  if (sentRetryAfter(error)) {
    return Math.min(error.retryAfter, options.retryAfterCap);
  }
  const ceiling = Math.min(
    options.backoffCap,
    options.backoffBase * 2 ** (attempt - 1),
  );
  return Math.floor(random() * ceiling);
}

/**
 * Parses a Retry-After value (delay-seconds or an HTTP date) into
 * milliseconds from `now`; `undefined` if absent or invalid.
 */
export function parseRetryAfter(
  value: string | null,
  now: number = Date.now(),
): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Not Date.parse, which reads "-1", "1.5" or "in 5" as dates in 2001 (on
  // V8; not on JavaScriptCore), an immediate retry.
  const date = parseHttpDate(trimmed, now);
  return date === undefined ? undefined : Math.max(0, date - now);
}
