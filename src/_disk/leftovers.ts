// Cleaning a directory of what dead processes left: partial files, sidecars,
// half-written sidecars, taken-over locks, claims of takeovers cut short, and
// owner files (the library's reserved `.<name>.<hash>.dlpart*` names) that no
// live heartbeat guards and that have not changed for `maxAge`. A fresh
// leftover stays: it may be resumed. An owner file that names a process proven
// dead (killed between two calls) goes whatever its age and heartbeat: it is
// never resumed, and no lock will be linked to it again; an empty one (its
// process killed between creating it and writing it, where hard links fail,
// or of an earlier version) once its heartbeat is older than
// `lockStaleAfter`. So does the temporary of a whole file (an owner file, a
// claim, a lock of its own: see `whole_file.ts`) of a process proven dead,
// by its content or, caught empty, by its name; one not proven alive, once
// older than `lockStaleAfter`. So does a lock of a
// process proven dead that guards nothing to resume: alone (killed between
// putting its file in place and releasing the lock), or with its sidecar
// alone, which names a partial file gone (killed between putting the file in
// place and removing the sidecar). A downloaded file's record lives as long
// as its file: it is a leftover only once the file is gone (removed by hand,
// or evicted by another process's `PersistLimit` while this one renewed the
// record, which takes no locks), and then goes as the rest of its group does.
// The heartbeat of a group is its lock's mtime, or an owner file's own (see
// `lock.ts`). A group whose lock (or owner file) names a process proven alive
// stays however old its heartbeat: that process may be stopped (Ctrl-Z, a
// debugger) and go on, as a lock it holds is never taken over. A symbolic
// link under a reserved name is never the library's: it is neither removed
// nor followed (its target is left alone, and a link in a lock's place beats
// as the link).
//
// A group is removed only under its lock, taken as a download takes it: the
// look that found it old and its owner dead is not the removal, and another
// process may take the lock over between the two, to resume the partial
// file (see `partial_file.ts`). Taken, the lock keeps any download out
// while the group is looked at again and removed; held, it keeps the group.

import { basename, join } from "node:path";
import { type DirEntry, fs, NotFoundError } from "../_runtime/fs.ts";
import { isRefused, removeIfPresent } from "../_runtime/remove.ts";
import { outOfDescriptors } from "../_http/network_failure.ts";
import { FileLock, holdsLock, lockTiming } from "./lock.ts";
import { removeUnnamedLeftBy } from "./orphans.ts";
import {
  holderState,
  type Owner,
  readOwner,
  staleAfterOf,
} from "./owner_file.ts";
import { isWholeTemp, wholeTempWriter } from "./whole_file.ts";
import {
  groupOf,
  isReservedName,
  LOCK_SUFFIX,
  namePrefix,
  OWNER_SUFFIX,
  PARTIAL_SUFFIX,
  partialPaths,
  RECORD_SUFFIX,
  SIDECAR_SUFFIX,
} from "./names.ts";

/**
 * The mtime of `path` itself: a symbolic link (which the library never
 * makes) is not followed, as a lock's judge does not (see `lock.ts`).
 */
async function mtimeOf(path: string): Promise<number | undefined> {
  const stat = await fs.lstat(path);
  return stat === undefined ? undefined : stat.mtime?.getTime() ?? 0;
}

/** Whether `path` is a file with nothing in it (not a link, nor gone). */
async function isEmpty(path: string): Promise<boolean> {
  const stat = await fs.lstat(path);
  return stat?.isFile === true && stat.size === 0;
}

/**
 * `names` by what a record's name keeps of each ({@linkcode namePrefix}): a
 * record is looked up among the few names it may be of, not compared with
 * every name (a revalidating cache of 50,000 files has as many records).
 */
function byPrefix(names: string[]): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const name of names) {
    const prefix = namePrefix(name);
    const same = index.get(prefix);
    if (same === undefined) index.set(prefix, [name]);
    else same.push(name);
  }
  return index;
}

/**
 * Whether the record named `record` is of a file among `names` (in
 * `directory`, by {@linkcode byPrefix}): one whose name starts as the
 * record's does (the record's name keeps at most its first 64 bytes) and
 * whose hash is the record's.
 */
function hasFile(
  directory: string,
  record: string,
  names: Map<string, string[]>,
): boolean {
  const group = groupOf(record);
  // `.<name, cut>.<12 hex>.dlpart`
  const cut = group.slice(1, -".0123456789ab.dlpart".length);
  return (names.get(cut) ?? []).some((name) =>
    partialPaths(join(directory, name)).base === join(directory, group)
  );
}

/**
 * Whether the lock (or owner file) at `guard`, with no heartbeat for `age`
 * ms, names a process proven alive, or one that cannot be judged whose own
 * `staleAfter` (recorded, see `owner_file.ts`) is longer than that, or one
 * this process may not know of: another user's, which it may not read (a
 * shared cache, under a umask of 077). That user's files are that user's
 * to clean up.
 */
function mayBeAlive(guard: string, age: number): boolean {
  try {
    const owner = readOwner(guard);
    const state = holderState(owner);
    return state === "alive" || (state === "unknown" &&
      owner?.staleAfter !== undefined && age <= owner.staleAfter);
  } catch (error) {
    if (isRefused(error)) return true;
    throw error;
  }
}

/**
 * Whether the temporary of a whole file at `path` (see `whole_file.ts`) is
 * a leftover: its writer, named by its content or, caught empty, by its
 * name, proven dead, or not proven alive and its mtime older than
 * `lockStaleAfter` (or than its writer's own). Its writer alive, it is
 * that writer's for a moment more: removed as soon as it is linked.
 */
async function isLeftTemp(
  path: string,
  lockStaleAfter: number,
  now: number,
): Promise<boolean> {
  let owner: Owner | undefined;
  try {
    owner = readOwner(path);
  } catch {
    return false; // another user's, or unreadable now: a later sweep's
  }
  const state = owner === undefined
    ? wholeTempWriter(basename(path))
    : holderState(owner);
  if (state !== "unknown") return state === "dead";
  const mtime = await mtimeOf(path);
  return mtime !== undefined &&
    now - mtime > staleAfterOf(owner, lockStaleAfter);
}

/** Whether a group of `names` is one owner file (see `owner_file.ts`). */
function isOwnerFile(names: string[]): boolean {
  return names.every((name) => name.endsWith(OWNER_SUFFIX));
}

/**
 * Whether a group of `names` is its lock with nothing to resume: alone, or
 * with its sidecar alone, whose partial file (of the group, were it there)
 * is gone.
 */
function isIdleLock(names: string[]): boolean {
  return names.some((name) => name.endsWith(LOCK_SUFFIX)) &&
    names.every((name) =>
      name.endsWith(LOCK_SUFFIX) || name.endsWith(SIDECAR_SUFFIX)
    );
}

/**
 * Whether the owner file (or lock) at `path` names a process proven dead
 * (killed between two calls of its last lock's release, or of its take, or
 * between putting its file in place and releasing its lock): never one
 * this process cannot read (another user's, see {@linkcode mayBeAlive}, or
 * any while it is out of file descriptors, when its heartbeat, which needs
 * none, judges it as ever).
 */
function namesDead(path: string): boolean {
  try {
    return holderState(readOwner(path)) === "dead";
  } catch {
    return false;
  }
}

/**
 * The leftovers in `directory` to remove: by group (`.<name>.<hash>.dlpart`),
 * the names of its files, each older than `maxAge` milliseconds, in a
 * group whose lock had no heartbeat within `lockStaleAfter` and names no
 * process proven alive (and such owner files), and owner files and locks
 * guarding nothing to resume (alone, or with a sidecar alone) of processes
 * proven dead, whatever their age. A look only: a
 * download may take a group's lock over between it and
 * {@linkcode removeLeftoverGroup}, which looks again under that lock.
 *
 * @example
 * ```ts
 * const found = await findLeftovers("cache", 24 * 60 * 60 * 1000, 10_000);
 * for (const [group, names] of found) console.log(group, names);
 * ```
 */
export async function findLeftovers(
  directory: string,
  maxAge: number,
  lockStaleAfter: number,
  now: number = Date.now(),
): Promise<Map<string, string[]>> {
  const groups = new Map<string, string[]>();
  const records: string[] = [];
  // Every other name, of any kind: the files records may be of.
  const others: string[] = [];
  let entries: DirEntry[];
  try {
    entries = await fs.readDir(directory);
  } catch (error) {
    // Removed since the manager made it (a cache cleared by hand, a test's
    // temporary directory): nothing is left in it to clean up.
    if (error instanceof NotFoundError) return new Map();
    throw error;
  }
  const found = new Map<string, string[]>();
  for (const entry of entries) {
    if (!isReservedName(entry.name)) others.push(entry.name);
    else if (!entry.isFile) continue;
    else if (entry.name.endsWith(RECORD_SUFFIX)) records.push(entry.name);
    else if (isWholeTemp(entry.name)) {
      // A group of its own: it guards nothing, and no download adopts it.
      const path = join(directory, entry.name);
      if (await isLeftTemp(path, lockStaleAfter, now)) {
        found.set(entry.name, [entry.name]);
      }
    } else {
      const group = groupOf(entry.name);
      groups.set(group, [...groups.get(group) ?? [], entry.name]);
    }
  }
  const named = records.length === 0 ? new Map() : byPrefix(others);
  for (const record of records) {
    if (hasFile(directory, record, named)) continue;
    const group = groupOf(record);
    groups.set(group, [...groups.get(group) ?? [], record]);
  }
  for (const [group, names] of groups) {
    const guards = [LOCK_SUFFIX, OWNER_SUFFIX].map((suffix) =>
      join(directory, group + suffix.slice(PARTIAL_SUFFIX.length))
    );
    // Downloading here now (a manager sweeps as its first downloads
    // start): its lock is fresh, or its owner alive, without a look.
    if (holdsLock(guards[0] as string)) continue;
    // An owner file of a process proven dead goes whatever its age: no
    // download resumes it, and no lock of it will be taken again.
    if (isOwnerFile(names) && namesDead(guards[1] as string)) {
      found.set(group, names);
      continue;
    }
    // So does a lock of one that guards nothing to resume (alone, or with
    // a sidecar whose partial file is gone), killed after it put its file
    // in place: whether it still guards nothing is looked at again under
    // it (see removeLeftoverGroup).
    if (isIdleLock(names) && namesDead(guards[0] as string)) {
      found.set(group, names);
      continue;
    }
    const heartbeats = await Promise.all(guards.map(mtimeOf));
    if (
      heartbeats.some((beat) =>
        beat !== undefined && now - beat <= lockStaleAfter
      ) ||
      guards.some((guard, index) => {
        const beat = heartbeats[index];
        return beat !== undefined && mayBeAlive(guard, now - beat);
      })
    ) {
      continue;
    }
    // An empty owner file names no one: its process was killed between
    // creating it and writing it, which a live one does in one synchronous
    // call, before any lock is linked to it. Past `lockStaleAfter` without
    // a heartbeat, it goes as one of a process proven dead does.
    if (isOwnerFile(names) && await isEmpty(guards[1] as string)) {
      found.set(group, names);
      continue;
    }
    // The group goes only as a whole: a partial file is useless without its
    // sidecar. One whose files are all gone since the listing (a download
    // here that ended meanwhile) has nothing to remove: its lock is not
    // taken, which would put a lock file back in its place for a moment.
    const mtimes = await mtimesOf(directory, names);
    if (mtimes.every((mtime) => mtime === undefined)) continue;
    if (!isOld(mtimes, maxAge, now)) continue;
    found.set(group, names);
  }
  return found;
}

/** Whether every one of `names` in `directory` is `maxAge` old (or gone). */
async function allOld(
  directory: string,
  names: string[],
  maxAge: number,
  now: number,
): Promise<boolean> {
  return isOld(await mtimesOf(directory, names), maxAge, now);
}

/**
 * Whether `directory` holds a file of `group` other than its lock
 * (`lockName`), its sidecar and its downloaded file's record: a partial
 * file, a temporary, a takeover's claim; `true` if it cannot be listed.
 */
async function hasOthers(
  directory: string,
  group: string,
  lockName: string,
): Promise<boolean> {
  let entries: DirEntry[];
  try {
    entries = await fs.readDir(directory);
  } catch (error) {
    // Unlisted (out of file descriptors): it may have others.
    return !(error instanceof NotFoundError);
  }
  return entries.some(({ name }) =>
    name !== lockName && !name.endsWith(RECORD_SUFFIX) &&
    !name.endsWith(SIDECAR_SUFFIX) && isReservedName(name) &&
    groupOf(name) === group
  );
}

/** The mtimes of `names` in `directory`, `undefined` for one gone. */
function mtimesOf(
  directory: string,
  names: string[],
): Promise<(number | undefined)[]> {
  return Promise.all(names.map((name) => mtimeOf(join(directory, name))));
}

/** Whether every one of `mtimes` is `maxAge` old at `now` (or gone). */
function isOld(
  mtimes: (number | undefined)[],
  maxAge: number,
  now: number,
): boolean {
  return mtimes.every((mtime) => mtime === undefined || now - mtime >= maxAge);
}

/**
 * Removes the files `names` of the leftover `group` in `directory`, as
 * {@linkcode findLeftovers} found them, under the group's lock: taken now,
 * as a download takes it (free, or taken over from a process proven dead,
 * or from one that cannot be judged whose heartbeat is older than
 * `lockStaleAfter`), else the group is kept. Under it, the files are
 * looked at again, and kept if any is younger than `maxAge`: a download
 * that took the lock over between the look and now may have resumed the
 * partial file, or left it to be resumed (then its lock is left marked
 * released again, for the next download to adopt it; removed, the files
 * kept, if the marker cannot be written: never thrown). A lock found
 * guarding nothing to resume (alone, or with a sidecar alone) is removed,
 * with that sidecar, only if it still guards nothing, by a new listing of
 * the directory: such a download leaves files the look did not see. An
 * owner file (which no download resumes), or a group whose lock's place
 * holds what is not a file (a link, never the library's, and never
 * removed), goes without a lock. A group whose lock's path `wanted` names
 * (a download of the sweeping manager's own, queued, is to resume it) is
 * kept, as one found young again is. Returns the names removed (the old
 * lock's among them, when it was taken over).
 *
 * @example
 * ```ts
 * const day = 24 * 60 * 60 * 1000;
 * for (const [group, names] of await findLeftovers("cache", day, 10_000)) {
 *   await removeLeftoverGroup("cache", group, names, day, 10_000);
 * }
 * ```
 */
export async function removeLeftoverGroup(
  directory: string,
  group: string,
  names: string[],
  maxAge: number,
  lockStaleAfter: number,
  now: number = Date.now(),
  wanted: (lock: string) => boolean = () => false,
): Promise<string[]> {
  const lockName = group + LOCK_SUFFIX.slice(PARTIAL_SUFFIX.length);
  const path = join(directory, lockName);
  const rest = names.filter((name) => name !== lockName);
  if (isOwnerFile(names) || names.every(isWholeTemp)) {
    return await removeNames(directory, names);
  }
  if ((await fs.lstat(path))?.isFile === false) {
    return await removeNames(directory, rest);
  }
  // A lock guarding nothing that cannot be taken or looked at now (this
  // process out of file descriptors) stays, for a later sweep: keeping it
  // loses nothing, and its download's own errors say what failed.
  const idle = isIdleLock(names);
  const lock = await takeNow(path, lockStaleAfter).catch((error) => {
    if (idle) return undefined;
    throw error;
  });
  if (lock === undefined) return [];
  try {
    // Found guarding nothing, its owner dead: what of that owner's is there
    // now that no sidecar names, it wrote as it was killed, after the look
    // (a partial file of its first chunk). No download would adopt it, and
    // a marker left in the lock's place, naming no dead owner, would hide it
    // from the next download's takeover: it goes now, as a download's
    // takeover removes it (see `removeUnnamedLeftBy`).
    if (idle && lock.takenOver !== undefined) {
      await removeUnnamedLeftBy(path, lock.takenOver).catch(() => {});
    }
    if (
      idle
        ? await hasOthers(directory, group, lockName)
        : wanted(path) || !await allOld(directory, rest, maxAge, now)
    ) {
      // Left marked again for the next download to adopt the files kept.
      // Refused (this process out of file descriptors): released as it is,
      // rather than failing the manager and the rest of the sweep over a
      // group it keeps. Its files stay, to a later sweep, as a download's do
      // when its own marker is refused (see `_job.ts`).
      if (lock.takenOver !== undefined) await lock.leave().catch(() => {});
      return [];
    }
    const removed = await removeNames(directory, rest);
    if (lock.takenOver !== undefined && names.includes(lockName)) {
      removed.push(lockName);
    }
    return removed;
  } finally {
    lock.release();
  }
}

/** What {@linkcode takeNow}'s look throws when the lock is held. */
const HELD = Symbol("held");

/**
 * The lock at `path`, taken now if free or to be taken over (see
 * `lock.ts`); `undefined` if it is held, or may not be taken (a read-only
 * directory, another user's lock).
 */
async function takeNow(
  path: string,
  staleAfter: number,
): Promise<FileLock | undefined> {
  try {
    return await FileLock.acquire(path, lockTiming(staleAfter), {
      signal: new AbortController().signal,
      waitTimeout: 0,
      timeoutError: () => HELD,
      // A download in this process waits for the look and the removal.
      brief: true,
    });
  } catch (error) {
    // Gone with its directory, removed since the look: nothing to remove,
    // and no lock to put back in it.
    if (error === HELD || isRefused(error) || error instanceof NotFoundError) {
      return undefined;
    }
    throw error;
  }
}

/** Removes `names` in `directory`; returns those it removed. */
async function removeNames(
  directory: string,
  names: string[],
): Promise<string[]> {
  const removed: string[] = [];
  for (const name of names) {
    try {
      if (await removeIfPresent(join(directory, name))) removed.push(name);
    } catch (error) {
      // Another user's, in a shared cache: theirs to clean up (or on a
      // read-only mount, where no one may). The rest goes all the same,
      // rather than the manager failing at each start.
      if (!isRefused(error)) throw error;
    }
  }
  return removed;
}

/**
 * Removes the leftovers in `directory` older than `maxAge` milliseconds,
 * except those of a download whose lock had a heartbeat within
 * `lockStaleAfter` or names a process proven alive, and such owner files
 * (see {@linkcode findLeftovers} and {@linkcode removeLeftoverGroup}),
 * and the owner files and locks guarding nothing to resume of processes
 * proven dead, whatever their age, and those of the locks `wanted` names,
 * looked at under each (a manager's downloads queued, which are to resume
 * them: bytes kept past a failure, then left a day before the same command
 * runs again). Out of file descriptors, it stops without failing: what it
 * has not removed stays for a later sweep. Returns the names removed.
 *
 * @example
 * ```ts
 * const day = 24 * 60 * 60 * 1000;
 * const removed = await removeLeftovers("cache", day, 10_000);
 * console.log(`${removed.length} leftovers removed`);
 * ```
 */
export async function removeLeftovers(
  directory: string,
  maxAge: number,
  lockStaleAfter: number,
  now: number = Date.now(),
  wanted: (lock: string) => boolean = () => false,
): Promise<string[]> {
  const removed: string[] = [];
  try {
    const found = await findLeftovers(directory, maxAge, lockStaleAfter, now);
    for (const [group, names] of found) {
      removed.push(
        ...await removeLeftoverGroup(
          directory,
          group,
          names,
          maxAge,
          lockStaleAfter,
          now,
          wanted,
        ),
      );
    }
  } catch (error) {
    // Out of file descriptors (a manager sweeps as its first downloads
    // open theirs): what is left stays for a later sweep, which loses
    // nothing, and the downloads' own errors say what the process lacked.
    if (outOfDescriptors(error) === undefined) throw error;
  }
  return removed.sort();
}
