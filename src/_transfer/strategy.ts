// How bytes get from the network into the partial file: a strategy takes a
// prepared partial file (empty, or holding part of the file) and leaves it
// complete, retrying as the options say. One connection at a time
// (`single_stream.ts`), or several (`segmented.ts`); the choice between
// strategies is made here, in one place.

import type { IntegrityCheck } from "../_body/integrity.ts";
import type { PartialFile } from "../_disk/partial_file.ts";
import type { ResolvedTransferOptions } from "../transfer_options.ts";
import type { ConnectionBudget, Slot } from "./budget.ts";
import type { Piece } from "./pieces.ts";
import type { Throttle } from "./rate_limiter.ts";
import { segmented } from "./segmented.ts";
import { singleStream } from "./single_stream.ts";

/** One download's transfer: what a strategy works with. */
export interface Transfer {
  /** The download's URL (its identity; redirects may lead elsewhere). */
  url: string;
  /** Where requests go: `url`, or one of its mirrors. */
  source: string;
  /**
   * The `Basic` authorization of each source whose URL had credentials
   * (taken out of it: see `parseSources`).
   */
  authorizations?: ReadonlyMap<string, string> | undefined;
  /**
   * The file's length as another source of it gave it: a source whose
   * whole answer has another length serves another file, and is refused
   * (`SourceMismatch`).
   */
  knownTotal?: number | undefined;
  /**
   * Whether the source is asked again, with a digest, after it was refused
   * for its length and every other source failed (see `sources.ts`): it is
   * not held to the length of the bytes on disk either (another source's):
   * its own file, of whatever length, starts the file over, and the digest
   * judges it.
   */
  anyLength?: boolean | undefined;
  /** The network behaviour. */
  options: ResolvedTransferOptions;
  /** The `fetch` to use. */
  fetch: typeof fetch;
  /** Where the bytes go. */
  partial: PartialFile;
  /** The digest the bytes feed, in file order. */
  integrity: IntegrityCheck | undefined;
  /** Aborted when the download is canceled or paused (its reason says which). */
  signal: AbortSignal;
  /** The connections per host this download's manager allows, shared. */
  budget: ConnectionBudget;
  /**
   * The download's first connection, as the budget counts it: against the
   * host its answers came from (where the redirects led), once one has
   * answered; its other connections are counted there too.
   */
  slot: Slot;
  /** The most connections this download may use. */
  maxConnections: number;
  /** The bandwidth limits its reads are paced by. */
  throttle: Throttle;
  /**
   * Revalidation: headers that make the request for the whole file
   * conditional (`If-None-Match`, `If-Modified-Since`); a 304 to it ends
   * the transfer with `NotModified`. Not sent with a `Range`.
   */
  conditional?: [string, string][] | undefined;
  /**
   * Revalidation through a source listed after the one that vouched for
   * the file in place: a whole answer from it is refused
   * (`UnprovenVersion`); a 304, or a 206 of the version being fetched, is
   * taken.
   */
  unproven?: boolean | undefined;
  /**
   * Milliseconds to wait before the first request: a source asked again
   * after the others, its backoff (`sources.ts`). Not the strategy's: the
   * job waits, so that a pause stops the wait as it stops a retry's.
   */
  wait?: number | undefined;
  /**
   * Whether `wait` is the source's `Retry-After` (not a backoff of ours): a
   * pause does not cut it short (see `_job.ts`).
   */
  waitAsked?: boolean | undefined;
  /**
   * Whether other sources of the file wait for their turn: a source that
   * fails twice in a row is left, and one that refuses the connection or
   * asks for a long wait at once (see `leavesSource`).
   */
  failover?: boolean | undefined;
  /**
   * The attempts this source's earlier turns used: its retries are counted
   * on from them (see `sources.ts`).
   */
  attempted?: number | undefined;
  /** Whether `error` is only the effect of a cancel. */
  isCancellation(error: unknown): boolean;
  /** Reports the bytes on disk and the total. */
  report(current: number, total: number | undefined): void;
  /** Records the URL the bytes came from, after redirects. */
  arrived(url: string): void;
  /**
   * Shows the parts being fetched (while several connections are), or
   * `undefined` once they are done.
   */
  showParts(parts: (() => readonly Piece[]) | undefined): void;
  /** Hears of each retry: the attempt that failed, the backoff, its error. */
  retrying(attempt: number, delay: number, error: unknown): void;
  /**
   * Hears that a connection refused by `host` (`error`) waits for another
   * of the manager's connections to it to stop transferring.
   */
  waitingForHost(host: string, error: unknown): void;
  /** Hears that a wait `waitingForHost` told of ended. */
  doneWaitingForHost(host: string, error: unknown): void;
}

/** A way to move the file into its partial file. */
export interface TransferStrategy {
  /**
   * Fills `transfer.partial` with the whole file (its length checked),
   * retrying failed attempts; rejects with the error that ended it.
   */
  run(transfer: Transfer): Promise<void>;
}

/**
 * The strategy for a download: one connection when it asks for one, else
 * segmented (which starts as one, and may stay one).
 */
export function chooseStrategy(
  options: ResolvedTransferOptions,
  partial: PartialFile,
): TransferStrategy {
  // A partial file in parts is only the segmented strategy's to resume.
  return options.connections === 1 && partial.ranges === undefined
    ? singleStream
    : segmented;
}
