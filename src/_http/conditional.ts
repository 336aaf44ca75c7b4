// Revalidation's request: `If-None-Match` with the ETag the server gave
// (weak or strong, quoted or not, as it was sent), else `If-Modified-Since`
// with its Last-Modified date (RFC 9110 §13.1.2, §13.1.3), and what a
// `304 Not Modified` answer to it
// means: the file on disk is the server's current one. So does the whole
// file (a `200`, or a `206` of every byte) whose validator names that
// version (a server that ignores the condition).
// A 304 whose own validator names another version (a cache or a proxy that
// mixed answers up) vouches for nothing (RFC 9111 §4.3.4): the file is asked
// for again, unconditionally.

import { parseHttpDate } from "./http_date.ts";

/**
 * The header that makes a request conditional on the file having changed
 * since the version `validator` names (an ETag, quoted, `W/` first if weak,
 * or unquoted as some servers send it, or a Last-Modified date; see
 * `revalidatorOf()`).
 */
export function conditionalHeaders(validator: string): [string, string][] {
  return isEtag(validator)
    ? [["if-none-match", validator]]
    : [["if-modified-since", validator]];
}

/**
 * A revalidation's headers: the condition (see
 * {@linkcode conditionalHeaders}), first, and `Cache-Control: max-age=0`,
 * which has a cache on the way (a caching proxy: squid) ask the server
 * before it answers (RFC 9111 §5.2.1.1), as a browser's reload does:
 * otherwise a copy it holds, fresh by its own reckoning, answers `304` for
 * a file the server has changed since, and the download's version is never
 * asked of the server.
 *
 * @example
 * ```ts
 * revalidationHeaders('"v1"');
 * // [["if-none-match", '"v1"'], ["cache-control", "max-age=0"]]
 * ```
 */
export function revalidationHeaders(validator: string): [string, string][] {
  return [...conditionalHeaders(validator), ["cache-control", "max-age=0"]];
}

/** What an answer names of its version (see {@linkcode versionNamed}). */
export type NamedVersion = "same" | "other" | undefined;

/**
 * What an answer to the conditional request `conditional` (see
 * {@linkcode conditionalHeaders}) says of the version it is of: `"same"`
 * as the one asked about, `"other"`, or `undefined` when it names none of
 * the kind asked with (no ETag, or an empty one, to `If-None-Match`; no
 * Last-Modified date to `If-Modified-Since`). ETags are compared weakly, as
 * `If-None-Match` is (RFC 9110 §8.8.3.2): a compressing server weakens the
 * ETag of a 200 it compresses, not of its 304 (nginx's `gzip`). A date is
 * the same when not after the one asked about.
 *
 * @example
 * ```ts
 * const asked = conditionalHeaders('"v1"');
 * versionNamed(new Headers({ etag: 'W/"v1"' }), asked); // "same"
 * versionNamed(new Headers({ etag: '"v2"' }), asked); // "other"
 * versionNamed(new Headers(), asked); // undefined
 * ```
 */
export function versionNamed(
  headers: Headers,
  conditional: [string, string][],
): NamedVersion {
  const [name, value] = conditional[0] ?? [];
  if (value === undefined) return undefined;
  if (name === "if-none-match") {
    // An empty ETag names no version: as none.
    const etag = headers.get("etag") || null;
    if (etag === null) return undefined;
    return opaqueTag(etag) === opaqueTag(value) ? "same" : "other";
  }
  const lastModified = parseHttpDate(headers.get("last-modified") ?? "");
  const asked = parseHttpDate(value);
  if (lastModified === undefined || asked === undefined) return undefined;
  return lastModified <= asked ? "same" : "other";
}

/**
 * An ETag without its weakness (`W/`): what a weak comparison compares. The
 * indicator is `W/` (RFC 9110 §8.8.3), but some servers send `w/`, meaning
 * the same.
 */
function opaqueTag(etag: string): string {
  return isWeakEtag(etag) ? etag.slice(2) : etag;
}

/**
 * Whether `etag` is marked weak: `W/`, or `w/` as some servers (older
 * Werkzeug) send it, which RFC 9110 makes no ETag at all but means weak. An ETag so marked never validates a range (RFC 9110
 * §13.1.5): the server may send bytes of another body under it.
 *
 * @example
 * ```ts
 * isWeakEtag('W/"v1"'); // true
 * isWeakEtag('w/"v1"'); // true
 * isWeakEtag('"v1"'); // false
 * ```
 */
export function isWeakEtag(etag: string): boolean {
  return etag.startsWith("W/") || etag.startsWith("w/");
}

/**
 * Whether `validator` is an ETag, not a date: quoted (`W/` first if weak),
 * or a word without a space, as an ETag some servers send unquoted
 * (`abc123`) is and no form of HTTP date is. Such a server compares it as
 * it sent it.
 */
function isEtag(validator: string): boolean {
  return validator.startsWith('"') || validator.startsWith('W/"') ||
    /^\S+$/.test(validator);
}

/**
 * A conditional request was answered `304 Not Modified` (or the whole
 * file, a `200` or a `206` of every byte, that {@linkcode versionNamed}
 * says is of the version asked about): the file on disk is current. Not a
 * failure: it ends the transfer, never retried.
 */
export class NotModified extends Error {
  readonly #etag: string | null;
  readonly #lastModified: string | null;

  /** @param headers The answer's headers. */
  constructor(headers: Headers) {
    super("the file has not changed");
    this.name = "NotModified";
    // An empty ETag names no version: as none.
    this.#etag = headers.get("etag") || null;
    this.#lastModified = headers.get("last-modified");
  }

  /**
   * The validator to keep for the file after this answer, `held` being the
   * one asked with. As a cache updates a stored response with a 304's
   * headers (RFC 9111 §4.3.4), an ETag held is renewed with the answer's
   * (which {@linkcode versionNamed} found weakly the same), or stays (an
   * answer without one does not unsay it). A date held is renewed with the
   * answer's Last-Modified, or stays: an ETag the answer sends matches no
   * validator the file was given (§4.3.4 updates no stored response with
   * it), and may be another version's (a cache before the server that
   * answers any condition 304), which asked with would keep this file for
   * that version.
   *
   * @example
   * ```ts
   * const date = "Tue, 01 Sep 2026 10:00:00 GMT";
   * new NotModified(new Headers({ etag: 'W/"v1"' })).renewed('"v1"'); // 'W/"v1"'
   * new NotModified(new Headers({ etag: '"v2"' })).renewed(date); // date
   * ```
   */
  renewed(held: string): string {
    if (isEtag(held)) return this.#etag ?? held;
    return this.#lastModified ?? held;
  }
}
