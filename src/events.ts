/**
 * The events a {@linkcode Download} dispatches, and its
 * {@linkcode DownloadManager} too, for every download it holds: `progress`,
 * `statechange`, `retry`, `hostwait`, `hostwaitend`, `done` and `error`.
 *
 * @module
 */

import { recognizedAcrossCopies } from "./_across_copies.ts";
import type { Download } from "./download.ts";
import type { DownloadState } from "./download_options.ts";

/**
 * An event of one download; the base of the others, and the `done` event's
 * own class.
 *
 * @example Hear that a download is done
 * ```ts
 * import { Download } from "@x/dlmanager";
 *
 * const download = new Download("https://example.com/a.zip", "a.zip");
 * download.addEventListener("done", (event) => {
 *   console.log(`${event.download.getDest()} is complete`);
 * });
 * download.start();
 * ```
 */
export class DownloadEvent extends Event {
  /** The download it is about. */
  readonly download: Download;

  /**
   * Creates the event (the library dispatches them).
   *
   * @param type The event's name.
   * @param download The download it is about.
   */
  constructor(type: string, download: Download) {
    super(type);
    this.download = download;
  }
}
recognizedAcrossCopies(DownloadEvent, "DownloadEvent");

/**
 * `progress`: bytes of the file are on disk, as the seed's progress
 * callback reports them (see {@linkcode ProgressCallback}).
 *
 * @example Show a percentage
 * ```ts
 * import { Download } from "@x/dlmanager";
 *
 * const download = new Download("https://example.com/a.zip", "a.zip");
 * download.addEventListener("progress", ({ current, total }) => {
 *   if (total) console.log(`${Math.floor((current / total) * 100)}%`);
 * });
 * download.start();
 * ```
 */
export class DownloadProgressEvent extends DownloadEvent {
  /** Bytes of the file written so far. */
  readonly current: number;
  /** The file's length, or `undefined` when the server did not say. */
  readonly total: number | undefined;

  /**
   * Creates the event (the library dispatches them).
   *
   * @param download The download.
   * @param current Bytes written so far.
   * @param total The file's length, if known.
   */
  constructor(download: Download, current: number, total: number | undefined) {
    super("progress", download);
    this.current = current;
    this.total = total;
  }
}
recognizedAcrossCopies(DownloadProgressEvent, "DownloadProgressEvent");

/**
 * `statechange`: {@linkcode Download.state} changed. The last event of a
 * download is the one to `"done"`, `"failed"` or `"canceled"`.
 *
 * @example Log every state
 * ```ts
 * import { Download } from "@x/dlmanager";
 *
 * const download = new Download("https://example.com/a.zip", "a.zip");
 * download.addEventListener("statechange", ({ state }) => console.log(state));
 * download.start();
 * ```
 */
export class DownloadStateEvent extends DownloadEvent {
  /** The new state. */
  readonly state: DownloadState;

  /**
   * Creates the event (the library dispatches them).
   *
   * @param download The download.
   * @param state Its new state.
   */
  constructor(download: Download, state: DownloadState) {
    super("statechange", download);
    this.state = state;
  }
}
recognizedAcrossCopies(DownloadStateEvent, "DownloadStateEvent");

/**
 * `retry`: an attempt failed, and the next starts after a backoff (see
 * {@linkcode TransferOptions.retries}). With several connections, each
 * connection's retries are told; with several sources, a source asked again
 * after the others too (its `attempt` counts all of its attempts).
 *
 * @example Say why a download retries
 * ```ts
 * import { Download } from "@x/dlmanager";
 *
 * const download = new Download("https://example.com/a.zip", "a.zip");
 * download.addEventListener("retry", ({ attempt, delay, reason }) => {
 *   console.log(`attempt ${attempt} failed (${reason}); again in ${delay} ms`);
 * });
 * download.start();
 * ```
 */
export class DownloadRetryEvent extends DownloadEvent {
  /**
   * The attempt that failed, from 1, as the retries count it: 1 again after
   * an attempt that moved the download on (see the `retries` option).
   */
  readonly attempt: number;
  /** Milliseconds until the next attempt. */
  readonly delay: number;
  /** What the attempt failed with. */
  readonly error: unknown;
  /** The error, in words (its message). */
  readonly reason: string;

  /**
   * Creates the event (the library dispatches them).
   *
   * @param download The download.
   * @param attempt The attempt that failed.
   * @param delay Milliseconds until the next.
   * @param error What it failed with.
   */
  constructor(
    download: Download,
    attempt: number,
    delay: number,
    error: unknown,
  ) {
    super("retry", download);
    this.attempt = attempt;
    this.delay = delay;
    this.error = error;
    this.reason = inWords(error);
  }
}
recognizedAcrossCopies(DownloadRetryEvent, "DownloadRetryEvent");

/** An error's message (a thrown value not an `Error`: itself, as text). */
function inWords(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * `hostwait`: a connection of the download was refused (`429` or `503`)
 * by a host that another of the manager's downloads (or another connection
 * of this one) is receiving a body from: the server limits the connections
 * per client (as nginx's `limit_conn` does), and this connection waits for
 * one of those to end, then asks again, spending no retry (see
 * {@linkcode TransferOptions.retries}). `hostwaitend` follows when the wait
 * ends, whatever ended it (a transfer from the host ended, a cancel, a
 * pause, or the bound below), with the same `host` and `error`.
 *
 * The wait has a bound: after the `Retry-After` the refusal sent, or else
 * {@linkcode TransferOptions.retryAfterCap}, the connection asks again
 * anyway; if none of the host's bodies received a byte meanwhile (they are
 * stalled, as one can be for ever with `idleTimeout: Infinity`), the
 * refusal counts as a failed attempt, told by a `retry` event, as it is
 * when nothing else transfers from the host.
 *
 * @example Show why a download sits still
 * ```ts
 * import { DownloadManager } from "@x/dlmanager";
 *
 * await using manager = new DownloadManager("downloads");
 * manager.addEventListener("hostwait", ({ download, host, reason }) => {
 *   console.log(`${download.getUrl()}: ${host} is busy (${reason}), waiting`);
 * });
 * manager.addEventListener("hostwaitend", ({ download }) => {
 *   console.log(`${download.getUrl()}: asking again`);
 * });
 * manager.download("https://example.com/a.zip");
 * manager.download("https://example.com/b.zip");
 * await manager.wait();
 * ```
 */
export class DownloadHostWaitEvent extends DownloadEvent {
  /** The host (with its port, if not the default) that refused. */
  readonly host: string;
  /** The refusal: an {@linkcode HTTPError} of status `429` or `503`. */
  readonly error: unknown;
  /** The error, in words (its message). */
  readonly reason: string;

  /**
   * Creates the event (the library dispatches them).
   *
   * @param type `"hostwait"` or `"hostwaitend"`.
   * @param download The download.
   * @param host The host that refused.
   * @param error The refusal.
   */
  constructor(
    type: "hostwait" | "hostwaitend",
    download: Download,
    host: string,
    error: unknown,
  ) {
    super(type, download);
    this.host = host;
    this.error = error;
    this.reason = inWords(error);
  }
}
recognizedAcrossCopies(DownloadHostWaitEvent, "DownloadHostWaitEvent");

/**
 * `error`: the download failed, with {@linkcode Download.error}'s error
 * (a cancel is not an error: it is told by `statechange`).
 *
 * @example Log failures
 * ```ts
 * import { Download } from "@x/dlmanager";
 *
 * const download = new Download("https://example.com/a.zip", "a.zip");
 * download.addEventListener("error", ({ error }) => console.error(error));
 * download.start();
 * ```
 */
export class DownloadErrorEvent extends DownloadEvent {
  /** The error the download ended with. */
  readonly error: unknown;

  /**
   * Creates the event (the library dispatches them).
   *
   * @param download The download.
   * @param error Its error.
   */
  constructor(download: Download, error: unknown) {
    super("error", download);
    this.error = error;
  }
}
recognizedAcrossCopies(DownloadErrorEvent, "DownloadErrorEvent");

/**
 * The events of a download, by name: what `addEventListener` passes to a
 * listener of each.
 *
 * @example A typed listener
 * ```ts
 * import { Download, type DownloadEventMap } from "@x/dlmanager";
 *
 * const onRetry = (event: DownloadEventMap["retry"]) => console.log(event.reason);
 * const download = new Download("https://example.com/a.zip", "a.zip");
 * download.addEventListener("retry", onRetry);
 * download.start();
 * ```
 */
export interface DownloadEventMap {
  /** Bytes are on disk: see {@linkcode DownloadProgressEvent}. */
  progress: DownloadProgressEvent;
  /** The state changed: see {@linkcode DownloadStateEvent}. */
  statechange: DownloadStateEvent;
  /** An attempt failed and will be retried: see {@linkcode DownloadRetryEvent}. */
  retry: DownloadRetryEvent;
  /**
   * A connection waits for the host to free one: see
   * {@linkcode DownloadHostWaitEvent}.
   */
  hostwait: DownloadHostWaitEvent;
  /** That wait ended: see {@linkcode DownloadHostWaitEvent}. */
  hostwaitend: DownloadHostWaitEvent;
  /** The download completed (its file is in place, or was found there). */
  done: DownloadEvent;
  /** The download failed: see {@linkcode DownloadErrorEvent}. */
  error: DownloadErrorEvent;
}
