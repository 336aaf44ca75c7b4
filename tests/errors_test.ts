import assert from "node:assert/strict";
import { test } from "node:test";
import {
  DownloadInterrupt,
  FileSystemError,
  HTTPError,
} from "../src/errors.ts";

test("HTTPError() sets status, statusText and url when given all three", () => {
  const error = new HTTPError(404, "https://example.com/f", {
    statusText: "Not Found",
  });
  assert.equal(error.status, 404);
  assert.equal(error.statusText, "Not Found");
  assert.equal(error.url, "https://example.com/f");
});

test("HTTPError() puts status and statusText in the message when statusText is given", () => {
  const error = new HTTPError(404, "https://example.com/f", {
    statusText: "Not Found",
  });
  assert.equal(
    error.message,
    'Cannot download "https://example.com/f": server answered 404 Not Found',
  );
});

test("HTTPError() puts only the status in the message when statusText is missing or empty", () => {
  const missing = new HTTPError(503, "https://example.com/f");
  assert.equal(
    missing.message,
    'Cannot download "https://example.com/f": server answered 503',
  );
  assert.equal(missing.statusText, "");
  const empty = new HTTPError(500, "https://example.com/f", { statusText: "" });
  assert.equal(
    empty.message,
    'Cannot download "https://example.com/f": server answered 500',
  );
  assert.equal(empty.statusText, "");
});

test("HTTPError() names the URL asked and where its redirect led, without the query, when asked is another URL", () => {
  const signed = "https://cdn.example.net/o/1?X-Amz-Signature=secret";
  const away = new HTTPError(403, signed, {
    statusText: "Forbidden",
    asked: "https://example.com/a.zip",
  });
  assert.equal(
    away.message,
    'Cannot download "https://example.com/a.zip": server answered 403 Forbidden (cdn.example.net)',
  );
  assert.equal(away.url, signed);
  const here = new HTTPError(404, "https://example.com/v2/a.zip?t=1", {
    asked: "https://example.com/latest",
  });
  assert.equal(
    here.message,
    'Cannot download "https://example.com/latest": server answered 404 (/v2/a.zip)',
  );
  // No redirect (a fragment is not one: no server sees it).
  for (const asked of ["https://example.com/f", "https://example.com/f#x"]) {
    assert.equal(
      new HTTPError(404, "https://example.com/f", { asked }).message,
      'Cannot download "https://example.com/f": server answered 404',
    );
  }
});

test("HTTPError has name HTTPError and is an Error", () => {
  const error = new HTTPError(404, "https://example.com/f", {
    statusText: "Not Found",
  });
  assert.equal(error.name, "HTTPError");
  assert.ok(error instanceof HTTPError);
  assert.ok(error instanceof Error);
  assert.equal(
    String(error),
    'HTTPError: Cannot download "https://example.com/f": server answered 404 Not Found',
  );
});

test("DownloadInterrupt() uses the default message when given none", () => {
  const error = new DownloadInterrupt();
  assert.equal(error.message, "Download was canceled");
  assert.equal(error.cause, undefined);
});

test("DownloadInterrupt() keeps the message and cause when given them", () => {
  const cause = new Error("aborted");
  const error = new DownloadInterrupt("Stopped", { cause });
  assert.equal(error.message, "Stopped");
  assert.equal(error.cause, cause);
});

test("DownloadInterrupt has name DownloadInterrupt and is an Error", () => {
  const error = new DownloadInterrupt();
  assert.equal(error.name, "DownloadInterrupt");
  assert.ok(error instanceof DownloadInterrupt);
  assert.ok(error instanceof Error);
  assert.ok(!(error instanceof HTTPError));
  assert.equal(String(error), "DownloadInterrupt: Download was canceled");
});

test("FileSystemError names the failure by its code, the same on every runtime, and keeps the runtime's error", () => {
  const cause = new Error("ENOSPC: no space left on device, write");
  const error = new FileSystemError(
    'Cannot download "u" to "d"',
    "d",
    "ENOSPC",
    {
      cause,
    },
  );
  assert.equal(error.name, "FileSystemError");
  assert.equal(error.code, "ENOSPC");
  assert.equal(error.path, "d");
  assert.equal(error.cause, cause);
  assert.equal(
    error.message,
    'Cannot download "u" to "d": no space left on device (ENOSPC)',
  );
  assert.equal(
    new FileSystemError("x", "d", "EXDEV").message,
    "x: failed (EXDEV)",
  );
});
