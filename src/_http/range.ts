// Ranges: what to ask for when part of a file is on disk (`Range` with
// `If-Range`), and what an answer means for it (RFC 9110 §14, §15.3.7,
// §15.5.17). No state: the transfer strategies hold the offsets.

import { isWeakEtag } from "./conditional.ts";
import { parseHttpDate } from "./http_date.ts";

/**
 * A byte count from a header: digits only, else `undefined`. A list of one
 * count repeated (`10, 10`: the field sent twice, which Deno's and Bun's
 * `fetch` join so) is that count, as RFC 9110 §8.6 allows; counts that
 * differ are none (a `fetch` refuses such an answer before).
 */
export function parseLength(header: string | null): number | undefined {
  if (header === null) return undefined;
  if (/^\d+$/.test(header)) return Number(header);
  const counts = /^\d+(?:[ \t]*,[ \t]*\d+)+$/.test(header)
    ? header.split(",").map((count) => Number(count.trim()))
    : [];
  return counts.length > 0 && counts.every((count) => count === counts[0])
    ? counts[0]
    : undefined;
}

/**
 * What names the version an answer is of, to tell a changed file: a strong
 * ETag, else Last-Modified. A weak ETag (`W/"..."`, or `w/"..."`: see
 * `isWeakEtag()`) cannot validate a range (RFC 9110 §13.1.5).
 */
export function validatorOf(headers: Headers): string | undefined {
  const etag = headers.get("etag");
  if (etag !== null && !isWeakEtag(etag)) return etag;
  return headers.get("last-modified") ?? undefined;
}

/**
 * Whether an answer to a ranged request names another version than
 * `validator`, the one the bytes on disk are of: a server (or a proxy) that
 * ignores `If-Range` sends the range of the version it has now, which is
 * never to be joined to them. An answer that names none is taken as the
 * version asked for.
 *
 * @example
 * ```ts
 * const headers = new Headers({ etag: '"v2"' });
 * isOtherVersion(headers, '"v1"'); // true
 * ```
 */
export function isOtherVersion(headers: Headers, validator: string): boolean {
  const named = validatorOf(headers);
  return named !== undefined && named !== validator;
}

/**
 * The validator to resume a file with (`If-Range`): {@linkcode validatorOf},
 * except a Last-Modified that {@linkcode isWeakDate} says is weak.
 */
export function rangeValidatorOf(headers: Headers): string | undefined {
  const validator = validatorOf(headers);
  const lastModified = headers.get("last-modified");
  if (validator === undefined || validator !== lastModified) return validator;
  return isWeakDate(headers, lastModified) ? undefined : validator;
}

/**
 * Whether `lastModified` is less than a second before the answer's `Date`,
 * and so weak (RFC 9110 §8.8.2.2): the file may change again within that
 * second, under the same date, and a range of the new version would be
 * spliced onto the old one, or a revalidation told it has not changed.
 * Without a `Date` (or with one that is not an HTTP date, read as GMT in
 * every form) it is taken as strong.
 */
function isWeakDate(headers: Headers, lastModified: string): boolean {
  const date = parseHttpDate(headers.get("date") ?? "");
  const modified = parseHttpDate(lastModified);
  return date !== undefined && modified !== undefined && date - modified < 1000;
}

/**
 * The validator for revalidating a file (`If-None-Match`, else
 * `If-Modified-Since`): the ETag, weak or strong (`If-None-Match` compares
 * weakly, RFC 9110 §13.1.2), quoted or not (as the server sent it), but not
 * an empty one (which every answer of such a server would match), else a
 * Last-Modified that is not weak (see
 * {@linkcode isWeakDate}: a change later in its second would be answered
 * `304`, and missed until the next).
 */
export function revalidatorOf(headers: Headers): string | undefined {
  const etag = headers.get("etag");
  if (etag !== null && etag !== "") return etag;
  const lastModified = headers.get("last-modified");
  return lastModified === null || isWeakDate(headers, lastModified)
    ? undefined
    : lastModified;
}

/**
 * Whether `response` shows that its server serves ranges: a 206, or
 * `Accept-Ranges: bytes`.
 */
export function servesRanges(response: Response): boolean {
  return response.status === 206 ||
    /\bbytes\b/i.test(response.headers.get("accept-ranges") ?? "");
}

/** A parsed `Content-Range`. */
export interface ContentRange {
  /** The first byte sent, or `undefined` for a 416's `bytes *\/<total>`. */
  start: number | undefined;
  /** The last byte sent (inclusive), or `undefined` as for `start`. */
  end: number | undefined;
  /** The whole representation's length, or `undefined` for `*`. */
  total: number | undefined;
}

/**
 * What `Content-Range` may put before its range: `bytes ` (RFC 9110
 * §14.4), in any case (§14.1: `Bytes` is `bytes`); and the forms some
 * servers send, which curl and aria2 read too: `bytes=` (as in `Range`),
 * `bytes:`, more than one space, or no unit at all. Each still names the
 * first byte, the last and the total, checked as ever; any other unit is
 * no byte range.
 */
const UNIT = /^(?:bytes(?:[ \t]*[=:][ \t]*|[ \t]+))?/i;

/**
 * Parses `Content-Range: bytes <start>-<end>/<total>` (or `/*`), or the
 * `bytes *\/<total>` of a 416 answer, with any of the unit's forms
 * {@linkcode UNIT} reads; `undefined` for anything else, including a
 * range whose end is before its start or past its total.
 */
export function parseContentRange(
  header: string | null,
): ContentRange | undefined {
  const match = header === null ? null : /^(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/.exec(
    header.trim().replace(UNIT, ""),
  );
  if (match === null) return undefined;
  const [, start, end, total] = match;
  const range: ContentRange = {
    start: start === undefined ? undefined : Number(start),
    end: end === undefined ? undefined : Number(end),
    total: total === undefined || total === "*" ? undefined : Number(total),
  };
  if (range.start !== undefined && range.end !== undefined) {
    if (range.end < range.start) return undefined;
    if (range.total !== undefined && range.end >= range.total) return undefined;
  }
  if (range.start === undefined && range.total === undefined) return undefined;
  return range;
}

/**
 * The `Range` and `If-Range` of a request for bytes `from` on, of the
 * version `validator` names; without `validator`, of whatever version the
 * server has (only a digest can then vouch for the bytes joined).
 */
export function rangeHeaders(
  from: number,
  validator: string | undefined,
): [string, string][] {
  return validator === undefined
    ? [["range", `bytes=${from}-`]]
    : [["range", `bytes=${from}-`], ["if-range", validator]];
}

/** What is on disk when asking: `offset` bytes of a file of `total`. */
export interface Held {
  /** Bytes on disk; a request for more asked for `bytes=<offset>-`. */
  offset: number;
  /** The whole file's length, if known. */
  total: number | undefined;
  /**
   * The version the bytes are of, sent as `If-Range`; none when asked of
   * whatever version the server has (see `rangeHeaders`).
   */
  validator?: string | undefined;
}

/**
 * What an answer means for the partial file:
 * - `"refused"`: a status outside 200-299 (nothing to write);
 * - `"complete"`: a 416 to a ranged request whose `Content-Range` says the
 *   file is exactly what is on disk (it was complete already), or that has
 *   none when the bytes on disk are as many as the known total (see
 *   {@linkcode isWholeOnDisk});
 * - `"append"`: a 206 continuing exactly at `offset`, for the same total
 *   (or any, when the total was not known: a body sent without a length);
 * - `"whole"`: a 200, the whole file from byte 0 (a changed file, or a
 *   server without ranges), or a 206 of every byte of it (some servers
 *   answer every GET so, whatever range it asks for): to a request for the
 *   rest, the bytes on disk are dropped and it is written from byte 0, as a
 *   200 is, whether of the version asked for or another;
 * - `"wrong-range"`: a 206 other than the one asked for (or one not asked
 *   for): never to be written at `offset`; or a 416 to a ranged request
 *   that does not say the file is on disk whole (it changed, and is
 *   shorter now, on a server that judged the range before `If-Range`);
 * - `"changed"`: a 206 or a 416 to a ranged request that names another
 *   version than `held.validator` (see {@linkcode isOtherVersion}): the
 *   bytes on disk are of a version the server no longer has.
 */
export type AnswerKind =
  | "refused"
  | "complete"
  | "append"
  | "whole"
  | "wrong-range"
  | "changed";

/**
 * Whether a 416 that says nothing of the file's length (no `Content-Range`:
 * RFC 9110 §15.5.17 has it as a SHOULD, and Apache sends none, nor the
 * file's validators, on an error) tells that the bytes on disk are the
 * whole file: they are as many as its known total, and were asked for with
 * `If-Range`, which a server judges before `Range` (RFC 9110 §13.2.2): of
 * another version, it would have sent that version, whole. curl and wget
 * take any 416 to a resume so; a server that judges `Range` first and
 * names no version is not told from it here either.
 */
function isWholeOnDisk(response: Response, held: Held): boolean {
  return !response.headers.has("content-range") &&
    held.validator !== undefined && held.offset === held.total;
}

/**
 * Whether `response` carries the whole file: a 200, or a 206 whose
 * `Content-Range` is every byte of it (`bytes 0-<total - 1>/<total>`), as
 * some servers answer every GET, `Range` or not.
 *
 * @example
 * ```ts
 * const headers = { "content-range": "bytes 0-99/100" };
 * isWholeFile(new Response("", { status: 206, headers })); // true
 * ```
 */
export function isWholeFile(response: Response): boolean {
  return response.status === 200 ||
    response.status === 206 &&
      isEveryByte(parseContentRange(response.headers.get("content-range")));
}

/** Whether `range` is every byte of a file of a known length. */
function isEveryByte(range: ContentRange | undefined): boolean {
  return range?.start === 0 && range.total !== undefined &&
    range.end === range.total - 1;
}

/**
 * Judges `response` to a request for the rest of the file when `held` is
 * given (a ranged request), or for the whole file.
 */
export function judgeAnswer(
  response: Response,
  held: Held | undefined,
): AnswerKind {
  const status = response.status;
  const range = status === 206 || status === 416
    ? parseContentRange(response.headers.get("content-range"))
    : undefined;
  // Every byte, from 0: the whole representation, as a 200 is, of whatever
  // version it names. Asking again would only be sent the same.
  if (status === 206 && isEveryByte(range)) return "whole";
  if (
    held?.validator !== undefined && (status === 206 || status === 416) &&
    isOtherVersion(response.headers, held.validator)
  ) {
    return "changed";
  }
  if (held !== undefined && status === 416) {
    return (range?.total === held.offset &&
        (held.total === undefined || range.total === held.total)) ||
        isWholeOnDisk(response, held)
      ? "complete"
      : "wrong-range";
  }
  if (status < 200 || status > 299) return "refused";
  if (status !== 206) return "whole";
  if (held === undefined) return "wrong-range";
  return range?.start === held.offset &&
      (held.total === undefined || range.total === held.total)
    ? "append"
    : "wrong-range";
}
