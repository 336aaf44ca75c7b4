// What the manager remembers of a file it downloaded, for revalidation: the
// URL, the validator the server gave (an ETag, else Last-Modified), when
// the server last vouched for the file, and the size and modification time
// the file had then, which bind the record to that very file (a file
// replaced or copied in since has no record). Beside the file, under a
// reserved name:
//
//   .<name, cut to 64 bytes>.<12 hex of sha256(name)>.dlpart.record
//
// Written atomically (a temporary file renamed over it), under the
// destination's lock, after the file is in place: a crash leaves the old
// record or the new one, never a broken one, and at worst an old record
// beside a new file, which its size and time then disown. Read without the
// lock: a reader sees one whole record or none.

import { NotAFileError } from "../_runtime/fs_errors.ts";
import { fs } from "../_runtime/fs.ts";
import { removeIfPresent } from "../_runtime/remove.ts";
import { partialPaths, RECORD_SUFFIX } from "./names.ts";
import { writeAtomically } from "./sidecar.ts";

/** The record's version: a reader takes only its own. */
export const RECORD_VERSION = 1;

/** The record of one downloaded file (see the module comment). */
export interface CacheRecord {
  /** {@linkcode RECORD_VERSION}. */
  version: typeof RECORD_VERSION;
  /** The URL the file was downloaded from (its identity, before redirects). */
  url: string;
  /**
   * The source whose answer the validator is, when a mirror's (another of
   * the download's URLs, before redirects); absent for `url` itself. A
   * validator is its own server's: only that source's answer to it proves
   * a newer version. Optional, so a record stays readable across versions.
   */
  source?: string;
  /** The validator the server gave: an ETag (weak too), else a Last-Modified date. */
  validator: string;
  /** When the server last vouched for the file (ms since the epoch). */
  checked: number;
  /** The file's size then. */
  size: number;
  /** The file's modification time then (ms since the epoch). */
  mtime: number;
}

/** What a file on disk is, for binding a record to it. */
export interface FileFacts {
  size: number;
  mtime: number;
}

/** The path of `dest`'s record. */
export function recordPath(dest: string): string {
  return partialPaths(dest).base + RECORD_SUFFIX.slice(".dlpart".length);
}

// What a header's value may hold (a byte string without NUL, CR or LF): a
// validator a server sent always does, and one that does not (a record
// edited or corrupted) would fail every request sent with it.
// deno-lint-ignore no-control-regex
const HEADER_VALUE = /^[^\x00\r\n\u0100-\uffff]*$/;

function isRecord(value: unknown): value is CacheRecord {
  const record = value as Record<string, unknown> | null;
  return typeof record === "object" && record !== null &&
    record.version === RECORD_VERSION && typeof record.url === "string" &&
    (record.source === undefined || typeof record.source === "string") &&
    typeof record.validator === "string" &&
    HEADER_VALUE.test(record.validator) &&
    Number.isFinite(record.checked) && Number.isSafeInteger(record.size) &&
    Number.isFinite(record.mtime);
}

/**
 * The record of the file `file` describes at `dest`, downloaded from `url`;
 * `undefined` if there is none, it cannot be read (a directory or a FIFO in
 * its place, another user's that this one may not read: a record is never
 * the download's error), it is caught half-written or of another version, or
 * it is of another URL or another file (size or modification time differ:
 * times are compared to the millisecond, with one of slack for file systems
 * that round what they are given).
 */
export function readRecord(
  dest: string,
  url: string,
  file: FileFacts,
): CacheRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(
      new TextDecoder().decode(fs.readFileSync(recordPath(dest))),
    );
  } catch (error) {
    if (
      error instanceof SyntaxError || error instanceof NotAFileError ||
      fs.errorCode(error) !== undefined // NotFoundError, EISDIR, EACCES
    ) {
      return undefined;
    }
    throw error;
  }
  if (!isRecord(value) || value.url !== url) return undefined;
  return isSameFile(value, file) ? value : undefined;
}

/**
 * Whether `a` and `b` describe the same file: the same size, and
 * modification times a millisecond apart at most (file systems round the
 * times they are given).
 *
 * @example
 * ```ts
 * isSameFile({ size: 3, mtime: 1000 }, { size: 3, mtime: 1001 }); // true
 * ```
 */
export function isSameFile(a: FileFacts, b: FileFacts): boolean {
  return a.size === b.size && Math.abs(a.mtime - b.mtime) <= 1;
}

/** Writes `dest`'s record atomically. */
export async function writeRecord(
  dest: string,
  record: CacheRecord,
): Promise<void> {
  await writeAtomically(recordPath(dest), record);
}

/** Removes `dest`'s record, if there is one. */
export async function removeRecord(dest: string): Promise<void> {
  await removeIfPresent(recordPath(dest));
}

/** The size and modification time of the file at `path`, if it is one. */
export async function factsOf(path: string): Promise<FileFacts | undefined> {
  const stat = await fs.stat(path);
  if (stat === undefined || !stat.isFile) return undefined;
  return { size: stat.size, mtime: stat.mtime?.getTime() ?? 0 };
}
