/**
 * {@linkcode DownloadManager}: starts and tracks downloads into one directory,
 * fetching a file only if it is not there yet.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { fs } from "./_runtime/fs.ts";
import { assertFileName, fileNameFromUrl } from "./_disk/file_name.ts";
import { asFileSystemError } from "./_disk/file_system_failure.ts";
import { FileSystemError, ManagerClosedError } from "./errors.ts";
import { removeLeftovers } from "./_disk/leftovers.ts";
import { isCacheHit } from "./_cache.ts";
import { inUse, shareInUse } from "./_in_use.ts";
import { parseExpected } from "./_body/integrity.ts";
import { sourcesOf } from "./_job.ts";
import { DownloadQueue } from "./_queue.ts";
import { Download, join as joinManager } from "./download.ts";
import { DownloadEventTarget, listens } from "./download_event_target.ts";
import { endsDownload, eventStream } from "./_event_stream.ts";
import type { DownloadEvent, DownloadEventMap } from "./events.ts";
import { RateLimiter } from "./_transfer/rate_limiter.ts";
import { ConnectionBudget } from "./_transfer/budget.ts";
import type {
  CancelOptions,
  EventsOptions,
  WaitOptions,
} from "./download_options.ts";
import { mayEvict, type PersistLimit } from "./persist_limit.ts";
import {
  checkTransferOptions,
  DEFAULTS,
  mergeHeaders,
  type TransferOptions,
} from "./transfer_options.ts";
import { optionsOf, rateOf } from "./_option_checks.ts";
import { isReservedName, partialPaths } from "./_disk/names.ts";
import { maxAgeOf, wallClock } from "./_revalidation.ts";
import {
  type DownloadManagerOptions,
  type ManagerDownloadOptions,
  resolveManagerOptions,
  type Revalidate,
} from "./download_manager_options.ts";

/**
 * Starts and manages downloads inside one directory. A file is downloaded
 * only if its name is not already there; a download of a name that is
 * already downloading returns the running download.
 *
 * Downloads run in the background: stop them when you are done, with
 * {@linkcode DownloadManager.cancel} or, simpler, `await using`.
 *
 * @example Download two files, cancelling whatever is left on the way out
 * ```ts
 * import { DownloadManager, PersistLimit } from "@x/dlmanager";
 *
 * await using manager = new DownloadManager("cache", {
 *   persistLimit: new PersistLimit(10 * 1024 ** 3),
 * });
 * manager.download("https://example.com/a.tar.gz");
 * manager.download("https://example.com/b?id=2", { fname: "b.tar.gz" });
 * await manager.wait();
 * ```
 */
export class DownloadManager extends DownloadEventTarget {
  /** The directory downloads go to. */
  readonly destdir: string;
  #fetch: typeof fetch | undefined;
  #transfer: TransferOptions;
  #persistLimit: PersistLimit | null;
  #queue: DownloadQueue;
  #budget: ConnectionBudget;
  // The download of each destination that is neither canceled nor ended
  // (running, queued or paused): what download() returns for its name.
  #downloads = new Map<string, Download>();
  // Every download not yet ended, canceled ones still cleaning up too: what
  // wait() waits for.
  #live = new Set<Download>();
  // Absolute paths downloaded or found present by this manager: in use.
  #used = new Set<string>();
  #bookkeeping: Promise<void>;
  // Files downloaded, not yet registered with the PersistLimit, and whether
  // the work that registers them (then evicts) is queued: one for all the
  // downloads that end while the work before it runs.
  #unregistered: string[] = [];
  #registering = false;
  #bookkeepingError: { error: unknown } | undefined;
  // The first download to fail since the last wait(): it reports it, also
  // when the download ended before it was called.
  #failed: Download | undefined;
  #limiter: RateLimiter;
  #paused = false;
  // Set when disposal begins: download() then throws, so that nothing
  // starts that the disposal would neither cancel nor wait for.
  #closed = false;
  // Aborted once disposed of: what events() waits for ends, as no
  // download will come.
  #disposed = new AbortController();
  #revalidate: Revalidate;

  /**
   * Creates the manager, and `destdir` (with its parents) if missing.
   *
   * @param destdir The directory to download into.
   * @param options See {@linkcode DownloadManagerOptions}.
   */
  constructor(destdir: string, options: DownloadManagerOptions = {}) {
    optionsOf("Cannot create DownloadManager", options, "{ persistLimit }");
    if (typeof destdir !== "string" || destdir === "") {
      throw new TypeError(
        "Cannot create DownloadManager: destdir must be a non-empty path",
      );
    }
    const resolved = resolveManagerOptions(options);
    super();
    this.destdir = destdir;
    this.#fetch = resolved.fetch;
    this.#transfer = resolved.transfer;
    this.#persistLimit = resolved.persistLimit;
    this.#queue = new DownloadQueue(resolved.concurrency);
    this.#budget = new ConnectionBudget(resolved.maxConnectionsPerHost);
    this.#limiter = new RateLimiter(resolved.rateLimit);
    this.#revalidate = resolved.revalidate;
    try {
      fs.mkdirSync(destdir);
    } catch (error) {
      const context = `Cannot create DownloadManager in "${destdir}"`;
      throw asFileSystemError(error, context, destdir);
    }
    this.#bookkeeping = Promise.resolve();
    const { leftoverMaxAge } = resolved;
    if (leftoverMaxAge !== Infinity) {
      const staleAfter = this.#transfer.lockStaleAfter ??
        DEFAULTS.lockStaleAfter;
      this.#track(async () => {
        // Not a partial file one of this manager's downloads, queued while
        // the sweep ran, is to resume (kept by a failure, a day ago).
        await removeLeftovers(
          destdir,
          leftoverMaxAge,
          staleAfter,
          Date.now(),
          (lock) => this.#wants(lock),
        );
      }, `Cannot remove what dead processes left in "${destdir}"`);
    }
    const limit = this.#persistLimit;
    if (limit !== null) {
      shareInUse(limit, this.#used);
      this.#track(
        () => limit.registerDirContent(destdir),
        `Cannot register the files of "${destdir}" with its PersistLimit`,
      );
    }
  }

  /**
   * Downloads `url` into the directory, in the background.
   *
   * @param url The URL to fetch; or several, the same file's sources
   * (mirrors), tried in order when one fails: the first names the file and
   * is its identity (see {@linkcode Download}).
   * @param options See {@linkcode ManagerDownloadOptions}; anything but an
   * object (the Python seed's positional `fname`) throws a `TypeError`.
   * @returns The started download (or queued, when `concurrency` downloads
   * are running); the one already running, queued or paused for that name
   * (not one canceled: a canceled download's name is downloaded anew, once
   * the canceled one has let go of the file's lock), whose options stay its
   * own (only a new `progress` callback replaces its one); or
   * `null` if the file is already there (its access time is
   * then set to now, so that a {@linkcode PersistLimit} keeps it). Throws a
   * {@linkcode ManagerClosedError}, before any request or file operation
   * (only an invalid URL is refused first, as a `TypeError`), once the
   * manager is being disposed of (also from an event listener of a download
   * that disposal canceled) or has been: a canceled manager is not closed.
   * With
   * `sha256` or `integrity`, a file there is checked first: the download
   * returned ends without a request, {@linkcode Download.skipped}, if the
   * file holds those bytes, and else downloads it again, over it. Throws a
   * `TypeError`, before any request, for an invalid URL or one that is not
   * `http:` or `https:`, for a file name that is not a plain name of at most
   * 255 bytes without control characters (bidirectional ones, U+202A to
   * U+202E and U+2066 to U+2069, included; a name of the library's
   * partial-file shape, `.<name>.<12 hex>.dlpart`, is reserved), for a
   * malformed `integrity` or `sha256` (a digest of the wrong length
   * included), also when the file is there, and when a directory is in the
   * way of the file; and, also when the file is there or downloading
   * already, a `RangeError` or `TypeError` for a `connections`,
   * `rateLimit` or `headers` a download refuses.
   *
   * @example Download unless present
   * ```ts
   * import { DownloadManager } from "@x/dlmanager";
   *
   * await using manager = new DownloadManager("cache");
   * const download = manager.download("https://example.com/a.zip");
   * if (download === null) console.log("a.zip was already there");
   * else await download.wait();
   * ```
   * @example From a mirror when the origin fails
   * ```ts
   * import { DownloadManager } from "@x/dlmanager";
   *
   * await using manager = new DownloadManager("cache");
   * manager.download([
   *   "https://example.com/a.iso",
   *   "https://mirror.example.net/pub/a.iso",
   * ]);
   * await manager.wait();
   * ```
   */
  download(
    url: string | URL | readonly (string | URL)[],
    options: ManagerDownloadOptions = {},
  ): Download | null {
    // Normalised already: parsed again only for a name to take from it.
    const sources = sourcesOf(url);
    const href = sources[0] as string;
    if (this.#closed) throw new ManagerClosedError(href, this.destdir);
    optionsOf(`Cannot download "${href}"`, options, '{ fname: "data.csv" }');
    const name = options.fname ?? fileNameFromUrl(new URL(href));
    assertFileName(name, href);
    if (isReservedName(name)) {
      throw new TypeError(
        `Cannot download "${href}" as "${name}": the name is reserved for partial downloads`,
      );
    }
    // Bad arguments are refused whether or not the file is there.
    const expected = parseExpected(href, options.integrity, options.sha256);
    const dest = join(this.destdir, name);
    const running = this.#downloads.get(dest);
    // A canceled one still ending is not returned: asked for again, the
    // file is downloaded anew (after it, which holds the lock until then).
    if (running !== undefined && !running.isCanceled()) {
      checkUnused(href, options);
      if (options.progress) running.setProgress(options.progress);
      return running;
    }
    const maxAge = maxAgeOf(
      options.revalidate ?? this.#revalidate,
      `Cannot download "${href}"`,
    );
    const revalidation = maxAge === undefined
      ? undefined
      : { maxAge, since: wallClock() };
    // With a digest, a file there is only kept once checked against it: by
    // a download, under the file's lock (hashing is no work to block on).
    if (expected === undefined && isCacheHit(href, dest, revalidation)) {
      checkUnused(href, options);
      this.#used.add(resolve(dest));
      return null;
    }
    // The URLs as given: their credentials, which `sources` has not.
    const download = new Download(url, dest, {
      ...this.#transfer,
      skipIfExists: true,
      onStateChange: options.onStateChange,
      // The manager's as they are, without a download's own: the download
      // copies them (a copy here, for each, would be one more `Headers`).
      headers: options.headers === undefined
        ? this.#transfer.headers
        : mergeHeaders(
          this.#transfer.headers,
          options.headers,
          `Cannot download "${href}"`,
        ),
      fetch: this.#fetch,
      progress: options.progress,
      integrity: options.integrity,
      sha256: options.sha256,
      signal: options.signal,
      connections: options.connections ?? this.#transfer.connections,
      rateLimit: options.rateLimit,
      finishedCallback: (finished) => this.#finished(finished),
    });
    joinManager(download, {
      budget: this.#budget,
      limiter: this.#limiter,
      relay: (type, make) => this.#relay(download, type, make),
      // Records cost each download a few file operations: only a manager
      // that revalidates keeps them.
      cache: revalidation && { revalidation },
      slots: this.#queue,
    });
    this.#downloads.set(dest, download);
    this.#live.add(download);
    this.#used.add(resolve(dest));
    if (this.#paused) void download.pause();
    this.#queue.add(download, this.#paused);
    return download;
  }

  /**
   * Cancels the running downloads for which `cancelIf` returns true (all of
   * them without it), queued and paused ones too. A later
   * {@linkcode DownloadManager.download} of a canceled one's name starts a
   * new download.
   *
   * @param cancelIf Chooses the downloads to cancel.
   * @param options See {@linkcode CancelOptions}: `keepPartial` keeps what
   * the next run can resume.
   *
   * @example Cancel the downloads of zip files
   * ```ts
   * import { DownloadManager } from "@x/dlmanager";
   *
   * await using manager = new DownloadManager("cache");
   * manager.download("https://example.com/a.zip");
   * manager.download("https://example.com/b.tar.gz");
   * manager.cancel((download) => download.getDest().endsWith(".zip"));
   * ```
   */
  cancel(
    cancelIf?: (download: Download) => boolean,
    options: CancelOptions = {},
  ): void {
    for (const download of [...this.#live]) {
      if (cancelIf === undefined || cancelIf(download)) {
        download.cancel(options);
      }
    }
  }

  /**
   * Pauses every download of the manager, running and queued (see
   * {@linkcode Download.pause}), and those it is given until
   * {@linkcode DownloadManager.resume}: no request is sent meanwhile. Each
   * running download gives its slot up as it stops; none of the queued ones
   * takes it, paused too.
   *
   * @returns A promise that resolves once no byte more will be written.
   *
   * @example Free the link while something else needs it
   * ```ts
   * import { DownloadManager } from "@x/dlmanager";
   *
   * await using manager = new DownloadManager("cache");
   * manager.download("https://example.com/a.iso");
   * await manager.pause();
   * // ... the tests run, with the link to themselves ...
   * manager.resume();
   * ```
   */
  async pause(): Promise<void> {
    this.#paused = true;
    await Promise.all(
      [...this.#live].map((download) => download.pause()),
    );
  }

  /**
   * Resumes every download of the manager (see
   * {@linkcode Download.resume}), as slots free: first those that had
   * started (they hold a partial file and its lock), in the order they were
   * given to the manager; then those that never started, first in first
   * out. Those without a slot show `"queued"` until one frees.
   *
   * @example Pause everything, then go on
   * ```ts
   * import { DownloadManager } from "@x/dlmanager";
   *
   * await using manager = new DownloadManager("cache");
   * manager.download("https://example.com/a.zip");
   * await manager.pause();
   * manager.resume();
   * ```
   */
  resume(): void {
    this.#paused = false;
    const live = [...this.#live];
    for (const download of live) if (download.isRunning()) download.resume();
    for (const download of live) download.resume();
  }

  /**
   * Changes the bandwidth limit all the manager's downloads share (see
   * {@linkcode DownloadManagerOptions.rateLimit}), while they run too: the
   * connections waiting now go on at the new rate. `undefined` or
   * `Infinity` lifts it. A download the runtime's pipe was writing (there
   * was no limit) asks again from where its bytes end, paced; one whose
   * server gave no validator or serves no ranges goes on unpaced to its
   * end (asked again, it would start over).
   *
   * @param bytesPerSecond The limit, in bytes per second: 1 or more (else
   * a `RangeError`).
   *
   * @example Slow down while the user works, speed up after
   * ```ts
   * import { DownloadManager } from "@x/dlmanager";
   *
   * await using manager = new DownloadManager("cache");
   * manager.download("https://example.com/a.iso");
   * manager.setRateLimit(1024 * 1024);
   * // ...
   * manager.setRateLimit(undefined);
   * ```
   */
  setRateLimit(bytesPerSecond: number | undefined): void {
    this.#limiter.set(rateOf(bytesPerSecond, "Cannot set the rate limit"));
  }

  /**
   * The events of every download of the manager, for `for await` (see
   * {@linkcode Download.events}): from now on, ending when the manager has
   * no download left that has not ended (as {@linkcode DownloadManager.wait}
   * resolves), or when `signal` aborts. Started while the manager has none,
   * it waits for the downloads given to it next, or until the manager is
   * disposed of; started on a manager disposed of, it ends at once.
   *
   * @param options See {@linkcode EventsOptions}.
   * @returns An async iterator of {@linkcode DownloadEvent}s.
   *
   * @example Follow all downloads
   * ```ts
   * import { DownloadManager } from "@x/dlmanager";
   *
   * await using manager = new DownloadManager("cache");
   * const downloads = [
   *   manager.download("https://example.com/a.zip"),
   *   manager.download("https://example.com/b.zip"),
   * ];
   * // Files already there give null: with none to end, it would wait on.
   * if (downloads.some((download) => download !== null)) {
   *   for await (const event of manager.events()) {
   *     if (event.type === "done") console.log(event.download.getDest());
   *   }
   * }
   * ```
   */
  events(options: EventsOptions = {}): AsyncIterableIterator<DownloadEvent> {
    return eventStream(
      this,
      (event) => this.#live.size === 0 && endsDownload(event),
      options.signal,
      this.#disposed.signal,
    );
  }

  /**
   * Waits for every download running when called, and for the
   * {@linkcode PersistLimit} work that follows them.
   *
   * @param options See {@linkcode WaitOptions}.
   * @returns A promise that, with `raiseIfError` (the default), rejects after
   * all have ended with the error of the first download that failed since
   * the last `wait()`, also one that ended before this call (else with
   * `DownloadInterrupt`, for a running download that was canceled; else
   * with a {@linkcode FileSystemError} of the manager's own work in its
   * directory: its cleanup of leftovers, its `PersistLimit`'s eviction
   * (naming the file it failed to remove), which skip a file this process
   * may not remove, or a read-only mount).
   *
   * @example
   * ```ts
   * import { DownloadManager } from "@x/dlmanager";
   *
   * await using manager = new DownloadManager("cache");
   * manager.download("https://example.com/a.zip");
   * manager.download("https://example.com/b.zip");
   * await manager.wait();
   * ```
   */
  async wait(options: WaitOptions = {}): Promise<void> {
    const downloads = [...this.#live];
    await Promise.all(
      downloads.map((download) => download.wait({ raiseIfError: false })),
    );
    await this.#bookkeeping;
    const failed = this.#failed;
    this.#failed = undefined;
    if (!(options.raiseIfError ?? true)) return;
    failed?.raiseIfError();
    for (const download of downloads) download.raiseIfError();
    if (this.#bookkeepingError !== undefined) {
      const { error } = this.#bookkeepingError;
      this.#bookkeepingError = undefined;
      throw error;
    }
  }

  /**
   * Closes the manager, cancels every download, then waits without raising
   * for them and for the work that follows them (the cleanup of leftovers
   * and the {@linkcode PersistLimit}'s registration and eviction): what
   * `await using` calls. Once it is called, also before it resolves (from a
   * download's event listener, or another task),
   * {@linkcode DownloadManager.download} throws a
   * {@linkcode ManagerClosedError}: no download outlives the disposal, and
   * when it resolves its downloads have left nothing in the directory but
   * the files they completed (no partial file, no lock, and no owner file
   * that no other download of this process uses), and an
   * {@linkcode DownloadManager.events} loop waiting for downloads to come
   * ends. Calling it again waits again.
   *
   * @example
   * ```ts
   * import { DownloadManager } from "@x/dlmanager";
   *
   * {
   *   await using manager = new DownloadManager("cache");
   *   manager.download("https://example.com/a.zip");
   * } // canceled and cleaned up here
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#closed = true;
    this.cancel();
    await this.wait({ raiseIfError: false });
    this.#disposed.abort();
  }

  #finished(download: Download): void {
    this.#live.delete(download);
    const dest = download.getDest();
    if (this.#downloads.get(dest) === download) this.#downloads.delete(dest);
    this.#queue.release(download);
    const limit = this.#persistLimit;
    if (limit === null || download.state !== "done") return;
    this.#unregistered.push(download.getDest());
    if (this.#registering) return;
    this.#registering = true;
    this.#track(async () => {
      this.#registering = false;
      const paths = this.#unregistered;
      this.#unregistered = [];
      let failure: { error: unknown } | undefined;
      for (const path of paths) {
        try {
          await limit.registerFile(path);
        } catch (error) {
          failure ??= { error };
        }
      }
      // Every size and access time is read again only when some file may
      // go: once per download, it would be all the files' reads each time.
      if (mayEvict(limit)) {
        // What this manager uses, and any other sharing the limit.
        await limit.removeOldFiles({ keep: (path) => inUse(limit, path) });
      }
      if (failure !== undefined) throw failure.error;
    }, `Cannot keep "${this.destdir}" under its PersistLimit`);
  }

  /**
   * Dispatches a download's event here (made only if this manager has had
   * a listener of `type`). A download's `error` event is when it has
   * failed: also after its finishedCallback, when its onStateChange throws
   * at the end.
   */
  #relay(
    download: Download,
    type: keyof DownloadEventMap,
    make: () => DownloadEvent,
  ): void {
    if (type === "error") this.#failed ??= download;
    if (listens(this, type)) this.dispatchEvent(make());
  }

  /**
   * Runs `work` after the bookkeeping queued before it, keeping its first
   * error: a file system's as a {@linkcode FileSystemError} about the
   * directory, `context` its message (unless it is one already, naming a
   * file of it).
   */
  /** Whether one of this manager's downloads takes the lock at `path`. */
  #wants(path: string): boolean {
    for (const [dest, download] of this.#downloads) {
      if (!download.isCanceled() && partialPaths(dest).lock === path) {
        return true;
      }
    }
    return false;
  }

  #track(work: () => Promise<void>, context: string): void {
    this.#bookkeeping = this.#bookkeeping.then(work).catch((error) => {
      this.#bookkeepingError ??= {
        // One that names its file (an eviction's) is kept as it is.
        error: error instanceof FileSystemError
          ? error
          : asFileSystemError(error, context, this.destdir),
      };
    });
  }
}

/**
 * Checks the options of a {@linkcode DownloadManager.download} call that
 * makes no download (the file is there, or downloading already), as the
 * download would have: bad options are refused whether or not the file is
 * there, not only on the machine where it is not.
 */
function checkUnused(href: string, options: ManagerDownloadOptions): void {
  const context = `Cannot download "${href}"`;
  checkTransferOptions(context, {
    headers: options.headers,
    connections: options.connections,
  });
  rateOf(options.rateLimit, context);
}
