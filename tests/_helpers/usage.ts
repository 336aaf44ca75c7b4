// Asserting on the CLI's usage errors.

import assert from "node:assert/strict";
import { UsageError } from "../../src/cli/usage_error.ts";

/** Asserts that `fn` throws a UsageError with exactly `message`. */
export function throwsUsage(fn: () => unknown, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UsageError, `not a UsageError: ${error}`);
    assert.equal(error.name, "UsageError");
    assert.equal(error.message, message);
    return true;
  });
}
