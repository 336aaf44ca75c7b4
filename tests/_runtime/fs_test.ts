import assert from "node:assert/strict";
import { test } from "node:test";
import { fs } from "../../src/_runtime/fs.ts";
import { nodeFs } from "../../src/_runtime/fs_node.ts";
import { startChild } from "../_helpers/child.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

test("fs is the Node adapter exactly when not running on Deno", () => {
  assert.equal(fs === nodeFs, !("Deno" in globalThis));
});

test("fs.writeNewSync() removes the file it created but could not write (a full disk), and throws", async () => {
  await using dir = await tempDir();
  // A file-size limit of 0 makes every write to a file fail (EFBIG), as a
  // full disk does (ENOSPC); the signal it would send is ignored.
  const limited = ["sh", "-c", 'trap "" XFSZ; ulimit -f 0; exec "$@"', "sh"];
  const child = startChild("write_new_child", [dir.join("f")], limited);
  const line = await Promise.race([child.line(() => true), child.exited]);
  assert.match(String(line), /^threw /);
  await child.exited;
  assert.deepEqual(await dir.list(), []);
});
