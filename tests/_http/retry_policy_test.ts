import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type BackoffOptions,
  BUSY_RETRY_AFTER,
  FinalProtocolError,
  isRetryable,
  leavesResumable,
  leavesSource,
  parseRetryAfter,
  retryDelay,
} from "../../src/_http/retry_policy.ts";
import {
  DownloadInterrupt,
  HTTPError,
  IntegrityError,
  NetworkError,
  ProtocolError,
  ProxyError,
  RedirectError,
  RetriesExhaustedError,
  TimeoutError,
} from "../../src/errors.ts";
import { SourceMismatch } from "../../src/_transfer/sources.ts";

const URL = "https://example.com/f";

const BACKOFF: BackoffOptions = {
  backoffBase: 1000,
  backoffCap: 30_000,
  retryAfterCap: 120_000,
};

/** A `random` that always returns `value`. */
function fixed(value: number): () => number {
  return () => value;
}

// isRetryable

test("isRetryable() returns true when the error is an HTTPError with a 'try again later' status", () => {
  for (const status of [408, 429, 500, 502, 503, 504]) {
    assert.equal(isRetryable(new HTTPError(status, URL)), true, `${status}`);
  }
});

test("isRetryable() returns false when the error is an HTTPError with any other status", () => {
  for (const status of [400, 401, 403, 404, 410, 416, 501, 505]) {
    assert.equal(isRetryable(new HTTPError(status, URL)), false, `${status}`);
  }
});

test("isRetryable() returns true when the error is a NetworkError, TimeoutError or ProtocolError", () => {
  assert.equal(isRetryable(new NetworkError(URL, new TypeError("x"))), true);
  assert.equal(isRetryable(new TimeoutError("connect", 10, URL)), true);
  assert.equal(isRetryable(new TimeoutError("idle", 10, URL)), true);
  assert.equal(isRetryable(new ProtocolError("short body")), true);
});

test("isRetryable() returns false for a ProtocolError the next attempt would meet again", () => {
  const error = new FinalProtocolError("encoded as zstd");
  assert.ok(error instanceof ProtocolError);
  assert.equal(error.name, "ProtocolError");
  assert.equal(isRetryable(error), false);
});

test("isRetryable() returns false for a ProxyError of a proxy variable the runtime cannot use, true for one of unknown status", () => {
  const unusable = new ProxyError(URL, undefined, undefined, {
    variable: "HTTP_PROXY",
    reason: 'HTTP_PROXY is not a valid proxy URL ("http://pro xy:1")',
  });
  assert.equal(
    unusable.message,
    `Cannot download "${URL}": HTTP_PROXY is not a valid proxy URL ("http://pro xy:1")`,
  );
  assert.equal(unusable.variable, "HTTP_PROXY");
  assert.equal(unusable.status, undefined);
  assert.equal(isRetryable(unusable), false);
  assert.equal(isRetryable(new ProxyError(URL, undefined, "http://p:1")), true);
  assert.equal(new ProxyError(URL, 407).variable, undefined);
});

test("isRetryable() returns false when the error is any other error or not an error", () => {
  const others: unknown[] = [
    new TypeError("fetch failed"),
    new Error("boom"),
    new IntegrityError(URL, {
      algorithm: "sha256",
      expected: "a",
      actual: "b",
    }),
    new RedirectError("too many redirects"),
    new DownloadInterrupt(),
    new DOMException("aborted", "AbortError"),
    "503",
    503,
    undefined,
    null,
  ];
  for (const error of others) {
    assert.equal(isRetryable(error), false, String(error));
  }
});

// retryDelay

test("retryDelay() doubles the ceiling per attempt up to backoffCap when random is just under 1", () => {
  const options = { backoffBase: 100, backoffCap: 1000, retryAfterCap: 5000 };
  const error = new NetworkError(URL, new Error("reset"));
  const delays = [1, 2, 3, 4, 5, 6, 50].map((attempt) =>
    retryDelay(error, attempt, options, fixed(0.999))
  );
  // Ceilings 100, 200, 400, 800, 1000 (capped), 1000, 1000; times 0.999.
  assert.deepEqual(delays, [99, 199, 399, 799, 999, 999, 999]);
});

test("retryDelay() returns the floor of random times min(cap, base * 2^(attempt-1))", () => {
  const error = new TimeoutError("idle", 10, URL);
  assert.equal(retryDelay(error, 1, BACKOFF, fixed(0.5)), 500);
  assert.equal(retryDelay(error, 2, BACKOFF, fixed(0.5)), 1000);
  assert.equal(retryDelay(error, 3, BACKOFF, fixed(0.25)), 1000);
  assert.equal(retryDelay(error, 5, BACKOFF, fixed(0.999)), 15_984);
  assert.equal(retryDelay(error, 6, BACKOFF, fixed(0.999)), 29_970);
  assert.equal(retryDelay(error, 7, BACKOFF, fixed(0.999)), 29_970);
  assert.equal(retryDelay(error, 1, BACKOFF, fixed(0.3333)), 333);
});

test("retryDelay() returns 0 when random returns 0", () => {
  const error = new ProtocolError("short body");
  for (const attempt of [1, 2, 10, 100]) {
    assert.equal(retryDelay(error, attempt, BACKOFF, fixed(0)), 0);
  }
});

test("retryDelay() calls random once per call when there is no Retry-After", () => {
  let calls = 0;
  const random = (): number => {
    calls++;
    return 0.5;
  };
  assert.equal(retryDelay(new HTTPError(503, URL), 1, BACKOFF, random), 500);
  assert.equal(calls, 1);
});

test("retryDelay() returns the HTTPError's retryAfter when it is below retryAfterCap", () => {
  const error = new HTTPError(503, URL, { retryAfter: 7000 });
  assert.equal(retryDelay(error, 1, BACKOFF, fixed(0.5)), 7000);
  assert.equal(retryDelay(error, 10, BACKOFF, fixed(0)), 7000);
});

test("retryDelay() returns retryAfterCap when the HTTPError's retryAfter is above it", () => {
  const error = new HTTPError(429, URL, { retryAfter: 3_600_000 });
  assert.equal(retryDelay(error, 1, BACKOFF, fixed(0.5)), 120_000);
});

test("retryDelay() returns 0 when the HTTPError's retryAfter is 0", () => {
  const error = new HTTPError(503, URL, { retryAfter: 0 });
  assert.equal(retryDelay(error, 3, BACKOFF, fixed(0.999)), 0);
});

test("retryDelay() does not call random when the HTTPError has a retryAfter", () => {
  const error = new HTTPError(503, URL, { retryAfter: 2000 });
  const random = (): number => assert.fail("random was called");
  assert.equal(retryDelay(error, 1, BACKOFF, random), 2000);
});

test("retryDelay() uses backoff when the HTTPError has no retryAfter", () => {
  const error = new HTTPError(503, URL);
  assert.equal(retryDelay(error, 2, BACKOFF, fixed(0.999)), 1998);
});

test("retryDelay() stays within [0, base) when random is Math.random by default", () => {
  const error = new NetworkError(URL, new Error("reset"));
  for (let i = 0; i < 100; i++) {
    const delay = retryDelay(error, 1, BACKOFF);
    assert.equal(Number.isInteger(delay), true);
    assert.ok(delay >= 0 && delay < 1000, `${delay}`);
  }
});

// parseRetryAfter

const NOW = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");

test("parseRetryAfter() returns undefined when the header is missing", () => {
  assert.equal(parseRetryAfter(null), undefined);
  assert.equal(parseRetryAfter(null, NOW), undefined);
});

test("parseRetryAfter() returns milliseconds when the value is delay-seconds", () => {
  assert.equal(parseRetryAfter("0", NOW), 0);
  assert.equal(parseRetryAfter("1", NOW), 1000);
  assert.equal(parseRetryAfter("120", NOW), 120_000);
  assert.equal(parseRetryAfter("007", NOW), 7000);
});

test("parseRetryAfter() ignores surrounding whitespace when the value is delay-seconds", () => {
  assert.equal(parseRetryAfter(" 5 ", NOW), 5000);
  assert.equal(parseRetryAfter("\t30\t", NOW), 30_000);
});

test("parseRetryAfter() returns the time until the date when the value is an HTTP date in the future", () => {
  assert.equal(
    parseRetryAfter("Wed, 21 Oct 2015 07:28:10 GMT", NOW),
    10_000,
  );
  assert.equal(
    parseRetryAfter(new Date(NOW + 90_000).toUTCString(), NOW),
    90_000,
  );
});

test("parseRetryAfter() returns 0 when the value is an HTTP date in the past or now", () => {
  assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:27:50 GMT", NOW), 0);
  assert.equal(parseRetryAfter("Thu, 01 Jan 1970 00:00:00 GMT", NOW), 0);
  assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", NOW), 0);
});

test("parseRetryAfter() measures from Date.now() when now is not given", () => {
  const future = new Date(Date.now() + 3_600_000).toUTCString();
  const delay = parseRetryAfter(future);
  assert.ok(
    delay !== undefined && delay > 3_500_000 && delay <= 3_600_000,
    `${delay}`,
  );
});

test("parseRetryAfter() returns undefined when the value is garbage", () => {
  for (const value of ["", "   ", "soon", "5s", "1e3", "0x10", "Fri, 99 Foo"]) {
    assert.equal(parseRetryAfter(value, NOW), undefined, JSON.stringify(value));
  }
});

test("parseRetryAfter() returns undefined when the value is a negative number", () => {
  // Not delay-seconds (1*DIGIT) and not an HTTP date: invalid. Date.parse()
  // is lenient and reads "-1" as a date in 2001, which must not leak through.
  assert.equal(parseRetryAfter("-1", NOW), undefined);
  assert.equal(parseRetryAfter("-120", NOW), undefined);
});

test("parseRetryAfter() returns undefined when the value is text that Date.parse() would read as a date", () => {
  // V8 reads each as a day of 2001: long past, an immediate retry.
  for (const value of ["in 5", "May 5", "x 1", "Sat 1"]) {
    assert.equal(parseRetryAfter(value, NOW), undefined, JSON.stringify(value));
  }
});

test("parseRetryAfter() reads an HTTP date in the obsolete forms, as GMT", () => {
  assert.equal(parseRetryAfter("Wed Oct 21 07:28:30 2015", NOW), 30_000);
  assert.equal(
    parseRetryAfter("Wednesday, 21-Oct-15 07:28:30 GMT", NOW),
    30_000,
  );
});

test("parseRetryAfter() returns undefined when the value is a fractional number", () => {
  // delay-seconds is 1*DIGIT; Date.parse() reads "1.5" as 5 January 2001.
  assert.equal(parseRetryAfter("1.5", NOW), undefined);
  assert.equal(parseRetryAfter("+5", NOW), undefined);
});

// leavesSource

test("leavesSource() returns true when the connection was refused or the host cannot be reached", () => {
  for (
    const message of ["Connection refused (os error 111)", "No route to host"]
  ) {
    const cause = new Error(message);
    assert.equal(leavesSource(new NetworkError(URL, cause)), true, message);
  }
  assert.equal(
    leavesSource(new NetworkError(URL, new Error("socket hang up"))),
    false,
  );
});

test("leavesSource() returns true when a Retry-After asks for longer than BUSY_RETRY_AFTER, whatever the cap", () => {
  const busy = (retryAfter: number | undefined) =>
    leavesSource(new HTTPError(503, URL, { retryAfter }));
  assert.equal(busy(BUSY_RETRY_AFTER + 1000), true);
  assert.equal(busy(3_600_000), true);
  assert.equal(busy(BUSY_RETRY_AFTER), false);
  assert.equal(busy(0), false);
  assert.equal(busy(undefined), false);
  assert.equal(leavesSource(new HTTPError(500, URL)), false);
  assert.equal(leavesSource(new ProtocolError("x")), false);
});

// leavesResumable

test("leavesResumable() is true for a failure of the connection, a timeout, a 'later' status, or a ProtocolError a retry resumes past, alone or every attempt's", () => {
  const network = new NetworkError(URL, new TypeError("x"));
  const busy = new HTTPError(503, URL);
  const short = new ProtocolError("the body ended after 10 of 20 bytes");
  for (
    const error of [
      network,
      new TimeoutError("idle", 10, URL),
      new TimeoutError("slow", 10, URL, { minSpeed: 2, speed: 1 }),
      busy,
      new ProxyError(URL, 502),
      new RetriesExhaustedError(URL, [network, busy, network]),
      short,
      new RetriesExhaustedError(URL, [network, short, busy]),
    ]
  ) {
    assert.equal(leavesResumable(error), true, String(error));
  }
});

test("leavesResumable() is false for what makes the bytes worthless or not known sound, also as any attempt's", () => {
  const network = new NetworkError(URL, new TypeError("x"));
  const gone = new HTTPError(404, URL);
  for (
    const error of [
      gone,
      new HTTPError(410, URL),
      new HTTPError(403, URL),
      new IntegrityError(URL, {
        algorithm: "sha256",
        expected: "a",
        actual: "b",
      }),
      new FinalProtocolError("a coding that cannot be decoded here"),
      new RedirectError("too many redirects"),
      new RetriesExhaustedError(URL, [network, gone]),
      new RetriesExhaustedError(URL, [
        new ProtocolError("x"),
        new FinalProtocolError("y"),
      ]),
      new DownloadInterrupt(),
      new DOMException("aborted", "AbortError"),
      new Error("EACCES"),
      undefined,
    ]
  ) {
    assert.equal(leavesResumable(error), false, String(error));
  }
});

test("leavesResumable() is true of a download with mirrors when one source failed so, though another answered 404 or serves another file, and false when none did", () => {
  const sources = ["https://example.com/f", "https://mirror.example.net/f"];
  const network = new NetworkError(URL, new TypeError("x"));
  const gone = new HTTPError(404, URL);
  const other = new SourceMismatch(URL, sources[1] as string, 10, 20);
  const mirrors = (errors: unknown[]): RetriesExhaustedError =>
    new RetriesExhaustedError(URL, errors, { sources });
  for (const errors of [[gone, network], [network, gone], [other, network]]) {
    assert.equal(leavesResumable(mirrors(errors)), true, `${errors}`);
  }
  for (
    const errors of [
      [gone, other],
      [new RetriesExhaustedError(URL, [network, gone]), gone],
      [new RetriesExhaustedError(URL, [network, gone]), other],
    ]
  ) {
    assert.equal(leavesResumable(mirrors(errors)), false, `${errors}`);
  }
  // Of one source's attempts, the 404 says the file is gone.
  assert.equal(
    leavesResumable(new RetriesExhaustedError(URL, [gone, network])),
    false,
  );
});
