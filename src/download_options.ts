/**
 * The options and callbacks of a {@linkcode Download}, and the states it
 * goes through.
 *
 * @module
 */

import type { Download } from "./download.ts";
import type { TransferOptions } from "./transfer_options.ts";

/**
 * Reports a download's progress: `current` bytes written so far out of
 * `total` (the `Content-Length`, or `undefined` when the server sends none).
 * Called with `current === 0` once the server has answered, then after every
 * write; where the runtime's pipe writes (see
 * {@linkcode TransferOptions.chunkSize}), every 100 ms while the file grows,
 * and at its end. A report equal to the one before it is not repeated.
 * An error thrown here becomes the download's error.
 */
export type ProgressCallback = (
  download: Download,
  current: number,
  total: number | undefined,
) => void;

/**
 * Options for {@linkcode Download}: the network behaviour of
 * {@linkcode TransferOptions}, plus what belongs to one download.
 */
export interface DownloadOptions extends TransferOptions {
  /**
   * Called once when the download has ended, by success, error or cancel,
   * before {@linkcode Download.wait} resolves. An error it throws becomes the
   * download's error (a downloaded file stays in place).
   *
   * @default {undefined}
   */
  finishedCallback?: ((download: Download) => void) | undefined;
  /**
   * The function that does the HTTP request: any `fetch`-compatible function
   * (the seed's `session`), e.g. one that adds authentication.
   *
   * @default {globalThis.fetch} (on Node, through the environment's proxy:
   * see {@linkcode TransferOptions.useEnvProxy})
   */
  fetch?: typeof fetch | undefined;
  /**
   * Reports progress; see {@linkcode ProgressCallback}.
   *
   * @default {null}
   */
  progress?: ProgressCallback | null | undefined;
  /**
   * The expected digest as a Subresource Integrity string:
   * `sha256-<base64>`, `sha384-...` or `sha512-...` (of several, the strongest
   * algorithm is checked, and the bytes may match any of its digests, as
   * the SRI spec says). The bytes are hashed while they stream; on a mismatch the
   * file is removed and the download fails with an `IntegrityError`.
   * Tokens of other algorithms, or whose digest is not their algorithm's
   * length, are skipped; a string with no token left is a `TypeError` when
   * the download is made. A manager's download keeps a file already there
   * only if it holds these bytes (see `skipIfExists`).
   *
   * @default {undefined}
   */
  integrity?: string | undefined;
  /**
   * The expected sha256 in hex; like `integrity`. Give one or the other.
   *
   * @default {undefined}
   */
  sha256?: string | undefined;
  /**
   * Aborting this signal cancels the download, as {@linkcode Download.cancel};
   * the `DownloadInterrupt` it then rejects with has the signal's reason as
   * its `cause` (a `TimeoutError` `DOMException` for `AbortSignal.timeout()`).
   *
   * @default {undefined}
   */
  signal?: AbortSignal | undefined;
  /**
   * Called on every change of {@linkcode Download.state}; an error it throws
   * becomes the download's error. Thrown at the last change (to `"done"`),
   * it ends the download `"failed"`, which it is told next (a downloaded
   * file stays in place); the events then tell `error` and `"failed"`.
   * What it does to the download (a pause, a cancel) reaches the
   * `statechange` listeners after the state it was told.
   *
   * @default {undefined}
   */
  onStateChange?: StateChangeCallback | undefined;
  /**
   * If `dest` exists once this download holds its lock (another process has
   * just downloaded it), end as done without fetching; see
   * {@linkcode Download.skipped}. With `sha256` or `integrity`, only if the
   * file there holds those bytes: else it is downloaded again, over it. The
   * manager sets it.
   *
   * @default {false}
   */
  skipIfExists?: boolean | undefined;
}

/** Options for {@linkcode Download.wait}. */
export interface WaitOptions {
  /**
   * When true, rejects with the download's error, or with
   * {@linkcode DownloadInterrupt} if it was canceled.
   *
   * @default {true}
   */
  raiseIfError?: boolean | undefined;
}

/** Options for {@linkcode Download.cancel}. */
export interface CancelOptions {
  /**
   * Keep what a later download of the same file can resume: the partial
   * file and its sidecar stay beside the destination (when the server gave
   * a validator and a length; else they are removed), and the next
   * download of that URL to that destination (or of sources any of which
   * this download listed, in any order), in this process or another, asks
   * only for what is missing. What a command line does on Ctrl-C. If the
   * files cannot be marked left for resuming (a process out of file
   * descriptors), they are removed, and the lock with them, as without
   * `keepPartial`, and the download fails with the `FileSystemError` that
   * refused them.
   *
   * @default {false}
   */
  keepPartial?: boolean | undefined;
}

/** Options for the `events()` of a {@linkcode Download} or a manager. */
export interface EventsOptions {
  /**
   * Ends the iteration when aborted.
   *
   * @default {undefined}
   */
  signal?: AbortSignal | undefined;
}

/**
 * Where a download is in its life: `"idle"` (created), `"queued"` (waiting
 * for a manager's free slot: before it starts, or resumed after a pause),
 * `"running"`, `"waiting"` (for another process that downloads the same
 * destination: see {@linkcode Download.lockHolder}), `"paused"` (see
 * {@linkcode Download.pause}), then one of `"done"`, `"failed"` or
 * `"canceled"`.
 */
export type DownloadState =
  | "idle"
  | "queued"
  | "waiting"
  | "running"
  | "paused"
  | "done"
  | "failed"
  | "canceled";

/** The process that holds a destination's lock: see {@linkcode Download.lockHolder}. */
export interface LockHolder {
  /** Its pid. */
  pid: number;
  /** Its host's name, if it could be read. */
  host: string | undefined;
}

/** Called on every change of {@linkcode Download.state}. */
export type StateChangeCallback = (
  download: Download,
  state: DownloadState,
) => void;

/**
 * A part of the file one connection fetches: see
 * {@linkcode Download.connections}.
 */
export interface ConnectionProgress {
  /** The part's first byte. */
  start: number;
  /** One past its last byte (lowered when another connection takes its rest). */
  end: number;
  /** Its bytes written so far, from `start`. */
  written: number;
}
