/**
 * {@linkcode Download}: one file, fetched in the background into a partial file
 * and renamed onto its destination only when complete.
 *
 * @module
 */

import { basename } from "node:path";
import { ChunkedWriter } from "./_body/chunked_writer.ts";
import {
  contentEncoding,
  decodedBody,
  isDecodeFailure,
} from "./_body/content_decoding.ts";
import { FileLock, type LockTiming, type Owner } from "./_disk/lock.ts";
import { type FileWriter, fs } from "./_runtime/fs.ts";
import { NAME_MAX, notAFileError } from "./_disk/file_name.ts";
import { IntegrityCheck, parseExpected } from "./_body/integrity.ts";
import {
  endWriter,
  partialFile,
  type PartialPaths,
  partialPaths,
  readSidecar,
  removeIfPresent,
  SIDECAR_VERSION,
  sidecarPartial,
  startWriter,
  writerState,
  writeSidecar,
} from "./_disk/names.ts";
import { newToken, thisProcess } from "./_disk/process_identity.ts";
import {
  isRetryable,
  parseRetryAfter,
  retryDelay,
  sleep,
} from "./_http/retry_policy.ts";
import { pollInterval, SizePoller } from "./_body/size_poller.ts";
import { Watchdog } from "./_timers.ts";
import {
  DownloadInterrupt,
  HTTPError,
  LockTimeoutError,
  NetworkError,
  ProtocolError,
  RedirectError,
  RetriesExhaustedError,
  TimeoutError,
} from "./errors.ts";
import {
  type ResolvedTransferOptions,
  resolveTransferOptions,
  type TransferOptions,
} from "./transfer_options.ts";

/**
 * Reports a download's progress: `current` bytes written so far out of
 * `total` (the `Content-Length`, or `undefined` when the server sends none).
 * Called with `current === 0` once the server has answered, then after every
 * write; where the runtime's pipe writes (see
 * {@linkcode TransferOptions.chunkSize}), every 100 ms while the file grows,
 * and at its end. An error thrown here becomes the download's error.
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
   * @default {globalThis.fetch}
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
   * is checked). The bytes are hashed while they stream; on a mismatch the
   * file is removed and the download fails with an `IntegrityError`.
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
   * Aborting this signal cancels the download, as {@linkcode Download.cancel}.
   *
   * @default {undefined}
   */
  signal?: AbortSignal | undefined;
  /**
   * Called on every change of {@linkcode Download.state}; an error it throws
   * becomes the download's error.
   *
   * @default {undefined}
   */
  onStateChange?: StateChangeCallback | undefined;
  /**
   * If `dest` exists once this download holds its lock (another process has
   * just downloaded it), end as done without fetching; see
   * {@linkcode Download.skipped}. The manager sets it.
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

type Phase =
  | "idle"
  | "queued"
  | "waiting"
  | "running"
  | "committing"
  | "done";

/**
 * Where a download is in its life: `"idle"` (created), `"queued"` (waiting
 * for a manager's free slot), `"running"`, `"waiting"` (for another process
 * that downloads the same destination: see {@linkcode Download.lockHolder}),
 * then one of `"done"`, `"failed"` or `"canceled"`.
 */
export type DownloadState =
  | "idle"
  | "queued"
  | "waiting"
  | "running"
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

/** Lock timing derived from `lockStaleAfter`. */
function lockTiming(staleAfter: number): LockTiming {
  return {
    staleAfter,
    heartbeat: Math.max(1, staleAfter / 4),
    poll: Math.max(1, Math.min(250, staleAfter / 4)),
  };
}

// Lets the manager put a download in its queue without a public method.
let enqueueDownload: (download: Download) => void;

/** Marks `download` as waiting in a manager's queue (state `"queued"`). */
export function enqueue(download: Download): void {
  enqueueDownload(download);
}

const NOT_STARTED = "the download was not started: call start() first";

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const HASH_READ_SIZE = 1024 * 1024;

/** Whether `url` (a URL's `href`) is one a download fetches: http or https. */
function isHttp(url: URL): boolean {
  return url.protocol === "http:" || url.protocol === "https:";
}

function parseLength(header: string | null): number | undefined {
  return header !== null && /^\d+$/.test(header) ? Number(header) : undefined;
}

/** The validator for `If-Range`: a strong ETag, else Last-Modified. */
function validatorOf(headers: Headers): string | undefined {
  const etag = headers.get("etag");
  if (etag !== null && !etag.startsWith("W/")) return etag;
  return headers.get("last-modified") ?? undefined;
}

// Parses `Content-Range: bytes <start>-<end>/<total>`, or the `bytes *` +
// `/<total>` form of a 416 answer.
function parseContentRange(
  header: string | null,
): { start: number | undefined; total: number | undefined } | undefined {
  const match = header === null
    ? null
    : /^bytes (?:(\d+)-\d+|\*)\/(\d+|\*)$/.exec(header.trim());
  if (match === null) return undefined;
  return {
    start: match[1] === undefined ? undefined : Number(match[1]),
    total: match[2] === undefined || match[2] === "*"
      ? undefined
      : Number(match[2]),
  };
}

/**
 * Downloads one file in the background.
 *
 * The body is streamed into a partial file of its own beside `dest`
 * (`.<name>.<12 hex>.dlpart.<token>`), which is renamed onto `dest` once the
 * whole body is written: `dest` never holds a partial file. On error or
 * cancel the partial file is removed; if the process dies, it stays, with a
 * sidecar recording the URL, validator and writer, and the next download of
 * `dest` from that URL resumes it. The HTTP status is checked before anything is written: an
 * answer outside 200-299 ends the download with an {@linkcode HTTPError} and
 * creates no file. Failed attempts are retried and resumed as
 * {@linkcode TransferOptions} describe.
 *
 * Usually downloads are created by {@linkcode DownloadManager.download}.
 *
 * @example Download one file and wait for it
 * ```ts ignore
 * import { Download } from "@x/dlmanager";
 *
 * const download = new Download("https://example.com/data.csv", "data.csv", {
 *   progress: (_download, current, total) => console.log(current, total),
 * });
 * download.start();
 * await download.wait(); // rejects on error or cancel
 * ```
 */
export class Download {
  #url: string;
  #finalUrl: string;
  #dest: string;
  #options: ResolvedTransferOptions;
  #fetch: typeof fetch;
  #progress: ProgressCallback | null;
  #finishedCallback: ((download: Download) => void) | undefined;
  #integrity: IntegrityCheck | undefined;
  #signal: AbortSignal | undefined;
  #phase: Phase = "idle";
  #canceled = false;
  #failed = false;
  #error: unknown = undefined;
  #abort = new AbortController();
  #settled: Promise<void>;
  #settle: () => void = () => {};
  // What is on disk: the partial file, open, and how many bytes it holds.
  #writer = "";
  #partial = "";
  #file: FileWriter | undefined;
  #offset = 0;
  // What the partial bytes belong to, from the first answer (or the sidecar).
  #validator: string | undefined;
  #total: number | undefined;
  // Whether a sidecar is on disk (written by this download or an earlier one).
  #sidecar = false;
  #written = 0;
  #onStateChange: StateChangeCallback | undefined;
  #skipIfExists: boolean;
  #skipped = false;
  #lockHolder: LockHolder | undefined;

  static {
    enqueueDownload = (download) => download.#enqueue();
  }

  /**
   * Creates a download; nothing happens until {@linkcode Download.start}.
   *
   * @param url The URL to fetch. A `TypeError` if it is not a valid URL.
   * @param dest The path of the file to create. Its directory must exist.
   * @param options See {@linkcode DownloadOptions}. Out-of-range numbers
   * throw a `RangeError`; a malformed digest or header a `TypeError`.
   */
  constructor(url: string | URL, dest: string, options: DownloadOptions = {}) {
    const parsed = new URL(url);
    this.#url = parsed.href;
    this.#finalUrl = this.#url;
    if (!isHttp(parsed)) {
      throw new TypeError(
        `Cannot download "${this.#url}": only http: and https: URLs are supported`,
      );
    }
    if (typeof dest !== "string" || dest === "") {
      throw new TypeError(
        `Cannot download "${this.#url}": dest must be a non-empty path`,
      );
    }
    if (new TextEncoder().encode(basename(dest)).byteLength > NAME_MAX) {
      throw new TypeError(
        `Cannot download "${this.#url}" to "${dest}": the file name is longer than ${NAME_MAX} bytes, more than file systems take`,
      );
    }
    this.#dest = dest;
    this.#options = resolveTransferOptions(this.#url, options);
    // Every request asks for the bytes as stored, unless told otherwise.
    if (!this.#options.headers.has("accept-encoding")) {
      this.#options.headers.set("accept-encoding", "identity");
    }
    const expected = parseExpected(
      this.#url,
      options.integrity,
      options.sha256,
    );
    this.#integrity = expected && new IntegrityCheck(expected);
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#progress = options.progress ?? null;
    this.#finishedCallback = options.finishedCallback;
    this.#signal = options.signal;
    this.#onStateChange = options.onStateChange;
    this.#skipIfExists = options.skipIfExists ?? false;
    this.#settled = new Promise((resolve) => this.#settle = resolve);
  }

  /**
   * Starts the download in the background. A download runs at most once: a
   * second call (or a call after a cancel) throws.
   *
   * @example Start, then wait
   * ```ts ignore
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.start();
   * await download.wait();
   * ```
   */
  start(): void {
    if (
      (this.#phase !== "idle" && this.#phase !== "queued") || this.#canceled
    ) {
      throw new Error(
        `Cannot start download of "${this.#url}": it was already ${
          this.#canceled ? "canceled" : "started"
        }`,
      );
    }
    this.#phase = "running";
    if (this.#signal?.aborted) this.cancel();
    this.#signal?.addEventListener("abort", this.#onSignal);
    this.#emitState();
    void this.#run();
  }

  /**
   * Where the download is: `"idle"`, `"queued"`, `"running"`, `"waiting"`
   * (for another process's lock), `"done"`, `"failed"` or `"canceled"`. An
   * error takes precedence over a cancel.
   *
   * @example
   * ```ts ignore
   * await download.wait({ raiseIfError: false });
   * console.log(download.state); // "done", "failed" or "canceled"
   * ```
   */
  get state(): DownloadState {
    const phase = this.#phase;
    if (phase === "running" || phase === "committing") return "running";
    if (phase === "waiting") return "waiting";
    if (phase === "done") {
      return this.#failed ? "failed" : this.#canceled ? "canceled" : "done";
    }
    return this.#canceled ? "canceled" : phase;
  }

  /**
   * Bytes of the file written so far (what progress last reported).
   *
   * @example
   * ```ts ignore
   * console.log(`${download.bytesWritten} of ${download.total ?? "?"}`);
   * ```
   */
  get bytesWritten(): number {
    return this.#written;
  }

  /**
   * The file's length, once the server has told it (`undefined` before, or
   * if it does not).
   *
   * @example
   * ```ts ignore
   * if (download.total !== undefined) console.log(download.total);
   * ```
   */
  get total(): number | undefined {
    return this.#total;
  }

  /**
   * Whether the download ended without fetching because `dest` appeared
   * while it waited for another process's lock (with `skipIfExists`).
   *
   * @example
   * ```ts ignore
   * await download.wait();
   * if (download.skipped) console.log("another process downloaded it");
   * ```
   */
  get skipped(): boolean {
    return this.#skipped;
  }

  /**
   * While the state is `"waiting"`: the process that holds the destination's
   * lock (another download of the same file, in this process or another),
   * if its lock could be read; `undefined` otherwise. A holder that is
   * running on this machine is waited for, however long it pauses (see
   * {@linkcode TransferOptions.lockTimeout}).
   *
   * @example Say whom a download waits for
   * ```ts ignore
   * const download = manager.download(url, {
   *   onStateChange: (download, state) => {
   *     if (state === "waiting") {
   *       console.log(`waiting for pid ${download.lockHolder?.pid}`);
   *     }
   *   },
   * });
   * ```
   */
  get lockHolder(): LockHolder | undefined {
    return this.#phase === "waiting" ? this.#lockHolder : undefined;
  }

  /**
   * Waits until the download has ended (and its `finishedCallback` has run).
   *
   * @param options See {@linkcode WaitOptions}.
   * @returns A promise that rejects, with `raiseIfError` (the default), as
   * {@linkcode Download.raiseIfError} would throw.
   *
   * @example Wait without raising
   * ```ts ignore
   * await download.wait({ raiseIfError: false });
   * if (download.error() !== undefined) console.error(download.error());
   * ```
   */
  async wait(options: WaitOptions = {}): Promise<void> {
    if (this.#phase === "idle" && !this.#canceled) {
      throw new Error(`Cannot wait for "${this.#url}": ${NOT_STARTED}`);
    }
    await this.#settled;
    if (options.raiseIfError ?? true) this.raiseIfError();
  }

  /**
   * Cancels the download: the request is aborted at once, the partial file
   * removed, and {@linkcode Download.wait} rejects with
   * {@linkcode DownloadInterrupt}. Does nothing once the download has ended
   * (or while its complete file is being moved into place).
   *
   * @example Cancel a download
   * ```ts ignore
   * download.start();
   * download.cancel();
   * console.log(download.isCanceled()); // true
   * ```
   */
  cancel(): void {
    if (this.#phase === "committing" || this.#phase === "done") return;
    if (this.#canceled) return;
    this.#canceled = true;
    if (this.#phase === "idle" || this.#phase === "queued") {
      this.#finish();
      return;
    }
    this.#abort.abort(new DownloadInterrupt(this.#interruptMessage()));
  }

  /**
   * The error the download ended with, or `undefined` (also when it was only
   * canceled, or has not ended).
   *
   * @returns The error, as thrown.
   *
   * @example Inspect the error
   * ```ts ignore
   * await download.wait({ raiseIfError: false });
   * console.log(download.error());
   * ```
   */
  error(): unknown {
    return this.#error;
  }

  /**
   * Whether {@linkcode Download.cancel} took effect on this download.
   *
   * @returns `true` once canceled.
   *
   * @example
   * ```ts ignore
   * download.cancel();
   * console.log(download.isCanceled()); // true
   * ```
   */
  isCanceled(): boolean {
    return this.#canceled;
  }

  /**
   * Whether the download has started and not yet ended.
   *
   * @returns `true` while running.
   *
   * @example
   * ```ts ignore
   * download.start();
   * console.log(download.isRunning()); // true
   * ```
   */
  isRunning(): boolean {
    return this.#phase === "running" || this.#phase === "waiting" ||
      this.#phase === "committing";
  }

  /**
   * Throws the download's error if it has one; otherwise throws
   * {@linkcode DownloadInterrupt} if it was canceled; otherwise returns.
   * An error takes precedence over a cancel.
   *
   * @example
   * ```ts ignore
   * await download.wait({ raiseIfError: false });
   * download.raiseIfError();
   * ```
   */
  raiseIfError(): void {
    if (this.#failed) throw this.#error;
    if (this.#canceled) throw new DownloadInterrupt(this.#interruptMessage());
  }

  /**
   * Sets (or, with `null`, removes) the progress callback. Safe during a
   * download: the next report goes to the new callback.
   *
   * @param progress See {@linkcode ProgressCallback}.
   *
   * @example
   * ```ts ignore
   * download.setProgress((_d, current, total) => console.log(current, total));
   * ```
   */
  setProgress(progress: ProgressCallback | null): void {
    this.#progress = progress;
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
    return this.#dest;
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
    return this.#url;
  }

  /**
   * The URL the file came from after redirects; the URL itself until the
   * server has answered.
   *
   * @returns The final URL.
   *
   * @example
   * ```ts ignore
   * await download.wait();
   * console.log(download.getFinalUrl()); // e.g. the mirror it was sent to
   * ```
   */
  getFinalUrl(): string {
    return this.#finalUrl;
  }

  #onSignal = (): void => this.cancel();

  #interruptMessage(): string {
    return `Download of "${this.#url}" was canceled`;
  }

  #report(current: number, total: number | undefined): void {
    this.#written = current;
    this.#progress?.(this, current, total);
  }

  #enqueue(): void {
    if (this.#phase !== "idle" || this.#canceled) return;
    this.#phase = "queued";
    this.#emitState();
  }

  /** Tells the state-change callback; its error becomes the download's. */
  #emitState(): void {
    if (this.#onStateChange === undefined) return;
    try {
      this.#onStateChange(this, this.state);
    } catch (error) {
      this.#fail(error);
      this.#abort.abort(error);
    }
  }

  async #run(): Promise<void> {
    const paths = partialPaths(this.#dest);
    let lock: FileLock | undefined;
    let held: boolean | undefined;
    try {
      const { lockStaleAfter, lockTimeout } = this.#options;
      lock = await FileLock.acquire(paths.lock, lockTiming(lockStaleAfter), {
        signal: this.#abort.signal,
        onWait: (owner) => this.#waitFor(owner),
        waitTimeout: lockTimeout,
        timeoutError: (owner) =>
          new LockTimeoutError(this.#url, this.#dest, lockTimeout, owner),
      });
      if (this.#phase === "waiting") {
        this.#phase = "running";
        this.#emitState();
      }
      if (this.#destExists() && this.#skipIfExists) {
        this.#skipped = true;
        return;
      }
      held = await this.#transfer(paths, lock);
    } catch (error) {
      if (!this.#isCancellation(error)) this.#fail(error);
      // Release the connection if the body was not read to its end.
      this.#abort.abort(error);
    } finally {
      this.#signal?.removeEventListener("abort", this.#onSignal);
      endWriter(this.#writer);
      try {
        lock?.release(held);
      } catch (error) {
        this.#fail(error);
      }
      this.#finish();
    }
  }

  /** Marks the download as waiting for `owner`'s lock. */
  #waitFor(owner: Owner | undefined): void {
    this.#lockHolder = owner && { pid: owner.pid, host: owner.host };
    this.#phase = "waiting";
    this.#emitState();
  }

  /**
   * Whether a file is at `dest`; a `TypeError` if a directory (or anything
   * but a file) is: nothing could be renamed onto it. Synchronous: one
   * metadata call, whose answer is usually "missing", costs less on the
   * event loop than a round trip to the runtime's I/O threads.
   */
  #destExists(): boolean {
    if (!fs.existsSync(this.#dest)) return false;
    const stat = fs.statSync(this.#dest);
    if (stat === undefined) return false; // removed since the look
    if (!stat.isFile) {
      throw notAFileError(this.#url, this.#dest, stat.isDirectory);
    }
    return true;
  }

  /**
   * Under the lock: resumes or starts the partial file, makes the attempts,
   * and moves the complete file into place; removes the partial file and
   * its sidecar unless it succeeded. Returns whether the lock was found
   * still held, where it looked (before the rename).
   */
  async #transfer(
    paths: PartialPaths,
    lock: FileLock,
  ): Promise<boolean | undefined> {
    let complete = false;
    let held: boolean | undefined;
    try {
      await this.#loadPartial(paths, lock);
      const errors: unknown[] = [];
      for (let attempt = 1;; attempt++) {
        try {
          await this.#attempt(paths);
          break;
        } catch (error) {
          if (this.#isCancellation(error)) throw error;
          errors.push(error);
          if (!isRetryable(error) || attempt > this.#options.retries) {
            throw errors.length > 1
              ? new RetriesExhaustedError(this.#url, errors)
              : error;
          }
          await sleep(
            retryDelay(error, attempt, this.#options),
            this.#abort.signal,
          );
        }
      }
      await this.#file?.close();
      this.#integrity?.verify(this.#url);
      this.#abort.signal.throwIfAborted();
      this.#phase = "committing";
      if (this.#file === undefined) {
        await (await fs.createNew(this.#partial)).close();
      }
      // A process that judged this one's lock stale while it was stopped
      // may hold it now: it writes a partial file of its own, so the one
      // renamed here is still this download's, complete and verified.
      held = lock.isHeld();
      await fs.rename(this.#partial, this.#dest);
      complete = true;
      await this.#removeSidecar(paths, held);
    } finally {
      await this.#file?.close().catch(() => {});
      if (!complete) {
        await removeIfPresent(this.#partial).catch((error) =>
          this.#fail(error)
        );
        if (this.#sidecar) {
          await this.#removeSidecar(paths, held ?? lock.isHeld()).catch((
            error,
          ) => this.#fail(error));
        }
      }
    }
    return held;
  }

  /**
   * Removes the sidecar this download wrote, if any: by its name while the
   * lock is held, else only once read back as this download's (the lock's
   * new holder may have written its own there).
   */
  async #removeSidecar(paths: PartialPaths, held: boolean): Promise<void> {
    if (!this.#sidecar) return;
    this.#sidecar = false;
    if (held || readSidecar(paths.sidecar)?.writer === this.#writer) {
      await removeIfPresent(paths.sidecar);
    }
  }

  /**
   * Starts this download's partial file, or, when its lock was taken over
   * from a process (see `FileLock.takenOver`), adopts that process's partial
   * file if its sidecar vouches for it and its writer is proven dead.
   */
  async #loadPartial(paths: PartialPaths, lock: FileLock): Promise<void> {
    this.#writer = newToken();
    startWriter(this.#writer);
    this.#partial = partialFile(paths, this.#writer);
    // Usually the lock was free, and creating the file is the only call.
    if (lock.takenOver === undefined || !(await this.#adopt(paths))) {
      this.#file = await fs.createNew(this.#partial);
    }
  }

  /**
   * Adopts the partial file the sidecar names, if its writer is proven dead
   * and it is of this URL; removes it if its writer is dead but it is not.
   * Returns whether it adopted one. A partial file whose writer may be
   * running is left alone: it renames only its own file.
   */
  async #adopt(paths: PartialPaths): Promise<boolean> {
    const sidecar = readSidecar(paths.sidecar);
    if (sidecar === undefined || writerState(sidecar) !== "dead") return false;
    const partial = sidecarPartial(paths, sidecar);
    const stat = partial === undefined ? undefined : await fs.stat(partial);
    const size = stat?.isFile ? stat.size : undefined;
    if (
      partial === undefined || size === undefined ||
      sidecar.url !== this.#url || size > sidecar.total
    ) {
      // The dead writer's leftovers, of no use here.
      if (size !== undefined) await removeIfPresent(partial as string);
      await removeIfPresent(paths.sidecar);
      return false;
    }
    // Recorded as this download's before a byte is written: a process that
    // takes over from this one judges this one.
    await writeSidecar(paths.sidecar, {
      ...sidecar,
      writer: this.#writer,
      owner: thisProcess(),
    });
    this.#sidecar = true;
    this.#partial = partial;
    if (this.#integrity !== undefined) {
      for await (const bytes of fs.readChunks(partial, HASH_READ_SIZE)) {
        this.#integrity.update(bytes);
      }
    }
    this.#file = await fs.openAppend(partial);
    this.#offset = size;
    this.#validator = sidecar.validator;
    this.#total = sidecar.total;
    return true;
  }

  /** Drops the partial bytes: the next answer starts from byte 0. */
  async #restart(paths: PartialPaths): Promise<void> {
    await this.#file?.close();
    this.#file = undefined;
    this.#offset = 0;
    this.#validator = undefined;
    this.#total = undefined;
    this.#integrity?.reset();
    await removeIfPresent(this.#partial);
    await this.#removeSidecar(paths, true);
  }

  /**
   * One request: asks for the rest of the file if some is on disk, checks
   * the answer, and appends its body to the partial file.
   */
  async #attempt(paths: PartialPaths): Promise<void> {
    const abort = new AbortController();
    const forward = (): void => abort.abort(this.#abort.signal.reason);
    this.#abort.signal.addEventListener("abort", forward);
    const { connectTimeout, idleTimeout } = this.#options;
    const watchdog = new Watchdog(
      connectTimeout,
      () => abort.abort(new TimeoutError("connect", connectTimeout, this.#url)),
    );
    let body: ReadableStream<Uint8Array> | null = null;
    let writer: ChunkedWriter | undefined;
    const start = this.#offset;
    try {
      if (start > 0 && this.#validator === undefined) {
        await this.#restart(paths);
      }
      const resuming = this.#offset > 0;
      const response = await this.#request(abort.signal, resuming);
      body = response.body;
      watchdog.restart(
        idleTimeout,
        () => abort.abort(new TimeoutError("idle", idleTimeout, this.#url)),
      );
      if (!(await this.#accept(response, resuming, paths))) return;
      if (body !== null) body = this.#decoded(response, body);
      const total = this.#total;
      const file = this.#file ??= await fs.createNew(this.#partial);
      const offset = this.#offset;
      this.#report(offset, total);
      if (body !== null && this.#pipesNatively(file, offset, total)) {
        await this.#pipe(body, paths, watchdog, abort);
        return;
      }
      // The digest covers what reaches the file, in file order.
      const integrity = this.#integrity;
      const sink: FileWriter = integrity === undefined ? file : {
        write: (bytes) => {
          integrity.update(bytes);
          return file.write(bytes);
        },
        close: () => file.close(),
      };
      writer = new ChunkedWriter(
        sink,
        this.#options.chunkSize,
        total === undefined ? undefined : total - offset,
        (written) => this.#report(offset + written, total),
      );
      let received = offset;
      if (body !== null) {
        await writer.pipeFrom(
          body,
          (bytes) => {
            watchdog.touch();
            received += bytes.byteLength;
            if (total !== undefined && received > total) {
              throw this.#tooLong(total);
            }
          },
          (error) => this.#networkFailure(error, abort.signal),
        );
      }
      await writer.flush();
      this.#offset = offset + writer.written;
      this.#checkEnded();
    } catch (error) {
      // Keep every byte received that can still be written: the partial
      // file (and the digest) then hold exactly the bytes before `offset`,
      // and a retry appends from there.
      if (writer !== undefined) {
        await writer.flush();
        this.#offset = start + writer.written;
      }
      // Close the connection: the body may be unread (a refused answer), and
      // it is locked to the reader, so only aborting the request releases it.
      abort.abort(error);
      throw error;
    } finally {
      watchdog.stop();
      this.#abort.signal.removeEventListener("abort", forward);
    }
  }

  /**
   * Whether the body goes through the runtime's pipe (see
   * `FileWriter.pipe`): where there is one, unless the caller asked for exact
   * writes, the bytes need a digest (the pipe shows them to no one), or the
   * body is one write or less (nothing to save).
   */
  #pipesNatively(
    file: FileWriter,
    offset: number,
    total: number | undefined,
  ): boolean {
    return file.pipe !== undefined && !this.#options.chunkSizeGiven &&
      this.#integrity === undefined &&
      (total === undefined || total - offset > this.#options.chunkSize);
  }

  /**
   * Moves `body` into the partial file with the runtime's pipe, reporting
   * progress and feeding the idle watchdog from the file's size, read every
   * 100 ms or more often (see `pollInterval`). The pipe closes the file;
   * after a failure it is opened again for a retry to append to.
   */
  async #pipe(
    body: ReadableStream<Uint8Array>,
    paths: PartialPaths,
    watchdog: Watchdog,
    abort: AbortController,
  ): Promise<void> {
    const file = this.#file as FileWriter & Pick<Required<FileWriter>, "pipe">;
    const total = this.#total;
    const poller = new SizePoller(
      this.#partial,
      this.#offset,
      pollInterval(this.#options.idleTimeout),
      (size) => {
        watchdog.touch();
        if (total !== undefined && size > total) throw this.#tooLong(total);
        this.#report(size, total);
      },
      (error) => abort.abort(error),
    );
    let failure: { error: unknown } | undefined;
    try {
      await file.pipe(
        body,
        (error) => this.#networkFailure(error, abort.signal),
      );
    } catch (error) {
      failure = { error };
    } finally {
      poller.stop();
    }
    // Every write has landed: the size on disk is what the file holds.
    const size = (await fs.stat(this.#partial))?.size ?? 0;
    if (total !== undefined && size > total) {
      await this.#restart(paths);
      throw this.#tooLong(total);
    }
    this.#offset = size;
    if (failure !== undefined) {
      // A retry appends to it; a canceled download makes none.
      if (!this.#abort.signal.aborted) {
        this.#file = await fs.openAppend(this.#partial);
      }
      throw failure.error;
    }
    this.#report(size, total);
    this.#checkEnded();
  }

  #tooLong(total: number): ProtocolError {
    return new ProtocolError(
      `Cannot download "${this.#url}": the body is longer than the ${total} bytes announced`,
    );
  }

  /** Fails if the body ended before the announced length. */
  #checkEnded(): void {
    const total = this.#total;
    if (total !== undefined && this.#offset !== total) {
      throw new ProtocolError(
        `Cannot download "${this.#url}": the body ended after ${this.#offset} of ${total} bytes`,
      );
    }
  }

  /**
   * Sends the request, following redirects (up to `maxRedirects`), with
   * `Range` and `If-Range` when resuming.
   */
  async #request(signal: AbortSignal, resuming: boolean): Promise<Response> {
    let url = this.#url;
    for (let redirects = 0;; redirects++) {
      let response: Response;
      try {
        response = await this.#fetch(url, {
          headers: this.#requestHeaders(url, resuming),
          signal,
          redirect: "manual",
        });
      } catch (error) {
        throw this.#networkFailure(error, signal);
      }
      if (!REDIRECT_STATUSES.has(response.status)) {
        this.#finalUrl = url;
        return response;
      }
      await response.body?.cancel().catch(() => {});
      const location = response.headers.get("location");
      if (location === null) {
        throw new RedirectError(
          `Cannot download "${this.#url}": ${url} redirected (${response.status}) without a Location`,
        );
      }
      if (redirects >= this.#options.maxRedirects) {
        throw new RedirectError(
          `Cannot download "${this.#url}": more than ${this.#options.maxRedirects} redirects`,
        );
      }
      url = this.#redirectTarget(url, location);
    }
  }

  /**
   * Where a redirect from `from` to `location` leads: an absolute http(s)
   * URL, else a `RedirectError` (a `file:` or `data:` URL is never fetched).
   */
  #redirectTarget(from: string, location: string): string {
    let target: URL;
    try {
      target = new URL(location, from);
    } catch {
      throw new RedirectError(
        `Cannot download "${this.#url}": ${from} redirected to an invalid URL "${location}"`,
      );
    }
    if (!isHttp(target)) {
      throw new RedirectError(
        `Cannot download "${this.#url}": ${from} redirected to "${target.href}", which is not http: or https:`,
      );
    }
    return target.href;
  }

  /**
   * The headers of a request to `url`: the options' as they are for the
   * first request of a fresh start (`fetch` copies them), else a copy with
   * `range` and `if-range` when resuming, and without credentials on
   * another origin than the download's URL.
   */
  #requestHeaders(url: string, resuming: boolean): Headers {
    if (!resuming && url === this.#url) return this.#options.headers;
    const headers = new Headers(this.#options.headers);
    if (resuming) {
      headers.set("range", `bytes=${this.#offset}-`);
      headers.set("if-range", this.#validator as string);
    }
    if (
      url !== this.#url && new URL(url).origin !== new URL(this.#url).origin
    ) {
      headers.delete("authorization");
      headers.delete("cookie");
    }
    return headers;
  }

  /**
   * Checks an answer and sets up the partial file for its body. Returns
   * false when there is no body to write (the file was already complete).
   */
  async #accept(
    response: Response,
    resuming: boolean,
    paths: PartialPaths,
  ): Promise<boolean> {
    const url = this.#finalUrl;
    if (resuming && response.status === 416) {
      // Asked for bytes from the end of the file: it was already complete.
      const range = parseContentRange(response.headers.get("content-range"));
      if (
        range !== undefined && range.total === this.#offset &&
        range.total === this.#total
      ) {
        return false;
      }
    }
    if (!response.ok) {
      throw new HTTPError(response.status, url, {
        statusText: response.statusText,
        retryAfter: parseRetryAfter(response.headers.get("retry-after")),
      });
    }
    if (response.status === 206) {
      const range = parseContentRange(response.headers.get("content-range"));
      if (
        !resuming || range?.start !== this.#offset ||
        range.total !== this.#total
      ) {
        const got = response.headers.get("content-range") ?? "no Content-Range";
        await this.#restart(paths);
        throw new ProtocolError(
          `Cannot download "${this.#url}": asked for ${
            resuming ? `bytes from ${this.#offset}` : "the whole file"
          }, got a partial answer (${got})`,
        );
      }
      return true;
    }
    // A whole answer: a changed file, or a server without ranges. Start over.
    if (this.#offset > 0) await this.#restart(paths);
    // A body sent compressed anyway is saved decoded (see `#decoded`): its
    // Content-Length counts other bytes, and a Range would too, so it has
    // no total and is never resumed.
    const encoded = contentEncoding(response.headers) !== undefined;
    this.#total = encoded
      ? undefined
      : parseLength(response.headers.get("content-length"));
    this.#validator = encoded ? undefined : validatorOf(response.headers);
    // A body of one chunk or less is written in one go: resuming it in
    // another process could never save anything, so it gets no sidecar
    // (and a small file costs no extra file operations).
    if (
      this.#validator !== undefined && this.#total !== undefined &&
      this.#total > this.#options.chunkSize
    ) {
      await writeSidecar(paths.sidecar, {
        version: SIDECAR_VERSION,
        url: this.#url,
        validator: this.#validator,
        total: this.#total,
        partial: basename(this.#partial),
        writer: this.#writer,
        owner: thisProcess(),
      });
      this.#sidecar = true;
    }
    return true;
  }

  /**
   * What a failed request or body read means: the abort's reason (a cancel or a
   * timeout) if the attempt was aborted; a body that does not decode as its
   * `Content-Encoding` says (a {@linkcode ProtocolError}, the same on every
   * runtime); else a {@linkcode NetworkError}.
   */
  #networkFailure(error: unknown, signal: AbortSignal): unknown {
    if (signal.aborted) return signal.reason;
    if (isDecodeFailure(error)) {
      return new ProtocolError(
        `Cannot download "${this.#url}": the body does not decode as its Content-Encoding says (${
          error instanceof Error ? error.message : String(error)
        })`,
      );
    }
    return error instanceof ProtocolError
      ? error
      : new NetworkError(this.#url, error);
  }

  /**
   * The body as the file's bytes: decoded where the server compressed it
   * although asked not to, and the runtime's `fetch` left it so (the same
   * bytes on every runtime: see `_content_encoding.ts`).
   */
  #decoded(
    response: Response,
    body: ReadableStream<Uint8Array>,
  ): ReadableStream<Uint8Array> {
    const encoding = contentEncoding(response.headers);
    const decoded = decodedBody(body, encoding);
    if (decoded === undefined) {
      throw new ProtocolError(
        `Cannot download "${this.#url}": the server sent the body encoded as "${encoding}", which cannot be decoded here`,
      );
    }
    return decoded;
  }

  /** Whether `error` is only the effect of {@linkcode Download.cancel}. */
  #isCancellation(error: unknown): boolean {
    const signal = this.#abort.signal;
    return this.#canceled && signal.aborted &&
      (error === signal.reason ||
        (error instanceof DOMException && error.name === "AbortError"));
  }

  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#error = error;
  }

  #finish(): void {
    this.#phase = "done";
    try {
      this.#finishedCallback?.(this);
    } catch (error) {
      this.#fail(error);
    }
    this.#emitState();
    this.#settle();
  }
}
