// The file a download finds in place: whether one is there, whether it may
// be used as it is (a cache hit, which sets its access time so that a
// `PersistLimit` keeps it), and the record that a revalidating manager keeps
// of what the server last vouched for (see `_disk/record.ts`).

import { type Expected, IntegrityCheck } from "./_body/integrity.ts";
import { notAFileError } from "./_disk/file_name.ts";
import {
  factsOf,
  type FileFacts,
  readRecord,
  RECORD_VERSION,
  writeRecord,
} from "./_disk/record.ts";
import { isFresh, type Revalidation, wallClock } from "./_revalidation.ts";
import { NotFoundError } from "./_runtime/fs_errors.ts";
import { fs } from "./_runtime/fs.ts";

/** A file found at a download's destination. */
export interface FoundFile extends FileFacts {
  /**
   * Its permission bits, or `null` where the platform has none (or it is a
   * link): a download that replaces the file gives them to the new one.
   */
  mode: number | null;
  /**
   * Whether `dest` is a symbolic link to the file (its facts are the
   * target's): the file is used, but never dated (see
   * {@linkcode touch}); a download replaces the link, not the target.
   */
  link: boolean;
}

/**
 * The size, modification time and mode of the file at `dest`, or
 * `undefined` if nothing is there; a `TypeError` if a directory (or
 * anything but a file) is: nothing could be renamed onto it. A symbolic
 * link is followed (a link that leads nowhere is nothing there), and told
 * (see {@linkcode FoundFile.link}). Synchronous: one metadata call, whose
 * answer is usually "missing", costs less on the event loop than a round
 * trip to the runtime's I/O threads; a link costs one more.
 */
export function fileAt(url: string, dest: string): FoundFile | undefined {
  if (!fs.existsSync(dest)) return undefined;
  const own = fs.lstatSync(dest);
  const stat = own?.isSymlink ? fs.statSync(dest) : own;
  if (stat === undefined) return undefined; // removed since the look
  if (!stat.isFile) throw notAFileError(url, dest, stat.isDirectory);
  const link = own?.isSymlink === true;
  return {
    size: stat.size,
    mtime: stat.mtime?.getTime() ?? 0,
    mode: link ? null : stat.mode,
    link,
  };
}

/**
 * Whether the file at `dest` holds the bytes `expected` names (a digest
 * check of the whole file). A file removed meanwhile does not. Aborting
 * `signal` stops the check (a big file takes seconds to read), rejecting
 * with its reason.
 */
export async function holdsDigest(
  dest: string,
  expected: Expected,
  signal?: AbortSignal,
): Promise<boolean> {
  const check = await IntegrityCheck.create(expected);
  try {
    await check.hashFile(dest, signal);
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
  return check.matches();
}

/**
 * Whether the file at `dest` may be used as it is: it is there and (with a
 * `revalidation`) fresh. A hit's access time is set to now.
 */
export function isCacheHit(
  url: string,
  dest: string,
  revalidation: Revalidation | undefined,
): boolean {
  const facts = fileAt(url, dest);
  if (facts === undefined) return false;
  if (revalidation !== undefined) {
    const record = readRecord(dest, url, facts);
    if (!isFresh(revalidation, record, facts, wallClock())) return false;
  }
  // Removed since the look: then it is not there.
  return touch(dest, facts);
}

/**
 * Sets a cached file's access time to now (a cache hit, which a
 * `PersistLimit` keeps), its modification time left as it is. Returns
 * whether the file is still there: `false` if it was removed meanwhile.
 * A file found through a symbolic link (`facts.link`) is not dated: its
 * target is not the cache's (a `PersistLimit` never registers a link),
 * and setting its times would change a file elsewhere.
 */
export function touch(
  dest: string,
  facts: FileFacts & { link?: boolean },
): boolean {
  if (facts.link === true) return true;
  try {
    fs.utimeSync(dest, new Date(), new Date(facts.mtime));
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    // Its times may not be set (a read-only mount; another user's file in a
    // shared cache, which only its owner may date): it is there all the
    // same, and only a PersistLimit's order of eviction misses the hit.
  }
  return true;
}

/** What {@linkcode remember} is told beyond the validator. */
export interface Vouched {
  /**
   * The file's size and modification time, if known: read from the file
   * itself before it was put in place (see `PartialFile.commit`), else read
   * at `dest` now, which may find another file put there meanwhile.
   */
  facts?: FileFacts | undefined;
  /** When the server vouched ({@linkcode wallClock}); now, by default. */
  checked?: number | undefined;
  /** The source that answered, if a mirror (not `url`). */
  source?: string | undefined;
}

/**
 * Writes the record of the file at `dest`, just put in place (or just
 * found current): the server vouched for it under `validator`, as
 * `vouched` tells. Never fails the download.
 */
export async function remember(
  url: string,
  dest: string,
  validator: string,
  vouched: Vouched = {},
): Promise<void> {
  const { source, checked = wallClock() } = vouched;
  try {
    const facts = vouched.facts ?? await factsOf(dest);
    if (facts === undefined) return; // removed already
    await writeRecord(dest, {
      version: RECORD_VERSION,
      url,
      ...(source === undefined || source === url ? {} : { source }),
      validator,
      checked,
      ...facts,
    });
  } catch {
    // The file is whole and in place: without its record (a full disk) it
    // is only unknown to a later revalidation, which then fetches it again.
  }
}
