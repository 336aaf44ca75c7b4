// The partial download on disk: a temp file beside the destination, and a
// sidecar that records what the bytes belong to and who writes them, so that
// a later download of the same destination (after a crash, in another
// process) can resume it. For a destination `<name>`:
//
//   .<name, cut to 64 bytes>.<12 hex of sha256(name)>.dlpart.<writer>  the bytes
//   .<name, cut to 64 bytes>.<12 hex of sha256(name)>.dlpart.json      the sidecar
//   .<name, cut to 64 bytes>.<12 hex of sha256(name)>.dlpart.lock      the lock
//
// and, one per process and directory while it holds a lock there (see
// `_lock.ts`), the owner file every lock it holds there is a hard link to:
//
//   .dlmanager-<n>.<12 hex of the process's token>.dlpart.owner
//
// Each download writes a partial file of its own, named after its writer
// token: no two downloads ever write one file, and a download only ever
// renames its own. The sidecar (only for a body longer than one write: a
// shorter one is written in one go, with nothing to resume) names that file,
// its writer and the writer's process. A later download adopts the partial
// file, resuming it, only once that process is proven dead (see
// `_process_identity.ts`); until then it is left alone, and the new download
// writes its own. Sidecars are versioned: a reader refuses any version but its
// own (and version 1's, which named no writer, counts as unknown).
//
// Names of that shape (and the temporary names derived from them) are
// reserved: the manager refuses to download to one, and a PersistLimit never
// removes one.

import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { fs, NotFoundError } from "../_runtime/fs.ts";
import {
  isThisProcess,
  parseIdentity,
  type ProcessIdentity,
  type ProcessState,
  processState,
} from "./process_identity.ts";

/** The suffix of every partial file. */
export const PARTIAL_SUFFIX = ".dlpart";
/** The suffix of every sidecar. */
export const SIDECAR_SUFFIX = ".dlpart.json";
/** The suffix of every lock file. */
export const LOCK_SUFFIX = ".dlpart.lock";
/** The suffix of every owner file. */
export const OWNER_SUFFIX = ".dlpart.owner";

const NAME_PREFIX_BYTES = 64;
const encoder = new TextEncoder();

/** Whether `name` has the shape of a partial file or sidecar name. */
export function isReservedName(name: string): boolean {
  return /^\..*\.[0-9a-f]{12}\.dlpart(\..*)?$/su.test(name);
}

/** `name` cut to at most `bytes` UTF-8 bytes, on a character boundary. */
function cutToBytes(name: string, bytes: number): string {
  if (encoder.encode(name).byteLength <= bytes) return name; // most names
  let cut = "";
  let used = 0;
  for (const char of name) {
    used += encoder.encode(char).byteLength;
    if (used > bytes) break;
    cut += char;
  }
  return cut;
}

/** Where the files of `dest`'s partial download live. */
export interface PartialPaths {
  /** What every partial file's name starts with: `.<name>.<hash>.dlpart`. */
  base: string;
  /** The sidecar. */
  sidecar: string;
  /** The lock file. */
  lock: string;
}

/** The paths of `dest`'s partial download. */
export function partialPaths(dest: string): PartialPaths {
  const name = basename(dest);
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 12);
  const base = join(
    dirname(dest),
    `.${cutToBytes(name, NAME_PREFIX_BYTES)}.${hash}`,
  );
  return {
    base: base + PARTIAL_SUFFIX,
    sidecar: base + SIDECAR_SUFFIX,
    lock: base + LOCK_SUFFIX,
  };
}

/** The partial file the download with token `writer` writes. */
export function partialFile(paths: PartialPaths, writer: string): string {
  return `${paths.base}.${writer}`;
}

/** The sidecar version this library writes and reads. */
export const SIDECAR_VERSION = 2;

/** What a sidecar records: the partial file's bytes are a prefix of this. */
export interface Sidecar {
  /** {@linkcode SIDECAR_VERSION}. */
  version: typeof SIDECAR_VERSION;
  /** The URL asked for. */
  url: string;
  /** The validator for `If-Range`: a strong ETag or a Last-Modified date. */
  validator: string;
  /** The whole file's length. */
  total: number;
  /** The partial file's name, in the sidecar's directory. */
  partial: string;
  /** The token of the download that writes it. */
  writer: string;
  /** The process that writes it. */
  owner: ProcessIdentity;
}

function isSidecar(value: unknown): value is Sidecar {
  const record = value as Record<string, unknown> | null;
  return typeof record === "object" && record !== null &&
    record.version === SIDECAR_VERSION &&
    typeof record.url === "string" && typeof record.validator === "string" &&
    Number.isSafeInteger(record.total) && typeof record.partial === "string" &&
    typeof record.writer === "string" &&
    parseIdentity(record.owner) !== undefined;
}

/**
 * Reads a sidecar; `undefined` if missing, unreadable, or of another version
 * (whose bytes this version cannot vouch for).
 */
export function readSidecar(path: string): Sidecar | undefined {
  try {
    const value: unknown = JSON.parse(
      new TextDecoder().decode(fs.readFileSync(path)),
    );
    return isSidecar(value) ? value : undefined;
  } catch (error) {
    if (error instanceof NotFoundError || error instanceof SyntaxError) {
      return undefined;
    }
    throw error;
  }
}

/** Writes a sidecar atomically (a temp file renamed over it). */
export async function writeSidecar(
  path: string,
  sidecar: Sidecar,
): Promise<void> {
  const random = crypto.getRandomValues(new Uint32Array(1))[0]?.toString(16);
  const temp = `${path}.${random}.tmp`;
  fs.writeNewSync(temp, encoder.encode(JSON.stringify(sidecar)));
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

/** Removes `path`, doing nothing if it is not there. */
export async function removeIfPresent(path: string): Promise<void> {
  try {
    await fs.remove(path);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
}
