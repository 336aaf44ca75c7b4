// The listener limit of a signal the library adds many listeners to (see
// src/_listeners.ts): on Node, no MaxListenersExceededWarning for them.

import assert from "node:assert/strict";
import { getMaxListeners } from "node:events";
import { test } from "node:test";
import { expectListeners } from "../src/_listeners.ts";
import { recordWarnings } from "./_helpers/warnings.ts";

test("expectListeners() lets a signal take that many more listeners without a warning, and lowers it back", async () => {
  using warnings = recordWarnings();
  const { signal } = new AbortController();
  const limit = getMaxListeners(signal);
  expectListeners(signal, 16);
  // Node's limit (10) raised by 16; a runtime with none (0) keeps none.
  assert.equal(getMaxListeners(signal), limit === 0 ? 0 : limit + 16);
  const listeners = Array.from({ length: 26 }, () => () => {});
  for (const listener of listeners) signal.addEventListener("abort", listener);
  await warnings.settled();
  assert.deepEqual(warnings.names, []);
  for (const listener of listeners) {
    signal.removeEventListener("abort", listener);
  }
  expectListeners(signal, -16);
  assert.equal(getMaxListeners(signal), limit);
});
