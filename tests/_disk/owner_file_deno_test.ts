// Two copies of the owner-file module in one process, as a process that
// loads the npm package's ES module and CommonJS builds, or two versions of
// the package, has. Deno only: the second copy is the same file imported
// with a query string, which Deno's loader keeps apart (the npm build leaves
// out files ending in _deno_test.ts; `build_npm.ts` checks the two builds
// in one Node process).

import assert from "node:assert/strict";
import { test } from "node:test";
import { FileLock } from "../../src/_disk/lock.ts";
import * as ownerFile from "../../src/_disk/owner_file.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

/** The other copy, as far as this test uses it. */
const copy: Pick<typeof ownerFile, "holderState" | "readOwner"> = await import(
  "../../src/_disk/owner_file.ts?copy"
);

test("holderState() of another copy of the module in this process judges a lock this process holds alive", async () => {
  assert.notEqual(copy.holderState, ownerFile.holderState);
  await using dir = await tempDir();
  const path = dir.join("x.lock");
  const lock = await FileLock.acquire(
    path,
    { staleAfter: 60_000, heartbeat: 1000, poll: 5 },
    { signal: new AbortController().signal },
  );
  try {
    // Judged dead, the other copy's download would take it over at once.
    assert.equal(copy.holderState(copy.readOwner(path)), "alive");
  } finally {
    lock.release();
  }
  assert.equal(copy.holderState(copy.readOwner(path)), "unknown");
  assert.deepEqual(await dir.list(), []);
});
