// What a dead process left of one destination's partial download, once its
// lock is taken over: its partial files (one no sidecar names, killed before
// it wrote one, in its first chunk; or, when the download that took the
// lock adopts none, the one it named) and the temporaries it was writing
// when killed (a sidecar's, a record's, the marker of a lock it was
// leaving). Each name carries one of its tokens, which share its lock's
// process part (see `newToken`).

import { basename, dirname, join } from "node:path";
import { fs } from "../_runtime/fs.ts";
import { removeIfPresent } from "../_runtime/remove.ts";
import type { TakenOver } from "./lock.ts";
import {
  LOCK_SUFFIX,
  PARTIAL_SUFFIX,
  type PartialPaths,
  SIDECAR_SUFFIX,
} from "./names.ts";
import { isThisProcess } from "./process_identity.ts";
import { readSidecar, sidecarPartial, writerState } from "./sidecar.ts";

/**
 * Removes the files under `base` (a destination's `.<name>.<hash>.dlpart`)
 * that the owner of a lock taken over left, but `keep`, once it is proven
 * dead. Not when it released the lock (it may be running), nor when it is
 * this process.
 *
 * @example
 * ```ts
 * const owner = { host: "box", pid: 4242, token: "0123456789abcdef-1" };
 * await removeLeftBy("cache/.a.zip.0123456789ab.dlpart", {
 *   owner,
 *   state: "dead",
 * });
 * ```
 */
export async function removeLeftBy(
  base: string,
  { owner, state }: TakenOver,
  keep?: string,
): Promise<void> {
  if (state !== "dead" || owner === undefined || owner.released) return;
  if (isThisProcess(owner)) return;
  const tokens = /^[0-9a-f]{16}-/.exec(owner.token)?.[0];
  if (tokens === undefined) return;
  const name = basename(base);
  const prefixes = ["", ".json", ".lock", ".record"].map((kind) =>
    `${name}${kind}.${tokens}`
  );
  const directory = dirname(base);
  for (const entry of await fs.readDir(directory)) {
    const path = join(directory, entry.name);
    if (
      entry.isFile && path !== keep &&
      prefixes.some((prefix) => entry.name.startsWith(prefix))
    ) {
      await removeIfPresent(path);
    }
  }
}

/**
 * Removes what the dead owner of the lock at `lock` (a destination's
 * `.<name>.<hash>.dlpart.lock`) left (see {@linkcode removeLeftBy}), but the
 * partial file its sidecar names, which the download taking the lock over
 * may adopt. A taker calls it under its claim, before the lock is moved
 * away: once the taker's own lock is in its place, the dead owner is known
 * only to the taker, and a taker killed before it looked (the process
 * taking the lock over from it then removes only the taker's files) would
 * leave a partial file no sidecar names for good.
 *
 * @example
 * ```ts
 * const owner = { host: "box", pid: 4242, token: "0123456789abcdef-1" };
 * await removeUnnamedLeftBy("cache/.a.zip.0123456789ab.dlpart.lock", {
 *   owner,
 *   state: "dead",
 * });
 * ```
 */
export async function removeUnnamedLeftBy(
  lock: string,
  takenOver: TakenOver,
): Promise<void> {
  if (takenOver.state !== "dead" || !lock.endsWith(LOCK_SUFFIX)) return;
  const group = lock.slice(0, -LOCK_SUFFIX.length);
  const paths = {
    base: group + PARTIAL_SUFFIX,
    sidecar: group + SIDECAR_SUFFIX,
    lock,
  };
  const sidecar = readSidecar(paths.sidecar);
  const named = sidecar === undefined
    ? undefined
    : sidecarPartial(paths, sidecar);
  await removeLeftBy(paths.base, takenOver, named);
}

/**
 * Whether a download that took over the lock of `paths` (from `takenOver`)
 * and ends without opening its partial file (the file found there, a
 * cancel) leaves a partial file for the next download to adopt: one a
 * sidecar names, of a writer proven dead (or that released it), still
 * there. Then the lock is to be left marked released again (see
 * `FileLock.leave`); else it is released plainly, and what would keep no
 * download's bytes goes now, as no download would find it: the dead
 * owner's other files (see {@linkcode removeLeftBy}), and a sidecar whose
 * dead writer's file is gone (killed once it renamed the file into place).
 *
 * @example
 * ```ts
 * import { partialPaths } from "./names.ts";
 *
 * const owner = { host: "box", pid: 4242, token: "0123456789abcdef-1" };
 * const paths = partialPaths("cache/a.zip");
 * if (await keepsTakenOver(paths, { owner, state: "dead" })) {
 *   console.log("left for the next download to resume");
 * }
 * ```
 */
export async function keepsTakenOver(
  paths: PartialPaths,
  takenOver: TakenOver,
): Promise<boolean> {
  const sidecar = readSidecar(paths.sidecar);
  let kept: string | undefined;
  if (sidecar !== undefined && writerState(sidecar) === "dead") {
    const partial = sidecarPartial(paths, sidecar);
    // Not followed, as an adoption does not follow it.
    const stat = partial === undefined ? undefined : await fs.lstat(partial);
    if (stat?.isFile) kept = partial;
    else await removeIfPresent(paths.sidecar);
  }
  await removeLeftBy(paths.base, takenOver, kept);
  return kept !== undefined;
}
