// A partial download's sidecar: what its partial file's bytes are a prefix
// of (the URL, the validator for `If-Range`, the whole length), which partial
// file that is, and the download and process writing it. A later download
// adopts the partial file, resuming it, only once that writer is proven dead
// (see `process_identity.ts`), or has released it (stopped, leaving it to be
// resumed); until then it is left alone.
//
// Sidecars are versioned: a reader refuses any version but its own, so that
// a later version's records (whose fields may mean more) are never misread,
// and version 1's, which named no writer, count as unknown. A sidecar is
// written atomically (a temporary file renamed over it): a crash leaves the
// old record or the new, never half of one.

import { basename, dirname, join } from "node:path";
import { fs, NotAFileError, NotFoundError } from "../_runtime/fs.ts";
import { removeIfPresent } from "../_runtime/remove.ts";
import { isWeakEtag } from "../_http/conditional.ts";
import { atOwnFile } from "./file_system_failure.ts";
import type { PartialPaths } from "./names.ts";
import {
  isThisProcess,
  newToken,
  parseIdentity,
  type ProcessIdentity,
  type ProcessState,
  processState,
} from "./process_identity.ts";

const encoder = new TextEncoder();

/** The sidecar version of a partial file whose bytes are a prefix. */
export const SIDECAR_VERSION = 2;
/** The sidecar version of a partial file with ranges (segmented). */
export const RANGES_SIDECAR_VERSION = 3;
/**
 * The sidecar version of a partial file spliced from sources whose
 * validators differ: only its `digest` vouches for the whole, so a version
 * of the library that would resume it without one refuses it.
 */
export const SPLICED_SIDECAR_VERSION = 4;

/**
 * What a sidecar records. Version 2: the partial file's bytes are a prefix of
 * the file at `url` (as many as the partial file holds). Version 3: the bytes
 * of `ranges` are, at their offsets (a segmented download writes several
 * parts at once); the rest of the partial file is not to be trusted.
 * Version 4: bytes of several sources whose validators differ, joined (with
 * `ranges`, as in version 3, or a prefix), for a download with `digest`
 * only: no validator proves them one version; the digest, checked once the
 * file is whole, does.
 */
export interface Sidecar {
  /**
   * {@linkcode SIDECAR_VERSION}, {@linkcode RANGES_SIDECAR_VERSION} with
   * `ranges`, or {@linkcode SPLICED_SIDECAR_VERSION} with `digest`.
   */
  version:
    | typeof SIDECAR_VERSION
    | typeof RANGES_SIDECAR_VERSION
    | typeof SPLICED_SIDECAR_VERSION;
  /** The URL asked for: the download's first. */
  url: string;
  /**
   * Every source of the download (`url` first), when it had more than one:
   * the same file's, so a later download listing any of them adopts the
   * partial file (`If-Range` then proves the version). Optional, so that a
   * sidecar stays readable across versions: one without it knows `url`
   * only, and a version that does not know the field ignores it.
   */
  sources?: string[] | undefined;
  /**
   * The validator for `If-Range`: a strong ETag or a Last-Modified date, of
   * the source that answered last.
   */
  validator: string;
  /**
   * Each source's own validator, of those that answered (a validator is
   * its own server's): a resume from one asks with its own. Optional, as
   * `sources` is.
   */
  validators?: Record<string, string> | undefined;
  /**
   * Version 4: the digest the bytes are for, as an SRI string: only a
   * download expecting it adopts them.
   */
  digest?: string | undefined;
  /** The whole file's length. */
  total: number;
  /** The partial file's name, in the sidecar's directory. */
  partial: string;
  /** The token of the download that writes it. */
  writer: string;
  /** The process that writes it. */
  owner: ProcessIdentity;
  /**
   * Version 3 (and 4, if in parts): the ranges `[start, end)` on disk,
   * sorted and disjoint.
   */
  ranges?: [number, number][] | undefined;
  /**
   * Set when the writer stopped and left the file to be resumed (a cancel
   * with `keepPartial`): it writes no more, whatever its process does.
   */
  released?: true | undefined;
}

/** Whether `ranges` are sorted, disjoint, non-empty ranges within `total`. */
function areRanges(ranges: unknown, total: number): boolean {
  if (!Array.isArray(ranges)) return false;
  let at = 0;
  for (const range of ranges) {
    if (!Array.isArray(range) || range.length !== 2) return false;
    const [start, end] = range;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) {
      return false;
    }
    if (start < at || end <= start || end > total) return false;
    at = end;
  }
  return true;
}

/** Whether `sources` is absent or a list of URLs. */
function areSources(sources: unknown): boolean {
  return sources === undefined ||
    (Array.isArray(sources) &&
      sources.every((source) => typeof source === "string"));
}

/**
 * The sources a sidecar knows its partial file's bytes for: its `url`, and
 * its download's other `sources`.
 */
export function knownSources(sidecar: Sidecar): readonly string[] {
  return [sidecar.url, ...sidecar.sources ?? []];
}

/**
 * Whether `validator` may validate a range: a string, not an ETag marked
 * weak (one that an older version recorded when marked `w/`; see
 * `isWeakEtag()`), which cannot prove the rest of one version.
 */
function isRangeValidator(validator: unknown): boolean {
  return typeof validator === "string" && !isWeakEtag(validator);
}

/** Whether `validators` is absent or a validator by source. */
function areValidators(validators: unknown): boolean {
  return validators === undefined ||
    (typeof validators === "object" && validators !== null &&
      !Array.isArray(validators) &&
      Object.values(validators).every(isRangeValidator));
}

/** Whether `record` is of a version this one knows, with its own fields. */
function isKnownVersion(record: Record<string, unknown>): boolean {
  switch (record.version) {
    case SIDECAR_VERSION:
      return true;
    case RANGES_SIDECAR_VERSION:
      return areRanges(record.ranges, Number(record.total));
    case SPLICED_SIDECAR_VERSION:
      return typeof record.digest === "string" &&
        (record.ranges === undefined ||
          areRanges(record.ranges, Number(record.total)));
    default:
      return false;
  }
}

function isSidecar(value: unknown): value is Sidecar {
  const record = value as Record<string, unknown> | null;
  if (typeof record !== "object" || record === null) return false;
  return isKnownVersion(record) &&
    typeof record.url === "string" && areSources(record.sources) &&
    areValidators(record.validators) &&
    isRangeValidator(record.validator) &&
    Number.isSafeInteger(record.total) && typeof record.partial === "string" &&
    typeof record.writer === "string" &&
    parseIdentity(record.owner) !== undefined;
}

/**
 * Reads a sidecar; `undefined` if missing, unreadable (not a file
 * included: a FIFO is not read), or of a version this one does not know
 * (whose bytes it cannot vouch for). A directory in its place is an
 * `InTheWayError`.
 */
export function readSidecar(path: string): Sidecar | undefined {
  try {
    const value: unknown = JSON.parse(
      new TextDecoder().decode(fs.readFileSync(path)),
    );
    return isSidecar(value) ? value : undefined;
  } catch (error) {
    if (
      error instanceof NotFoundError || error instanceof SyntaxError ||
      error instanceof NotAFileError
    ) {
      return undefined;
    }
    throw atOwnFile(error, "sidecar", path);
  }
}

/**
 * Writes a sidecar atomically (a temp file renamed over it). A directory
 * in its place is an `InTheWayError` (see `file_system_failure.ts`): it is
 * left as it is.
 */
export async function writeSidecar(
  path: string,
  sidecar: Sidecar,
): Promise<void> {
  try {
    await writeAtomically(path, sidecar);
  } catch (error) {
    throw atOwnFile(error, "sidecar", path);
  }
}

/**
 * Writes `value` as JSON to `path` atomically: a temporary file beside it
 * (`<path>.<token>.tmp`, removed if the rename fails) renamed over it, so
 * a reader sees the old content or the new, never a part. The token names
 * this process, so that one killed while writing it leaves a temporary the
 * next holder of the lock knows for its (see `PartialFile.open`).
 */
export async function writeAtomically(
  path: string,
  value: unknown,
): Promise<void> {
  const temp = `${path}.${newToken()}.tmp`;
  fs.writeNewSync(temp, encoder.encode(JSON.stringify(value)));
  try {
    await fs.rename(temp, path);
  } catch (error) {
    await removeIfPresent(temp);
    throw error;
  }
}

/** The downloads of this process that write a partial file, by token. */
const activeWriters = new Set<string>();

/** Counts `writer` as writing a partial file until {@linkcode endWriter}. */
export function startWriter(writer: string): void {
  activeWriters.add(writer);
}

/** Uncounts `writer`. */
export function endWriter(writer: string): void {
  activeWriters.delete(writer);
}

/**
 * Whether the writer a sidecar names is still writing: a download of this
 * process that has not ended; else what can be proven of its process.
 */
export function writerState(sidecar: Sidecar): ProcessState {
  if (sidecar.released === true) return "dead";
  if (isThisProcess(sidecar.owner)) {
    return activeWriters.has(sidecar.writer) ? "alive" : "dead";
  }
  return processState(sidecar.owner);
}

/**
 * The path of the partial file a sidecar at `sidecarPath` names, if the name
 * is one of that destination's partial files (a sidecar is only a file: it
 * must not lead anywhere else).
 */
export function sidecarPartial(
  paths: PartialPaths,
  sidecar: Sidecar,
): string | undefined {
  const prefix = `${basename(paths.base)}.`;
  const name = sidecar.partial;
  return name.startsWith(prefix) && name.length > prefix.length &&
      !/[/\\\0]/.test(name)
    ? join(dirname(paths.base), name)
    : undefined;
}
