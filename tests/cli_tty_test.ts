// The CLI's live display under a real pseudo-terminal: tmux runs it in a
// pane of a fixed size, and the tests assert on the captured screen (and its
// scrollback) that the lines are redrawn in place and fit the width. The
// renderer lives in src/cli/render.ts. Skipped where tmux is missing (.ci/run
// installs it).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { test } from "node:test";
import { cliCommand } from "./_cli.ts";
import { bytesRoute, deferred, patternBytes, startServer } from "./_server.ts";
import { tempDir } from "./_temp_dir.ts";

const HAS_TMUX = spawnSync("tmux", ["-V"]).status === 0;

function quote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** A tmux server of its own, with one pane of `width` x `height`. */
function tmuxPane(
  socket: string,
  config: string,
  width: number,
  height: number,
  command: string,
): {
  tmux: (...args: string[]) => string;
  screen: (history?: boolean) => string[];
  until: (ready: (lines: string[]) => boolean) => Promise<string[]>;
  [Symbol.dispose](): void;
} {
  const tmux = (...args: string[]): string => {
    const result = spawnSync("tmux", ["-S", socket, "-f", config, ...args], {
      encoding: "utf8",
    });
    if (result.status !== 0) throw new Error(`tmux ${args}: ${result.stderr}`);
    return result.stdout;
  };
  tmux(
    "new-session",
    "-d",
    "-x",
    String(width),
    "-y",
    String(height),
    command,
  );
  const screen = (history = false): string[] =>
    tmux("capture-pane", "-p", "-J", ...(history ? ["-S", "-"] : []), "-t", "0")
      .replace(/\s+$/, "").split("\n").map((line) => line.trimEnd());
  return {
    tmux,
    screen,
    // Polls the screen (there is no event to await from a terminal) until
    // `ready` holds; the test's timeout bounds it.
    async until(ready): Promise<string[]> {
      for (;;) {
        const lines = screen();
        if (ready(lines)) return lines;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    [Symbol.dispose]: () => void tmux("kill-server"),
  };
}

test(
  "dlmanager redraws one line per download and a total line in place, within the width",
  { skip: !HAS_TMUX && "tmux is not installed", timeout: 60_000 },
  async () => {
    const gate = deferred();
    const sized = patternBytes(3 * 1024 * 1024, 1);
    await using server = await startServer({
      "/a-file-with-a-rather-long-name-that-must-be-cut.bin": bytesRoute(
        sized,
        { gate: gate.promise, gateAt: 1024 * 1024 + 5 },
      ),
      "/stream.bin": bytesRoute(patternBytes(2 * 1024 * 1024, 2), {
        contentLength: false,
        gate: gate.promise,
        gateAt: 1024 * 1024 + 5,
      }),
    });
    await using dir = await tempDir();
    await writeFile(dir.join("tmux.conf"), "set -g status off\n");
    const [runtime, leading] = cliCommand();
    const command = [
      "env",
      "NO_COLOR=1",
      runtime,
      ...leading,
      "-d",
      dir.join("out"),
      server.url("/a-file-with-a-rather-long-name-that-must-be-cut.bin"),
      server.url("/stream.bin"),
    ].map(quote).join(" ");
    const width = 60;
    using pane = tmuxPane(
      dir.join("tmux.sock"),
      dir.join("tmux.conf"),
      width,
      12,
      `${command}; echo "[exit $?]"; sleep 600`,
    );

    // Both have 1 MiB on disk and wait for the gate.
    const during = await pane.until((lines) =>
      lines.some((line) => line.includes(" 33% 1.0 MiB/3.0 MiB")) &&
      lines.some((line) =>
        line.startsWith("stream.bin") && line.includes("1.0 MiB")
      )
    );
    const live = during.filter((line) => line !== "");
    assert.equal(live.length, 3, during.join("\n"));
    assert.match(
      live[0] ?? "",
      /^a-file-with~ {2}\[=+> *\] {1,2}33% 1\.0 MiB\/3\.0 MiB/,
    );
    assert.match(live[1] ?? "", /^stream\.bin +[|/\\-] 1\.0 MiB/);
    assert.match(live[2] ?? "", /^Total: 2 active, 0 done {2}2\.0 MiB/);
    for (const line of during) assert.ok(line.length < width, line);
    // Redrawn, not scrolled: nothing above the live area but those lines.
    assert.deepEqual(
      pane.screen(true).filter((line) => line !== ""),
      live,
    );

    gate.resolve();
    const after = await pane.until((lines) =>
      lines.some((line) => line.startsWith("[exit "))
    );
    const text = after.filter((line) => line !== "");
    assert.equal(text.length, 4, after.join("\n"));
    assert.match(
      text.join("\n"),
      /^done {4}(a-file-with-a-rather-long-name-that-must-be-cut\.bin \(3\.0 MiB|stream\.bin \(2\.0 MiB) in [^\n]+\ndone {4}(a-file|stream)[^\n]+\nFinished: 2 done, 0 skipped, 0 failed, 5\.0 MiB in [^\n]+\n\[exit 0\]$/,
    );
    assert.deepEqual(pane.screen(true).filter((line) => line !== ""), text);
  },
);
