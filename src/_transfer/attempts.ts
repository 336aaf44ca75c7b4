// The retry loop: an attempt, and after a failure worth another (see
// `isRetryable`), a backoff and the next, until one succeeds or `retries`
// retries have failed. Only a cancel (or a pause), a 304 to a revalidation
// (`NotModified`) and a source serving another file (`SourceMismatch`: the
// next source is tried) end it at once; a `Rerun` is made again at once,
// uncounted.

import { RetriesExhaustedError } from "../errors.ts";
import { NotModified } from "../_http/conditional.ts";
import { SourceMismatch } from "./sources.ts";
import { isRetryable, retryDelay } from "../_http/retry_policy.ts";
import type { ResolvedTransferOptions } from "../transfer_options.ts";
import { sleep } from "../_timers.ts";

/**
 * An attempt stopped to be made again at once: not a failure, not counted
 * (a bandwidth limit appeared while the runtime's pipe, which no limit can
 * pace, was writing; the next attempt resumes from the bytes on disk).
 */
export class Rerun extends Error {
  constructor() {
    super("the attempt is made again, paced");
    this.name = "Rerun";
  }
}

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
  /** Hears of each retry: the attempt that failed, the backoff, its error. */
  retrying?:
    | ((attempt: number, delay: number, error: unknown) => void)
    | undefined;
}

/**
 * Runs `attempt` until it succeeds. A failure not worth another attempt, or
 * the last one, rejects: as it is after one attempt, else as a
 * {@linkcode RetriesExhaustedError} listing every attempt's error.
 */
export async function withRetries(
  context: RetryContext,
  attempt: (n: number) => Promise<void>,
): Promise<void> {
  const errors: unknown[] = [];
  for (let n = 1;;) {
    try {
      return await attempt(n);
    } catch (error) {
      if (
        context.isCancellation(error) || error instanceof NotModified ||
        error instanceof SourceMismatch || context.isFinal?.(error)
      ) {
        throw error;
      }
      if (error instanceof Rerun) continue;
      errors.push(error);
      if (!isRetryable(error) || n > context.options.retries) {
        throw errors.length > 1
          ? new RetriesExhaustedError(context.url, errors)
          : error;
      }
      const delay = retryDelay(error, n, context.options);
      context.retrying?.(n, delay, error);
      await sleep(delay, context.signal);
      n++;
    }
  }
}
