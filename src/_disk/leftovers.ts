// Cleaning a directory of what dead processes left: partial files, sidecars,
// half-written sidecars, taken-over locks and owner files (the library's
// reserved `.<name>.<hash>.dlpart*` names, records of downloaded files
// excepted) that no live heartbeat guards and that have not changed for
// `maxAge`. A fresh leftover stays: it may be
// resumed. The heartbeat of a group is its lock's mtime, or an owner file's
// own (see `lock.ts`). A group whose lock (or owner file) names a process
// proven alive stays however old its heartbeat: that process may be stopped
// (Ctrl-Z, a debugger) and go on, as a lock it holds is never taken over.

import { join } from "node:path";
import { fs } from "../_runtime/fs.ts";
import { removeIfPresent } from "../_runtime/remove.ts";
import { holderState, readOwner } from "./owner_file.ts";
import {
  groupOf,
  isReservedName,
  LOCK_SUFFIX,
  OWNER_SUFFIX,
  PARTIAL_SUFFIX,
  RECORD_SUFFIX,
} from "./names.ts";

async function mtimeOf(path: string): Promise<number | undefined> {
  const stat = await fs.stat(path);
  return stat === undefined ? undefined : stat.mtime?.getTime() ?? 0;
}

/**
 * Removes the leftovers in `directory` older than `maxAge` milliseconds,
 * except those of a download whose lock had a heartbeat within
 * `lockStaleAfter` or names a process proven alive, and such owner files.
 * Returns the names removed.
 */
export async function removeLeftovers(
  directory: string,
  maxAge: number,
  lockStaleAfter: number,
  now: number = Date.now(),
): Promise<string[]> {
  const groups = new Map<string, string[]>();
  for (const entry of await fs.readDir(directory)) {
    if (!entry.isFile || !isReservedName(entry.name)) continue;
    // A record lives as long as its file, which it is not part of.
    if (entry.name.endsWith(RECORD_SUFFIX)) continue;
    const group = groupOf(entry.name);
    groups.set(group, [...groups.get(group) ?? [], entry.name]);
  }
  const removed: string[] = [];
  for (const [group, names] of groups) {
    const guards = [LOCK_SUFFIX, OWNER_SUFFIX].map((suffix) =>
      join(directory, group + suffix.slice(PARTIAL_SUFFIX.length))
    );
    const heartbeats = await Promise.all(guards.map(mtimeOf));
    if (
      heartbeats.some((beat) =>
        beat !== undefined && now - beat <= lockStaleAfter
      ) ||
      guards.some((guard, index) =>
        heartbeats[index] !== undefined &&
        holderState(readOwner(guard)) === "alive"
      )
    ) {
      continue;
    }
    const mtimes = await Promise.all(
      names.map((name) => mtimeOf(join(directory, name))),
    );
    // The group goes only as a whole: a partial file is useless without its sidecar.
    if (mtimes.some((mtime) => mtime !== undefined && now - mtime < maxAge)) {
      continue;
    }
    for (const name of names) {
      if (await removeIfPresent(join(directory, name))) removed.push(name);
    }
  }
  return removed.sort();
}
