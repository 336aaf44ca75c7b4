// Lock files (and owner files) this process let go of, but whose removal
// the file system refused: a directory made read-only (a remount, a
// permission, an immutable flag) as a download ended. Such a file names
// this process, alive, and its token: another process would wait for it
// for as long as this one lives (a lock whose owner is alive is never taken
// over, see `lock.ts`), though no one here holds it any more. So its
// removal is retried, until it is done: at the next lock this process takes
// (in any directory), and on a timer that does not keep the process alive
// (once it exits, its locks are a dead process's, taken over at once).
// Only a file still holding the token it was let go with is removed: one
// put in its place since (by a process that judged it stale) is not ours.

import { removeIfPresentSync } from "../_runtime/remove.ts";
import { unrefTimer } from "../_runtime/unref_timer.ts";
import { readOwner } from "./owner_file.ts";

/** The files left behind, by path, with the token each held. */
const left = new Map<string, string>();

let timer: ReturnType<typeof setInterval> | undefined;
let timerPeriod = Infinity;

/**
 * Counts the lock (or owner file) at `path`, holding `token`, as let go of
 * but still on disk, and retries its removal from now on, at least every
 * `period` milliseconds (the lock's heartbeat: as often as another
 * process's wait may look at it).
 *
 * @example
 * ```ts
 * import { removeIfPresentSync } from "../_runtime/remove.ts";
 *
 * const lock = "cache/.a.zip.0123456789ab.dlpart.lock";
 * try {
 *   removeIfPresentSync(lock);
 * } catch {
 *   leaveBehind(lock, "0123456789abcdef-1", 2500);
 * }
 * ```
 */
export function leaveBehind(
  path: string,
  token: string,
  period: number,
): void {
  left.set(path, token);
  if (period >= timerPeriod) return;
  clearInterval(timer);
  timerPeriod = period;
  timer = setInterval(removeLeftBehind, period);
  // Not a reason to stay alive: an exited process's locks are taken over.
  unrefTimer(timer);
}

/**
 * Removes what {@linkcode leaveBehind} counted, where the file system now
 * lets it; what it still refuses stays counted, for the next try. Stops
 * the timer once nothing is left.
 *
 * @example
 * ```ts
 * removeLeftBehind(); // before taking a lock
 * ```
 */
export function removeLeftBehind(): void {
  if (left.size === 0) return;
  for (const [path, token] of left) {
    try {
      if (readOwner(path)?.token === token) removeIfPresentSync(path);
      left.delete(path);
    } catch {
      // Still refused: tried again on the next call.
    }
  }
  if (left.size > 0) return;
  clearInterval(timer);
  timer = undefined;
  timerPeriod = Infinity;
}
