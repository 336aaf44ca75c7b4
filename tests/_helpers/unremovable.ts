// Files this process may not remove, as another user's file in a shared
// cache (a directory with the sticky bit) is: for the tests of eviction and
// leftover cleanup, which must skip such a file and go on. And directories
// that refuse every change while the files open in them are written on.

import { spawnSync } from "node:child_process";
import { chmod, mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** How `path` was made unremovable, and the undoing. */
export interface Unremovable {
  /** Only `path` (immutable), or every file in its directory (read-only). */
  only: boolean;
  /** Makes it removable again. */
  undo(): Promise<void>;
}

/** Whether a directory without write permission keeps this process from removing a file in it (not root). */
async function readOnlyDirectoriesBind(): Promise<boolean> {
  const probe = await mkdtemp(join(tmpdir(), "dlmanager-probe-"));
  await writeFile(join(probe, "f"), "x");
  await chmod(probe, 0o555);
  try {
    await unlink(join(probe, "f"));
    return false;
  } catch {
    return true;
  } finally {
    await chmod(probe, 0o755);
    await rm(probe, { recursive: true, force: true });
  }
}

/**
 * Makes `immutable` immutable (`chattr +i`, which root can do where the
 * file system has it), else the directory `readOnly` read-only (which
 * binds any other user); `undefined` where neither can be done.
 */
async function refuse(
  immutable: string,
  readOnly: string,
): Promise<Unremovable | undefined> {
  if (spawnSync("chattr", ["+i", immutable]).status === 0) {
    return {
      only: immutable !== readOnly,
      undo: () => {
        spawnSync("chattr", ["-i", immutable]);
        return Promise.resolve();
      },
    };
  }
  if (!await readOnlyDirectoriesBind()) return undefined;
  await chmod(readOnly, 0o555);
  return { only: false, undo: () => chmod(readOnly, 0o755) };
}

/**
 * Makes the file `path` one this process may not remove: immutable, else
 * its directory read-only (see `refuse`). `undefined` where neither can
 * be done.
 */
export function unremovable(path: string): Promise<Unremovable | undefined> {
  return refuse(path, dirname(path));
}

/**
 * Makes the directory `path` refuse every change of its names (create,
 * rename, remove) while the files open in it may still be written:
 * immutable, else read-only (see `refuse`). `undefined` where neither can
 * be done.
 */
export function unchangeable(path: string): Promise<Unremovable | undefined> {
  return refuse(path, path);
}
