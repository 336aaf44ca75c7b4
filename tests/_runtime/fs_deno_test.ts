// The runtime adapter's Deno side. Deno only: it needs Deno's own APIs, so
// the npm build leaves it out of the Node run (files ending in _deno_test.ts).

import assert from "node:assert/strict";
import { symlink } from "node:fs/promises";
import { test } from "node:test";
import { DenoFileWriter, denoFs } from "../../src/_runtime/fs_deno.ts";
import { fsCases } from "../_helpers/fs_cases.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

fsCases("denoFs", denoFs, {
  readOnlyWriter: async (path) => new DenoFileWriter(await Deno.open(path)),
  pipeEndsPendingReads: false,
});

test("denoFs.existsSync() is false for a symbolic link loop in a fresh process too, before node:fs has loaded", async () => {
  await using dir = await tempDir();
  await symlink("loop", dir.join("loop"));
  // The first look of a process is Deno's own (node:fs loads meanwhile).
  const module = new URL("../../src/_runtime/fs_deno.ts", import.meta.url);
  const code = `const { denoFs } = await import(${JSON.stringify(module.href)});
    console.log(JSON.stringify(denoFs.existsSync(${
    JSON.stringify(dir.join("loop"))
  })));`;
  const { code: status, stdout, stderr } = await new Deno.Command(
    Deno.execPath(),
    {
      args: ["eval", code],
      env: { DENO_NO_UPDATE_CHECK: "1" },
      stdout: "piped",
      stderr: "piped",
    },
  ).output();
  const decoder = new TextDecoder();
  assert.equal(status, 0, decoder.decode(stderr));
  assert.equal(decoder.decode(stdout), "false\n");
});
