// UsageError (src/cli/usage_error.ts).

import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError } from "../../src/cli/usage_error.ts";

test("UsageError() is an Error named UsageError when constructed with a message", () => {
  const error = new UsageError("bad");
  assert.ok(error instanceof Error);
  assert.equal(error.name, "UsageError");
  assert.equal(error.message, "bad");
});
