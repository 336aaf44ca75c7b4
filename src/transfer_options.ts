/**
 * {@linkcode TransferOptions}: how a download talks to the network (retries,
 * timeouts, headers), shared by {@linkcode Download} and, as defaults for
 * every download it starts, {@linkcode DownloadManager}.
 *
 * @module
 */

/**
 * Request headers: a `Headers`, a record of names to values, or name-value
 * pairs (what `new Headers()` takes).
 *
 * @example
 * ```ts
 * import type { RequestHeaders } from "@x/dlmanager";
 * const headers: RequestHeaders = { authorization: "Bearer token" };
 * ```
 */
export type RequestHeaders = Headers | Record<string, string> | [
  string,
  string,
][];

/**
 * Network behaviour of a download. Every field is optional; the defaults are
 * what a download gets without it.
 *
 * @example A patient download with authentication
 * ```ts ignore
 * import { Download, type TransferOptions } from "@x/dlmanager";
 *
 * const options: TransferOptions = {
 *   retries: 5,
 *   idleTimeout: 120_000,
 *   headers: { authorization: `Bearer ${token}` },
 * };
 * new Download("https://example.com/big.iso", "big.iso", options).start();
 * ```
 */
export interface TransferOptions {
  /**
   * Bytes per file write, and so per progress report: every write is exactly
   * this long except the last. A positive integer.
   *
   * @default {1048576} (see {@linkcode DEFAULT_CHUNK_SIZE})
   */
  chunkSize?: number | undefined;
  /**
   * How many times a failed attempt is retried: after a connection failure, a
   * timeout, a broken body, or status 408, 429, 500, 502, 503 or 504. A retry
   * after bytes were written resumes with a `Range` request where the server
   * allows. `0` disables retries.
   *
   * @default {3}
   */
  retries?: number | undefined;
  /**
   * Backoff before retry `n` is a random time between 0 and
   * `min(backoffCap, backoffBase * 2 ** (n - 1))` milliseconds ("full jitter").
   *
   * @default {1000}
   */
  backoffBase?: number | undefined;
  /**
   * The longest backoff, in milliseconds.
   *
   * @default {30000}
   */
  backoffCap?: number | undefined;
  /**
   * A server's `Retry-After` (seconds or an HTTP date) replaces the backoff,
   * up to this many milliseconds.
   *
   * @default {120000}
   */
  retryAfterCap?: number | undefined;
  /**
   * Milliseconds to wait for the server's answer (status and headers) in each
   * attempt; then the attempt fails with a `TimeoutError`. `Infinity`
   * disables it.
   *
   * @default {30000}
   */
  connectTimeout?: number | undefined;
  /**
   * Milliseconds the body may stall (no bytes) before the attempt fails with
   * a `TimeoutError`. `Infinity` disables it.
   *
   * @default {60000}
   */
  idleTimeout?: number | undefined;
  /**
   * How many redirects are followed before the download fails with a
   * `RedirectError`.
   *
   * @default {10}
   */
  maxRedirects?: number | undefined;
  /**
   * Milliseconds after which another process's lock on the same destination
   * counts as abandoned (its heartbeat, every quarter of this, stopped) and
   * is taken over. A lock whose owner process is gone (same host) is taken
   * over at once.
   *
   * @default {10000}
   */
  lockStaleAfter?: number | undefined;
  /**
   * Extra request headers, e.g. `authorization` (dropped on a redirect to
   * another origin). `accept-encoding` defaults to `identity`; `range` and
   * `if-range` are the library's.
   *
   * @default {{}}
   */
  headers?: RequestHeaders | undefined;
}

/** {@linkcode TransferOptions} with every default filled in and checked. */
export interface ResolvedTransferOptions {
  chunkSize: number;
  retries: number;
  backoffBase: number;
  backoffCap: number;
  retryAfterCap: number;
  connectTimeout: number;
  idleTimeout: number;
  maxRedirects: number;
  lockStaleAfter: number;
  headers: Headers;
}

/**
 * The default {@linkcode TransferOptions.chunkSize}: 1 MiB.
 *
 * Chosen by `bench/chunk_size.ts` (a 256 MiB file from a local server in
 * another process, Deno 2.9, 2 shared cores, median of 5 interleaved runs):
 * 16 KiB writes (the seed's default) 184 MB/s, 64 KiB 398 MB/s, 1 MiB
 * 669 MB/s, 4 MiB 423 MB/s; a plain `fetch` piped to a file 723 MB/s. Each
 * write is an awaited system call, so fewer, larger writes win up to about
 * 1 MiB. The staging buffer is only as large as the body, so small files do
 * not pay for it.
 *
 * @example
 * ```ts
 * import { DEFAULT_CHUNK_SIZE } from "@x/dlmanager";
 * console.log(DEFAULT_CHUNK_SIZE); // 1048576
 * ```
 */
export const DEFAULT_CHUNK_SIZE: number = 1024 * 1024;

/** The built-in defaults, as documented on {@linkcode TransferOptions}. */
const BUILT_IN = {
  retries: 3,
  backoffBase: 1000,
  backoffCap: 30_000,
  retryAfterCap: 120_000,
  connectTimeout: 30_000,
  idleTimeout: 60_000,
  maxRedirects: 10,
  lockStaleAfter: 10_000,
} as const;

function count(url: string, name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot download "${url}": ${name} must be a whole number of 0 or more, got ${value}`,
    );
  }
  return value;
}

function duration(url: string, name: string, value: number): number {
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new RangeError(
      `Cannot download "${url}": ${name} must be 0 or more milliseconds, got ${value}`,
    );
  }
  return value;
}

/** `base` with each header of `override` set over it. */
export function mergeHeaders(
  base: RequestHeaders | undefined,
  override: RequestHeaders | undefined,
): Headers {
  const headers = new Headers(base);
  new Headers(override).forEach((value, key) => headers.set(key, value));
  return headers;
}

/**
 * Fills in the defaults, taking each field from `options`, else `defaults`.
 * Throws a `RangeError` for an out-of-range value, a `TypeError` for bad
 * headers.
 */
export function resolveTransferOptions(
  url: string,
  options: TransferOptions,
  defaults: TransferOptions = {},
): ResolvedTransferOptions {
  const chunkSize = options.chunkSize ?? defaults.chunkSize ??
    DEFAULT_CHUNK_SIZE;
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
    throw new RangeError(
      `Cannot download "${url}": chunkSize must be a positive integer, got ${chunkSize}`,
    );
  }
  const headers = mergeHeaders(defaults.headers, options.headers);
  const pick = (name: keyof typeof BUILT_IN): number =>
    options[name] ?? defaults[name] ?? BUILT_IN[name];
  return {
    chunkSize,
    retries: count(url, "retries", pick("retries")),
    backoffBase: duration(url, "backoffBase", pick("backoffBase")),
    backoffCap: duration(url, "backoffCap", pick("backoffCap")),
    retryAfterCap: duration(url, "retryAfterCap", pick("retryAfterCap")),
    connectTimeout: duration(url, "connectTimeout", pick("connectTimeout")),
    idleTimeout: duration(url, "idleTimeout", pick("idleTimeout")),
    maxRedirects: count(url, "maxRedirects", pick("maxRedirects")),
    lockStaleAfter: duration(url, "lockStaleAfter", pick("lockStaleAfter")),
    headers,
  };
}
