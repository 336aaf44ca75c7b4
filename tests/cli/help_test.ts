// The help text (src/cli/help.ts): every option and exit status is there.

import assert from "node:assert/strict";
import { test } from "node:test";
import { HELP } from "../../src/cli/help.ts";

test("HELP lists every option when printed", () => {
  for (
    const option of [
      "-d, --dir DIR",
      "-i, --input-file FILE",
      "-o, --output NAME",
      "-j, --jobs N",
      "--retries N",
      "--timeout SECONDS",
      "--header 'K: V'",
      "--sha256 HEX",
      "--integrity SRI",
      "--max-size SIZE",
      "--keep N",
      "-q, --quiet",
      "--json",
      "-V, --version",
      "-h, --help",
    ]
  ) {
    assert.ok(HELP.includes(`  ${option} `), option);
  }
  assert.ok(HELP.startsWith("Usage: dlmanager [options] URL...\n"));
});

test("HELP gives every exit status when printed", () => {
  const text = HELP.slice(HELP.indexOf("Exit status:")).replaceAll("\n", " ");
  for (
    const status of [
      "0 all downloaded or present",
      "1 some failed",
      "2 usage error",
      "130 on Ctrl-C (SIGINT)",
      "143 on SIGTERM",
      "129 on SIGHUP",
      "141 when the output is closed",
    ]
  ) {
    assert.ok(text.includes(status), status);
  }
});
