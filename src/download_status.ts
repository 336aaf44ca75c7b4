/**
 * {@linkcode DownloadStatus}: what a {@linkcode Download} tells of itself
 * (its state, its bytes, how it ended, its URL and destination), apart from
 * what it does (`download.ts`).
 *
 * @module
 */

import { DownloadEventTarget } from "./download_event_target.ts";
import { DownloadInterrupt } from "./errors.ts";
import type {
  ConnectionProgress,
  DownloadState,
  LockHolder,
} from "./download_options.ts";

/**
 * Where a download is; "committing" shows as "running", but a cancel no
 * longer takes: the complete file is being moved into place.
 */
export type Phase =
  | "idle"
  | "queued"
  | "waiting"
  | "running"
  | "committing"
  | "done";

/**
 * What a download has recorded of itself: written by {@linkcode Download}
 * only, read by the accessors of {@linkcode DownloadStatus}.
 */
export interface StatusRecord {
  /** The URL, normalised: the download's identity. */
  url: string;
  /** The destination path, as given. */
  dest: string;
  /** The URL the file came from, once a server answered. */
  finalUrl: string;
  /** Where the download is. */
  phase: Phase;
  /**
   * Whether it is paused now; `held`: resumed, it waits for a slot of its
   * manager (it shows as `"queued"`).
   */
  pause: { readonly paused: boolean; readonly held: boolean };
  /** Whether a cancel took. */
  canceled: boolean;
  /**
   * Why, when the download's `signal` canceled it: the signal's reason,
   * the cause of its {@linkcode DownloadInterrupt}.
   */
  cancelReason?: unknown;
  /** Whether it ended with an error (`error`). */
  failed: boolean;
  /** The error it ended with. */
  error: unknown;
  /** Bytes of the file written, as progress last reported. */
  written: number;
  /** The file's length, once known. */
  total: number | undefined;
  /** Whether it ended because another process downloaded the file. */
  skipped: boolean;
  /** How a revalidation ended. */
  revalidation: "fresh" | "updated" | undefined;
  /** Who holds the destination's lock, while waiting for it. */
  lockHolder: LockHolder | undefined;
  /** The parts being fetched, while several connections are. */
  parts: (() => readonly ConnectionProgress[]) | undefined;
  /**
   * Whether a cancel with `keepPartial`, or a failure with
   * `keepPartialOnError`, kept the partial file.
   */
  partialKept: boolean;
}

// A record's pause until its download gives its own: shared, not one per
// download.
const NOT_PAUSED = { paused: false, held: false } as const;

let statusRecord: (status: DownloadStatus) => StatusRecord;

/** The record behind `status`'s accessors, for the download to write. */
export function recordOf(status: DownloadStatus): StatusRecord {
  return statusRecord(status);
}

/**
 * The {@linkcode DownloadInterrupt} of a canceled download: its `cause` is
 * the reason of the signal that canceled it, if one did.
 */
export function interruptOf(record: StatusRecord): DownloadInterrupt {
  return new DownloadInterrupt(
    interruptMessage(record.url),
    "cancelReason" in record ? { cause: record.cancelReason } : undefined,
  );
}

/** The message of the {@linkcode DownloadInterrupt} of a canceled download. */
export function interruptMessage(url: string): string {
  return `Download of "${url}" was canceled`;
}

/**
 * What a {@linkcode Download} tells of itself: its state, its bytes, how it
 * ended, its URL and destination. Every download is one; it is not made on
 * its own (what a download does, and its events, are in
 * {@linkcode Download}).
 *
 * @example Report how a download ended
 * ```ts
 * import type { DownloadStatus } from "@x/dlmanager";
 *
 * function report(download: DownloadStatus): string {
 *   return `${download.getUrl()}: ${download.state}, ${download.bytesWritten} bytes`;
 * }
 * ```
 */
export class DownloadStatus extends DownloadEventTarget {
  #record: StatusRecord = {
    url: "",
    dest: "",
    finalUrl: "",
    phase: "idle",
    pause: NOT_PAUSED,
    canceled: false,
    failed: false,
    error: undefined,
    written: 0,
    total: undefined,
    skipped: false,
    revalidation: undefined,
    lockHolder: undefined,
    parts: undefined,
    partialKept: false,
  };

  static {
    statusRecord = (status) => status.#record;
  }

  /** Made by a {@linkcode Download} only. */
  protected constructor() {
    super();
  }

  /**
   * Where the download is: `"idle"`, `"queued"`, `"running"`, `"waiting"`
   * (for another process's lock), `"paused"`, `"done"`, `"failed"` or
   * `"canceled"`. A manager's download resumed after a pause is
   * `"queued"` again while it waits for a free slot. An error takes
   * precedence over a cancel. A download canceled while it runs tells the
   * state it was in until it has ended (its connections closed, its files
   * removed): a `statechange` to `"canceled"` follows.
   *
   * @example
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.start();
   * await download.wait({ raiseIfError: false });
   * console.log(download.state); // "done", "failed" or "canceled"
   * ```
   */
  get state(): DownloadState {
    const { phase, canceled } = this.#record;
    if (phase === "done") {
      return this.#record.failed ? "failed" : canceled ? "canceled" : "done";
    }
    // Canceled, it is what it was until it ends (no event told otherwise):
    // a paused one is not running again, nor one waiting for a lock.
    if (canceled && phase === "idle") return "canceled";
    const { pause } = this.#record;
    if (pause.paused && phase !== "committing") {
      return pause.held ? "queued" : "paused";
    }
    if (phase === "committing") return "running";
    return phase;
  }

  /**
   * Bytes of the file written so far (what progress last reported).
   *
   * @example
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.setProgress((download) => {
   *   console.log(`${download.bytesWritten} of ${download.total ?? "?"}`);
   * });
   * download.start();
   * ```
   */
  get bytesWritten(): number {
    return this.#record.written;
  }

  /**
   * The file's length, once the server has told it (`undefined` before, or
   * if it does not).
   *
   * @example
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.addEventListener("statechange", () => {
   *   if (download.total !== undefined) console.log(download.total);
   * });
   * download.start();
   * ```
   */
  get total(): number | undefined {
    return this.#record.total;
  }

  /**
   * Whether the download ended without fetching (with `skipIfExists`):
   * `dest` appeared while it waited for another process's lock, or, with
   * `sha256` or `integrity`, the file there already holds those bytes.
   *
   * @example
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip", {
   *   skipIfExists: true,
   * });
   * download.start();
   * await download.wait();
   * if (download.skipped) console.log("it was there already");
   * ```
   */
  get skipped(): boolean {
    return this.#record.skipped;
  }

  /**
   * How a revalidation ended (a manager's download of a file that was
   * there, with `revalidate`): `"fresh"` when the file was current (the
   * server answered `304 Not Modified`, or another process had just
   * checked it) and was kept as it is; `"updated"` when a newer version
   * replaced it; `undefined` for any other download.
   *
   * @example
   * ```ts
   * import { DownloadManager } from "@x/dlmanager";
   *
   * await using manager = new DownloadManager("cache");
   * const url = "https://example.com/latest.json";
   * const download = manager.download(url, { revalidate: "always" });
   * await download?.wait();
   * console.log(download?.revalidation ?? "downloaded");
   * ```
   */
  get revalidation(): "fresh" | "updated" | undefined {
    return this.#record.revalidation;
  }

  /**
   * While the state is `"waiting"`: the process that holds the destination's
   * lock (another download of the same file, in this process or another),
   * if its lock could be read; `undefined` otherwise. A holder that is
   * running on this machine is waited for, however long it pauses (see
   * {@linkcode TransferOptions.lockTimeout}).
   *
   * @example Say whom a download waits for
   * ```ts
   * import { DownloadManager } from "@x/dlmanager";
   *
   * await using manager = new DownloadManager("cache");
   * const download = manager.download("https://example.com/a.zip", {
   *   onStateChange: (download, state) => {
   *     if (state === "waiting") {
   *       console.log(`waiting for pid ${download.lockHolder?.pid}`);
   *     }
   *   },
   * });
   * ```
   */
  get lockHolder(): LockHolder | undefined {
    const { phase, lockHolder } = this.#record;
    return phase === "waiting" ? lockHolder : undefined;
  }

  /**
   * The parts of the file being fetched now, one per connection, while the
   * download uses several (see {@linkcode TransferOptions.connections});
   * empty while it uses one. Progress callbacks report the whole file.
   *
   * @example Show each connection's part
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.iso", "a.iso", {
   *   connections: 4,
   * });
   * download.setProgress((download) => {
   *   for (const { start, end, written } of download.connections) {
   *     console.log(`${start}-${end}: ${written} bytes`);
   *   }
   * });
   * download.start();
   * ```
   */
  get connections(): readonly ConnectionProgress[] {
    return this.#record.parts?.().map(({ start, end, written }) => ({
      start,
      end,
      written,
    })) ?? [];
  }

  /**
   * Whether the download, canceled with `keepPartial` (or failed, with
   * `keepPartialOnError`, as a later download may resume past: see
   * {@linkcode TransferOptions.keepPartialOnError}), left its partial file
   * for a later download to resume (the server gave a validator and a
   * length); `false` otherwise.
   *
   * @example
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.start();
   * // ...
   * download.cancel({ keepPartial: true });
   * await download.wait({ raiseIfError: false });
   * if (download.partialKept) console.log("run again to resume");
   * ```
   */
  get partialKept(): boolean {
    return this.#record.partialKept;
  }

  /**
   * The error the download ended with, or `undefined` (also when it was only
   * canceled, or has not ended).
   *
   * @returns The error, as thrown.
   *
   * @example Inspect the error
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.start();
   * await download.wait({ raiseIfError: false });
   * console.log(download.error());
   * ```
   */
  error(): unknown {
    return this.#record.error;
  }

  /**
   * Whether {@linkcode Download.cancel} took effect on this download.
   *
   * @returns `true` once canceled.
   *
   * @example
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.cancel();
   * console.log(download.isCanceled()); // true
   * ```
   */
  isCanceled(): boolean {
    return this.#record.canceled;
  }

  /**
   * Whether the download has started and not yet ended. A paused download
   * has not ended: this stays `true` until it is done, failed or canceled
   * (as in Python's dlmanager, where a loop on `is_running()` waits for the
   * end); {@linkcode DownloadStatus.state} is `"paused"` then.
   *
   * @returns `true` while running, paused included.
   *
   * @example
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.start();
   * console.log(download.isRunning()); // true
   * ```
   */
  isRunning(): boolean {
    const { phase } = this.#record;
    return phase === "running" || phase === "waiting" || phase === "committing";
  }

  /**
   * Throws the download's error if it has one; otherwise throws
   * {@linkcode DownloadInterrupt} if it was canceled; otherwise returns.
   * An error takes precedence over a cancel.
   *
   * @example
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.start();
   * await download.wait({ raiseIfError: false });
   * download.raiseIfError();
   * ```
   */
  raiseIfError(): void {
    const record = this.#record;
    if (record.failed) throw record.error;
    if (record.canceled) throw interruptOf(record);
  }

  /**
   * The destination path, as given.
   *
   * @returns The path.
   *
   * @example
   * ```ts
   * import { Download } from "@x/dlmanager";
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * console.log(download.getDest()); // "a.zip"
   * ```
   */
  getDest(): string {
    return this.#record.dest;
  }

  /**
   * The URL, normalised (`new URL(url).href`).
   *
   * @returns The URL.
   *
   * @example
   * ```ts
   * import { Download } from "@x/dlmanager";
   * const download = new Download("https://example.com/a b.zip", "a.zip");
   * console.log(download.getUrl()); // "https://example.com/a%20b.zip"
   * ```
   */
  getUrl(): string {
    return this.#record.url;
  }

  /**
   * The URL the file came from: after redirects, and from whichever source
   * (mirror) served it, without a fragment (`#...`, which no server sees),
   * as `fetch`'s `response.url`; the URL itself until a server has answered.
   *
   * @returns The final URL.
   *
   * @example
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download([
   *   "https://example.com/a.zip",
   *   "https://mirror.example.net/a.zip",
   * ], "a.zip");
   * download.start();
   * await download.wait();
   * console.log(download.getFinalUrl()); // e.g. the mirror it was sent to
   * ```
   */
  getFinalUrl(): string {
    return this.#record.finalUrl;
  }
}
