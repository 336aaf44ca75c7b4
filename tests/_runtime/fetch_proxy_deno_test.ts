import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { startChild } from "../_helpers/child.ts";
import { bytesRoute, startServer } from "../_helpers/server.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

const BODY = new TextEncoder().encode(
  "the same bytes, straight from the server",
);

/** This process's environment without a proxy variable. */
function withoutProxies(): Record<string, string> {
  const env: Record<string, string> = { DENO_NO_UPDATE_CHECK: "1" };
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !/_proxy$/i.test(name)) env[name] = value;
  }
  return env;
}

test("runtimeFetchProxy() reads the variables once on Deno, when a proxy variable is set after the first request, as Deno's fetch does", async () => {
  await using server = await startServer({ "/f": bytesRoute(BODY) });
  await using dir = await tempDir();
  const first = join(dir.path, "first");
  const second = join(dir.path, "second");
  // A value the library refuses at once when it reads it (a space in the
  // host); Deno's fetch, whose client the first request made, never reads
  // it and goes straight to the server.
  const child = startChild(
    "proxy_later_child",
    [server.url("/f"), first, second, "http://pro xy:3128"],
    [],
    withoutProxies(),
  );
  const code = await new Promise<number | string | null>((resolve) =>
    child.process.on("close", (code, signal) => resolve(signal ?? code))
  );
  assert.deepEqual({ code, said: child.lines }, { code: 0, said: ["done"] });
  assert.deepEqual(await readFile(first), Buffer.from(BODY));
  assert.deepEqual(await readFile(second), Buffer.from(BODY));
});
