/**
 * The errors a download can end with that callers are expected to catch.
 *
 * @module
 */

import { recognizedAcrossCopies } from "./_across_copies.ts";
import { withoutFragment } from "./_http/url_fragment.ts";
import {
  classifyNetworkFailure,
  type NetworkErrorCode,
} from "./_http/network_failure.ts";

export type { NetworkErrorCode } from "./_http/network_failure.ts";

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
recognizedAcrossCopies(DownloadInterrupt, "DownloadInterrupt");

/** Options for {@linkcode HTTPError}. */
export interface HTTPErrorOptions {
  /** The status text the server sent. */
  statusText?: string | undefined;
  /** The server's `Retry-After`, in milliseconds from when it answered. */
  retryAfter?: number | undefined;
  /**
   * The URL asked (the download's, or a mirror's), when a redirect led from
   * it to `url`: the message names it, as given, and where the redirect led
   * (the host, or on the same origin the path), never the target's query (a
   * signed link's signature).
   *
   * @default {url}
   */
  asked?: string | undefined;
}

/**
 * The server answered with a status outside 200-299. Nothing was written.
 * 408, 429, 500, 502, 503 and 504 are retried; other statuses fail at once.
 *
 * @example Reacting to a missing file
 * ```ts
 * import { Download, HTTPError } from "@x/dlmanager";
 *
 * const download = new Download("https://example.com/missing.zip", "missing.zip");
 * download.start();
 * try {
 *   await download.wait();
 * } catch (error) {
 *   if (error instanceof HTTPError && error.status === 404) {
 *     console.log(`not there: ${error.url}`);
 *   } else throw error;
 * }
 * ```
 */
export class HTTPError extends Error {
  /** The HTTP status code, e.g. `404`. */
  readonly status: number;
  /** The status text the server sent, e.g. `"Not Found"` (may be empty). */
  readonly statusText: string;
  /** The URL that answered. */
  readonly url: string;
  /** The server's `Retry-After` in milliseconds, if it sent a valid one. */
  readonly retryAfter: number | undefined;

  /**
   * Creates the error.
   *
   * @param status The HTTP status code.
   * @param url The URL that answered (where a redirect led, if one did).
   * @param options See {@linkcode HTTPErrorOptions}.
   */
  constructor(status: number, url: string, options: HTTPErrorOptions = {}) {
    const statusText = options.statusText ?? "";
    const answer = statusText ? `${status} ${statusText}` : `${status}`;
    const { asked } = options;
    super(
      asked === undefined || withoutFragment(asked) === url
        ? `Cannot download "${url}": server answered ${answer}`
        : `Cannot download "${asked}": server answered ${answer} (${
          serverOf(url, asked) ?? pathOf(url)
        })`,
    );
    this.name = "HTTPError";
    this.status = status;
    this.statusText = statusText;
    this.url = url;
    this.retryAfter = options.retryAfter;
  }
}
recognizedAcrossCopies(HTTPError, "HTTPError");

/**
 * The connection failed: the host name was not found, the connection was
 * refused, reset or closed mid-body, or the server's certificate was
 * rejected. The message says which in plain words, and `code` names it the
 * same way on every runtime; `cause` is the error `fetch` gave. Retried (and
 * resumed where the server allows), except a host name that does not exist
 * (`ENOTFOUND`) and a rejected certificate (`CERT`), which no retry mends.
 * When a request could not be made through a proxy that the environment
 * names (`HTTP_PROXY`, `HTTPS_PROXY`: see `TransferOptions.useEnvProxy`),
 * the message and `proxy` name it: the connection refused, or the host name
 * not found, is then the proxy's.
 *
 * @example Telling a typo in the host from a server that is down
 * ```ts
 * import { Download, NetworkError } from "@x/dlmanager";
 *
 * const download = new Download("https://example.com/a.zip", "a.zip");
 * download.start();
 * await download.wait().catch((error) => {
 *   if (error instanceof NetworkError && error.code === "ENOTFOUND") {
 *     console.log("check the host name:", error.message);
 *   } else throw error;
 * });
 * ```
 */
export class NetworkError extends Error {
  /**
   * What failed, the same on Deno, Node and Bun: `"ENOTFOUND"` (no such host
   * name), `"EAI_AGAIN"` (the name lookup failed for now), `"ECONNREFUSED"`,
   * `"ECONNRESET"` (reset, or closed before the body ended), `"ETIMEDOUT"`,
   * `"EHOSTUNREACH"`, `"ENETUNREACH"`, `"CERT"` (the certificate was
   * rejected), `"TLS"` (another failure of the secure connection),
   * `"BAD_PORT"` (Deno's and Node's `fetch` refuse the port: 6000, 6665 to
   * 6669, 10080 and the other "bad ports" of the Fetch standard; not
   * retried) or `"UNKNOWN"`.
   */
  readonly code: NetworkErrorCode;
  /**
   * The proxy a request that could not be made was sent through
   * (`http://proxy.corp:3128`, without its credentials), when the
   * environment named one for it; `undefined` when it was sent straight to
   * the server or through a `fetch` of the caller's, and for a failure while
   * a body was read.
   */
  readonly proxy: string | undefined;

  /**
   * Creates the error, naming the failure from `cause`.
   *
   * @param url The URL being downloaded.
   * @param cause The error `fetch` or the body stream gave.
   * @param at The URL asked, when not `url` (a mirror of it, or where a
   * redirect led): the host named when its name was not found.
   * @param proxy The proxy the request was sent through, if any: named in
   * the message, and as the host not found when a name was not.
   */
  constructor(
    url: string,
    cause: unknown,
    at: string = url,
    proxy?: string | undefined,
  ) {
    const { code, reason } = classifyNetworkFailure(
      cause,
      serverOf(at, url),
    );
    const lookup = code === "ENOTFOUND" || code === "EAI_AGAIN";
    // The port refused is the one asked, not always the URL's (a redirect).
    const told = code === "BAD_PORT"
      ? reason.replace(/^port blocked/, `port ${portOf(at)} is blocked`)
      : reason;
    const named = proxy === undefined
      ? lookup ? `${reason} (${hostOf(at)})` : told
      : lookup
      ? `${reason} (the proxy ${hostOf(proxy)})`
      : `${told} (through the proxy ${proxy})`;
    super(`Cannot download "${url}": ${named}`, { cause });
    this.name = "NetworkError";
    this.code = code;
    this.proxy = proxy;
  }
}
recognizedAcrossCopies(NetworkError, "NetworkError");

/** Options for {@linkcode ProxyError}. */
export interface ProxyErrorOptions extends ErrorOptions {
  /**
   * The proxy variable whose value the runtime's `fetch` cannot use
   * (`HTTPS_PROXY`), when that is what failed: no request was made.
   *
   * @default {undefined}
   */
  variable?: string | undefined;
  /**
   * Why the variable's value cannot be used, without its credentials: the
   * message, after `Cannot download "<url>": `, when `variable` is given.
   *
   * @default {undefined}
   */
  reason?: string | undefined;
}

/**
 * The proxy a request went through refused it: it answered
 * `407 Proxy Authentication Required` (it needs credentials, or refused
 * those in its URL: `HTTPS_PROXY=http://user:pass@proxy.corp:3128`), or it
 * would not open the tunnel (`CONNECT`) to the server. The message names the
 * proxy (without its credentials); `status` is its answer, where the runtime
 * tells it. Not retried when the status says no retry would help (`407`,
 * `403`, any status `HTTPError` does not retry); retried when it says
 * "later" (`502`, `503`, ...) or is unknown (Deno 2.9.6 tells no status of a
 * refused tunnel but `407`'s).
 *
 * Also the error of a proxy variable whose value the runtime's `fetch`
 * cannot use (not a URL, or a scheme it has no proxy of: `variable` names
 * it), before any request, and not retried: the download fails at once, as
 * curl does, rather than go straight to the server or fail naming a host
 * that is half the value.
 *
 * @example Asking for the proxy's credentials
 * ```ts
 * import { Download, ProxyError } from "@x/dlmanager";
 *
 * const download = new Download("https://example.com/a.zip", "a.zip");
 * download.start();
 * await download.wait().catch((error) => {
 *   if (error instanceof ProxyError && error.status === 407) {
 *     console.error(`${error.proxy} wants credentials: set HTTPS_PROXY to http://user:pass@host:port`);
 *   } else if (error instanceof ProxyError && error.variable !== undefined) {
 *     console.error(`fix ${error.variable}: ${error.message}`);
 *   } else throw error;
 * });
 * ```
 */
export class ProxyError extends Error {
  /**
   * The proxy's answer: `407`, or the status it refused a `CONNECT` with
   * (`403`, `502`, ...); `undefined` when the runtime does not tell it, and
   * when no request was made.
   */
  readonly status: number | undefined;
  /**
   * The proxy (`http://proxy.corp:3128`, without its credentials), when the
   * environment named it; `undefined` for a proxy of a `fetch` of the
   * caller's.
   */
  readonly proxy: string | undefined;
  /**
   * The proxy variable whose value cannot be used (`HTTPS_PROXY`), when that
   * is what failed; `undefined` when the proxy answered.
   */
  readonly variable: string | undefined;

  /**
   * Creates the error.
   *
   * @param url The URL being downloaded.
   * @param status The proxy's answer, if known.
   * @param proxy The proxy, if known, without credentials.
   * @param options `cause`: the error `fetch` gave, if it gave one;
   * `variable` and `reason`: the variable whose value cannot be used, and why.
   */
  constructor(
    url: string,
    status: number | undefined,
    proxy?: string | undefined,
    options?: ProxyErrorOptions,
  ) {
    const who = proxy === undefined ? "the proxy" : `the proxy ${proxy}`;
    const what = options?.variable !== undefined
      ? options.reason ?? `${options.variable} names no usable proxy`
      : status === 407
      ? `${who} answered 407 Proxy Authentication Required: it needs credentials, or refused those given (name them in its URL: http://user:pass@host:port)`
      : `${who} refused the tunnel to the server${
        status === undefined ? "" : `: CONNECT answered ${status}`
      }`;
    super(
      `Cannot download "${url}": ${what}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "ProxyError";
    this.status = status;
    this.proxy = proxy;
    this.variable = options?.variable;
  }
}
recognizedAcrossCopies(ProxyError, "ProxyError");

/** `at`'s `host:port`, when it is another origin than `url`'s. */
function serverOf(at: string, url: string): string | undefined {
  if (at === url) return undefined;
  try {
    const asked = new URL(at);
    return asked.origin === new URL(url).origin ? undefined : asked.host;
  } catch {
    return undefined;
  }
}

/** `url`'s port, for naming a port the runtime refused. */
function portOf(url: string): string {
  try {
    return new URL(url).port;
  } catch {
    return url;
  }
}

/** `url`'s path, for naming where a redirect on one origin led. */
function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
  }
}

/**
 * An attempt took too long: no answer within `connectTimeout`, no body
 * bytes for `idleTimeout`, or body bytes slower than `minSpeed` over
 * `minSpeedWindow`. Retried.
 *
 * @example
 * ```ts
 * import { Download, TimeoutError } from "@x/dlmanager";
 *
 * const url = "https://example.com/a.zip";
 * const download = new Download(url, "f", { idleTimeout: 5_000, retries: 0 });
 * download.start();
 * await download.wait().catch((error) => {
 *   if (error instanceof TimeoutError) console.log(error.phase); // "idle"
 *   else throw error;
 * });
 * ```
 */
export class TimeoutError extends Error {
  /**
   * Which limit was hit: `"connect"` (waiting for the answer), `"idle"`
   * (mid-body) or `"slow"` (the body came slower than `minSpeed`).
   */
  readonly phase: "connect" | "idle" | "slow";
  /** The limit, in milliseconds (for `"slow"`, the window measured). */
  readonly timeout: number;
  /** For `"slow"`: the least bytes per second asked for. */
  readonly minSpeed: number | undefined;
  /**
   * For `"slow"`: the bytes per second measured over the window (the
   * download's, on several connections).
   */
  readonly speed: number | undefined;

  /**
   * Creates the error.
   *
   * @param phase Which limit was hit.
   * @param timeout The limit, in milliseconds.
   * @param url The URL being downloaded.
   * @param slow For `"slow"`: the minimum and the speed measured.
   */
  constructor(
    phase: "connect" | "idle" | "slow",
    timeout: number,
    url: string,
    slow?: { minSpeed: number; speed: number },
  ) {
    super(
      phase === "connect"
        ? `Cannot download "${url}": no answer within ${timeout} ms`
        : phase === "idle"
        ? `Cannot download "${url}": no data for ${timeout} ms`
        : `Cannot download "${url}": ${
          Math.round(slow?.speed ?? 0)
        } bytes/s over ${timeout} ms, under the minimum of ${slow?.minSpeed} bytes/s`,
    );
    this.name = "TimeoutError";
    this.phase = phase;
    this.timeout = timeout;
    this.minSpeed = slow?.minSpeed;
    this.speed = slow?.speed;
  }
}
recognizedAcrossCopies(TimeoutError, "TimeoutError");

/**
 * The server's answer broke what it announced: a body shorter or longer than
 * its `Content-Length`, a `Content-Range` other than the one asked for, or a
 * partial answer to a whole request. Retried; the file is kept only if
 * complete. An answer that is not valid HTTP (`Content-Length`s that differ,
 * or one with `Transfer-Encoding`) or in a coding that cannot be decoded is
 * one too, not retried: the server would send it so again.
 *
 * @example
 * ```ts
 * import { Download, ProtocolError } from "@x/dlmanager";
 *
 * // Retried, a broken answer ends as a RetriesExhaustedError: none here.
 * const download = new Download("https://example.com/a.zip", "a.zip", {
 *   retries: 0,
 * });
 * download.start();
 * await download.wait().catch((error) => {
 *   if (error instanceof ProtocolError) console.log(error.message);
 *   else throw error;
 * });
 * ```
 */
export class ProtocolError extends Error {
  /**
   * Creates the error.
   *
   * @param message What the server did.
   */
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}
recognizedAcrossCopies(ProtocolError, "ProtocolError");

/**
 * The server redirected more than `maxRedirects` times (a loop, most likely),
 * without a usable `Location`, or to a URL that is not `http:` or `https:`
 * (a `file:` or `data:` URL is never fetched). Not retried.
 *
 * @example
 * ```ts
 * import { Download, RedirectError } from "@x/dlmanager";
 *
 * const download = new Download("https://example.com/a.zip", "a.zip");
 * download.start();
 * await download.wait().catch((error) => {
 *   if (error instanceof RedirectError) console.log(error.message);
 *   else throw error;
 * });
 * ```
 */
export class RedirectError extends Error {
  /**
   * Creates the error.
   *
   * @param message What went wrong.
   */
  constructor(message: string) {
    super(message);
    this.name = "RedirectError";
  }
}
recognizedAcrossCopies(RedirectError, "RedirectError");

/**
 * The downloaded bytes do not have the expected digest. The file was removed.
 * Not retried.
 *
 * @example
 * ```ts
 * import { Download, IntegrityError } from "@x/dlmanager";
 *
 * const url = "https://example.com/a.zip";
 * const download = new Download(url, "a.zip", {
 *   sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
 * });
 * download.start();
 * await download.wait().catch((error) => {
 *   if (error instanceof IntegrityError) console.log(error.expected, error.actual);
 *   else throw error;
 * });
 * ```
 */
export class IntegrityError extends Error {
  /** The hash algorithm, e.g. `"sha256"`. */
  readonly algorithm: string;
  /**
   * The expected digest, as it was given (hex or base64); several of one
   * algorithm (from an SRI string, any of which would have matched) are
   * space-separated.
   */
  readonly expected: string;
  /** The actual digest, in the same encoding. */
  readonly actual: string;

  /**
   * Creates the error.
   *
   * @param url The URL downloaded.
   * @param options The algorithm and both digests.
   */
  constructor(
    url: string,
    options: { algorithm: string; expected: string; actual: string },
  ) {
    super(
      `Cannot download "${url}": ${options.algorithm} mismatch: expected ${
        options.expected.split(" ").join(" or ")
      }, got ${options.actual}`,
    );
    this.name = "IntegrityError";
    this.algorithm = options.algorithm;
    this.expected = options.expected;
    this.actual = options.actual;
  }
}
recognizedAcrossCopies(IntegrityError, "IntegrityError");

/** The head of this library's messages about a download: `Cannot download "URL": `. */
const DOWNLOAD_PREFIX = /^Cannot download "[^"]*": /;

/**
 * Every attempt failed: `errors` holds each attempt's error, in order, and
 * `cause` the last one; those counted, that is, since the last attempt that
 * moved the download on (see the `retries` option). Only
 * raised when more than one attempt was counted. A
 * download with mirrors raises it when every source failed, with one error
 * per source (that source's one error, or a `RetriesExhaustedError` of its
 * every attempt), `sources` naming the source of each, and `attempts`
 * counting every source's attempts.
 *
 * @example Find out why the attempts failed
 * ```ts
 * import { Download, RetriesExhaustedError } from "@x/dlmanager";
 *
 * const download = new Download("https://example.com/a.zip", "a.zip");
 * download.start();
 * await download.wait().catch((error) => {
 *   if (error instanceof RetriesExhaustedError) {
 *     for (const reason of error.errors) console.log(String(reason));
 *   } else throw error;
 * });
 * ```
 *
 * @example Tell which mirror failed how
 * ```ts
 * import { Download, HTTPError, RetriesExhaustedError } from "@x/dlmanager";
 *
 * const download = new Download([
 *   "https://example.com/a.zip",
 *   "https://mirror.example.net/a.zip",
 * ], "a.zip");
 * download.start();
 * await download.wait().catch((error) => {
 *   if (!(error instanceof RetriesExhaustedError)) throw error;
 *   error.errors.forEach((reason, i) => {
 *     const gone = reason instanceof HTTPError && reason.status === 404;
 *     console.log(error.sources?.[i], gone ? "has no such file" : String(reason));
 *   });
 * });
 * ```
 */
export class RetriesExhaustedError extends Error {
  /** How many attempts were counted (with mirrors, every source's). */
  readonly attempts: number;
  /** Each counted attempt's error, in order; with mirrors, each source's. */
  readonly errors: unknown[];
  /**
   * With mirrors, the source each of `errors` is of, in the same order (the
   * download's sources, as given); `undefined` for the attempts of one
   * source.
   */
  readonly sources: readonly string[] | undefined;

  /**
   * Creates the error.
   *
   * @param url The URL downloaded.
   * @param errors Each attempt's error, in order.
   * @param options `sources`: the source each error is of (a download
   * with mirrors gives one per source), named in the message.
   */
  constructor(
    url: string,
    errors: unknown[],
    options: { sources?: readonly string[] | undefined } = {},
  ) {
    const { sources } = options;
    const reasons = errors.map((error, index) => {
      const text = error instanceof Error ? error.message : String(error);
      const source = sources?.[index];
      // Each reason names its URL once: the download's (in the message's
      // head), or its source's (in its own).
      return `#${index + 1}${source === undefined ? "" : ` (${source})`}: ${
        text.replace(DOWNLOAD_PREFIX, "")
      }`;
    });
    const failed = sources === undefined ? "attempts" : "sources";
    super(
      `Cannot download "${url}": ${errors.length} ${failed} failed (${
        reasons.join("; ")
      })`,
      { cause: errors.at(-1) },
    );
    this.name = "RetriesExhaustedError";
    this.attempts = sources === undefined
      ? errors.length
      : errors.reduce<number>(
        (sum, error) =>
          sum + (error instanceof RetriesExhaustedError ? error.attempts : 1),
        0,
      );
    this.errors = errors;
    this.sources = sources;
  }
}
recognizedAcrossCopies(RetriesExhaustedError, "RetriesExhaustedError");

/**
 * Another process has been downloading the same destination for longer than
 * the download's `lockTimeout` (it holds the destination's lock, and it is
 * running: on this machine, it is never taken over). Not retried.
 *
 * @example Give up on a file another program is fetching
 * ```ts
 * import { Download, LockTimeoutError } from "@x/dlmanager";
 *
 * const url = "https://example.com/a.zip";
 * const download = new Download(url, "a.zip", { lockTimeout: 60_000 });
 * download.start();
 * await download.wait().catch((error) => {
 *   if (error instanceof LockTimeoutError) console.log(error.pid, error.host);
 *   else throw error;
 * });
 * ```
 */
export class LockTimeoutError extends Error {
  /** The pid of the process holding the lock, if its lock could be read. */
  readonly pid: number | undefined;
  /** Its host's name, if it could be read. */
  readonly host: string | undefined;
  /** How long the download waited, in milliseconds. */
  readonly timeout: number;

  /**
   * Creates the error.
   *
   * @param url The URL being downloaded.
   * @param dest Its destination.
   * @param timeout How long it waited, in milliseconds.
   * @param holder The process holding the lock, if known.
   */
  constructor(
    url: string,
    dest: string,
    timeout: number,
    holder: { pid: number; host?: string | undefined } | undefined,
  ) {
    const who = holder === undefined
      ? "another process"
      : `process ${holder.pid}${
        holder.host === undefined ? "" : ` on ${holder.host}`
      }`;
    super(
      `Cannot download "${url}": ${who} has been downloading "${dest}" for more than ${timeout} ms (lockTimeout)`,
    );
    this.name = "LockTimeoutError";
    this.pid = holder?.pid;
    this.host = holder?.host;
    this.timeout = timeout;
  }
}
recognizedAcrossCopies(LockTimeoutError, "LockTimeoutError");

/**
 * {@linkcode DownloadManager.download} was called on a manager that is
 * closed: disposed of (`await using`, or `[Symbol.asyncDispose]()`), or
 * being disposed of, its downloads canceled and waited for. Thrown at once,
 * before any request or file operation: nothing is started that the
 * disposal would neither cancel nor wait for. A manager only canceled
 * ({@linkcode DownloadManager.cancel}) is not closed: it downloads again.
 *
 * @example Restart canceled downloads, unless the manager is closing
 * ```ts
 * import { DownloadManager, ManagerClosedError } from "@x/dlmanager";
 *
 * await using manager = new DownloadManager("cache");
 * manager.addEventListener("statechange", (event) => {
 *   if (event.state !== "canceled") return;
 *   try {
 *     manager.download(event.download.getUrl());
 *   } catch (error) {
 *     if (!(error instanceof ManagerClosedError)) throw error;
 *   }
 * });
 * manager.download("https://example.com/a.zip");
 * ```
 */
export class ManagerClosedError extends Error {
  /** The directory of the closed manager. */
  readonly destdir: string;

  /**
   * Creates the error.
   *
   * @param url The URL asked for.
   * @param destdir The closed manager's directory.
   */
  constructor(url: string, destdir: string) {
    super(
      `Cannot download "${url}": the manager of "${destdir}" is closed`,
    );
    this.name = "ManagerClosedError";
    this.destdir = destdir;
  }
}
recognizedAcrossCopies(ManagerClosedError, "ManagerClosedError");

/** What the commonest error numbers mean, in the same words on every runtime. */
const FILE_SYSTEM_FAILURES: Record<string, string> = {
  EACCES: "permission denied",
  EBUSY: "the file is busy (in use, or a mount point)",
  EDQUOT: "disk quota exceeded",
  EEXIST: "a file is in the way",
  EFBIG: "file too large",
  EIO: "input/output error",
  EISDIR: "a directory is in the way",
  EMFILE: "too many open files",
  ENAMETOOLONG: "file name too long",
  ENFILE: "too many open files in the system",
  ENOENT: "no such file or directory",
  ENOSPC: "no space left on device",
  ENOTDIR: "a part of the path is not a directory",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
};

/**
 * The file system failed the download (or a manager's directory): a full
 * disk, a read-only mount, a permission, a directory removed meanwhile.
 * `code` is the error number's name (`"ENOSPC"`, `"EACCES"`), the same on
 * every runtime, and the message names the failure the same way; `cause` is
 * the runtime's own error. Nothing is left under the destination's name,
 * and the partial file is removed (or kept for a resume, as a cancel keeps
 * it). Not retried. `"EMFILE"` (`"ENFILE"`): the process (the system) had
 * no file descriptor left, for the file or for the download's connection:
 * too many downloads at once for its `ulimit -n` (lower the manager's
 * `concurrency`), or descriptors held elsewhere in the program.
 *
 * @example Telling a full disk apart
 * ```ts
 * import { Download, FileSystemError } from "@x/dlmanager";
 *
 * const download = new Download("https://example.com/a.zip", "a.zip");
 * download.start();
 * await download.wait().catch((error) => {
 *   if (error instanceof FileSystemError && error.code === "ENOSPC") {
 *     console.log("No room left in", error.path);
 *   } else throw error;
 * });
 * ```
 */
export class FileSystemError extends Error {
  /** The error number's name, e.g. `"ENOSPC"`. */
  readonly code: string;
  /** The destination (or directory) it was about. */
  readonly path: string;

  /**
   * Creates the error.
   *
   * @param context What failed, e.g. `Cannot download "<url>" to "<path>"`.
   * @param path The destination or directory.
   * @param code The error number's name.
   * @param options The standard error options (`cause`: the runtime's error).
   */
  constructor(
    context: string,
    path: string,
    code: string,
    options?: ErrorOptions,
  ) {
    super(
      `${context}: ${FILE_SYSTEM_FAILURES[code] ?? "failed"} (${code})`,
      options,
    );
    this.name = "FileSystemError";
    this.code = code;
    this.path = path;
  }
}
recognizedAcrossCopies(FileSystemError, "FileSystemError");
