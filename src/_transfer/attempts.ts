// The retry loop: an attempt, and after a failure worth another (see
// `isRetryable`), a backoff and the next, until one succeeds or `retries`
// retries have failed. Only a cancel (or a pause), a 304 to a revalidation
// (`NotModified`) and a source serving another file (`SourceMismatch`) or a
// version not proven newer (`UnprovenVersion`; for both, the next source is
// tried) end it at once; a `Rerun` is made again at once, uncounted, and
// an attempt `refusedForNow` after a backoff, uncounted.
//
// With other sources to go on to (`failover`), a source that refuses the
// connection or asks for a long wait (`leavesSource`) is left at once, and
// one that fails twice in a row after its first: the error ends the loop as
// a last retry's would. A source asked again goes on counting from its
// earlier turns' attempts (`attempted`).
//
// A 429 or 503 while another connection to the host (another download's
// of the manager, or another of this one's) has a body flowing is no
// failure: the server limits the connections per client (as nginx's
// `limit_conn` does), and this one is asked again, uncounted, once one of
// those stops transferring (see `ConnectionBudget.transferring`). Not with
// other sources to go on to: the next source may not be busy.
//
// Retries count failures that got nowhere: an attempt that failed after it
// moved the download at least `PROGRESS_RENEWS_RETRIES` bytes past the
// furthest any attempt before it had got starts the count (and the backoff)
// again. A 4 GiB file on a link that drops every few minutes is not given up
// after its fourth drop while each resume moves it on; a server that drops
// it at once, or sends the same first bytes again and again (no resume),
// still uses up the retries. Measured from the furthest point, the count
// starts again at most once per that many bytes of the file: the loop ends.

import { HTTPError, RetriesExhaustedError } from "../errors.ts";
import { NotModified } from "../_http/conditional.ts";
import { SourceMismatch, UnprovenVersion } from "./sources.ts";
import {
  isRetryable,
  leavesSource,
  retryDelay,
  sentRetryAfter,
} from "../_http/retry_policy.ts";
import type { ResolvedTransferOptions } from "../transfer_options.ts";
import type { ConnectionBudget, WaitEnd } from "./budget.ts";
import { sleep } from "../_timers.ts";

/**
 * An attempt stopped to be made again at once: not a failure, not counted
 * (a bandwidth limit appeared while the runtime's pipe, which no limit can
 * pace, was writing: the next attempt resumes from the bytes on disk; or
 * the server answered a resume with a range of another version, or with
 * another range: the next asks for the whole file, which cannot be
 * answered so; or a revalidation was answered with a 304 of another
 * version: the next asks for the whole file without the condition).
 */
export class Rerun extends Error {
  /** @param message Why. */
  constructor(message = "the attempt is made again, paced") {
    super(message);
    this.name = "Rerun";
  }
}

/**
 * How many bytes past the furthest point of every attempt before it a
 * failed attempt must have moved the download for the retries to be
 * counted again from the first.
 */
export const PROGRESS_RENEWS_RETRIES = 1024 * 1024;

/** What {@linkcode withRetries} needs to know. */
export interface RetryContext {
  /** The download's URL, for the error. */
  url: string;
  /** Retries and backoff. */
  options: ResolvedTransferOptions;
  /** Aborts the backoff (a cancel). */
  signal: AbortSignal;
  /** Whether `error` is only the effect of a cancel: it ends the loop as it is. */
  isCancellation: (error: unknown) => boolean;
  /**
   * Whether `error` ends the loop as it is, though not a cancel (a strategy's
   * own signal, or a refusal it handles itself).
   */
  isFinal?: ((error: unknown) => boolean) | undefined;
  /**
   * Whether `error` refused the attempt for a reason gone by now (a
   * connection limit that the download's other connections, closed since,
   * filled): made again after a backoff, uncounted.
   */
  refusedForNow?: ((error: unknown) => boolean) | undefined;
  /**
   * Whether other sources of the file wait: a second failure in a row, or
   * one that `leavesSource`, ends the loop, for the next to be tried.
   */
  failover?: boolean | undefined;
  /**
   * The connections per host of the manager: a refusal while another
   * connection to `host` transfers waits for it (see the module comment).
   */
  budget?: ConnectionBudget | undefined;
  /**
   * Hears that an attempt refused by `host` waits for another connection
   * to it to stop transferring (see the module comment).
   */
  waitingForHost?: ((host: string, error: unknown) => void) | undefined;
  /** Hears that the wait `waitingForHost` told of ended, however. */
  doneWaitingForHost?: ((host: string, error: unknown) => void) | undefined;
  /** Attempts counted before this loop (the source's earlier turns). */
  attempted?: number | undefined;
  /** Hears of each retry: the attempt that failed, the backoff, its error. */
  retrying?:
    | ((attempt: number, delay: number, error: unknown) => void)
    | undefined;
}

/**
 * Runs `attempt` until it succeeds. A failure not worth another attempt, or
 * the last one, rejects: as it is after one attempt, else as a
 * {@linkcode RetriesExhaustedError} listing the error of every attempt since
 * the count started again (see the module comment).
 *
 * @param progress How far the download has got, in bytes from where its
 * attempts start (the bytes on disk, or a part's written), read after each
 * failure: without it, every failure counts.
 */
export async function withRetries(
  context: RetryContext,
  attempt: (n: number) => Promise<void>,
  progress?: () => number,
): Promise<void> {
  const errors: unknown[] = [];
  let furthest = progress?.() ?? 0;
  for (let n = (context.attempted ?? 0) + 1;;) {
    try {
      return await attempt(n);
    } catch (error) {
      if (
        context.isCancellation(error) || error instanceof NotModified ||
        error instanceof SourceMismatch || error instanceof UnprovenVersion ||
        context.isFinal?.(error)
      ) {
        throw error;
      }
      if (error instanceof Rerun) continue;
      const waited = await waitForHost(context, error);
      if (waited === "asked again") continue;
      if (context.refusedForNow?.(error)) {
        await sleep(retryDelay(error, 1, context.options), context.signal);
        continue;
      }
      if (progress !== undefined) {
        const reached = progress();
        if (reached - furthest >= PROGRESS_RENEWS_RETRIES) {
          // It got somewhere: the retries are counted again.
          n = 1;
          errors.length = 0;
        }
        furthest = Math.max(furthest, reached);
      }
      errors.push(error);
      if (
        !isRetryable(error) || n > context.options.retries ||
        context.failover === true && (errors.length > 1 || leavesSource(error))
      ) {
        throw errors.length > 1
          ? new RetriesExhaustedError(context.url, errors)
          : error;
      }
      // Waited on a stalled host already: as long as a backoff.
      const delay = waited === "stalled"
        ? 0
        : retryDelay(error, n, context.options);
      context.retrying?.(n, delay, error);
      await sleep(delay, context.signal);
      n++;
    }
  }
}

/**
 * What became of a refusal (429, 503) while another connection to the
 * refusing host transfers (see the module comment): `"asked again"` once
 * one of those stops, or, after the longest the server could make it wait
 * (its `Retry-After`, else `retryAfterCap`), while they still move; not
 * waited on (`"not waited"`), or `"stalled"`: those had not received a
 * byte by then, and the refusal counts as a failure, its wait as its
 * backoff. Rejects with the signal's reason on a cancel or pause.
 */
async function waitForHost(
  context: RetryContext,
  error: unknown,
): Promise<"asked again" | "not waited" | "stalled"> {
  const { budget } = context;
  if (
    budget === undefined || context.failover === true ||
    !(error instanceof HTTPError) ||
    error.status !== 429 && error.status !== 503
  ) {
    return "not waited";
  }
  // The host that refused: where the redirects, if any, led.
  const host = hostOf(error.url);
  if (host === undefined || budget.transferring(host) === 0) {
    return "not waited";
  }
  const { retryAfterCap } = context.options;
  const within = sentRetryAfter(error)
    ? Math.min(error.retryAfter, retryAfterCap)
    : retryAfterCap;
  context.waitingForHost?.(host, error);
  let end: WaitEnd | undefined;
  try {
    end = await budget.transferEnds(host, context.signal, within);
  } finally {
    context.doneWaitingForHost?.(host, error);
  }
  return end === "stalled" ? "stalled" : "asked again";
}

/** The `host` (with its port) of `url`, or `undefined` if it is no URL. */
function hostOf(url: string): string | undefined {
  return URL.canParse(url) ? new URL(url).host : undefined;
}
