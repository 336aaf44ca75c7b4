import assert from "node:assert/strict";
import { test } from "node:test";
import {
  conditionalHeaders,
  isWeakEtag,
  NotModified,
  revalidationHeaders,
  versionNamed,
} from "../../src/_http/conditional.ts";

test("conditionalHeaders() asks If-None-Match for an ETag, If-Modified-Since for a date", () => {
  assert.deepEqual(conditionalHeaders('"abc"'), [["if-none-match", '"abc"']]);
  assert.deepEqual(conditionalHeaders('W/"abc"'), [
    ["if-none-match", 'W/"abc"'],
  ]);
  // An ETag sent unquoted is sent back as it was: no date is one word.
  assert.deepEqual(conditionalHeaders("abc123"), [["if-none-match", "abc123"]]);
  assert.deepEqual(
    conditionalHeaders("Tue, 01 Sep 2026 10:00:00 GMT"),
    [["if-modified-since", "Tue, 01 Sep 2026 10:00:00 GMT"]],
  );
});

test("versionNamed() says a 200 is of the version asked about when its ETag is weakly equal, or its date not after the one asked about", () => {
  const date = "Tue, 01 Sep 2026 10:00:00 GMT";
  const etag = (value: string) => new Headers({ etag: value });
  const byEtag = conditionalHeaders('"abc"');
  const isSame = (headers: Headers, asked: [string, string][]) =>
    versionNamed(headers, asked) === "same";
  assert.equal(isSame(etag('"abc"'), byEtag), true);
  assert.equal(isSame(etag('W/"abc"'), byEtag), true);
  assert.equal(
    isSame(etag('W/"abc"'), conditionalHeaders('W/"abc"')),
    true,
  );
  assert.equal(isSame(etag('"abd"'), byEtag), false);
  // No ETag: nothing says which version it is.
  assert.equal(
    isSame(new Headers({ "last-modified": date }), byEtag),
    false,
  );
  const byDate = conditionalHeaders(date);
  const dated = (value: string) => new Headers({ "last-modified": value });
  assert.equal(isSame(dated(date), byDate), true);
  assert.equal(
    isSame(dated("Tue, 01 Sep 2026 09:00:00 GMT"), byDate),
    true,
  );
  assert.equal(
    isSame(dated("Tue, 01 Sep 2026 10:00:01 GMT"), byDate),
    false,
  );
  assert.equal(isSame(new Headers(), byDate), false);
  assert.equal(isSame(dated("not a date"), byDate), false);
});

test("NotModified.renewed() keeps the ETag held when the 304's is empty, which names no version", () => {
  const renewed = (etag: string) =>
    new NotModified(new Headers({ etag })).renewed('"v1"');
  assert.equal(renewed(""), '"v1"');
  assert.equal(renewed('W/"v1"'), 'W/"v1"');
});

test("NotModified.renewed() keeps a date held when the 304 sends an ETag, which names no version of the kind asked with", () => {
  const date = "Tue, 01 Sep 2026 10:00:00 GMT";
  const earlier = "Tue, 01 Sep 2026 09:00:00 GMT";
  const renewed = (headers: Record<string, string>) =>
    new NotModified(new Headers(headers)).renewed(date);
  assert.equal(renewed({ etag: '"v2"' }), date);
  assert.equal(renewed({ etag: '"v2"', "last-modified": earlier }), earlier);
  assert.equal(renewed({}), date);
});

test("versionNamed() tells an answer of the version asked about, of another, or naming none of the kind asked with", () => {
  const date = "Tue, 01 Sep 2026 10:00:00 GMT";
  const byEtag = conditionalHeaders('"abc"');
  const byDate = conditionalHeaders(date);
  const named = (headers: Record<string, string>, asked = byEtag) =>
    versionNamed(new Headers(headers), asked);
  assert.equal(named({ etag: '"abc"' }), "same");
  // Weakly: a compressing server weakens the 200's ETag, not the 304's.
  assert.equal(named({ etag: 'W/"abc"' }), "same");
  assert.equal(named({ etag: '"abc"' }, conditionalHeaders('W/"abc"')), "same");
  assert.equal(named({ etag: 'w/"abc"' }), "same");
  assert.equal(named({ etag: '"abd"' }), "other");
  assert.equal(named({ etag: "" }), undefined);
  assert.equal(named({ "last-modified": date }), undefined);
  assert.equal(named({ "last-modified": date }, byDate), "same");
  assert.equal(
    named({ "last-modified": "Tue, 01 Sep 2026 10:00:01 GMT" }, byDate),
    "other",
  );
  assert.equal(named({ etag: '"abc"' }, byDate), undefined);
  assert.equal(named({ "last-modified": "not a date" }, byDate), undefined);
});

test("isWeakEtag() tells an ETag marked weak, by W/ or the w/ some servers send", () => {
  assert.equal(isWeakEtag('W/"v1"'), true);
  assert.equal(isWeakEtag('w/"v1"'), true);
  assert.equal(isWeakEtag('"v1"'), false);
  assert.equal(isWeakEtag("v1"), false);
});

test("revalidationHeaders() asks with the condition first, and has a cache on the way ask the server", () => {
  assert.deepEqual(revalidationHeaders('"abc"'), [
    ["if-none-match", '"abc"'],
    ["cache-control", "max-age=0"],
  ]);
});
