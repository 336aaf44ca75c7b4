// The command line's documentation says what the code does: docs/cli.md
// shows --help as it is. Deno only: it reads the repository's files.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { HELP } from "../../src/cli/help.ts";

test("docs/cli.md shows the --help text as dlmanager prints it", () => {
  const doc = readFileSync("docs/cli.md", "utf8");
  const options = doc.slice(doc.indexOf("## Options"));
  const shown = /```text\n(.*?)```/s.exec(options)?.[1];
  assert.equal(shown, HELP);
});
