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

/** What `code` prints, run by `deno eval` in a process of its own. */
async function printedInFreshProcess(code: string): Promise<string> {
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
  return decoder.decode(stdout);
}

test("denoFs.existsSync() is false for a symbolic link loop in a fresh process too, before node:fs has loaded", async () => {
  await using dir = await tempDir();
  await symlink("loop", dir.join("loop"));
  // The first look of a process is Deno's own (node:fs is not loaded yet).
  const module = new URL("../../src/_runtime/fs_deno.ts", import.meta.url);
  const code = `const { denoFs } = await import(${JSON.stringify(module.href)});
    console.log(JSON.stringify(denoFs.existsSync(${
    JSON.stringify(dir.join("loop"))
  })));`;
  assert.equal(await printedInFreshProcess(code), "false\n");
});

test("denoFs.existsSync() loads node:fs only once the looks without it add up to its cost, not with a process's first look", async () => {
  // Deno evaluates a built-in module inside the import() call: loaded at the
  // first look, node:fs held back the first download's request by 40-90 ms.
  await using dir = await tempDir();
  const module = new URL("../../src/_runtime/fs_deno.ts", import.meta.url);
  const code =
    `const { denoFs, LOOKS_BEFORE_NODE_FS, nodeFsLoad } = await import(${
      JSON.stringify(module.href)
    });
    const missing = ${JSON.stringify(dir.join("missing"))};
    const answers = [denoFs.existsSync(missing)];
    const afterFirst = nodeFsLoad() !== undefined;
    for (let look = 1; look < LOOKS_BEFORE_NODE_FS; look++) {
      answers.push(denoFs.existsSync(missing));
    }
    const load = nodeFsLoad();
    await load;
    answers.push(denoFs.existsSync(missing), denoFs.existsSync(${
      JSON.stringify(dir.path)
    }));
    console.log(JSON.stringify({
      afterFirst,
      afterAll: load !== undefined,
      missing: answers.slice(0, -1).every((answer) => answer === false),
      there: answers.at(-1),
    }));`;
  assert.deepEqual(JSON.parse(await printedInFreshProcess(code)), {
    afterFirst: false,
    afterAll: true,
    missing: true,
    there: true,
  });
});
