// The retry loop: an attempt, and after a failure worth another (see
// `isRetryable`), a backoff and the next, until one succeeds or `retries`
// retries have failed. Only a cancel ends it at once.

import { RetriesExhaustedError } from "../errors.ts";
import { isRetryable, retryDelay } from "../_http/retry_policy.ts";
import type { ResolvedTransferOptions } from "../transfer_options.ts";
import { sleep } from "../_timers.ts";

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
  for (let n = 1;; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (context.isCancellation(error) || context.isFinal?.(error)) {
        throw error;
      }
      errors.push(error);
      if (!isRetryable(error) || n > context.options.retries) {
        throw errors.length > 1
          ? new RetriesExhaustedError(context.url, errors)
          : error;
      }
      await sleep(retryDelay(error, n, context.options), context.signal);
    }
  }
}
