/**
 * {@linkcode TransferOptions}: how a download talks to the network (retries,
 * timeouts, headers), shared by {@linkcode Download} and, as defaults for
 * every download it starts, {@linkcode DownloadManager}.
 *
 * @module
 */

import {
  count,
  duration,
  flag,
  outOfRange,
  positive,
  speedOf,
} from "./_option_checks.ts";

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
 * ```ts
 * import { Download, type TransferOptions } from "@x/dlmanager";
 *
 * const token = "...";
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
   * Left unset, writes are 256 KiB, except for a body longer than that
   * whose bytes need no digest (no `integrity` or `sha256`): the runtime's
   * own pipe then moves it from the connection to the file, in writes of its
   * choosing (Deno's, with no JavaScript per chunk; on Node, each chunk as
   * `fetch` hands it over, through an `fs.WriteStream`), and progress is
   * reported from the file's size every 100 ms.
   *
   * @default {262144} (see {@linkcode DEFAULT_CHUNK_SIZE})
   */
  chunkSize?: number | undefined;
  /**
   * How many times a failed attempt is retried: after a connection failure, a
   * timeout, a broken body, or status 408, 429, 500, 502, 503 or 504. A retry
   * after bytes were written resumes with a `Range` request where the server
   * allows. Only failures that got nowhere are counted: an attempt that moved
   * the download on by 1 MiB or more past the furthest any attempt before it
   * had got starts the count (and the backoff) again, so a big file on a link
   * that keeps dropping it is not given up while it moves on (on several
   * connections, each part's count). `0` disables retries. Of a download
   * with several sources, each source's: one that fails twice in a row, or
   * is busy or refuses the connection, is left for the next at once, and
   * asked again after the others (see docs/behaviour.md).
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
   * attempt; then the attempt fails with a `TimeoutError`. `Infinity` (or
   * 0, as in curl) disables it. On Node, whose `fetch` gives up after 300 s
   * without an answer by itself (Bun's after 360 s), a longer limit ends
   * there (a `NetworkError` `ETIMEDOUT`, retried).
   *
   * @default {30000}
   */
  connectTimeout?: number | undefined;
  /**
   * Milliseconds the body may stall (no bytes) before the attempt fails with
   * a `TimeoutError`. `Infinity` (or 0, as in curl) disables it. On Node,
   * whose `fetch` gives up a body after 300 s without bytes by itself (Bun's
   * after 360 s), a longer limit ends there (a `NetworkError` `ETIMEDOUT`,
   * retried).
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
   * is taken over; or after the owner's own, if its lock records a longer
   * one (every lock records its owner's). A lock whose owner process is gone
   * (same host) is taken over at once.
   *
   * @default {10000}
   */
  lockStaleAfter?: number | undefined;
  /**
   * Milliseconds to wait for another process that holds this destination's
   * lock (it is downloading the same file) before failing with a
   * `LockTimeoutError`. While it waits, the download's state is `"waiting"`
   * and `lockHolder` names that process. A pause stops the wait, and a
   * resume waits a whole `lockTimeout` again: no time paused counts.
   * `Infinity` waits as long as it runs.
   *
   * @default {Infinity}
   */
  lockTimeout?: number | undefined;
  /**
   * Whether requests go through the proxy that the environment names:
   * `HTTP_PROXY` for `http:` URLs, `HTTPS_PROXY` for `https:` ones (each
   * lower-case form first, but on Deno), then `ALL_PROXY`, except for the
   * hosts listed in `NO_PROXY` (`example.com` also covers its subdomains).
   * Deno's and Bun's `fetch` read these variables themselves; Node's ignores
   * them, so on Node the npm package sends the requests through undici's
   * `EnvHttpProxyAgent`. Credentials in the proxy's URL
   * (`http://user:pass@proxy:3128`) go to the proxy only. A value the
   * runtime cannot use (not a URL, a scheme it has no proxy of) fails the
   * download at once with a `ProxyError` naming the variable.
   *
   * `false` leaves the runtime's `fetch` as it is: on Node, requests go
   * straight to the server (unless Node itself was told to use the proxy,
   * with `NODE_USE_ENV_PROXY=1`); Deno's `fetch` has no way to ignore the
   * variables, and Bun's has none documented, so there they still apply:
   * list a host in `NO_PROXY` to reach it directly on every runtime. Not
   * used when a `fetch` is given: that function is used as it is.
   *
   * @default {true}
   */
  useEnvProxy?: boolean | undefined;
  /**
   * How many connections one file is fetched over. `"auto"` starts with one
   * and, when the server serves ranges of the file (`Accept-Ranges: bytes`
   * or a 206, a strong validator, a known length) and what is left would
   * take long enough for more connections to pay, opens more, each fetching
   * a part of the file with a bounded `Range` and `If-Range`, more each
   * time the rate rose with the last ones, up to
   * {@linkcode MAX_CONNECTIONS} (and the manager's `maxConnectionsPerHost`);
   * a file of 64 MiB or more gets 16 at once. A server on this machine or
   * network (that answers within 10 ms) is left to one connection, which
   * fills such a pipe. A number asks for that many at once, where the
   * server allows; `1` never splits. A server that refuses more connections
   * (429 or 503) makes a download use fewer, not fail.
   *
   * @default {"auto"}
   */
  connections?: number | "auto" | undefined;
  /**
   * The most bytes per second this download reads, over all its
   * connections: a read takes what the limit allows in a tenth of a second
   * (1 KiB at least, 256 KiB at most), written and reported once the limit
   * has room for it (unless `chunkSize` is given: writes of that size), so
   * progress comes about ten times a second however low the limit. It runs
   * ahead of the limit by one read per connection and a credit at most: one
   * such read, or 5 ms at the limit when that is more (1 MiB at 200 MiB/s:
   * a timer's lateness must not hold a high limit back). The credit refills
   * while nothing is read: it goes at once after a pause or a stalled
   * server. At least 1 byte per second (less is a `RangeError`: the
   * schedule's arithmetic overflows far below it); `Infinity` (or unset) is
   * no limit, and the body then goes through the runtime's pipe where it
   * can. A manager's `rateLimit` is one limit shared by all its downloads
   * (see {@linkcode DownloadManager.setRateLimit}).
   *
   * @default {Infinity}
   */
  rateLimit?: number | undefined;
  /**
   * The least bytes per second a body may come at, measured over
   * `minSpeedWindow`: slower, and the attempt fails with a `TimeoutError`
   * (phase `"slow"`) and is retried as after an idle timeout (curl's
   * `--speed-limit`, aria2's `--lowest-speed-limit`). Time held back by
   * `rateLimit` is not counted, nor time the process did not run (stopped,
   * or asleep with the machine). `0` disables it. It is the download's
   * minimum: on several connections, their bytes together must come this
   * fast, and a connection is given up only when they do not and it brings
   * less than its share (four at 100 KB/s each meet a 200 KB/s minimum).
   *
   * @default {0}
   */
  minSpeed?: number | undefined;
  /**
   * The milliseconds over which `minSpeed` is measured (curl's
   * `--speed-time`).
   *
   * @default {30000}
   */
  minSpeedWindow?: number | undefined;
  /**
   * Extra request headers, e.g. `authorization` (dropped on a redirect to
   * another origin). `accept-encoding` defaults to `identity`; `range` and
   * `if-range` are the library's, and `keep-alive`, `transfer-encoding`,
   * `upgrade`, `expect` and a `connection` other than `close` or
   * `keep-alive` the connection's (Node's `fetch` refuses them): giving one
   * is a `TypeError`.
   *
   * @default {{}}
   */
  headers?: RequestHeaders | undefined;
  /**
   * Whether a download that fails with what a later download can resume
   * past keeps its bytes for it, as a cancel with `keepPartial` does (see
   * {@linkcode CancelOptions.keepPartial}): the partial file and its
   * sidecar stay beside the destination, when the server gave a validator
   * and a length, and the next download of the file, in this process or
   * another, asks only for the rest. That is a failure of the connection or
   * a timeout (a `NetworkError`, a `TimeoutError`), a status that says
   * "later" (408, 429, 500, 502, 503, 504), a `ProtocolError` a retry
   * resumes past (a body that ended short: a connection dropped where no
   * length told it from an end), or a `RetriesExhaustedError` of only
   * these: a proxy restarted, a server down longer than the retries'
   * backoff. Not a failure that makes the bytes worthless or unsafe to
   * build on (an `IntegrityError`, another status such as 404 or 410, a
   * `ProtocolError` no retry mends, a `FileSystemError`, an error of a
   * callback): the partial file is removed then, as always. The bytes kept
   * are of the version the sidecar names (an answer of another version
   * drops them before the download fails), and the next download asks for
   * the rest with `If-Range`: a file changed on the server since replaces
   * them. Over several connections, every part's bytes on disk are kept;
   * the first part to fail for good gives the download its error (a 404 on
   * any part keeps nothing). With mirrors, one source that failed so is
   * enough, though another answered 404 or serves another file: it may
   * serve the rest later (see `RetriesExhaustedError.sources`). Kept bytes
   * are no cache entry: a `PersistLimit` neither counts nor removes them, and a
   * `DownloadManager` removes them at start once `leftoverMaxAge` old,
   * unless one of its own downloads resumes them. A download canceled while
   * it waits to retry (or a manager disposed of) is no failure: it removes
   * its bytes, unless canceled with `keepPartial`. The download fails with its
   * error all the same; {@linkcode Download.partialKept} tells whether the
   * bytes were kept. The `dlmanager` command line keeps them (as wget -c
   * and aria2 do); the library, by default, leaves nothing behind.
   *
   * @example Resume after a server that stayed down past the retries
   * ```ts
   * import { Download } from "@x/dlmanager";
   *
   * const url = "https://example.com/big.iso";
   * const download = new Download(url, "big.iso", { keepPartialOnError: true });
   * download.start();
   * await download.wait({ raiseIfError: false });
   * if (download.partialKept) {
   *   // Later, or in another process: asks only for the rest.
   *   const again = new Download(url, "big.iso", { keepPartialOnError: true });
   *   again.start();
   *   await again.wait();
   * }
   * ```
   *
   * @default {false}
   */
  keepPartialOnError?: boolean | undefined;
}

/** {@linkcode TransferOptions} with every default filled in and checked. */
export interface ResolvedTransferOptions {
  chunkSize: number;
  /** Whether the caller set `chunkSize` (writes must then be exactly that). */
  chunkSizeGiven: boolean;
  retries: number;
  backoffBase: number;
  backoffCap: number;
  retryAfterCap: number;
  connectTimeout: number;
  idleTimeout: number;
  maxRedirects: number;
  lockStaleAfter: number;
  lockTimeout: number;
  useEnvProxy: boolean;
  connections: number | "auto";
  minSpeed: number;
  minSpeedWindow: number;
  headers: Headers;
  keepPartialOnError: boolean;
}

/**
 * The most connections one file is fetched over (see
 * {@linkcode TransferOptions.connections}): aria2's limit too.
 *
 * @example
 * ```ts
 * import { MAX_CONNECTIONS } from "@x/dlmanager";
 * console.log(MAX_CONNECTIONS); // 16
 * ```
 */
export const MAX_CONNECTIONS: number = 16;

/**
 * The default {@linkcode TransferOptions.chunkSize}: 256 KiB.
 *
 * Measured on a 2-core VM, a 1 GiB file from nginx on 127.0.0.1, runs
 * interleaved with the order rotated, median wall time. Over 8 rounds, on
 * Deno 2.9 256 KiB took 1.10 s and 1 MiB 1.58 s (a plain `fetch` piped to a
 * file: 0.91 s); on Node 20 2.16 s and 2.49 s (plain fetch: 2.21 s). Over 5
 * rounds with 64 KiB and 4 MiB too, 64 KiB was 1.6 to 1.7 times slower than
 * 256 KiB, and 4 MiB 2.0 times on Deno and 1.6 on Node: one write is in
 * flight while the next chunk is read, and two buffers much larger than this
 * no longer fit the CPU caches. To measure again:
 * `deno task bench --only 1g --chunk-sizes 65536,262144,1048576,4194304`.
 * Two buffers of this size are a download's staging memory; a small file's
 * is only as large as its body.
 *
 * @example
 * ```ts
 * import { DEFAULT_CHUNK_SIZE } from "@x/dlmanager";
 * console.log(DEFAULT_CHUNK_SIZE); // 262144
 * ```
 */
export const DEFAULT_CHUNK_SIZE: number = 256 * 1024;

/**
 * Every default of the library, in one place: what an option is when not
 * given (as its JSDoc's `@default` says). The manager's, `PersistLimit`'s and
 * the command line's help read them here.
 */
export const DEFAULTS = {
  // TransferOptions
  chunkSize: DEFAULT_CHUNK_SIZE,
  retries: 3,
  backoffBase: 1000,
  backoffCap: 30_000,
  retryAfterCap: 120_000,
  connectTimeout: 30_000,
  idleTimeout: 60_000,
  maxRedirects: 10,
  lockStaleAfter: 10_000,
  lockTimeout: Infinity,
  useEnvProxy: true,
  connections: "auto",
  rateLimit: Infinity,
  minSpeed: 0,
  minSpeedWindow: 30_000,
  keepPartialOnError: false,
  // DownloadManagerOptions
  concurrency: 6,
  maxConnectionsPerHost: MAX_CONNECTIONS,
  leftoverMaxAge: 86_400_000,
  revalidate: "never",
  // PersistLimitOptions
  fileLimit: 5,
} as const;

type NumberOption = Exclude<
  keyof TransferOptions & keyof typeof DEFAULTS,
  "chunkSize" | "connections" | "rateLimit" | "minSpeed" | FlagOption
>;

/** The options that are true or false. */
type FlagOption = "useEnvProxy" | "keepPartialOnError";

/** `"auto"`, or a whole number of connections from 1 to the most. */
function connectionsOf(
  context: string,
  value: number | "auto",
): number | "auto" {
  if (
    value !== "auto" &&
    !(Number.isSafeInteger(value) && value >= 1 && value <= MAX_CONNECTIONS)
  ) {
    // A string other than "auto" too: the option takes one.
    throw new RangeError(
      `${context}: connections must be "auto" or a whole number from 1 to ${MAX_CONNECTIONS}, got ${value}`,
    );
  }
  return value;
}

/** The request headers the library sets itself, which options may not. */
export const LIBRARY_HEADERS: readonly string[] = ["range", "if-range"];

/**
 * The connection's own headers, which options may not set: Node's `fetch`
 * refuses a request with one (where Deno's and Bun's send it), so a
 * download would fail on one runtime only, after its retries. `Connection`
 * may say `close` or `keep-alive`, which every runtime sends.
 */
export const CONNECTION_HEADERS: readonly string[] = [
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "expect",
];

/**
 * Why a request header `name` with `value` may not be set by options, if
 * it may not: the library's own, or the connection's.
 */
export function refusedHeader(
  name: string,
  value: string,
): string | undefined {
  const key = name.toLowerCase();
  if (LIBRARY_HEADERS.includes(key)) {
    return `the ${key} header is the library's own (it asks for the ranges it resumes and fetches in parts)`;
  }
  if (
    CONNECTION_HEADERS.includes(key) ||
    (key === "connection" && !/^\s*(close|keep-alive)\s*$/i.test(value))
  ) {
    return `the ${key} header is the connection's own (Node's fetch refuses it; connection may only say close or keep-alive)`;
  }
  return undefined;
}

/**
 * `base` with each header of `override` set over it. A header `Headers`
 * refuses is a `TypeError` whose message starts with `context` and names
 * it, the same on every runtime (theirs differ, and name no download).
 */
export function mergeHeaders(
  base: RequestHeaders | undefined,
  override: RequestHeaders | undefined,
  context: string,
): Headers {
  const headers = headersOf(base, context);
  if (override !== undefined) {
    headersOf(override, context).forEach((value, key) =>
      headers.set(key, value)
    );
  }
  return headers;
}

// RFC 9110's token: what a header name may hold.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function headersOf(init: RequestHeaders | undefined, context: string): Headers {
  try {
    return new Headers(init);
  } catch (error) {
    const pairs = init instanceof Headers
      ? []
      : Array.isArray(init)
      ? init
      : Object.entries(init ?? {});
    for (const [name, value] of pairs) {
      try {
        new Headers([[name, value]]);
      } catch {
        // Not the value itself: it may be a credential.
        throw new TypeError(
          TOKEN.test(name)
            ? `${context}: the ${name} header's value must not contain a line break, a NUL or a character beyond U+00FF`
            : `${context}: invalid header name ${JSON.stringify(name)}`,
        );
      }
    }
    throw error;
  }
}

/**
 * Fills in the defaults, taking each field from `options`, else `defaults`.
 * Throws a `RangeError` for an out-of-range value, a `TypeError` for bad
 * headers or a number option given no number.
 */
export function resolveTransferOptions(
  url: string,
  options: TransferOptions,
  defaults: TransferOptions = {},
): ResolvedTransferOptions {
  return resolveIn(`Cannot download "${url}"`, options, defaults);
}

/**
 * Checks `options` as {@linkcode resolveTransferOptions} does, its errors'
 * messages starting with `context`: a manager's defaults for its
 * downloads, checked when it is made rather than at each download.
 */
export function checkTransferOptions(
  context: string,
  options: TransferOptions,
): void {
  resolveIn(context, options, {});
}

function resolveIn(
  context: string,
  options: TransferOptions,
  defaults: TransferOptions,
): ResolvedTransferOptions {
  const given = options.chunkSize ?? defaults.chunkSize;
  const chunkSize = given ?? DEFAULTS.chunkSize;
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
    throw outOfRange(
      context,
      "chunkSize must be a positive integer",
      chunkSize,
    );
  }
  const headers = mergeHeaders(defaults.headers, options.headers, context);
  headers.forEach((value, name) => {
    const refused = refusedHeader(name, value);
    if (refused !== undefined) {
      throw new TypeError(`${context}: ${refused}, not an option`);
    }
  });
  const pick = (name: NumberOption): number =>
    options[name] ?? defaults[name] ?? DEFAULTS[name];
  const pickFlag = (name: FlagOption): boolean =>
    flag(context, name, options[name] ?? defaults[name] ?? DEFAULTS[name]);
  return {
    chunkSize,
    chunkSizeGiven: given !== undefined,
    retries: count(context, "retries", pick("retries")),
    backoffBase: duration(context, "backoffBase", pick("backoffBase")),
    backoffCap: duration(context, "backoffCap", pick("backoffCap")),
    retryAfterCap: duration(context, "retryAfterCap", pick("retryAfterCap")),
    connectTimeout: duration(context, "connectTimeout", pick("connectTimeout")),
    idleTimeout: duration(context, "idleTimeout", pick("idleTimeout")),
    maxRedirects: count(context, "maxRedirects", pick("maxRedirects")),
    lockStaleAfter: duration(context, "lockStaleAfter", pick("lockStaleAfter")),
    lockTimeout: duration(context, "lockTimeout", pick("lockTimeout")),
    useEnvProxy: pickFlag("useEnvProxy"),
    connections: connectionsOf(
      context,
      options.connections ?? defaults.connections ?? DEFAULTS.connections,
    ),
    minSpeed: speedOf(
      context,
      options.minSpeed ?? defaults.minSpeed ?? DEFAULTS.minSpeed,
    ),
    minSpeedWindow: positive(context, "minSpeedWindow", pick("minSpeedWindow")),
    headers,
    keepPartialOnError: pickFlag("keepPartialOnError"),
  };
}
