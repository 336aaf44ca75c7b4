// A temp directory per test, removed (with everything in it) on dispose,
// after the managers made in it are closed: a manager left running (its
// start-up cleanup of leftovers, a download) could put a file back in the
// directory as it is removed (ENOTEMPTY), or outlive the test. A download
// still running in it then (one neither awaited nor canceled) fails the
// test, by name.

import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { holdsLock } from "../../src/_disk/lock.ts";
import { LOCK_SUFFIX } from "../../src/_disk/names.ts";
import { recordPath } from "../../src/_disk/record.ts";
import { DownloadManager } from "../../src/download_manager.ts";
import type { DownloadManagerOptions } from "../../src/download_manager_options.ts";

/** A temp directory that removes itself. */
export interface TempDir extends AsyncDisposable {
  /** Its path. */
  path: string;
  /** `name` inside it. */
  join(...names: string[]): string;
  /** The sorted names directly inside it (or inside `sub`). */
  list(sub?: string): Promise<string[]>;
  /**
   * A manager downloading into it (or into `names` joined inside it, made
   * if missing), closed (as `await using` would: its downloads canceled,
   * then waited for with its own work) before the directory is removed.
   */
  manager(
    options?: DownloadManagerOptions,
    ...names: string[]
  ): DownloadManager;
}

/** Creates a fresh temp directory. */
export async function tempDir(): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), "dlmanager-test-"));
  const managers: DownloadManager[] = [];
  return {
    path,
    join: (...names) => join(path, ...names),
    list: async (sub) =>
      (await readdir(sub === undefined ? path : join(path, sub))).sort(),
    manager: (options = {}, ...names) => {
      const manager = new DownloadManager(join(path, ...names), options);
      managers.push(manager);
      return manager;
    },
    [Symbol.asyncDispose]: async () => {
      // The last made first, as `await using` would.
      for (const manager of managers.reverse()) {
        await manager[Symbol.asyncDispose]();
      }
      const held = await heldLocks(path);
      const failure = await rm(path, { recursive: true, force: true }).then(
        () => undefined,
        (error: unknown) => ({ error }),
      );
      // Thrown over what the removal may have met because of it.
      if (held.length > 0) {
        throw new Error(
          `A download still runs in the test's directory at its end: it holds ${
            held.map((name) => `"${name}"`).join(", ")
          } (await it, or make its manager with TempDir.manager())`,
        );
      }
      if (failure !== undefined) throw failure.error;
    },
  };
}

/** The locks under `path` that this process holds, by relative name. */
async function heldLocks(path: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(path, { recursive: true });
  } catch {
    return []; // a subdirectory it may not read: the removal tells
  }
  return names.filter((name) =>
    name.endsWith(LOCK_SUFFIX) && holdsLock(join(path, name))
  ).sort();
}

/**
 * `names` and, beside each, the record a manager keeps of a file it
 * downloaded from a server that gave a validator (see
 * src/_disk/record.ts), sorted as {@linkcode TempDir.list} sorts.
 */
export function withRecords(...names: string[]): string[] {
  return names.flatMap((name) => [name, basename(recordPath(name))]).sort();
}
