// The partial file a download of "f" keeps in its directory, found by its
// name's shape (`.f.<12 hex>.dlpart.<token>`; not its sidecar or lock), for
// tests that play another program changing it; and the parts its sidecar
// records, for tests that kill a download in parts.

import assert from "node:assert/strict";
import { watch } from "node:fs";
import { dirname } from "node:path";
import { readSidecar } from "../../src/_disk/sidecar.ts";
import type { TempDir } from "./temp_dir.ts";

/** The path of the one partial file of "f" in `dir`. */
export async function partialOf(dir: TempDir): Promise<string> {
  const names = (await dir.list()).filter((name) =>
    name.startsWith(".f.") && !/\.(json|lock)$/.test(name)
  );
  assert.equal(names.length, 1, `partial files: ${names}`);
  return dir.join(names[0] as string);
}

/**
 * Resolves with the parts the sidecar at `sidecar` records once they hold
 * `bytes` or more (a download in parts records them now and then, in any
 * process): looked at as the directory changes, not on a timer.
 */
export function whenRecorded(
  sidecar: string,
  bytes: number,
): Promise<[number, number][]> {
  return new Promise((resolve, reject) => {
    const watcher = watch(dirname(sidecar));
    const look = (): void => {
      const ranges = readSidecar(sidecar)?.ranges ?? [];
      if (ranges.reduce((sum, [start, end]) => sum + end - start, 0) < bytes) {
        return;
      }
      watcher.close();
      resolve(ranges);
    };
    watcher.on("change", look);
    watcher.on("error", reject);
    // Written before the watch began.
    look();
  });
}
