// The partial file a download of "f" keeps in its directory, found by its
// name's shape (`.f.<12 hex>.dlpart.<token>`; not its sidecar or lock), for
// tests that play another program changing it.

import assert from "node:assert/strict";
import type { TempDir } from "./temp_dir.ts";

/** The path of the one partial file of "f" in `dir`. */
export async function partialOf(dir: TempDir): Promise<string> {
  const names = (await dir.list()).filter((name) =>
    name.startsWith(".f.") && !/\.(json|lock)$/.test(name)
  );
  assert.equal(names.length, 1, `partial files: ${names}`);
  return dir.join(names[0] as string);
}
