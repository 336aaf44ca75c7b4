// The names of a partial download's files on disk: a partial file beside the
// destination, a sidecar that records what its bytes belong to and who writes
// them (see `sidecar.ts`), and a lock (see `lock.ts`). For a destination
// `<name>`:
//
//   .<name, cut to 64 bytes>.<12 hex of sha256(name)>.dlpart.<writer>  the bytes
//   .<name, cut to 64 bytes>.<12 hex of sha256(name)>.dlpart.json      the sidecar
//   .<name, cut to 64 bytes>.<12 hex of sha256(name)>.dlpart.lock      the lock
//
// and, once the file is downloaded, the manager's record of it for
// revalidation (see `record.ts`), which stays as long as the file:
//
//   .<name, cut to 64 bytes>.<12 hex of sha256(name)>.dlpart.record
//
// and, one per process and directory while it holds a lock there (see
// `lock.ts`), the owner file every lock it holds there is a hard link to:
//
//   .dlmanager-<n>.<12 hex of the process's token>.dlpart.owner
//
// and, for the moment a process takes a lock over, its claim on that:
//
//   .<name, cut to 64 bytes>.<12 hex of sha256(name)>.dlpart.lock.takeover
//
// and, for the moment one of those (or a lock that is a file of its own) is
// made, the temporary it is hard-linked from (see `whole_file.ts`):
//
//   <owner file, claim or lock>.<pid>.<pid space tag>.<8 random hex>.new
//
// Each download writes a partial file of its own, named after its writer
// token: no two downloads ever write one file, and a download only ever
// renames its own (see `partial_file.ts`).
//
// Names of that shape (and the temporary names derived from them) are
// reserved: the manager refuses to download to one, and a PersistLimit never
// registers one (it neither counts nor removes it).

import { basename, dirname, join } from "node:path";
import { sha256Hex } from "./sha256.ts";

/** The suffix of every partial file. */
export const PARTIAL_SUFFIX = ".dlpart";
/** The suffix of every sidecar. */
export const SIDECAR_SUFFIX = ".dlpart.json";
/** The suffix of every lock file. */
export const LOCK_SUFFIX = ".dlpart.lock";
/** The suffix of every owner file. */
export const OWNER_SUFFIX = ".dlpart.owner";
/** The suffix of every record of a downloaded file (not a leftover). */
export const RECORD_SUFFIX = ".dlpart.record";

const NAME_PREFIX_BYTES = 64;
const encoder = new TextEncoder();

/** Whether `name` has the shape of a partial file or sidecar name. */
export function isReservedName(name: string): boolean {
  return /^\..*\.[0-9a-f]{12}\.dlpart(\..*)?$/su.test(name);
}

/**
 * The `.<name>.<hash>.dlpart` every file of one destination's partial
 * download shares (its partial files, sidecar, lock, and their temporaries):
 * anchored on the hash, so a destination named "a.dlpart" is no trouble.
 */
export function groupOf(name: string): string {
  return /^\..*\.[0-9a-f]{12}\.dlpart/su.exec(name)?.[0] ?? name;
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

/**
 * What the names of a destination's partial download keep of its name: its
 * first 64 UTF-8 bytes, on a character boundary.
 */
export function namePrefix(name: string): string {
  return cutToBytes(name, NAME_PREFIX_BYTES);
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
  const hash = sha256Hex(name).slice(0, 12);
  const base = join(
    dirname(dest),
    `.${namePrefix(name)}.${hash}`,
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
