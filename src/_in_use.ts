// The files each manager uses (downloaded, or found present, this session),
// known to every manager that shares its `PersistLimit`: an eviction keeps
// what any of them uses, so one manager's limit never removes the file
// another's `download()` just returned. Each manager's set is held weakly:
// a manager gone no longer keeps its files.

import type { PersistLimit } from "./persist_limit.ts";

const users = new WeakMap<PersistLimit, Set<WeakRef<ReadonlySet<string>>>>();

/**
 * Makes the absolute paths in `used` (a manager's, kept up to date by it)
 * kept by every eviction of `limit` a manager makes.
 */
export function shareInUse(
  limit: PersistLimit,
  used: ReadonlySet<string>,
): void {
  let sets = users.get(limit);
  if (sets === undefined) users.set(limit, sets = new Set());
  sets.add(new WeakRef(used));
}

/** Whether a manager sharing `limit` uses the file at absolute `path`. */
export function inUse(limit: PersistLimit, path: string): boolean {
  const sets = users.get(limit);
  if (sets === undefined) return false;
  let used = false;
  for (const ref of sets) {
    const set = ref.deref();
    if (set === undefined) sets.delete(ref);
    else if (set.has(path)) used = true;
  }
  return used;
}
