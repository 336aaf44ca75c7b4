// A temp directory per test, removed (with everything in it) on dispose.

import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { recordPath } from "../../src/_disk/record.ts";

/** A temp directory that removes itself. */
export interface TempDir extends AsyncDisposable {
  /** Its path. */
  path: string;
  /** `name` inside it. */
  join(...names: string[]): string;
  /** The sorted names directly inside it (or inside `sub`). */
  list(sub?: string): Promise<string[]>;
}

/** Creates a fresh temp directory. */
export async function tempDir(): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), "dlmanager-test-"));
  return {
    path,
    join: (...names) => join(path, ...names),
    list: async (sub) =>
      (await readdir(sub === undefined ? path : join(path, sub))).sort(),
    [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }),
  };
}

/**
 * `names` and, beside each, the record a manager keeps of a file it
 * downloaded from a server that gave a validator (see
 * src/_disk/record.ts), sorted as {@linkcode TempDir.list} sorts.
 */
export function withRecords(...names: string[]): string[] {
  return names.flatMap((name) => [name, basename(recordPath(name))]).sort();
}
