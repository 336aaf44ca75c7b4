/**
 * Why a file failed, for a script: the `failure` object of `--json`'s `fail`
 * event, made from the library's named errors (their class, status, code,
 * attempts and, with mirrors, each source's error), so that a script tells
 * a file that is not there from a server that is down, a network that
 * failed, bytes of the wrong digest or a full disk without reading the
 * message (docs/cli.md, "Why a file failed").
 *
 * @module
 */

import {
  FileSystemError,
  HTTPError,
  IntegrityError,
  NetworkError,
  ProtocolError,
  ProxyError,
  RedirectError,
  RetriesExhaustedError,
  TimeoutError,
} from "../errors.ts";
import { message } from "./host.ts";

/**
 * What kind of failure it was, one of a fixed list (docs/cli.md): a script
 * switches on it. New kinds may be added; a script should treat one it does
 * not know as `"other"`.
 */
export type FailureKind =
  /** The server answered 404 Not Found or 410 Gone. */
  | "not_found"
  /** The server answered 401 or 403. */
  | "denied"
  /** Another 4xx status (408, 416, 429, ...). */
  | "client_error"
  /** A 5xx status (or another outside 200-499). */
  | "server_error"
  /** No answer: a connection refused, reset or cut, a host name not found, a timeout. */
  | "network"
  /** The server's certificate was rejected, or the secure connection failed. */
  | "tls"
  /** The proxy refused the request, or its variable names no usable proxy. */
  | "proxy"
  /** The answer broke what the server announced (a body shorter than its length, another file's length). */
  | "protocol"
  /** Too many redirects, or to a URL that is not `http:` or `https:`. */
  | "redirect"
  /** The bytes do not have the expected digest (`--sha256`, `--integrity`). */
  | "integrity"
  /** No space left on the device, or the disk quota exceeded. */
  | "disk_full"
  /** Permission denied, or a read-only file system. */
  | "permission"
  /** Another failure of the file system (a directory where the file goes). */
  | "file_system"
  /** Another URL of the run has the same file name. */
  | "name_taken"
  /** Attempts, or mirrors, that failed in different kinds: see `errors`. */
  | "mixed"
  /** Anything else. */
  | "other";

/** A failure as `--json` tells it: see {@linkcode failureInfo}. */
export interface FailureInfo {
  /** What kind of failure, see {@linkcode FailureKind}. */
  kind: FailureKind;
  /** The error's class name (`"HTTPError"`, `"RetriesExhaustedError"`). */
  name: string;
  /** Its message's first line. */
  message: string;
  /**
   * The URL asked: the download's, or in a mirror's entry the mirror's. Not
   * where a redirect led, whose query may be a signed link's signature (the
   * message names its host, or its path).
   */
  url: string;
  /**
   * The HTTP status (the server's, or the proxy's), or `null`; of a
   * `RetriesExhaustedError`, the status every one of its errors had.
   */
  status: number | null;
  /**
   * The attempts counted (as `--retries` counts them: a failed attempt that
   * moved the file on by a MiB or more is not), with mirrors every source's.
   */
  attempts: number;
  /**
   * For a mirror's entry in `errors`: that source, as it was given.
   */
  source?: string;
  /**
   * `NetworkError`'s code (`"ECONNREFUSED"`, `"ECONNRESET"`, `"ENOTFOUND"`,
   * `"CERT"`, ...) or `FileSystemError`'s (`"ENOSPC"`, `"EACCES"`, ...).
   */
  code?: string;
  /** `TimeoutError`'s: `"connect"`, `"idle"` or `"slow"`. */
  phase?: "connect" | "idle" | "slow";
  /** `IntegrityError`'s hash algorithm (`"sha256"`). */
  algorithm?: string;
  /** `IntegrityError`'s expected digest, as given. */
  expected?: string;
  /** `IntegrityError`'s digest of the bytes received. */
  actual?: string;
  /** `FileSystemError`'s path. */
  path?: string;
  /** `ProxyError`'s or `NetworkError`'s proxy, when the environment named one. */
  proxy?: string;
  /**
   * `RetriesExhaustedError`'s errors, each in this shape: every counted
   * attempt's, or with mirrors each source's (with `source`).
   */
  errors?: FailureInfo[];
}

/** Options for {@linkcode failureInfo}. */
export interface FailureInfoOptions {
  /**
   * The kind, when the caller knows it better than the error's class does
   * (a name taken by another URL of the run).
   *
   * @default {the error's, see FailureKind}
   */
  kind?: FailureKind | undefined;
}

const NOT_FOUND = new Set([404, 410]);
const DENIED = new Set([401, 403]);
const DISK_FULL = new Set(["ENOSPC", "EDQUOT"]);
const PERMISSION = new Set(["EACCES", "EPERM", "EROFS"]);

/**
 * Describes `error`, the failure of the download of `url`, for `--json`.
 *
 * @param error What the download failed with.
 * @param url The URL asked: the download's (or the mirror's, for its own
 * error).
 * @param options See {@linkcode FailureInfoOptions}.
 * @returns Its kind, class, status, attempts and the rest.
 *
 * @example
 * ```ts
 * import { HTTPError } from "../errors.ts";
 *
 * const url = "https://example.com/a.zip";
 * failureInfo(new HTTPError(404, url, { statusText: "Not Found" }), url);
 * // { kind: "not_found", name: "HTTPError", status: 404, attempts: 1, ... }
 * ```
 */
export function failureInfo(
  error: unknown,
  url: string,
  options: FailureInfoOptions = {},
): FailureInfo {
  const info: FailureInfo = {
    kind: options.kind ?? kindOf(error),
    name: error instanceof Error ? error.name : typeof error,
    message: message(error),
    url,
    status: error instanceof HTTPError || error instanceof ProxyError
      ? error.status ?? null
      : null,
    attempts: 1,
  };
  if (error instanceof NetworkError || error instanceof FileSystemError) {
    info.code = error.code;
  }
  if (error instanceof NetworkError || error instanceof ProxyError) {
    if (error.proxy !== undefined) info.proxy = error.proxy;
  }
  if (error instanceof TimeoutError) info.phase = error.phase;
  if (error instanceof IntegrityError) {
    info.algorithm = error.algorithm;
    info.expected = error.expected;
    info.actual = error.actual;
  }
  if (error instanceof FileSystemError) info.path = error.path;
  if (error instanceof RetriesExhaustedError) {
    const { sources } = error;
    const errors = error.errors.map((each, index) => {
      const source = sources?.[index];
      return source === undefined
        ? failureInfo(each, url)
        : { ...failureInfo(each, source), source };
    });
    info.errors = errors;
    info.attempts = error.attempts;
    if (options.kind === undefined) info.kind = sharedKind(errors);
    const statuses = new Set(errors.map((each) => each.status));
    info.status = statuses.size === 1 ? [...statuses][0] ?? null : null;
  }
  return info;
}

/** The kind of one error, by its class (see {@linkcode FailureKind}). */
function kindOf(error: unknown): FailureKind {
  if (error instanceof HTTPError) {
    const { status } = error;
    if (NOT_FOUND.has(status)) return "not_found";
    if (DENIED.has(status)) return "denied";
    return status >= 400 && status < 500 ? "client_error" : "server_error";
  }
  if (error instanceof NetworkError) {
    return error.code === "CERT" || error.code === "TLS" ? "tls" : "network";
  }
  if (error instanceof TimeoutError) return "network";
  if (error instanceof ProxyError) return "proxy";
  if (error instanceof ProtocolError) return "protocol";
  if (error instanceof RedirectError) return "redirect";
  if (error instanceof IntegrityError) return "integrity";
  if (error instanceof FileSystemError) {
    if (DISK_FULL.has(error.code)) return "disk_full";
    if (PERMISSION.has(error.code)) return "permission";
    return "file_system";
  }
  return "other";
}

/** The kind every one of `errors` has, or `"mixed"`. */
function sharedKind(errors: FailureInfo[]): FailureKind {
  const kinds = new Set(errors.map((each) => each.kind));
  return kinds.size === 1 ? [...kinds][0] ?? "other" : "mixed";
}
