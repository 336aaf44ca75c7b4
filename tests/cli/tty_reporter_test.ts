// TtyReporter over a fake terminal: which width and height its frames are
// laid out for. The live display itself is tested in render_test.ts, and on
// a real terminal in tty_test.ts.

import assert from "node:assert/strict";
import { mock, test } from "node:test";
import type { RunView } from "../../src/cli/reporter.ts";
import { TtyReporter } from "../../src/cli/tty_reporter.ts";

// A terminal's control sequence: ESC [ parameters, a final letter.
const CONTROL_SEQUENCE = new RegExp(String.raw`\x1b\[[0-9;?]*[A-Za-z]`, "g");

const VIEW: RunView = {
  rows: () => [{
    name: "a.bin",
    current: 512,
    total: 1024,
    speed: undefined,
    started: true,
  }],
  totals: () => ({
    active: 1,
    queued: 0,
    done: 0,
    skipped: 0,
    failed: 0,
    bytes: 512,
    speed: undefined,
    elapsed: 1000,
  }),
};

/** What a TtyReporter writes for one logged line on a terminal `columns` wide. */
function frameAt(columns: number | undefined): string[] {
  mock.timers.enable({ apis: ["setInterval"] });
  try {
    let text = "";
    const reporter = new TtyReporter(
      { write: (chunk: string) => text += chunk, columns, rows: 24 },
      { write: () => {} },
      VIEW,
      false,
    );
    reporter.report({ event: "cancel", name: "b.bin", url: "http://x/b.bin" });
    reporter.stop();
    // The lines written, without their control sequences.
    return text.replace(CONTROL_SEQUENCE, "").replaceAll("\r", "")
      .split("\n").filter((line) => line !== "");
  } finally {
    mock.timers.reset();
  }
}

test("TtyReporter lays its frames out 80 columns wide when the terminal reports 0, a negative or no width", () => {
  const expected = frameAt(80);
  assert.equal(expected[0], "canceled b.bin");
  assert.match(expected[1] ?? "", /^a\.bin +\[=+> *\] +50% 512 B\/1\.0 KiB/);
  assert.match(expected[2] ?? "", /^Total: 1 active, 0 done {2}512 B/);
  for (const columns of [0, -1, undefined]) {
    assert.deepEqual(frameAt(columns), expected, String(columns));
  }
});
