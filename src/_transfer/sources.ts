// A file with several sources (mirrors): the download's first URL is its
// identity (names, messages, the sidecar, the record); requests go to one
// source at a time, in order. A source that fails is not waited for while
// another may serve: after a second failure in a row (a 5xx, a timeout, a
// broken body), or at once when it refuses the connection or asks for a
// `Retry-After` of more than a moment (`leavesSource`), the next source
// takes its turn, as aria2 goes on to its next URI. Once every source has
// had one, the others are asked again, each once its backoff or its
// `Retry-After` has passed (of those ready, the one asked least, else the
// one ready soonest; the job waits, so that a pause stops the wait), until
// each has failed `retries + 1` times, or in a way no retry mends (a 404, a
// file of another length, bad bytes).
//
// The next source goes on with what is on disk, and resumes it only where
// its validator proves it is the same file (`If-Range`: a 206), or, with a
// digest, where it serves the rest of a file of the same length whatever
// its validator (another server's ETag is its own: see
// `PartialFile.resumeValidator`): the digest then judges the bytes joined,
// and if they do not match, that source is asked again for the bytes the
// others sent (or for its whole file) before it is blamed (`_job.ts`). So
// does a file in parts (`workers.ts`), whose missing ranges alone are
// asked for. Else it
// starts the file over, and only if its length is the one the file was
// first given (by a source listed before it: a source asked again after a
// later one is not held to that one's length, and starts the file over
// with its own): a source serving a file of another length serves another
// file, and is refused (`SourceMismatch`), never spliced in (a source that
// does not say its length is judged by the bytes it sends, and stopped once
// they pass it: `single_stream.ts`). With
// a digest, a source whose bytes do not match it fails too (`_job.ts`
// checks after each), and the next starts over; and since the digest, not
// the first length given, names the file, a source refused for its length
// is asked again, judged by its bytes, once every other has failed.
//
// Revalidating a file in place, a validator is the server's own that gave
// it: a 200 to `If-None-Match` says only "another version", and a mirror's
// may be older than the file (a stale mirror). So a whole answer is taken as
// the new version only from the source that vouched for the file or one
// listed before it (which a download would ask first); from a source after
// it, it is refused (`UnprovenVersion`) and the file kept, never replaced by
// bytes of unknown age. Its 304 still counts: it holds the file's version.

import { clock } from "../_clock.ts";
import { RetriesExhaustedError } from "../errors.ts";
import {
  FinalProtocolError,
  isRetryable,
  retryDelay,
  sentRetryAfter,
} from "../_http/retry_policy.ts";
import type { Transfer } from "./strategy.ts";

/** A source serves a file of another length than the download's. */
export class SourceMismatch extends FinalProtocolError {
  /**
   * @param url The download's URL.
   * @param source The source that answered.
   * @param total The length it gave, or `undefined` for a body that went
   * on past `expected` bytes without saying its length.
   * @param expected The file's length, as the first source gave it.
   */
  constructor(
    url: string,
    source: string,
    total: number | undefined,
    expected: number,
  ) {
    super(
      `Cannot download "${url}": ${source} serves another file (${
        total === undefined ? `more than ${expected} bytes` : `${total} bytes`
      }, not ${expected})`,
    );
  }
}

/**
 * Revalidating, a source after the one that vouched for the file in place
 * answered with a whole version of its own: it cannot be told newer than
 * the file (see the module comment), so it is not taken.
 */
export class UnprovenVersion extends FinalProtocolError {
  /**
   * @param url The download's URL.
   * @param source The source that answered.
   */
  constructor(url: string, source: string) {
    super(
      `Cannot download "${url}": ${source} serves a version that cannot be told newer than the file in place (its validator is another server's), so the file is kept`,
    );
  }
}

/** One source's turns: what it failed with, and when it may be asked again. */
interface Turns {
  readonly source: string;
  /** Its place in the list. */
  readonly index: number;
  /** The error each of its turns ended with, in order. */
  readonly errors: unknown[];
  /** Its counted attempts, every turn's. */
  attempts: number;
  /**
   * When (on `clock.now()`) it may be asked again: its
   * backoff, or its `Retry-After`, from when it was left; `undefined` once
   * it is done with (its retries used up, or a failure no retry mends).
   */
  readyAt: number | undefined;
}

/** The counted attempts a turn's error stands for. */
function attemptsOf(error: unknown): readonly unknown[] {
  return error instanceof RetriesExhaustedError ? error.errors : [error];
}

/**
 * The source to ask next: of those that may be asked now, the one that had
 * the fewest turns (the first listed, of several), so that each has one
 * before any has another; else the one that may be asked soonest;
 * `undefined` when every one is done with.
 */
function nextTurn(turns: readonly Turns[], now: number): Turns | undefined {
  let ready: Turns | undefined;
  let soonest: Turns | undefined;
  for (const each of turns) {
    const at = each.readyAt;
    if (at === undefined) continue;
    if (at <= now) {
      if (ready === undefined || each.errors.length < ready.errors.length) {
        ready = each;
      }
    } else if (soonest === undefined || at < (soonest.readyAt as number)) {
      soonest = each;
    }
  }
  return ready ?? soonest;
}

/**
 * Runs `run` with `sources` in turn until one completes the file (see the
 * module comment). An error that `isFinal` says ends it (a cancel, a pause,
 * a 304) ends it; when every source failed, a single source's error is
 * thrown as it is, and several's as a {@linkcode RetriesExhaustedError}
 * naming each source. With a digest, a source refused for its length is
 * asked again once every other failed, with no length to match: the digest
 * names the file, and the source that gave the length may be the one
 * serving another.
 */
export async function fromSources(
  transfer: Transfer,
  sources: readonly string[],
  isFinal: (error: unknown) => boolean,
  run: (transfer: Transfer) => Promise<void>,
): Promise<void> {
  const { retries } = transfer.options;
  const turns: Turns[] = sources.map((source, index) => ({
    source,
    index,
    errors: [],
    attempts: 0,
    readyAt: 0,
  }));
  const refused: Turns[] = [];
  // The file's length as a failed source gave it, and that source's place:
  // a source after it must serve that length; one before it, listed first,
  // is not held to it, and its own length is the file's.
  let known: { total: number; from: number } | undefined;
  for (;;) {
    const now = clock.now();
    const turn = nextTurn(turns, now);
    if (turn === undefined) break;
    const { source } = turn;
    const last = turn.errors.at(-1);
    const failed = last === undefined ? undefined : attemptsOf(last).at(-1);
    // Back to a source left for the others: its backoff, or what is left of
    // its Retry-After, as a retry of its own would wait.
    const wait = Math.ceil(Math.max(0, (turn.readyAt as number) - now));
    if (last !== undefined) transfer.retrying(turn.attempts, wait, failed);
    const others = turns.some((each) =>
      each !== turn && each.readyAt !== undefined
    );
    try {
      // With others to go on to, a second failure in a row, or a refusal
      // or a long Retry-After (`leavesSource`), goes on to the next (aria2
      // tries its next URI at once); the last one left uses its retries.
      return await run({
        ...transfer,
        wait,
        waitAsked: sentRetryAfter(failed),
        source,
        knownTotal: known !== undefined && turn.index > known.from
          ? known.total
          : undefined,
        failover: others,
        attempted: turn.attempts,
      });
    } catch (error) {
      if (isFinal(error) || sources.length === 1) throw error;
      const counted = attemptsOf(error);
      const failure = counted.at(-1);
      turn.errors.push(error);
      turn.attempts += counted.length;
      // Not a failure no retry mends (a 404, another file): see isRetryable.
      turn.readyAt = !isRetryable(failure) || turn.attempts > retries
        ? undefined
        : clock.now() +
          retryDelay(failure, turn.attempts, transfer.options);
      if (error instanceof SourceMismatch && transfer.integrity !== undefined) {
        refused.push(turn);
      }
      // What the failed source said the file is, for the next to match.
      const { total } = transfer.partial;
      if (
        total !== undefined &&
        (known === undefined ||
          turn.index < known.from && total !== known.total)
      ) {
        known = { total, from: turn.index };
      }
    }
  }
  for (const turn of refused) {
    try {
      return await run({ ...transfer, source: turn.source, anyLength: true });
    } catch (error) {
      if (isFinal(error)) throw error;
      turn.errors.push(error);
    }
  }
  // Each source's reason: its one turn's error as it is, or every counted
  // attempt of its turns.
  const reasons = turns.map(({ errors }) =>
    errors.length === 1
      ? errors[0]
      : new RetriesExhaustedError(transfer.url, errors.flatMap(attemptsOf))
  );
  throw new RetriesExhaustedError(transfer.url, reasons, { sources });
}
