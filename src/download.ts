/**
 * {@linkcode Download}: one file, fetched in the background into a temp file
 * and renamed onto its destination only when complete.
 *
 * @module
 */

import { ChunkedWriter } from "./_chunked_writer.ts";
import { type FileWriter, fs, NotFoundError } from "./_fs.ts";
import { createTempFile } from "./_temp_file.ts";
import { DownloadInterrupt, HTTPError } from "./errors.ts";

/**
 * Reports a download's progress: `current` bytes written so far out of
 * `total` (the `Content-Length`, or `undefined` when the server sends none).
 * Called with `current === 0` once the server has answered, then after every
 * write. An error thrown here becomes the download's error.
 */
export type ProgressCallback = (
  download: Download,
  current: number,
  total: number | undefined,
) => void;

/**
 * The default {@linkcode DownloadOptions.chunkSize}: 1 MiB.
 *
 * Measured on a 2-core machine (a 256 MiB file from a local server, Deno 2.9):
 * 16 KiB writes (the seed's default) reach about 40 % of the throughput of
 * 1 MiB writes; 64 KiB (what a plain `fetch` piped to a file writes) about
 * 80 %; beyond 1 MiB nothing more is gained. The staging buffer is only as
 * large as the body, so small files do not pay for it.
 */
export const DEFAULT_CHUNK_SIZE: number = 1024 * 1024;

/** Options for {@linkcode Download}. */
export interface DownloadOptions {
  /**
   * Called once when the download has ended, by success, error or cancel,
   * before {@linkcode Download.wait} resolves. An error it throws becomes the
   * download's error (a downloaded file stays in place).
   *
   * @default {undefined}
   */
  finishedCallback?: ((download: Download) => void) | undefined;
  /**
   * Bytes per file write, and so per progress report: every write is exactly
   * this long except the last. A positive integer.
   *
   * @default {1048576} (see {@linkcode DEFAULT_CHUNK_SIZE})
   */
  chunkSize?: number | undefined;
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

type Phase = "idle" | "running" | "committing" | "done";

const NOT_STARTED = "the download was not started: call start() first";

function parseLength(header: string | null): number | undefined {
  return header !== null && /^\d+$/.test(header) ? Number(header) : undefined;
}

async function removeIfPresent(path: string): Promise<void> {
  try {
    await fs.remove(path);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
}

/**
 * Downloads one file in the background.
 *
 * The body is streamed into a temp file beside `dest` (a dotfile ending in
 * `.dlpart`), which is renamed onto `dest` once the whole body is written: `dest`
 * never holds a partial file. On error or cancel the temp file is removed.
 * The HTTP status is checked before anything is written: an answer outside
 * 200-299 ends the download with an {@linkcode HTTPError} and creates no file.
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
  #dest: string;
  #chunkSize: number;
  #fetch: typeof fetch;
  #progress: ProgressCallback | null;
  #finishedCallback: ((download: Download) => void) | undefined;
  #phase: Phase = "idle";
  #canceled = false;
  #failed = false;
  #error: unknown = undefined;
  #abort = new AbortController();
  #settled: Promise<void>;
  #settle: () => void = () => {};

  /**
   * Creates a download; nothing happens until {@linkcode Download.start}.
   *
   * @param url The URL to fetch. A `TypeError` if it is not a valid URL.
   * @param dest The path of the file to create. Its directory must exist.
   * @param options See {@linkcode DownloadOptions}.
   */
  constructor(url: string | URL, dest: string, options: DownloadOptions = {}) {
    this.#url = new URL(url).href;
    if (typeof dest !== "string" || dest === "") {
      throw new TypeError(
        `Cannot download "${this.#url}": dest must be a non-empty path`,
      );
    }
    this.#dest = dest;
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
      throw new RangeError(
        `Cannot download "${this.#url}": chunkSize must be a positive integer, got ${chunkSize}`,
      );
    }
    this.#chunkSize = chunkSize;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#progress = options.progress ?? null;
    this.#finishedCallback = options.finishedCallback;
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
    if (this.#phase !== "idle" || this.#canceled) {
      throw new Error(
        `Cannot start download of "${this.#url}": it was already ${
          this.#canceled ? "canceled" : "started"
        }`,
      );
    }
    this.#phase = "running";
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
   * Cancels the download: the request is aborted at once, the temp file
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
    if (this.#phase === "idle") {
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
    return this.#phase === "running" || this.#phase === "committing";
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

  #interruptMessage(): string {
    return `Download of "${this.#url}" was canceled`;
  }

  #report(current: number, total: number | undefined): void {
    this.#progress?.(this, current, total);
  }

  async #run(): Promise<void> {
    let tempPath: string | undefined;
    let file: FileWriter | undefined;
    try {
      const response = await this.#fetch(this.#url, {
        headers: { "accept-encoding": "identity" },
        signal: this.#abort.signal,
      });
      if (!response.ok) {
        await response.body?.cancel().catch(() => {});
        throw new HTTPError(response.status, this.#url, response.statusText);
      }
      // A body sent compressed anyway is decoded by fetch: its
      // Content-Length then counts other bytes than the file's.
      const encoding = response.headers.get("content-encoding");
      const total = encoding === null || encoding === "identity"
        ? parseLength(response.headers.get("content-length"))
        : undefined;
      ({ path: tempPath, file } = await createTempFile(this.#dest));
      this.#report(0, total);
      const writer = new ChunkedWriter(
        file,
        this.#chunkSize,
        total,
        (written) => this.#report(written, total),
      );
      if (response.body !== null) {
        const reader = response.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          await writer.push(value);
        }
      }
      await writer.flush();
      await file.close();
      this.#abort.signal.throwIfAborted();
      this.#phase = "committing";
      await fs.rename(tempPath, this.#dest);
      tempPath = undefined;
    } catch (error) {
      if (!this.#isCancellation(error)) this.#fail(error);
      // Release the connection if the body was not read to its end.
      this.#abort.abort(error);
    } finally {
      await file?.close().catch(() => {});
      if (tempPath !== undefined) {
        await removeIfPresent(tempPath).catch((error) => this.#fail(error));
      }
      this.#finish();
    }
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
    this.#settle();
  }
}
