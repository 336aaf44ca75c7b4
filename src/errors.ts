/**
 * The errors a download can end with that callers are expected to catch.
 *
 * @module
 */

/**
 * Raised by {@linkcode Download.wait} (and `raiseIfError()`) when the download
 * was canceled. The seed's `DownloadInterrupt`.
 *
 * @example Telling a cancel apart from a failure
 * ```ts
 * import { Download, DownloadInterrupt } from "@x/dlmanager";
 *
 * const download = new Download("http://127.0.0.1:9/file.bin", "file.bin");
 * download.start();
 * download.cancel();
 * try {
 *   await download.wait();
 * } catch (error) {
 *   if (!(error instanceof DownloadInterrupt)) throw error;
 * }
 * ```
 */
export class DownloadInterrupt extends Error {
  /**
   * Creates the error.
   *
   * @param message What was interrupted.
   * @param options The standard error options (`cause`).
   */
  constructor(message = "Download was canceled", options?: ErrorOptions) {
    super(message, options);
    this.name = "DownloadInterrupt";
  }
}

/**
 * The server answered with a status outside 200-299. Nothing was written.
 *
 * @example Reacting to a missing file
 * ```ts
 * import { Download, HTTPError } from "@x/dlmanager";
 *
 * const download = new Download("http://127.0.0.1:9/missing", "missing");
 * download.start();
 * try {
 *   await download.wait();
 * } catch (error) {
 *   if (error instanceof HTTPError && error.status === 404) {
 *     console.log(`not there: ${error.url}`);
 *   }
 * }
 * ```
 */
export class HTTPError extends Error {
  /** The HTTP status code, e.g. `404`. */
  readonly status: number;
  /** The status text the server sent, e.g. `"Not Found"` (may be empty). */
  readonly statusText: string;
  /** The URL that was asked for. */
  readonly url: string;

  /**
   * Creates the error.
   *
   * @param status The HTTP status code.
   * @param url The URL that was asked for.
   * @param statusText The status text the server sent.
   */
  constructor(status: number, url: string, statusText = "") {
    const answer = statusText ? `${status} ${statusText}` : `${status}`;
    super(`Cannot download "${url}": server answered ${answer}`);
    this.name = "HTTPError";
    this.status = status;
    this.statusText = statusText;
    this.url = url;
  }
}
