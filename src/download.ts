/**
 * {@linkcode Download}: one file, fetched in the background into a partial file
 * and renamed onto its destination only when complete.
 *
 * @module
 */

import type { Owner } from "./_disk/lock.ts";
import { endsDownload, eventStream } from "./_event_stream.ts";
import { endListening, listens } from "./download_event_target.ts";
import {
  DownloadStatus,
  interruptOf,
  type Phase,
  recordOf,
  type StatusRecord,
} from "./download_status.ts";
import { type JobHost, type JobSpec, jobSpec, runJob } from "./_job.ts";
import { PauseControl } from "./_pause.ts";
import type { Membership } from "./_membership.ts";
import { RateLimiter, Throttle } from "./_transfer/rate_limiter.ts";
import {
  DownloadErrorEvent,
  DownloadEvent,
  type DownloadEventMap,
  DownloadHostWaitEvent,
  DownloadProgressEvent,
  DownloadRetryEvent,
  DownloadStateEvent,
} from "./events.ts";
import type {
  CancelOptions,
  DownloadOptions,
  DownloadState,
  EventsOptions,
  ProgressCallback,
  StateChangeCallback,
  WaitOptions,
} from "./download_options.ts";
import { optionsOf, rateOf } from "./_option_checks.ts";
import { expectListeners } from "./_listeners.ts";

// Let the manager put a download in its queue, and share what it shares,
// without a public method.
let enqueueDownload: (download: Download) => void;
let dequeueDownload: (download: Download) => void;
let proceedDownload: (download: Download) => void;
let joinDownload: (download: Download, membership: Membership) => void;

/** Marks `download` as waiting in a manager's queue (state `"queued"`). */
export function enqueue(download: Download): void {
  enqueueDownload(download);
}

/** Starts `download`, idle or waiting in its manager's queue. */
export function dequeue(download: Download): void {
  dequeueDownload(download);
}

/**
 * Lets `download`, held after a resume until its manager had a slot for it,
 * go on.
 */
export function proceed(download: Download): void {
  proceedDownload(download);
}

/** Makes `download` one of a manager's (before it starts). */
export function join(download: Download, membership: Membership): void {
  joinDownload(download, membership);
}

const NOT_STARTED = "the download was not started: call start() first";

/**
 * What waits its turn to be told, in order: an event to dispatch, or a
 * state to tell the state-change callback and then the listeners.
 */
type Outgoing = () => void;

/**
 * Downloads one file in the background. What it tells of itself (its
 * state, bytes, error, URL and destination) it has from
 * {@linkcode DownloadStatus}.
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
 * ```ts
 * import { Download } from "@x/dlmanager";
 *
 * const download = new Download("https://example.com/data.csv", "data.csv", {
 *   progress: (_download, current, total) => console.log(current, total),
 * });
 * download.start();
 * await download.wait(); // rejects on error or cancel
 * ```
 */
export class Download extends DownloadStatus {
  #spec: JobSpec;
  // What the accessors of DownloadStatus read.
  #status: StatusRecord;
  #progress: ProgressCallback | null;
  #finishedCallback: ((download: Download) => void) | undefined;
  #onStateChange: StateChangeCallback | undefined;
  #signal: AbortSignal | undefined;
  // Whether `#onSignal` listens to `#signal` (from the start or the queue).
  #listening = false;
  #abort = new AbortController();
  #settled: Promise<void>;
  #settle: () => void = () => {};
  #pause = new PauseControl();
  #keepPartial = false;
  // The state the callback and listeners were last told.
  #told: DownloadState = "idle";
  #limiter: RateLimiter;
  #membership: Membership | undefined;
  // Whether an event is being dispatched, and the events a listener caused
  // meanwhile (a pause, a cancel), to dispatch after it, in order.
  #dispatching = false;
  #outbox: Outgoing[] | undefined;
  // What onStateChange threw before the end: it stops the download, and is
  // its error once it has ended (until then, error() tells none).
  #callbackError: { error: unknown } | undefined;

  static {
    enqueueDownload = (download) => download.#enqueue();
    dequeueDownload = (download) => download.#begin();
    proceedDownload = (download) => download.#proceed();
    joinDownload = (download, membership) => download.#membership = membership;
  }

  /**
   * Creates a download; nothing happens until {@linkcode Download.start}.
   *
   * @param url The URL to fetch: `http:` or `https:`, else a `TypeError`.
   * Its credentials (`user:pass@`), if any, are sent as Basic authorization,
   * and taken out of the URL the download shows ({@linkcode Download.getUrl},
   * messages).
   * Or several: the same file's sources (mirrors), tried in order, each
   * after the one before failed (after its retries); the first is the
   * download's identity ({@linkcode Download.getUrl}, messages, what a
   * resume checks), and a mirror on another origin gets no `authorization`
   * or `cookie` header.
   * @param dest The path of the file to create. Its directory must exist.
   * @param options See {@linkcode DownloadOptions}. Out-of-range numbers
   * throw a `RangeError`; a number option given no number (`"5M"`), a
   * malformed digest or header a `TypeError`, and so does options that are
   * not an object (the Python seed's positional `finished_callback`).
   */
  constructor(
    url: string | URL | readonly (string | URL)[],
    dest: string,
    options: DownloadOptions = {},
  ) {
    super();
    optionsOf("Cannot create Download", options, "{ progress }");
    this.#spec = jobSpec(url, dest, options);
    this.#limiter = new RateLimiter(
      rateOf(options.rateLimit, `Cannot download "${this.#spec.url}"`),
    );
    this.#status = recordOf(this);
    this.#status.url = this.#status.finalUrl = this.#spec.url;
    this.#status.dest = this.#spec.dest;
    this.#status.pause = this.#pause;
    this.#progress = options.progress ?? null;
    this.#finishedCallback = options.finishedCallback;
    this.#onStateChange = options.onStateChange;
    this.#signal = options.signal;
    this.#settled = new Promise((resolve) => this.#settle = resolve);
  }

  /**
   * Starts the download in the background. A download runs at most once: a
   * second call (or a call after a cancel) throws, and so does a call on a
   * download its manager queued (it runs it when a slot is free: see
   * `concurrency`). With its `signal` aborted already, it is canceled at
   * once, without running.
   *
   * @example Start, then wait
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.start();
   * await download.wait();
   * ```
   */
  start(): void {
    if (this.#status.phase !== "idle" || this.#status.canceled) {
      throw new Error(
        `Cannot start download of "${this.#spec.url}": it was already ${
          this.#status.canceled
            ? "canceled"
            : this.#status.phase === "queued"
            ? "started by its manager, which runs it when a slot is free"
            : "started"
        }`,
      );
    }
    this.#begin();
  }

  /** Runs the download, idle or waiting in its manager's queue. */
  #begin(): void {
    // Its signal aborted already: canceled before it runs, as in the queue.
    if (this.#signal?.aborted) {
      this.#cancel({}, true);
      return;
    }
    this.#status.phase = "running";
    this.#listen();
    this.#emitState();
    void this.#run();
  }

  /**
   * Waits until the download has ended (and its `finishedCallback` has run).
   *
   * @param options See {@linkcode WaitOptions}.
   * @returns A promise that rejects, with `raiseIfError` (the default), as
   * {@linkcode Download.raiseIfError} would throw.
   *
   * @example Wait without raising
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.start();
   * await download.wait({ raiseIfError: false });
   * if (download.error() !== undefined) console.error(download.error());
   * ```
   */
  async wait(options: WaitOptions = {}): Promise<void> {
    if (this.#status.phase === "idle" && !this.#status.canceled) {
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
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.start();
   * download.cancel();
   * console.log(download.isCanceled()); // true
   * ```
   *
   * @example Stop, keeping what the next run can resume
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.start();
   * // ...
   * download.cancel({ keepPartial: true });
   * ```
   */
  cancel(options: CancelOptions = {}): void {
    this.#cancel(options, false);
  }

  /**
   * Cancels; `bySignal`: the download's `signal` aborted, whose reason is
   * the cause of the {@linkcode DownloadInterrupt}.
   */
  #cancel(options: CancelOptions, bySignal: boolean): void {
    if (this.#status.phase === "committing" || this.#status.phase === "done") {
      return;
    }
    if (this.#status.canceled) return;
    this.#status.canceled = true;
    if (bySignal) this.#status.cancelReason = this.#signal?.reason;
    this.#keepPartial = options.keepPartial ?? false;
    if (this.#status.phase === "idle" || this.#status.phase === "queued") {
      this.#finish();
      return;
    }
    this.#abortWith(interruptOf(this.#status));
  }

  /**
   * Pauses the download: its connections are closed at once; the partial
   * file, its sidecar and the destination's lock are kept. State
   * `"paused"` until {@linkcode Download.resume}. Paused, it still owns its
   * file: another download of it, in this process or another, waits for
   * it (state `"waiting"`), and fails after its `lockTimeout` with a
   * {@linkcode LockTimeoutError} saying this process is downloading the
   * file. To let another take the bytes over, cancel it with `keepPartial`
   * instead (see {@linkcode CancelOptions.keepPartial}). A download paused before
   * it starts, or while queued, sends no request and takes no lock (another
   * download of its file is not held up by it) until resumed, and keeps its
   * place in its manager's queue. A manager's running download gives
   * its slot (of `concurrency`) up once its transfer has stopped, and its
   * connection stops counting against `maxConnectionsPerHost`: the next
   * queued download starts. Paused while it waits for another process's
   * lock, it stops waiting (its slot goes too), and waits again once
   * resumed, for a whole `lockTimeout`: no time paused counts. Paused as its
   * last bytes land, or while its whole file is checked (its length, its
   * digest), it keeps the file until resumed, then moves it into place
   * without asking the server again (or, its digest not the one expected,
   * fails then: it is not judged while paused); paused as it finds the file there
   * (`skipIfExists`, a manager's cache), it ends only once resumed, when
   * it looks again. A paused download never ends on its own (a cancel, or
   * an error, ends it). Refused, as it does nothing, once the download has
   * ended or once it is ending (its complete file being moved into place,
   * or the file there kept): {@linkcode DownloadStatus.state} then stays
   * as it was, not `"paused"`.
   *
   * @returns A promise that resolves once no byte more will be written (the
   * file closed, the parts on disk recorded).
   *
   * @example Pause, then resume
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.start();
   * await download.pause();
   * // ... the link is free ...
   * download.resume();
   * ```
   *
   * @example Tell whether the pause was taken
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.start();
   * const stopped = download.pause();
   * // Refused, it tells what it was: "running" (ending), or how it ended.
   * if (download.state !== "paused") console.log("too late:", download.state);
   * await stopped;
   * ```
   */
  pause(): Promise<void> {
    if (
      this.#status.phase === "done" || this.#status.phase === "committing" ||
      this.#status.canceled
    ) {
      return Promise.resolve();
    }
    this.#withdraw();
    const stopped = this.#pause.pause();
    this.#emitState();
    return stopped;
  }

  /**
   * Resumes a paused download: it asks the server for what is not on disk
   * (with `Range` and `If-Range`), or starts over if the file changed; not
   * before the end of a `Retry-After` a server sent, if it was paused while
   * it waited one out. A manager's download that gave its slot up goes on
   * at once if a slot is free; else it is `"queued"` until one frees, and
   * then goes first, before the downloads that never started (those
   * resumed after a pause go in the order resumed). One paused while
   * queued is queued again, in its place. Does nothing if it is not paused
   * (or waits for a slot already), or once canceled or ended.
   *
   * @example Resume, and see whether it had to wait for a slot
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.start();
   * await download.pause();
   * download.resume();
   * console.log(download.state); // "running", or "queued" for a slot
   * ```
   */
  resume(): void {
    // A cancel ends a paused download as it is: it is not running again.
    if (
      !this.#pause.paused || this.#pause.held || this.#status.canceled ||
      this.#status.phase === "done"
    ) {
      return;
    }
    const slots = this.#membership?.slots;
    if (slots === undefined || this.#status.phase === "queued") {
      // Not a manager's, or never started: its place in the queue it has.
      this.#pause.resume();
      this.#emitState();
      slots?.startNext();
      return;
    }
    // Started: held until it has a slot, which it may have at once.
    this.#pause.hold();
    slots.request(this);
    this.#emitState();
  }

  /** Goes on, held after a resume until its manager had a slot for it. */
  #proceed(): void {
    this.#pause.resume();
    this.#emitState();
  }

  /** Held after a resume, it was paused or canceled: it wants no slot. */
  #withdraw(): void {
    if (this.#pause.held) this.#membership?.slots.withdraw(this);
  }

  /**
   * Changes this download's own bandwidth limit, while it runs too (see
   * {@linkcode TransferOptions.rateLimit}); `undefined` or `Infinity`
   * lifts it. A manager's shared limit still applies.
   *
   * @param bytesPerSecond The limit, in bytes per second: 1 or more (else
   * a `RangeError`).
   *
   * @example Slow a download down
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.start();
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
   * ```ts
   * import { Download, DownloadProgressEvent } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.start();
   * for await (const event of download.events()) {
   *   if (event instanceof DownloadProgressEvent) console.log(event.current);
   * }
   * ```
   */
  events(options: EventsOptions = {}): AsyncIterableIterator<DownloadEvent> {
    const stream = eventStream(this, endsDownload, options.signal);
    if (this.#status.phase === "done") void stream.return?.();
    return stream;
  }

  /**
   * Sets (or, with `null`, removes) the progress callback. Safe during a
   * download: the next report goes to the new callback.
   *
   * @param progress See {@linkcode ProgressCallback}.
   *
   * @example
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const download = new Download("https://example.com/a.zip", "a.zip");
   * download.setProgress((_d, current, total) => console.log(current, total));
   * download.start();
   * ```
   */
  setProgress(progress: ProgressCallback | null): void {
    this.#progress = progress;
  }

  #onSignal = (): void => this.#cancel({}, true);

  /** Cancels the download when its signal aborts, from now until it ends. */
  #listen(): void {
    const signal = this.#signal;
    if (signal === undefined || this.#listening) return;
    this.#listening = true;
    // One signal may be given to many downloads: their listeners are not
    // the caller's leak.
    expectListeners(signal, 1);
    signal.addEventListener("abort", this.#onSignal);
  }

  #unlisten(): void {
    const signal = this.#signal;
    if (signal === undefined || !this.#listening) return;
    this.#listening = false;
    signal.removeEventListener("abort", this.#onSignal);
    expectListeners(signal, -1);
  }

  /** Aborts the download's signal, and the transfer's run under it. */
  #abortWith(reason: unknown): void {
    // Its job ends now, held or not: no slot is to be given to it.
    this.#withdraw();
    this.#abort.abort(reason);
    this.#pause.cancel(this.#abort.signal.reason);
  }

  #enqueue(): void {
    if (this.#status.phase !== "idle" || this.#status.canceled) return;
    this.#status.phase = "queued";
    // A queued download's signal cancels it in the queue, as cancel() does.
    if (this.#signal?.aborted) {
      this.#cancel({}, true);
      return;
    }
    this.#listen();
    this.#emitState();
  }

  #setPhase(phase: Phase): void {
    this.#status.phase = phase;
    this.#emitState();
  }

  /**
   * Tells the state-change callback (its error becomes the download's),
   * then the `statechange` listeners. What the callback causes (it pauses
   * or cancels the download) is told the listeners after this state, as
   * what a listener causes is. Caused by a callback or a listener (a
   * progress callback that pauses), it waits its turn: the callback too
   * hears it once everyone has heard the event being told.
   */
  #emitState(): void {
    if (this.#onStateChange === undefined) {
      // No callback (the usual): nothing can come between.
      const state = this.#tellState();
      if (state === undefined) return;
      this.#dispatch("statechange", () => new DownloadStateEvent(this, state));
      return;
    }
    const state = this.state;
    if (state === this.#told) return;
    this.#told = state;
    const outer = !this.#dispatching;
    this.#dispatching = true;
    try {
      (this.#outbox ??= []).push(() => this.#tellThenDispatch(state));
      if (outer) this.#flush();
    } finally {
      if (outer) this.#dispatching = false;
    }
  }

  /** Tells the state-change callback `state`, then the listeners. */
  #tellThenDispatch(state: DownloadState): void {
    this.#callStateChange(state);
    // The callback failed a queued download: it ends there, as a cancel
    // there ends it, rather than wait for a slot to run only to fail.
    if (this.#callbackError !== undefined && this.#status.phase === "queued") {
      this.#finish();
      return;
    }
    this.#send("statechange", () => new DownloadStateEvent(this, state));
  }

  /**
   * Tells the state-change callback the state, if it changed (its error
   * becomes the download's); returns it then.
   */
  #tellState(): DownloadState | undefined {
    const state = this.state;
    if (state === this.#told) return undefined;
    this.#told = state;
    this.#callStateChange(state);
    return state;
  }

  /** Calls the state-change callback; its error becomes the download's. */
  #callStateChange(state: DownloadState): void {
    try {
      this.#onStateChange?.(this, state);
    } catch (error) {
      if (this.#status.phase === "done") this.#fail(error);
      else this.#callbackError ??= { error };
      this.#abortWith(error);
    }
  }

  /**
   * Dispatches the event `make` makes here, then another to the manager;
   * made only for a target that has had a listener of `type` (a download
   * of a queue no one follows makes none). One a listener causes (it
   * pauses or cancels the download) waits until every listener has heard
   * the one before: all hear the events in the order the state went.
   */
  #dispatch(type: keyof DownloadEventMap, make: () => DownloadEvent): void {
    if (this.#dispatching) {
      (this.#outbox ??= []).push(() => this.#send(type, make));
      return;
    }
    this.#dispatching = true;
    try {
      this.#send(type, make);
      this.#flush();
    } finally {
      this.#dispatching = false;
    }
  }

  /**
   * Calls `callback` (a seed callback, whose error is thrown on), then
   * dispatches as {@linkcode #dispatch} does: what the callback causes (it
   * pauses or cancels the download) is told the listeners after this event.
   */
  #dispatchAfter(
    type: keyof DownloadEventMap,
    make: () => DownloadEvent,
    callback: (() => void) | undefined,
  ): void {
    if (callback === undefined) return this.#dispatch(type, make);
    const outer = !this.#dispatching;
    this.#dispatching = true;
    (this.#outbox ??= []).push(() => this.#send(type, make));
    try {
      callback();
    } finally {
      if (outer) {
        try {
          this.#flush();
        } finally {
          this.#dispatching = false;
        }
      }
    }
  }

  /** Sends the events waiting in the outbox, in order. */
  #flush(): void {
    let next;
    while ((next = this.#outbox?.shift()) !== undefined) next();
  }

  #send(type: keyof DownloadEventMap, make: () => DownloadEvent): void {
    if (listens(this, type)) this.dispatchEvent(make());
    this.#membership?.relay(type, make);
  }

  async #run(): Promise<void> {
    try {
      const outcome = await runJob(this.#spec, this.#jobHost());
      if (outcome === "skipped") this.#status.skipped = true;
      if (outcome === "fresh" || outcome === "updated") {
        this.#status.revalidation = outcome;
      }
    } catch (error) {
      // The callback's error first: what the job ends with is its effect.
      this.#failFromCallback();
      if (!this.#isCancellation(error)) this.#fail(error);
      // Release the connection if the body was not read to its end.
      this.#abort.abort(error);
    } finally {
      this.#finish();
    }
  }

  /** What the job tells this download, and asks it. */
  #jobHost(): JobHost {
    const shared = this.#membership;
    // The last progress told: on several connections the first connection
    // and the parts' first answer both tell what is on disk, and the last
    // part and the joined file both tell the total. A listener hears each
    // value once.
    let told: { current: number; total: number | undefined } | undefined;
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
      kept: () => this.#status.partialKept = true,
      waiting: (owner: Owner | undefined) => {
        this.#status.lockHolder = owner && { pid: owner.pid, host: owner.host };
        this.#setPhase("waiting");
      },
      locked: () => {
        if (this.#status.phase === "waiting") this.#setPhase("running");
      },
      parked: () => shared?.slots.release(this),
      committing: () => this.#status.phase = "committing",
      report: (current, total) => {
        if (told?.current === current && told.total === total) return;
        told = { current, total };
        this.#status.written = current;
        this.#status.total = total;
        const progress = this.#progress;
        this.#dispatchAfter(
          "progress",
          () => new DownloadProgressEvent(this, current, total),
          progress ? () => progress(this, current, total) : undefined,
        );
      },
      arrived: (url) => this.#status.finalUrl = url,
      showParts: (parts) => this.#status.parts = parts,
      retrying: (attempt, delay, error) =>
        this.#dispatch(
          "retry",
          () => new DownloadRetryEvent(this, attempt, delay, error),
        ),
      waitingForHost: (host, error) =>
        this.#dispatch(
          "hostwait",
          () => new DownloadHostWaitEvent("hostwait", this, host, error),
        ),
      doneWaitingForHost: (host, error) =>
        this.#dispatch(
          "hostwaitend",
          () => new DownloadHostWaitEvent("hostwaitend", this, host, error),
        ),
    };
  }

  /** Whether `error` is only the effect of {@linkcode Download.cancel}. */
  #isCancellation(error: unknown): boolean {
    const signal = this.#abort.signal;
    return this.#status.canceled && signal.aborted &&
      (error === signal.reason ||
        (error instanceof DOMException && error.name === "AbortError"));
  }

  #fail(error: unknown): void {
    if (this.#status.failed) return;
    this.#status.failed = true;
    this.#status.error = error;
  }

  /** Makes what onStateChange threw before the end the download's error. */
  #failFromCallback(): void {
    if (this.#callbackError !== undefined) {
      this.#fail(this.#callbackError.error);
    }
  }

  #finish(): void {
    this.#status.phase = "done";
    this.#failFromCallback();
    this.#unlisten();
    // Ended by a callback or a listener (a cancel in the queue): told in
    // its turn, after what was being told.
    if (this.#dispatching) {
      (this.#outbox ??= []).push(() => this.#tellEnd());
      return;
    }
    this.#tellEnd();
  }

  /** Tells how the download ended, and settles it. */
  #tellEnd(): void {
    try {
      this.#finishedCallback?.(this);
    } catch (error) {
      this.#fail(error);
    }
    // The callback hears the last state before the events are made: an
    // error it throws there fails the download (it hears that too), and the
    // events tell how it ended, as wait() does.
    let state = this.#tellState();
    if (state !== undefined && state !== this.state) {
      state = this.#tellState() ?? state;
    }
    if (this.#status.failed) {
      const error = this.#status.error;
      this.#dispatch("error", () => new DownloadErrorEvent(this, error));
    } else if (!this.#status.canceled) {
      this.#dispatch("done", () => new DownloadEvent("done", this));
    }
    if (state !== undefined) {
      const last = state;
      this.#dispatch("statechange", () => new DownloadStateEvent(this, last));
    }
    // No event follows: its listeners' signals need not hold it.
    endListening(this);
    this.#settle();
  }
}
