// What importing the library loads on Deno, read from `deno info`'s module
// graph: Deno only (the npm build leaves out files ending in _deno_test.ts).
// Deno's Node compatibility modules cost its start-up more than the library
// itself (importing mod.ts took 115 ms of CPU with them, 63 ms without, an
// empty script 46 ms), so the ones a download can do without are loaded
// only when needed (a digest to check, a compressed body, Node's adapter).

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

/** One module of `deno info --json`'s graph. */
interface InfoModule {
  specifier: string;
  dependencies?: {
    code?: { specifier: string };
    isDynamic?: boolean;
  }[];
}

/**
 * The modules Deno loads, without a dynamic import, from `roots`: what a
 * start-up costs.
 */
async function staticGraph(roots: string[]): Promise<Set<string>> {
  const root = (path: string): string =>
    new URL(`../${path}`, import.meta.url).href;
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", fileURLToPath(root("mod.ts"))],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(success, "deno info failed");
  const modules = new Map<string, InfoModule>();
  for (
    const module of JSON.parse(new TextDecoder().decode(stdout))
      .modules as InfoModule[]
  ) {
    modules.set(module.specifier, module);
  }
  const seen = new Set<string>();
  const next = roots.map(root);
  for (let specifier; (specifier = next.pop()) !== undefined;) {
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      if (dependency.code !== undefined && !dependency.isDynamic) {
        next.push(dependency.code.specifier);
      }
    }
  }
  return seen;
}

test("Importing mod.ts on Deno loads no Node module a download can do without", async () => {
  // mod.ts, and the adapter side `fs.ts` loads on Deno.
  const loaded = await staticGraph(["mod.ts", "src/_runtime/fs_deno.ts"]);
  // The graph is the library's: the walk found its modules.
  assert.ok(loaded.has(new URL("../src/download.ts", import.meta.url).href));
  assert.ok(
    loaded.has(new URL("../src/_disk/lock.ts", import.meta.url).href),
  );
  const nodeModules = [...loaded].filter((name) => name.startsWith("node:"))
    .sort();
  assert.deepEqual(nodeModules, ["node:events", "node:os", "node:path"]);
  // Loaded only when needed.
  assert.ok(
    !loaded.has(new URL("../src/_runtime/fs_node.ts", import.meta.url).href),
  );
  assert.ok(
    !loaded.has(new URL("../src/_body/decoders.ts", import.meta.url).href),
  );
});
