// What a failed request means for a download, from the shapes each runtime
// gives a failure. Deno's real permission error, from a CLI run without
// --allow-net, is in tests/cli/permissions_deno_test.ts.

import assert from "node:assert/strict";
import { test } from "node:test";
import { failureOf } from "../../src/_http/failure.ts";
import { isRetryable } from "../../src/_http/retry_policy.ts";
import { NetworkError } from "../../src/errors.ts";

const URL = "http://127.0.0.1:9/f";

/** An error named `name`, as Deno's `Deno.errors` classes are. */
function named(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

test("failureOf() returns a permission error as it is, and it is not retried, when the runtime refuses the request", () => {
  const signal = new AbortController().signal;
  const cases = [
    named(
      "NotCapable",
      'Requires net access to "127.0.0.1:9", run again with the --allow-net flag',
    ),
    named("PermissionDenied", 'Requires net access to "127.0.0.1:9"'),
    Object.assign(new Error("Access to this API has been restricted"), {
      code: "ERR_ACCESS_DENIED",
    }),
  ];
  for (const error of cases) {
    const failure = failureOf(URL, error, signal);
    assert.equal(failure, error);
    assert.equal(isRetryable(failure), false);
  }
});

test("failureOf() names any other failed request a NetworkError, retried", () => {
  const failure = failureOf(
    URL,
    new TypeError("fetch failed"),
    new AbortController().signal,
  );
  assert.ok(failure instanceof NetworkError);
  assert.equal(isRetryable(failure), true);
});
