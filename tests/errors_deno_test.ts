// The errors made by another copy of `errors.ts` in this process, as a
// process that loads the npm package's ES module and CommonJS builds (or
// two versions of the package) has. Deno only: the second copy is the same
// file imported with a query string, which Deno's loader keeps apart (the
// npm build leaves out files ending in _deno_test.ts; `build_npm.ts` checks
// the two builds in one Node process).

import assert from "node:assert/strict";
import { test } from "node:test";
import * as errors from "../src/errors.ts";
import { SourceMismatch } from "../src/_transfer/sources.ts";

const copy: typeof errors = await import("../src/errors.ts?copy");

/** One of each error class, made by `from`. */
function oneOfEach(from: typeof errors): Record<string, Error> {
  const url = "https://example.com/f";
  return {
    DownloadInterrupt: new from.DownloadInterrupt(),
    HTTPError: new from.HTTPError(404, url),
    NetworkError: new from.NetworkError(url, new Error("reset")),
    TimeoutError: new from.TimeoutError("idle", 1000, url),
    ProtocolError: new from.ProtocolError("short"),
    RedirectError: new from.RedirectError("loop"),
    IntegrityError: new from.IntegrityError(url, {
      algorithm: "sha256",
      expected: "aa",
      actual: "bb",
    }),
    RetriesExhaustedError: new from.RetriesExhaustedError(url, [
      new Error("a"),
      new Error("b"),
    ]),
    LockTimeoutError: new from.LockTimeoutError(url, "f", 1000, undefined),
    ManagerClosedError: new from.ManagerClosedError(url, "cache"),
    FileSystemError: new from.FileSystemError("Cannot", "f", "ENOSPC"),
  };
}

test("instanceof recognises each error class's errors made by another copy of the module, and no other", () => {
  assert.notEqual(copy.HTTPError, errors.HTTPError);
  const theirs = oneOfEach(copy);
  const names = Object.keys(theirs);
  for (const name of names) {
    const ours = (errors as unknown as Record<string, new () => Error>)[name];
    assert.ok(ours !== undefined, name);
    for (const [made, error] of Object.entries(theirs)) {
      assert.equal(error instanceof ours, made === name, `${made} ${name}`);
    }
  }
});

test("instanceof recognises a subclass's errors as its base class's, across copies, and still only its own as the subclass's", () => {
  const mismatch = new SourceMismatch(
    "https://example.com/f",
    "https://b/f",
    1,
    2,
  );
  assert.ok(mismatch instanceof copy.ProtocolError);
  assert.ok(!(new copy.ProtocolError("short") instanceof SourceMismatch));
  class Mine extends errors.HTTPError {}
  assert.ok(!(new copy.HTTPError(404, "u") instanceof Mine));
  assert.ok(new Mine(404, "u") instanceof copy.HTTPError);
  assert.ok(!({} instanceof errors.HTTPError));
  assert.ok(!((null as unknown) instanceof errors.HTTPError));
});
