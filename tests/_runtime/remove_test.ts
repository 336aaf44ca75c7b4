import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { test } from "node:test";
import {
  removeIfPresent,
  removeIfPresentSync,
} from "../../src/_runtime/remove.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

test("removeIfPresent() resolves false when the path is missing", async () => {
  await using dir = await tempDir();
  assert.equal(await removeIfPresent(dir.join("none")), false);
  assert.equal(await removeIfPresent(dir.join("no", "dir")), false);
  assert.deepEqual(await dir.list(), []);
});

test("removeIfPresent() removes the file when it exists, resolving true", async () => {
  await using dir = await tempDir();
  await writeFile(dir.join("keep"), "k");
  await writeFile(dir.join("gone"), "g");
  assert.equal(await removeIfPresent(dir.join("gone")), true);
  assert.deepEqual(await dir.list(), ["keep"]);
});

test("removeIfPresent() rejects with the runtime's error when the path cannot be removed for another reason", async () => {
  await using dir = await tempDir();
  await writeFile(dir.join("file"), "f");
  // A path through a file: ENOTDIR, not "missing".
  await assert.rejects(removeIfPresent(dir.join("file", "x")));
  assert.deepEqual(await dir.list(), ["file"]);
});

test("removeIfPresentSync() removes a file, and returns false when it is missing", async () => {
  await using dir = await tempDir();
  await writeFile(dir.join("gone"), "g");
  assert.equal(removeIfPresentSync(dir.join("gone")), true);
  assert.equal(removeIfPresentSync(dir.join("gone")), false);
  assert.deepEqual(await dir.list(), []);
});
