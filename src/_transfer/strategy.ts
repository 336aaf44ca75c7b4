// How bytes get from the network into the partial file: a strategy takes a
// prepared partial file (empty, or holding the start of the file) and leaves
// it complete, retrying as the options say. Today's only strategy is one
// connection at a time (`single_stream.ts`); the choice between strategies is
// made here, in one place.

import type { IntegrityCheck } from "../_body/integrity.ts";
import type { PartialFile } from "../_disk/partial_file.ts";
import type { ResolvedTransferOptions } from "../transfer_options.ts";
import { singleStream } from "./single_stream.ts";

/** One download's transfer: what a strategy works with. */
export interface Transfer {
  /** The download's URL (its identity; redirects may lead elsewhere). */
  url: string;
  /** The network behaviour. */
  options: ResolvedTransferOptions;
  /** The `fetch` to use. */
  fetch: typeof fetch;
  /** Where the bytes go. */
  partial: PartialFile;
  /** The digest the bytes feed, in file order. */
  integrity: IntegrityCheck | undefined;
  /** Aborted when the download is canceled (its reason, the cancel). */
  signal: AbortSignal;
  /** Whether `error` is only the effect of a cancel. */
  isCancellation(error: unknown): boolean;
  /** Reports the bytes on disk and the total. */
  report(current: number, total: number | undefined): void;
  /** Records the URL the bytes came from, after redirects. */
  arrived(url: string): void;
}

/** A way to move the file into its partial file. */
export interface TransferStrategy {
  /**
   * Fills `transfer.partial` with the whole file (its length checked),
   * retrying failed attempts; rejects with the error that ended it.
   */
  run(transfer: Transfer): Promise<void>;
}

/** The strategy for a download. */
export function chooseStrategy(): TransferStrategy {
  return singleStream;
}
