/**
 * The options of {@linkcode DownloadManager} and of its
 * {@linkcode DownloadManager.download}.
 *
 * @module
 */

// For the documentation's links.
// deno-lint-ignore no-unused-vars
import type { DownloadManager } from "./download_manager.ts";
import type {
  ProgressCallback,
  StateChangeCallback,
} from "./download_options.ts";
import type { PersistLimit } from "./persist_limit.ts";
import {
  checkTransferOptions,
  DEFAULTS,
  type RequestHeaders,
  type TransferOptions,
} from "./transfer_options.ts";
import { countOrInfinity, duration, rateOf } from "./_option_checks.ts";
import { maxAgeOf } from "./_revalidation.ts";

/**
 * When a file already in a manager's directory is asked of the server
 * again: `"never"` (a file there is used as it is), `"always"`, or a number
 * of milliseconds (when the server last vouched for it longer ago than
 * that). See {@linkcode DownloadManagerOptions.revalidate}.
 *
 * @example
 * ```ts
 * import { DownloadManager, type Revalidate } from "@x/dlmanager";
 *
 * const daily: Revalidate = 24 * 60 * 60 * 1000;
 * await using manager = new DownloadManager("cache", { revalidate: daily });
 * ```
 */
export type Revalidate = "never" | "always" | number;

/**
 * Options for {@linkcode DownloadManager}. The {@linkcode TransferOptions}
 * given here are the defaults of every download the manager starts.
 */
export interface DownloadManagerOptions extends TransferOptions {
  /**
   * The `fetch`-compatible function every download uses (the seed's
   * `session`).
   *
   * @default {globalThis.fetch} (on Node, through the environment's proxy:
   * see {@linkcode TransferOptions.useEnvProxy})
   */
  fetch?: typeof fetch | undefined;
  /**
   * Keeps the directory under a size limit (but its last `fileLimit` files,
   * however large: see {@linkcode PersistLimit}): its files are registered
   * when the manager is created, each downloaded file when it completes, and
   * old files are removed after a download that takes the files registered
   * to the limit or over, as sized when last read (their sizes and access
   * times are then read again: not after each of many downloads into a
   * cache under its limit): never one that this manager, or any other
   * sharing the same `PersistLimit`, downloaded or found present.
   *
   * @default {null} (no limit)
   */
  persistLimit?: PersistLimit | null | undefined;
  /**
   * How many downloads run at once; the others wait in a first-in,
   * first-out queue (state `"queued"`). A running download that is paused
   * gives its slot up (see `Download.pause()`). A positive integer, or
   * `Infinity`.
   *
   * @default {6}
   */
  concurrency?: number | undefined;
  /**
   * Leftovers of downloads whose process died (partial files, sidecars)
   * that have not changed for this many milliseconds, and that no live lock
   * guards, are removed when the manager starts. Younger ones stay, to be
   * resumed; so do those whose lock names a process still running on this
   * machine, however old (it may be stopped, and go on). `Infinity` keeps
   * them all.
   *
   * @default {86400000} (a day)
   */
  leftoverMaxAge?: number | undefined;
  /**
   * The most connections open to one host at once, shared by every
   * download of the manager (each download's first connection included): a
   * segmented download opens another only while its host's count is below
   * this, and one held to fewer connections than it would have opens more
   * (within a second) once others to its host have closed. The host is the
   * one the bytes come from, where the redirects led (github.com's release
   * files count against objects.githubusercontent.com): a connection counts
   * against the host asked until its answer comes from another, then
   * there, whatever the count (it is open there by then). A positive
   * integer, or `Infinity`.
   *
   * @default {16}
   */
  maxConnectionsPerHost?: number | undefined;
  /**
   * The most bytes per second all the manager's downloads read together,
   * over all their connections: one limit they share (not each download's
   * own; give that per download to {@linkcode DownloadManager.download}).
   * Change it while they run with {@linkcode DownloadManager.setRateLimit}.
   * `Infinity` (or unset) is no limit. As a download's own, it is read a
   * tenth of a second's bytes at a time, and runs ahead by one read per
   * connection and a credit of one read (or 5 ms at the limit) at most (see
   * {@linkcode TransferOptions.rateLimit}).
   *
   * @default {Infinity}
   */
  rateLimit?: number | undefined;
  /**
   * When a file already in the directory is asked of the server again (see
   * {@linkcode Revalidate}): `"never"` (a file there is used as it is, the
   * seed's behaviour), `"always"`, or a number of milliseconds (when the
   * server last vouched for it longer ago than that). Revalidating sends
   * `If-None-Match` (or `If-Modified-Since`) with the validator the server
   * gave: a `304` keeps the file as it is, a `200` downloads the new version
   * beside it and replaces the file only once complete and verified. A
   * manager that revalidates remembers each file it downloads (its URL and
   * validator) in a record beside it (written atomically, removed with the
   * file by a `PersistLimit`); one that never does writes none, at no cost.
   * A file without a record (downloaded without revalidation, by an older
   * version, or copied in) is downloaded again under `"always"`, and under a
   * number once its modification time is older than that.
   *
   * @default {"never"}
   */
  revalidate?: Revalidate | undefined;
}

/** Options for {@linkcode DownloadManager.download}. */
export interface ManagerDownloadOptions {
  /**
   * The file's name in the directory: a plain name, not a path.
   *
   * @default {the last path segment of the URL, percent-decoded}
   */
  fname?: string | undefined;
  /**
   * Reports progress; see {@linkcode ProgressCallback}. Given for a
   * destination that is already downloading, it replaces that download's
   * callback.
   *
   * @default {null}
   */
  progress?: ProgressCallback | null | undefined;
  /**
   * The expected digest, as an SRI string (`sha256-<base64>`, ...).
   *
   * @default {undefined}
   */
  integrity?: string | undefined;
  /**
   * The expected sha256 in hex.
   *
   * @default {undefined}
   */
  sha256?: string | undefined;
  /**
   * Request headers for this download, added to (and overriding) the
   * manager's.
   *
   * @default {undefined}
   */
  headers?: RequestHeaders | undefined;
  /**
   * Aborting it cancels this download.
   *
   * @default {undefined}
   */
  signal?: AbortSignal | undefined;
  /**
   * Called on every change of the download's state (see
   * {@linkcode DownloadState}): `"queued"`, `"running"`, `"waiting"` (for
   * another process's lock) and `"paused"` on the way, then `"done"`,
   * `"failed"` or `"canceled"`. As `DownloadOptions.onStateChange`, an
   * error it throws becomes the download's error.
   *
   * @default {undefined}
   */
  onStateChange?: StateChangeCallback | undefined;
  /**
   * How many connections this file is fetched over (see
   * {@linkcode TransferOptions.connections}), instead of the manager's.
   *
   * @default {the manager's, "auto" unless given}
   */
  connections?: number | "auto" | undefined;
  /**
   * This download's own bandwidth limit, in bytes per second, within the
   * manager's shared one (see {@linkcode TransferOptions.rateLimit}).
   *
   * @default {Infinity}
   */
  rateLimit?: number | undefined;
  /**
   * Whether a file already there is asked of the server again: see
   * {@linkcode DownloadManagerOptions.revalidate}.
   *
   * @default {the manager's revalidate}
   */
  revalidate?: Revalidate | undefined;
}

/** {@linkcode DownloadManagerOptions}, checked, with their defaults. */
export interface ResolvedManagerOptions {
  /** As given. */
  fetch: typeof fetch | undefined;
  /** As given, `null` when unset. */
  persistLimit: PersistLimit | null;
  /** Downloads at once. */
  concurrency: number;
  /** Milliseconds before a leftover is removed; `Infinity` keeps them. */
  leftoverMaxAge: number;
  /** Connections per host, shared. */
  maxConnectionsPerHost: number;
  /** The shared limit, bytes per second (`Infinity`: none). */
  rateLimit: number;
  /** The manager's default revalidation. */
  revalidate: Revalidate;
  /** The rest: every download's defaults. */
  transfer: TransferOptions;
}

const CONTEXT = "Cannot create DownloadManager";

/**
 * Checks `options` and fills in the defaults ({@linkcode DEFAULTS}): a
 * `RangeError` (starting with "Cannot create DownloadManager") for a number
 * out of range, its downloads' defaults' too (a `TypeError` for a bad
 * header).
 */
export function resolveManagerOptions(
  options: DownloadManagerOptions,
): ResolvedManagerOptions {
  const {
    fetch,
    persistLimit,
    concurrency: givenConcurrency,
    leftoverMaxAge: givenMaxAge,
    maxConnectionsPerHost: givenPerHost,
    rateLimit,
    revalidate: givenRevalidate,
    ...transfer
  } = options;
  const concurrency = givenConcurrency ?? DEFAULTS.concurrency;
  const leftoverMaxAge = givenMaxAge ?? DEFAULTS.leftoverMaxAge;
  const maxConnectionsPerHost = givenPerHost ??
    DEFAULTS.maxConnectionsPerHost;
  const revalidate = givenRevalidate ?? DEFAULTS.revalidate;
  countOrInfinity(CONTEXT, "concurrency", concurrency);
  duration(CONTEXT, "leftoverMaxAge", leftoverMaxAge);
  countOrInfinity(CONTEXT, "maxConnectionsPerHost", maxConnectionsPerHost);
  maxAgeOf(revalidate, CONTEXT);
  // Every download's defaults: a bad one is the manager's, not each one's.
  checkTransferOptions(CONTEXT, transfer);
  return {
    fetch,
    persistLimit: persistLimit ?? null,
    concurrency,
    leftoverMaxAge,
    maxConnectionsPerHost,
    rateLimit: rateOf(rateLimit, CONTEXT),
    revalidate,
    transfer,
  };
}
