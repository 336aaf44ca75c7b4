import assert from "node:assert/strict";
import { test } from "node:test";
import { fs } from "../../src/_runtime/fs.ts";
import { nodeFs } from "../../src/_runtime/fs_node.ts";

test("fs is the Node adapter exactly when not running on Deno", () => {
  assert.equal(fs === nodeFs, !("Deno" in globalThis));
});
