// How failures are named, from the shapes each runtime gives them (seen on
// Node 20's undici, Deno 2.9 and Bun 1.4). The real failures, from real
// sockets, are in download_faults_test.ts; these cover what a test machine
// cannot make on demand (a temporary DNS failure, an unreachable network).

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  classifyNetworkFailure,
  isLengthRefused,
  malformedAnswer,
} from "../../src/_http/network_failure.ts";
import { NetworkError } from "../../src/errors.ts";
import { isRetryable } from "../../src/_http/retry_policy.ts";

/** An error with `code`, as Node's system errors and Bun's fetch errors are. */
function coded(message: string, code: string, cause?: unknown): Error {
  return Object.assign(new Error(message, { cause }), { code });
}

/** Node's fetch: "fetch failed", the system error in `cause`. */
function node(code: string, message = `connect ${code}`): Error {
  return new TypeError("fetch failed", { cause: coded(message, code) });
}

/** Deno's fetch: a message only, one level down. */
function deno(message: string): Error {
  return new TypeError("fetch failed", {
    cause: new Error(
      `error sending request for url (http://h.example/try-again/tls): client error (Connect): ${message}`,
    ),
  });
}

test("classifyNetworkFailure() names a temporary lookup failure EAI_AGAIN on every runtime", () => {
  for (
    const error of [
      node("EAI_AGAIN", "getaddrinfo EAI_AGAIN h.example"),
      deno(
        "dns error: failed to lookup address information: Temporary failure in name resolution",
      ),
      coded("getaddrinfo EAI_AGAIN h.example", "EAI_AGAIN"),
    ]
  ) {
    assert.deepEqual(classifyNetworkFailure(error), {
      code: "EAI_AGAIN",
      reason: "host name lookup failed for now",
    });
  }
});

test("classifyNetworkFailure() names a name that does not exist ENOTFOUND on every runtime", () => {
  for (
    const error of [
      node("ENOTFOUND", "getaddrinfo ENOTFOUND h.example"),
      deno(
        "dns error: failed to lookup address information: Name or service not known",
      ),
      coded("getaddrinfo ENOTFOUND h.example", "ENOTFOUND"),
    ]
  ) {
    assert.equal(classifyNetworkFailure(error).code, "ENOTFOUND");
  }
});

test("classifyNetworkFailure() names refused, reset, timed out and unreachable connections", () => {
  const cases: [unknown, string][] = [
    [node("ECONNREFUSED"), "ECONNREFUSED"],
    [
      deno("tcp connect error: Connection refused (os error 111)"),
      "ECONNREFUSED",
    ],
    [coded("Unable to connect", "ConnectionRefused"), "ECONNREFUSED"],
    [node("ECONNRESET"), "ECONNRESET"],
    [node("UND_ERR_SOCKET", "other side closed"), "ECONNRESET"],
    [new TypeError("error reading a body from connection"), "ECONNRESET"],
    [deno("connection closed before message completed"), "ECONNRESET"],
    [node("UND_ERR_CONNECT_TIMEOUT"), "ETIMEDOUT"],
    [
      deno("tcp connect error: Connection timed out (os error 110)"),
      "ETIMEDOUT",
    ],
    [node("EHOSTUNREACH"), "EHOSTUNREACH"],
    [
      deno("tcp connect error: No route to host (os error 113)"),
      "EHOSTUNREACH",
    ],
    [node("ENETUNREACH"), "ENETUNREACH"],
    [
      deno("tcp connect error: Network is unreachable (os error 101)"),
      "ENETUNREACH",
    ],
  ];
  for (const [error, code] of cases) {
    assert.equal(classifyNetworkFailure(error).code, code, String(error));
  }
});

test("classifyNetworkFailure() names Node's and Bun's fetch giving up by their own limits ETIMEDOUT, not a closed connection", () => {
  // As Node 20's fetch fails, with no headers, or no body bytes, for 300 s.
  const headers = node("UND_ERR_HEADERS_TIMEOUT", "Headers Timeout Error");
  const body = new TypeError("terminated", {
    cause: coded("Body Timeout Error", "UND_ERR_BODY_TIMEOUT"),
  });
  // As Bun 1.4's does, after 360 s.
  const bun = new DOMException("The operation timed out.", "TimeoutError");
  for (const error of [headers, body, bun]) {
    assert.deepEqual(classifyNetworkFailure(error), {
      code: "ETIMEDOUT",
      reason: "connection timed out",
    });
  }
});

// The variable the runtime running the tests reads its extra authorities from.
const CA_VARIABLE = "Deno" in globalThis ? "DENO_CERT" : "NODE_EXTRA_CA_CERTS";
const TRUST_HINT =
  ` (to trust the authority that signed it, name its PEM file in ${CA_VARIABLE})`;

test("classifyNetworkFailure() names a rejected certificate CERT, with the runtime's words", () => {
  const cases: [unknown, string][] = [
    [
      node("DEPTH_ZERO_SELF_SIGNED_CERT", "self-signed certificate"),
      `certificate rejected: self-signed certificate${TRUST_HINT}`,
    ],
    [
      node("ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match"),
      "certificate rejected: Hostname/IP does not match",
    ],
    [
      node("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify"),
      `certificate rejected: unable to verify${TRUST_HINT}`,
    ],
    [
      node("CERT_HAS_EXPIRED", "certificate has expired"),
      "certificate rejected: certificate has expired",
    ],
  ];
  for (const [error, reason] of cases) {
    assert.deepEqual(classifyNetworkFailure(error), { code: "CERT", reason });
  }
  // Deno's words without the request's URL (already in the error's message)
  // before them.
  const denoCases: [unknown, string][] = [
    [
      deno("invalid peer certificate: UnknownIssuer"),
      `certificate rejected: invalid peer certificate: UnknownIssuer${TRUST_HINT}`,
    ],
    [
      deno(
        "invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))",
      ),
      `certificate rejected: invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))${TRUST_HINT}`,
    ],
    [
      deno("invalid peer certificate: Expired"),
      "certificate rejected: invalid peer certificate: Expired",
    ],
    [
      deno("invalid peer certificate: NotValidForName"),
      "certificate rejected: invalid peer certificate: NotValidForName",
    ],
  ];
  for (const [error, reason] of denoCases) {
    assert.deepEqual(classifyNetworkFailure(error), { code: "CERT", reason });
  }
});

test("classifyNetworkFailure() names the server of a certificate or TLS failure, when given", () => {
  assert.deepEqual(
    classifyNetworkFailure(
      node("CERT_HAS_EXPIRED", "certificate has expired"),
      "cdn.example:8443",
    ),
    {
      code: "CERT",
      reason:
        "certificate rejected (cdn.example:8443): certificate has expired",
    },
  );
  assert.equal(
    classifyNetworkFailure(
      deno("received corrupt message of type InvalidContentType"),
      "cdn.example",
    ).reason,
    "secure connection (TLS) failed (cdn.example): received corrupt message of type InvalidContentType",
  );
  // A failure whose reason names no detail names no server either.
  assert.deepEqual(
    classifyNetworkFailure(node("ECONNREFUSED"), "cdn.example"),
    { code: "ECONNREFUSED", reason: "connection refused" },
  );
});

test("classifyNetworkFailure() names Deno's TLS failures as Node and Bun name them", () => {
  // rustls's words for a peer that speaks no TLS (an https: URL to a plain
  // HTTP port), and for one that closes the connection mid-handshake.
  const cases: [unknown, string][] = [
    [deno("received corrupt message of type InvalidContentType"), "TLS"],
    [deno("peer is incompatible: Tls12NotOffered"), "TLS"],
    [deno("received fatal alert: HandshakeFailure"), "TLS"],
    [deno("tls handshake eof"), "ECONNRESET"],
  ];
  for (const [error, code] of cases) {
    assert.equal(classifyNetworkFailure(error).code, code, String(error));
  }
});

test("classifyNetworkFailure() does not read the URL in Deno's messages as the cause", () => {
  // The URL holds "try-again" and "tls"; the cause is a refused connection.
  assert.equal(
    classifyNetworkFailure(deno("tcp connect error: Connection refused")).code,
    "ECONNREFUSED",
  );
});

test("classifyNetworkFailure() names anything else UNKNOWN, with the innermost message", () => {
  assert.deepEqual(
    classifyNetworkFailure(
      new TypeError("fetch failed", {
        cause: new Error("something new"),
      }),
    ),
    { code: "UNKNOWN", reason: "connection failed: something new" },
  );
  assert.deepEqual(classifyNetworkFailure("a string"), {
    code: "UNKNOWN",
    reason: "connection failed: a string",
  });
});

test("classifyNetworkFailure() leaves out the words Deno 2.9 puts before a failure on a connection it had made", () => {
  // Seen from Deno 2.9.6, once connected: the local and the server's
  // address, the URL, and hyper's stage.
  const error = new TypeError("fetch failed", {
    cause: new Error(
      "error sending request from 127.0.0.1:49764 for http://127.0.0.1:36963/f (127.0.0.1:36963): client error (SendRequest): something new",
    ),
  });
  assert.deepEqual(classifyNetworkFailure(error), {
    code: "UNKNOWN",
    reason: "connection failed: something new",
  });
});

test("malformedAnswer() tells an answer the runtime's parser refused, in its words, and not a body the connection cut", () => {
  /** undici's parser error: Node 20's with a code, Node 24's without. */
  function parser(message: string, code?: string): Error {
    const error = new Error(
      `Response does not match the HTTP/1.1 protocol (${message})`,
    );
    error.name = "HTTPParserError";
    return Object.assign(error, code === undefined ? {} : { code });
  }
  const refused: [unknown, string][] = [
    [
      new TypeError("fetch failed", {
        cause: parser(
          "Duplicate Content-Length",
          "HPE_UNEXPECTED_CONTENT_LENGTH",
        ),
      }),
      "Response does not match the HTTP/1.1 protocol (Duplicate Content-Length)",
    ],
    [
      new TypeError("terminated", {
        cause: parser("Invalid character in chunk size"),
      }),
      "Response does not match the HTTP/1.1 protocol (Invalid character in chunk size)",
    ],
    [
      new TypeError("fetch failed", {
        cause: new Error(
          "error sending request from 127.0.0.1:49764 for http://127.0.0.1:36963/f (127.0.0.1:36963): client error (SendRequest): invalid content-length parsed",
        ),
      }),
      "invalid content-length parsed",
    ],
    [
      coded(
        'InvalidContentLength fetching "http://127.0.0.1:9/f". For more information, pass `verbose: true` in the second argument to fetch()',
        "InvalidContentLength",
      ),
      "InvalidContentLength",
    ],
  ];
  for (const [error, words] of refused) {
    assert.equal(malformedAnswer(error), words);
  }
  for (
    const cut of [
      new TypeError("terminated", {
        cause: parser("Invalid EOF state", "HPE_INVALID_EOF_STATE"),
      }),
      new TypeError("terminated", { cause: parser("Invalid EOF state") }),
      new TypeError("error reading a body from connection"),
      node("ECONNRESET"),
    ]
  ) {
    assert.equal(malformedAnswer(cut), undefined, String(cut.cause ?? cut));
  }
});

test("isLengthRefused() tells undici's refusal of a Content-Length (Node 22 on) from other failures", () => {
  const refused = new TypeError("fetch failed", {
    cause: coded(
      "Response body length does not match content-length header",
      "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
    ),
  });
  assert.equal(isLengthRefused(refused), true);
  assert.equal(isLengthRefused(node("ECONNRESET")), false);
  assert.equal(isLengthRefused(new TypeError("fetch failed")), false);
});

test("classifyNetworkFailure() names a port the runtime's fetch refuses BAD_PORT, in Node's and Deno's words", () => {
  for (
    const error of [
      // undici: a network error "bad port", made before any connection.
      new TypeError("fetch failed", { cause: new Error("bad port") }),
      new TypeError("Fetch failed: Requests to port 6000 are blocked"),
    ]
  ) {
    const { code, reason } = classifyNetworkFailure(error);
    assert.equal(code, "BAD_PORT");
    assert.ok(reason.startsWith("port blocked by the runtime's fetch"), reason);
  }
});

test("isRetryable() retries a NetworkError but ENOTFOUND, CERT and BAD_PORT", () => {
  const url = "http://h.example/f";
  assert.equal(isRetryable(new NetworkError(url, node("ECONNREFUSED"))), true);
  assert.equal(isRetryable(new NetworkError(url, node("EAI_AGAIN"))), true);
  assert.equal(isRetryable(new NetworkError(url, node("ECONNRESET"))), true);
  assert.equal(isRetryable(new NetworkError(url, new Error("?"))), true);
  assert.equal(isRetryable(new NetworkError(url, node("ENOTFOUND"))), false);
  assert.equal(
    isRetryable(new NetworkError(url, node("DEPTH_ZERO_SELF_SIGNED_CERT"))),
    false,
  );
  assert.equal(
    isRetryable(
      new NetworkError(
        url,
        new TypeError("fetch failed", {
          cause: new Error("bad port"),
        }),
      ),
    ),
    false,
  );
});

test("NetworkError names the host of a failed lookup", () => {
  const error = new NetworkError("http://h.example:8080/f", node("EAI_AGAIN"));
  assert.equal(
    error.message,
    'Cannot download "http://h.example:8080/f": host name lookup failed for now (h.example)',
  );
  assert.equal(error.code, "EAI_AGAIN");
});

test("NetworkError names the proxy a request went through, and the proxy's host for a failed lookup", () => {
  const url = "http://h.example/f";
  const proxy = "http://proxy.example:3128";
  const refused = new NetworkError(url, node("ECONNREFUSED"), url, proxy);
  assert.equal(
    refused.message,
    'Cannot download "http://h.example/f": connection refused (through the proxy http://proxy.example:3128)',
  );
  assert.equal(refused.proxy, proxy);
  const lookup = new NetworkError(url, node("ENOTFOUND"), url, proxy);
  assert.equal(
    lookup.message,
    'Cannot download "http://h.example/f": host name not found (the proxy proxy.example)',
  );
  assert.equal(new NetworkError(url, node("ECONNREFUSED")).proxy, undefined);
});
