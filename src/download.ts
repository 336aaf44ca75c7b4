/**
 * {@linkcode Download}: one file, fetched in the background into a partial file
 * and renamed onto its destination only when complete.
 *
 * @module
 */

import type { Owner } from "./_disk/lock.ts";
import { type JobHost, type JobSpec, jobSpec, runJob } from "./_job.ts";
import type { ConnectionBudget } from "./_transfer/budget.ts";
import { DownloadInterrupt } from "./errors.ts";
import type {
  ConnectionProgress,
  DownloadOptions,
  DownloadState,
  LockHolder,
  ProgressCallback,
  StateChangeCallback,
  WaitOptions,
} from "./download_options.ts";

// Where a download is; "committing" shows as "running", but a cancel no
// longer takes: the complete file is being moved into place.
type Phase =
  | "idle"
  | "queued"
  | "waiting"
  | "running"
  | "committing"
  | "done";

// Let the manager put a download in its queue, and share its connections
// budget, without a public method.
let enqueueDownload: (download: Download) => void;
let budgetDownload: (download: Download, budget: ConnectionBudget) => void;

/** Marks `download` as waiting in a manager's queue (state `"queued"`). */
export function enqueue(download: Download): void {
  enqueueDownload(download);
}

/** Counts `download`'s connections against its manager's `budget`. */
export function shareBudget(
  download: Download,
  budget: ConnectionBudget,
): void {
  budgetDownload(download, budget);
}

const NOT_STARTED = "the download was not started: call start() first";

/**
 * Downloads one file in the background.
 *
 * The body is streamed into a partial file of its own beside `dest`
 * (`.<name>.<12 hex>.dlpart.<token>`), which is renamed onto `dest` once the
 * whole body is written: `dest` never holds a partial file. On error or
 * cancel the partial file is removed; if the process dies, it stays, with a
 * sidecar recording the URL, validator and writer, and the next download of
 * `dest` from that URL resumes it. The HTTP status is checked before
 * anything is written: an answer outside 200-299 ends the download with an
 * {@linkcode HTTPError} and creates no file. Failed attempts are retried and
 * resumed as {@linkcode TransferOptions} describe.
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
  #spec: JobSpec;
  #finalUrl: string;
  #progress: ProgressCallback | null;
  #finishedCallback: ((download: Download) => void) | undefined;
  #onStateChange: StateChangeCallback | undefined;
  #signal: AbortSignal | undefined;
  #phase: Phase = "idle";
  #canceled = false;
  #failed = false;
  #error: unknown = undefined;
  #abort = new AbortController();
  #settled: Promise<void>;
  #settle: () => void = () => {};
  #written = 0;
  #total: number | undefined;
  #skipped = false;
  #lockHolder: LockHolder | undefined;
  #parts: (() => readonly ConnectionProgress[]) | undefined;

  #budget: ConnectionBudget | undefined;

  static {
    enqueueDownload = (download) => download.#enqueue();
    budgetDownload = (download, budget) => download.#budget = budget;
  }

  /**
   * Creates a download; nothing happens until {@linkcode Download.start}.
   *
   * @param url The URL to fetch: `http:` or `https:`, else a `TypeError`.
   * @param dest The path of the file to create. Its directory must exist.
   * @param options See {@linkcode DownloadOptions}. Out-of-range numbers
   * throw a `RangeError`; a malformed digest or header a `TypeError`.
   */
  constructor(url: string | URL, dest: string, options: DownloadOptions = {}) {
    this.#spec = jobSpec(url, dest, options);
    this.#finalUrl = this.#spec.url;
    this.#progress = options.progress ?? null;
    this.#finishedCallback = options.finishedCallback;
    this.#onStateChange = options.onStateChange;
    this.#signal = options.signal;
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
        `Cannot start download of "${this.#spec.url}": it was already ${
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
   * The parts of the file being fetched now, one per connection, while the
   * download uses several (see {@linkcode TransferOptions.connections});
   * empty while it uses one. Progress callbacks report the whole file.
   *
   * @example Show each connection's part
   * ```ts ignore
   * for (const { start, end, written } of download.connections) {
   *   console.log(`${start}-${end}: ${written} bytes`);
   * }
   * ```
   */
  get connections(): readonly ConnectionProgress[] {
    return this.#parts?.().map(({ start, end, written }) => ({
      start,
      end,
      written,
    })) ?? [];
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
      throw new Error(`Cannot wait for "${this.#spec.url}": ${NOT_STARTED}`);
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
    return this.#spec.dest;
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
    return this.#spec.url;
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
    return `Download of "${this.#spec.url}" was canceled`;
  }

  #enqueue(): void {
    if (this.#phase !== "idle" || this.#canceled) return;
    this.#phase = "queued";
    this.#emitState();
  }

  #setPhase(phase: Phase): void {
    this.#phase = phase;
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
    try {
      const outcome = await runJob(this.#spec, this.#jobHost());
      if (outcome === "skipped") this.#skipped = true;
    } catch (error) {
      if (!this.#isCancellation(error)) this.#fail(error);
      // Release the connection if the body was not read to its end.
      this.#abort.abort(error);
    } finally {
      this.#signal?.removeEventListener("abort", this.#onSignal);
      this.#finish();
    }
  }

  /** What the job tells this download, and asks it. */
  #jobHost(): JobHost {
    return {
      signal: this.#abort.signal,
      budget: this.#budget,
      isCancellation: (error) => this.#isCancellation(error),
      waiting: (owner: Owner | undefined) => {
        this.#lockHolder = owner && { pid: owner.pid, host: owner.host };
        this.#setPhase("waiting");
      },
      locked: () => {
        if (this.#phase === "waiting") this.#setPhase("running");
      },
      committing: () => this.#phase = "committing",
      report: (current, total) => {
        this.#written = current;
        this.#total = total;
        this.#progress?.(this, current, total);
      },
      arrived: (url) => this.#finalUrl = url,
      showParts: (parts) => this.#parts = parts,
    };
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
