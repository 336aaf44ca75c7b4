// The partial download on disk: a temp file beside the destination, and a
// sidecar that records what the bytes belong to, so that a later download of
// the same destination (in this process or another, after a crash) can
// resume it. Both names are fixed for a destination:
//
//   .<name, cut to 64 bytes>.<12 hex of sha256(name)>.dlpart       the bytes
//   .<name, cut to 64 bytes>.<12 hex of sha256(name)>.dlpart.json  the sidecar
//   .<name, cut to 64 bytes>.<12 hex of sha256(name)>.dlpart.lock  the lock
//
// and, one per process and directory while it holds a lock there (see
// `_lock.ts`), the owner file every lock it holds there is a hard link to:
//
//   .dlmanager-<n>.<12 hex of the process's token>.dlpart.owner
//
// Names of that shape (and the temporary names derived from them) are
// reserved: the manager refuses to download to one, and a PersistLimit never
// removes one.

import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { fs, NotFoundError } from "./_fs.ts";

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

/** Where the partial file and the sidecar of `dest` live. */
export interface PartialPaths {
  /** The partial file. */
  temp: string;
  /** The sidecar. */
  sidecar: string;
  /** The lock file. */
  lock: string;
}

/** The partial and sidecar paths of `dest`. */
export function partialPaths(dest: string): PartialPaths {
  const name = basename(dest);
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 12);
  const base = join(
    dirname(dest),
    `.${cutToBytes(name, NAME_PREFIX_BYTES)}.${hash}`,
  );
  return {
    temp: base + PARTIAL_SUFFIX,
    sidecar: base + SIDECAR_SUFFIX,
    lock: base + LOCK_SUFFIX,
  };
}

/** What a sidecar records: the bytes in the partial file are a prefix of this. */
export interface Sidecar {
  /** The URL asked for. */
  url: string;
  /** The validator for `If-Range`: a strong ETag or a Last-Modified date. */
  validator: string;
  /** The whole file's length. */
  total: number;
}

function isSidecar(value: unknown): value is Sidecar {
  const record = value as Record<string, unknown> | null;
  return typeof record === "object" && record !== null &&
    typeof record.url === "string" && typeof record.validator === "string" &&
    Number.isSafeInteger(record.total);
}

/** Reads a sidecar; `undefined` if missing or unreadable. */
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

/** Removes `path`, doing nothing if it is not there. */
export async function removeIfPresent(path: string): Promise<void> {
  try {
    await fs.remove(path);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
}
