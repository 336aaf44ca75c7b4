/**
 * {@linkcode Download}: one file, fetched in the background into a partial file
 * and renamed onto its destination only when complete.
 *
 * @module
 */

import type { Owner } from "./_disk/lock.ts";
import { endsDownload, eventStream } from "./_event_stream.ts";
import { DownloadEventTarget, listens } from "./download_event_target.ts";
import { type JobHost, type JobSpec, jobSpec, runJob } from "./_job.ts";
import { PauseControl } from "./_pause.ts";
import type { Membership } from "./_membership.ts";
import { RateLimiter, Throttle } from "./_transfer/rate_limiter.ts";
import { DownloadInterrupt } from "./errors.ts";
import {
  DownloadErrorEvent,
  DownloadEvent,
  type DownloadEventMap,
  DownloadProgressEvent,
  DownloadRetryEvent,
  DownloadStateEvent,
} from "./events.ts";
import type {
  CancelOptions,
  ConnectionProgress,
  DownloadOptions,
  DownloadState,
  EventsOptions,
  LockHolder,
  ProgressCallback,
  StateChangeCallback,
  WaitOptions,
} from "./download_options.ts";
import { rateOf } from "./_option_checks.ts";

// Where a download is; "committing" shows as "running", but a cancel no
// longer takes: the complete file is being moved into place.
type Phase =
  | "idle"
  | "queued"
  | "waiting"
  | "running"
  | "committing"
  | "done";

// Let the manager put a download in its queue, and share what it shares,
// without a public method.
let enqueueDownload: (download: Download) => void;
let joinDownload: (download: Download, membership: Membership) => void;

/** Marks `download` as waiting in a manager's queue (state `"queued"`). */
export function enqueue(download: Download): void {
  enqueueDownload(download);
}

/** Makes `download` one of a manager's (before it starts). */
export function join(download: Download, membership: Membership): void {
  joinDownload(download, membership);
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
export class Download extends DownloadEventTarget {
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
  #revalidation: "fresh" | "updated" | undefined;
  #lockHolder: LockHolder | undefined;
  #parts: (() => readonly ConnectionProgress[]) | undefined;
  #pause = new PauseControl();
  #keepPartial = false;
  #partialKept = false;
  // The state the callback and listeners were last told.
  #told: DownloadState = "idle";
  #limiter: RateLimiter;
  #membership: Membership | undefined;

  static {
    enqueueDownload = (download) => download.#enqueue();
    joinDownload = (download, membership) => download.#membership = membership;
  }

  /**
   * Creates a download; nothing happens until {@linkcode Download.start}.
   *
   * @param url The URL to fetch: `http:` or `https:`, else a `TypeError`.
   * Or several: the same file's sources (mirrors), tried in order, each
   * after the one before failed (after its retries); the first is the
   * download's identity ({@linkcode Download.getUrl}, messages, what a
   * resume checks), and a mirror on another origin gets no `authorization`
   * or `cookie` header.
   * @param dest The path of the file to create. Its directory must exist.
   * @param options See {@linkcode DownloadOptions}. Out-of-range numbers
   * throw a `RangeError`; a malformed digest or header a `TypeError`.
   */
  constructor(
    url: string | URL | readonly (string | URL)[],
    dest: string,
    options: DownloadOptions = {},
  ) {
    super();
    this.#spec = jobSpec(url, dest, options);
    this.#limiter = new RateLimiter(
      rateOf(options.rateLimit, `Cannot download "${this.#spec.url}"`),
    );
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
   * (for another process's lock), `"paused"`, `"done"`, `"failed"` or
   * `"canceled"`. An error takes precedence over a cancel.
   *
   * @example
   * ```ts ignore
   * await download.wait({ raiseIfError: false });
   * console.log(download.state); // "done", "failed" or "canceled"
   * ```
   */
  get state(): DownloadState {
    const phase = this.#phase;
    if (phase === "done") {
      return this.#failed ? "failed" : this.#canceled ? "canceled" : "done";
    }
    if (this.#canceled) return phase === "idle" ? "canceled" : "running";
    if (this.#pause.paused && phase !== "committing") return "paused";
    if (phase === "committing") return "running";
    return phase;
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
   * How a revalidation ended (a manager's download of a file that was
   * there, with `revalidate`): `"fresh"` when the file was current (the
   * server answered `304 Not Modified`, or another process had just
   * checked it) and was kept as it is; `"updated"` when a newer version
   * replaced it; `undefined` for any other download.
   *
   * @example
   * ```ts ignore
   * const download = manager.download(url, { revalidate: "always" });
   * await download?.wait();
   * console.log(download?.revalidation ?? "downloaded");
   * ```
   */
  get revalidation(): "fresh" | "updated" | undefined {
    return this.#revalidation;
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
   * Whether the download, canceled with `keepPartial`, left its partial
   * file for a later download to resume (the server gave a validator and a
   * length); `false` otherwise.
   *
   * @example
   * ```ts ignore
   * download.cancel({ keepPartial: true });
   * await download.wait({ raiseIfError: false });
   * if (download.partialKept) console.log("run again to resume");
   * ```
   */
  get partialKept(): boolean {
    return this.#partialKept;
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
   * Cancels the download: its connections are closed at once, the partial
   * file removed (unless `keepPartial`), and {@linkcode Download.wait}
   * rejects with {@linkcode DownloadInterrupt}. Does nothing once the
   * download has ended (or while its complete file is being moved into
   * place). Works in any state, paused too.
   *
   * @param options See {@linkcode CancelOptions}.
   *
   * @example Cancel a download
   * ```ts ignore
   * download.start();
   * download.cancel();
   * console.log(download.isCanceled()); // true
   * ```
   *
   * @example Stop, keeping what the next run can resume
   * ```ts ignore
   * download.cancel({ keepPartial: true });
   * ```
   */
  cancel(options: CancelOptions = {}): void {
    if (this.#phase === "committing" || this.#phase === "done") return;
    if (this.#canceled) return;
    this.#canceled = true;
    this.#keepPartial = options.keepPartial ?? false;
    if (this.#phase === "idle" || this.#phase === "queued") {
      this.#finish();
      return;
    }
    this.#abortWith(new DownloadInterrupt(this.#interruptMessage()));
  }

  /**
   * Pauses the download: its connections are closed at once; the partial
   * file, its sidecar and the destination's lock are kept. State
   * `"paused"` until {@linkcode Download.resume}. A download paused before
   * it starts, or while queued, sends no request until resumed; a paused
   * download keeps its place in its manager's `concurrency`. Does nothing
   * once the download has ended or while its complete file is being moved
   * into place.
   *
   * @returns A promise that resolves once no byte more will be written (the
   * file closed, the parts on disk recorded).
   *
   * @example Pause, then resume
   * ```ts ignore
   * await download.pause();
   * // ... the link is free ...
   * download.resume();
   * ```
   */
  pause(): Promise<void> {
    if (
      this.#phase === "done" || this.#phase === "committing" || this.#canceled
    ) {
      return Promise.resolve();
    }
    const stopped = this.#pause.pause();
    this.#emitState();
    return stopped;
  }

  /**
   * Resumes a paused download: it asks the server for what is not on disk
   * (with `Range` and `If-Range`), or starts over if the file changed.
   * Does nothing if it is not paused.
   *
   * @example
   * ```ts ignore
   * download.resume();
   * console.log(download.state); // "running" (or "queued")
   * ```
   */
  resume(): void {
    if (!this.#pause.paused) return;
    this.#pause.resume();
    this.#emitState();
  }

  /**
   * Changes this download's own bandwidth limit, while it runs too (see
   * {@linkcode TransferOptions.rateLimit}); `undefined` or `Infinity`
   * lifts it. A manager's shared limit still applies.
   *
   * @param bytesPerSecond The limit, in bytes per second.
   *
   * @example Slow a download down
   * ```ts ignore
   * download.setRateLimit(512 * 1024);
   * ```
   */
  setRateLimit(bytesPerSecond: number | undefined): void {
    this.#limiter.set(
      rateOf(bytesPerSecond, `Cannot limit "${this.#spec.url}"`),
    );
  }

  /**
   * The download's events, for `for await`: every `progress`,
   * `statechange`, `retry`, `done` and `error` event from now on (a slow
   * loop sees the latest progress, not each), ending after the last
   * `statechange` (to `"done"`, `"failed"` or `"canceled"`), or when
   * `signal` aborts. An ended download's have ended.
   *
   * @param options See {@linkcode EventsOptions}.
   * @returns An async iterator of {@linkcode DownloadEvent}s.
   *
   * @example Follow a download
   * ```ts ignore
   * download.start();
   * for await (const event of download.events()) {
   *   if (event instanceof DownloadProgressEvent) console.log(event.current);
   * }
   * ```
   */
  events(options: EventsOptions = {}): AsyncIterableIterator<DownloadEvent> {
    const stream = eventStream(this, endsDownload, options.signal);
    if (this.#phase === "done") void stream.return?.();
    return stream;
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
   * The URL the file came from: after redirects, and from whichever source
   * (mirror) served it; the URL itself until a server has answered.
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

  /** Aborts the download's signal, and the transfer's run under it. */
  #abortWith(reason: unknown): void {
    this.#abort.abort(reason);
    this.#pause.cancel(this.#abort.signal.reason);
  }

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

  /**
   * Tells the state-change callback (its error becomes the download's),
   * then the `statechange` listeners.
   */
  #emitState(): void {
    const state = this.state;
    if (state === this.#told) return;
    this.#told = state;
    try {
      this.#onStateChange?.(this, state);
    } catch (error) {
      this.#fail(error);
      this.#abortWith(error);
    }
    this.#dispatch("statechange", () => new DownloadStateEvent(this, state));
  }

  /**
   * Dispatches the event `make` makes here, then another to the manager;
   * made only for a target that has had a listener of `type` (a download
   * of a queue no one follows makes none).
   */
  #dispatch(type: keyof DownloadEventMap, make: () => DownloadEvent): void {
    if (listens(this, type)) this.dispatchEvent(make());
    this.#membership?.relay(type, make);
  }

  async #run(): Promise<void> {
    try {
      const outcome = await runJob(this.#spec, this.#jobHost());
      if (outcome === "skipped") this.#skipped = true;
      if (outcome === "fresh" || outcome === "updated") {
        this.#revalidation = outcome;
      }
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
    const shared = this.#membership;
    return {
      signal: this.#abort.signal,
      budget: shared?.budget,
      cache: shared?.cache,
      pause: this.#pause,
      throttle: new Throttle(
        shared === undefined
          ? [this.#limiter]
          : [this.#limiter, shared.limiter],
      ),
      isCancellation: (error) => this.#isCancellation(error),
      keepsPartial: () => this.#keepPartial,
      kept: () => this.#partialKept = true,
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
        this.#dispatch(
          "progress",
          () => new DownloadProgressEvent(this, current, total),
        );
      },
      arrived: (url) => this.#finalUrl = url,
      showParts: (parts) => this.#parts = parts,
      retrying: (attempt, delay, error) =>
        this.#dispatch(
          "retry",
          () => new DownloadRetryEvent(this, attempt, delay, error),
        ),
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
    if (this.#failed) {
      const error = this.#error;
      this.#dispatch("error", () => new DownloadErrorEvent(this, error));
    } else if (!this.#canceled) {
      this.#dispatch("done", () => new DownloadEvent("done", this));
    }
    this.#emitState();
    this.#settle();
  }
}
