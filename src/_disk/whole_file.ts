// A small file that appears whole: the library's files whose content says
// whose they are (an owner file, a lock that is a file of its own, a
// takeover's claim) are never seen empty by another process, even of a
// writer killed (SIGKILL) as it made one. Created in place, such a file is
// empty between its creation and its write: one left so names no one, and
// must be waited for (a claim, as long as `lockStaleAfter`) or kept by a
// leftover cleanup for as long (an owner file). So its content is written to
// a temporary beside it first, which is then hard-linked to its name (which
// fails if the name is taken: as exclusive as creating it) and removed.
//
// The temporary's name tells whose it is even while it is empty:
//
//   <name>.<pid>.<pid space>.<8 random hex>.new
//
// the random part keeping one process's apart (and from those of a dead
// one that had its pid: no token is spent, as owner files are named by
// theirs in the order drawn), the pid and a tag of the pid space it is a
// pid of (`p` and a hash of Linux's boot id and pid namespace, or
// `h` and a hash of the host name) telling its writer, so that a leftover
// cleanup removes one of a writer proven dead at once (see `leftovers.ts`).
//
// Where the file system has no hard links, the file is created in place, as
// before: empty for a moment.

import { AlreadyExistsError, fs, NotFoundError } from "../_runtime/fs.ts";
import {
  type ProcessIdentity,
  type ProcessState,
  processState,
  randomHex,
  thisProcess,
} from "./process_identity.ts";
import { sha256Hex } from "./sha256.ts";

/** The suffix of a temporary of {@linkcode writeNewWhole}. */
export const WHOLE_TEMP_SUFFIX = ".new";

/** `.<pid>.<tag>.<random>.new` at the end of a temporary's name. */
const TEMP = /\.([0-9]+)\.([ph][0-9a-f]{8})\.[0-9a-f]{8}\.new$/;

// This process's tag (see `pidSpaceTag`), hashed once: its identity does
// not change.
let ownTag: string | undefined;

/**
 * The tag of the pid space `identity`'s pid is of: its boot and pid
 * namespace where both are known, else its host name; `undefined` if
 * neither is.
 */
function pidSpaceTag(
  identity: Omit<ProcessIdentity, "pid">,
): string | undefined {
  const { boot, pidns, host } = identity;
  if (boot !== undefined && pidns !== undefined) {
    return `p${sha256Hex(`${boot} ${pidns}`).slice(0, 8)}`;
  }
  return host === undefined ? undefined : `h${sha256Hex(host).slice(0, 8)}`;
}

/**
 * The name of a temporary of {@linkcode writeNewWhole} for `path`, naming
 * this process.
 *
 * @example
 * ```ts
 * wholeTempName("cache/.dlmanager-0.0123456789ab.dlpart.owner");
 * // "cache/.dlmanager-0.0123456789ab.dlpart.owner.4242.p1a2b3c4d.89abcdef.new"
 * ```
 */
export function wholeTempName(path: string): string {
  const me = thisProcess();
  ownTag ??= pidSpaceTag(me) ?? "h00000000";
  return `${path}.${me.pid}.${ownTag}.${randomHex(4)}${WHOLE_TEMP_SUFFIX}`;
}

/**
 * Whether `name` is a temporary of {@linkcode writeNewWhole}.
 *
 * @example
 * ```ts
 * isWholeTemp(".a.zip.0123456789ab.dlpart.lock.takeover.4242.p1a2b3c4d.89abcdef.new"); // true
 * ```
 */
export function isWholeTemp(name: string): boolean {
  return TEMP.test(name);
}

/**
 * What can be proven, by its name alone, of the writer of the temporary
 * `name` (one caught empty: its writer killed between creating and writing
 * it): only where its pid space is this process's (by the same tag), what
 * its pid tells (see `processState`: a pid in use, with no start time to
 * compare, is `"unknown"`, unless the system tells no more than that it is
 * in use).
 *
 * @example
 * ```ts
 * const name = ".dlmanager-0.0123456789ab.dlpart.owner.4242.p1a2b3c4d.89abcdef.new";
 * if (wholeTempWriter(name) === "dead") console.log("a leftover");
 * ```
 */
export function wholeTempWriter(name: string): ProcessState {
  const [, pid, tag] = TEMP.exec(name) ?? [];
  if (pid === undefined || tag === undefined) return "unknown";
  const me = thisProcess();
  const space = tag.startsWith("p")
    ? { boot: me.boot, pidns: me.pidns }
    : { host: me.host };
  if (pidSpaceTag(space) !== tag) return "unknown";
  return processState({ ...space, pid: Number(pid) });
}

/**
 * Creates `path` holding `data`, as the adapter's `fs.writeNewSync` does
 * (failing with `AlreadyExistsError` if it exists), but appearing whole
 * where the file system has hard links: no process ever finds it empty,
 * not even one its writer was killed making (see the module comment).
 * `links: false` (a directory known to have none) creates it in place.
 *
 * @example
 * ```ts
 * const data = new TextEncoder().encode('{"pid":4242,"token":"t"}');
 * writeNewWhole("cache/.a.zip.0123456789ab.dlpart.lock", data);
 * ```
 */
export function writeNewWhole(
  path: string,
  data: Uint8Array,
  links = true,
): void {
  if (!links) {
    fs.writeNewSync(path, data);
    return;
  }
  const temp = wholeTempName(path);
  fs.writeNewSync(temp, data);
  let linked = false;
  try {
    fs.linkSync(temp, path);
    linked = true;
  } catch (error) {
    // Taken, or its directory gone: as creating it in place would fail.
    if (error instanceof AlreadyExistsError) throw error;
    if (error instanceof NotFoundError) throw error;
  } finally {
    try {
      fs.removeSync(temp);
    } catch {
      // Left for a leftover cleanup, which removes it once this process
      // is gone: never thrown once the file is in place, which its caller
      // would then leave there, taken for none of its own.
    }
  }
  // No hard links here: in place, empty for a moment.
  if (!linked) fs.writeNewSync(path, data);
}
