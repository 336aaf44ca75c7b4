// The CLI under Deno's permissions: with those `deno task cli` gives (the
// README's), and with fewer, it downloads and never stops at a permission
// prompt. Deno prompts only when stdin is a terminal, so the CLI runs in a
// tmux pane: a prompt would show on its screen and wait there. Without a
// terminal Deno throws instead of prompting: the CLI must not crash then.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { runCli } from "../_helpers/cli.ts";
import { cliShellCommand, TMUX_TEST, tmuxPane } from "../_helpers/cli_tmux.ts";
import { bytesRoute, patternBytes, startServer } from "../_helpers/server.ts";
import { tempDir } from "../_helpers/temp_dir.ts";
import { assertFileHolds } from "../_helpers/file_bytes.ts";

const SKIP = TMUX_TEST;
const A = patternBytes(50_000, 1);

/** The permission flags of `deno task cli`, but `--no-prompt`. */
async function taskPermissions(): Promise<string[]> {
  const config = JSON.parse(await readFile("deno.json", "utf8"));
  const task = String(config.tasks.cli);
  assert.match(task, /^deno run .*cli\.ts$/);
  return task.split(/\s+/).filter((word) =>
    word.startsWith("--") && word !== "--no-prompt"
  );
}

/**
 * Runs the CLI on a terminal with `permissions` to download one file, and
 * returns the screen once it ended or prompts.
 */
async function onTerminal(permissions: string[]): Promise<{
  screen: string;
  files: string[];
}> {
  await using server = await startServer({ "/a.bin": bytesRoute(A) });
  await using dir = await tempDir();
  using pane = tmuxPane(
    dir.path,
    100,
    30,
    cliShellCommand(["-d", dir.join("out"), server.url("/a.bin")], {
      permissions,
    }),
  );
  const lines = await pane.until((lines) =>
    lines.some((line) =>
      line.startsWith("[exit ") || line.includes("Deno requests")
    )
  );
  return { screen: lines.join("\n"), files: await dir.list("out") };
}

test(
  "dlmanager never prompts for a permission when run on a terminal with deno task cli's permissions",
  SKIP,
  async () => {
    const permissions = await taskPermissions();
    assert.ok(permissions.includes("--allow-net"), permissions.join(" "));
    const { screen, files } = await onTerminal(permissions);
    assert.doesNotMatch(screen, /Deno requests/);
    assert.match(screen, /\n\[exit 0\]$/);
    assert.deepEqual(files, ["a.bin"]);
  },
);

// Reported bug: without --allow-sys, checking the directory asked for the
// user id (and crashed without a terminal).
test(
  "dlmanager never prompts for a permission when run on a terminal with only --allow-net, --allow-read and --allow-write",
  SKIP,
  async () => {
    const { screen, files } = await onTerminal([
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-write",
    ]);
    assert.doesNotMatch(screen, /Deno requests/);
    assert.match(screen, /\n\[exit 0\]$/);
    assert.deepEqual(files, ["a.bin"]);
  },
);

test("dlmanager downloads without --allow-sys or --allow-env when stdin is not a terminal", async () => {
  await using server = await startServer({ "/a.bin": bytesRoute(A) });
  await using dir = await tempDir();
  const result = await runCli(["-d", dir.join("out"), server.url("/a.bin")], {
    permissions: ["--allow-net=127.0.0.1", "--allow-read", "--allow-write"],
  });
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  assert.deepEqual(await dir.list("out"), ["a.bin"]);
  await assertFileHolds(dir.join("out", "a.bin"), A);
});

// Reported bug: without --allow-net, Deno's permission error was taken for a
// connection failure, and retried 3 times with backoff.
test("dlmanager fails at once, saying which permission is missing, when run without --allow-net", async () => {
  await using server = await startServer({ "/a.bin": bytesRoute(A) });
  await using dir = await tempDir();
  const result = await runCli(["-d", dir.join("out"), server.url("/a.bin")], {
    permissions: ["--allow-read", "--allow-write"],
  });
  assert.equal(result.code, 1);
  assert.doesNotMatch(result.stdout, /retrying/);
  assert.match(
    result.stderr,
    /^failed {2}a\.bin: Requires net access to "127\.0\.0\.1:\d+", run again with the --allow-net flag\n$/,
  );
  assert.match(result.stdout, /^Finished: 0 done, 0 skipped, 1 failed, /m);
  assert.deepEqual(await dir.list("out"), []);
});
