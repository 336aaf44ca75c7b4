// A file's bytes against what it should hold. On a mismatch,
// `assert.deepEqual` of two byte arrays makes node:assert diff them byte by
// byte: for two of 4 MiB it took 20 GB of memory before the machine killed
// the test run. Where they first differ is what helps, and costs nothing.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";

/**
 * Asserts that `actual` is `expected`, byte for byte; else fails saying
 * both lengths and where they first differ.
 */
export function assertSameBytes(
  actual: Uint8Array,
  expected: Uint8Array,
  message?: string,
): void {
  const shorter = Math.min(actual.byteLength, expected.byteLength);
  let at = 0;
  while (at < shorter && actual[at] === expected[at]) at++;
  if (at === shorter && actual.byteLength === expected.byteLength) return;
  assert.fail(
    `${message === undefined ? "" : `${message}: `}${actual.byteLength} ` +
      `bytes where ${expected.byteLength} were expected, the first ` +
      `difference at byte ${at}`,
  );
}

/** Asserts that the file at `path` holds `expected` (see {@linkcode assertSameBytes}). */
export async function assertFileHolds(
  path: string,
  expected: Uint8Array,
  message?: string,
): Promise<void> {
  assertSameBytes(new Uint8Array(await readFile(path)), expected, message);
}
