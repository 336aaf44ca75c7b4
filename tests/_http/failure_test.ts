// What a failed request means for a download, from the shapes each runtime
// gives a failure. Deno's real permission error, from a CLI run without
// --allow-net, is in tests/cli/permissions_deno_test.ts.

import assert from "node:assert/strict";
import { test } from "node:test";
import { failureOf } from "../../src/_http/failure.ts";
import { TUNNEL_ANSWER_NOT_HTTP } from "../../src/_http/network_failure.ts";
import { isRetryable } from "../../src/_http/retry_policy.ts";
import { asFileSystemError } from "../../src/_disk/file_system_failure.ts";
import { FileSystemError, NetworkError, ProxyError } from "../../src/errors.ts";

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

test("failureOf() returns the system's EMFILE as it is, not retried, told as a FileSystemError, when no descriptor was left for the connection", () => {
  // The shape the running runtime's fetch gives (the real one, from a child
  // run out of descriptors, is in tests/download_manager_emfile_test.ts).
  const system = "Deno" in globalThis
    ? new Error(
      "tcp connect error: Too many open files (os error 24)",
    )
    : "Bun" in globalThis
    // Bun's fetch: its own error, named by its code alone.
    ? Object.assign(
      new TypeError("EMFILE: Was there a typo in the url or port?"),
      { code: "EMFILE", path: URL, errno: 0 },
    )
    : Object.assign(new Error("connect EMFILE 127.0.0.1:9 - Local"), {
      code: "EMFILE",
      syscall: "connect",
      errno: -24,
    });
  const error = "Bun" in globalThis
    ? system
    : new TypeError("fetch failed", { cause: system });
  const failure = failureOf(URL, error, new AbortController().signal);
  assert.ok(failure === error || failure === system);
  assert.equal(isRetryable(failure), false);
  const told = asFileSystemError(failure, "Cannot download", "/d/f");
  assert.ok(told instanceof FileSystemError);
  assert.equal(told.code, "EMFILE");
  assert.equal(
    told.message,
    "Cannot download: too many open files (EMFILE)",
  );
});

test("failureOf() returns a ProxyError naming the proxy, retried by its status, for each runtime's refused tunnel", () => {
  const signal = new AbortController().signal;
  const proxy = "http://proxy.example:3128";
  // The shapes Node (undici), Bun and Deno 2.9.6 gave the test proxy's
  // refusals (tests/download_proxy_test.ts).
  const undici = (status: number) =>
    new TypeError("fetch failed", {
      cause: new Error("Request was cancelled.", {
        cause: Object.assign(
          new Error(`Proxy response (${status}) !== 200 when HTTP Tunneling`),
          { name: "AbortError", code: "UND_ERR_ABORTED" },
        ),
      }),
    });
  const bun = (status: number, text: string) =>
    Object.assign(
      new Error(`Proxy refused to open a tunnel: ${status} ${text}`),
      {
        code: "ERR_PROXY_TUNNEL",
      },
    );
  const deno = (words: string) =>
    new TypeError("fetch failed", {
      cause: new Error(
        `error sending request for url (${URL}): client error (Connect): ${words}`,
      ),
    });
  const cases: [unknown, number | undefined, boolean][] = [
    [undici(407), 407, false],
    [undici(403), 403, false],
    [undici(502), 502, true],
    [bun(407, "Proxy Authentication Required"), 407, false],
    [bun(403, "Forbidden"), 403, false],
    [bun(503, "Service Unavailable"), 503, true],
    [deno("proxy authentication required"), 407, false],
    [deno("unsuccessful tunnel"), undefined, true],
    // The npm package's words around undici's parse error of the proxy's
    // answer to CONNECT (_runtime/fetch.npm.ts).
    [
      new TypeError("fetch failed", {
        cause: new Error(TUNNEL_ANSWER_NOT_HTTP, {
          cause: Object.assign(new Error("Response does not match"), {
            name: "HTTPParserError",
          }),
        }),
      }),
      undefined,
      true,
    ],
  ];
  for (const [error, status, retried] of cases) {
    const failure = failureOf(URL, error, signal, URL, proxy);
    assert.ok(failure instanceof ProxyError, String(failure));
    assert.equal(failure.status, status);
    assert.equal(failure.proxy, proxy);
    assert.equal(failure.cause, error);
    assert.equal(isRetryable(failure), retried, String(status));
    assert.ok(failure.message.includes(`the proxy ${proxy} `), failure.message);
  }
});

test("failureOf() names the proxy a request went through when its answer is not valid HTTP, not retried", () => {
  const signal = new AbortController().signal;
  const proxy = "http://proxy.example:3128";
  // Bun's shape: whose answer it was, the proxy's or the server's, is not
  // told.
  const error = Object.assign(
    new TypeError(`Malformed_HTTP_Response fetching "${URL}"`),
    { code: "Malformed_HTTP_Response" },
  );
  const failure = failureOf(URL, error, signal, URL, proxy);
  assert.ok(failure instanceof Error, String(failure));
  assert.equal(
    failure.message,
    `Cannot download "${URL}": the server's answer is not valid HTTP: Malformed_HTTP_Response (through the proxy ${proxy})`,
  );
  assert.equal(isRetryable(failure), false);
  assert.equal(
    (failureOf(URL, error, signal) as Error).message,
    `Cannot download "${URL}": the server's answer is not valid HTTP: Malformed_HTTP_Response`,
  );
});
