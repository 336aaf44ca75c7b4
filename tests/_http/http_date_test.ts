import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHttpDate } from "../../src/_http/http_date.ts";

const NOV_6_1994 = Date.UTC(1994, 10, 6, 8, 49, 37);

test("parseHttpDate() reads the three forms of RFC 9110, all as GMT", () => {
  assert.equal(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), NOV_6_1994);
  assert.equal(
    parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT", Date.UTC(2025, 0)),
    NOV_6_1994,
  );
  // asctime has no zone: GMT, whatever the machine's time zone.
  assert.equal(parseHttpDate("Sun Nov  6 08:49:37 1994"), NOV_6_1994);
  assert.equal(
    parseHttpDate("Sun Nov 16 08:49:37 1994"),
    NOV_6_1994 + 10 * 86_400_000,
  );
});

test("parseHttpDate() reads names in any case", () => {
  assert.equal(parseHttpDate("SUN, 06 NOV 1994 08:49:37 gmt"), NOV_6_1994);
});

test("parseHttpDate() reads a two-digit year more than 50 years ahead as of the century before", () => {
  const now = Date.UTC(2030, 0);
  assert.equal(
    parseHttpDate("Monday, 01-Jan-80 00:00:00 GMT", now),
    Date.UTC(2080, 0),
  );
  assert.equal(
    parseHttpDate("Monday, 01-Jan-81 00:00:00 GMT", now),
    Date.UTC(1981, 0),
  );
});

test("parseHttpDate() returns undefined when the value is not an HTTP date", () => {
  for (
    const value of [
      "",
      "in 5",
      "May 5",
      "x 1",
      "Sat 1",
      "-1",
      "1.5",
      "120",
      "tomorrow",
      "Sun, 06 Nov 1994 08:49:37 +0200",
      "Sun, 06 Nov 1994 08:49:37",
      "Sun, 6 Nov 1994 08:49:37 GMT",
      "1994-11-06T08:49:37Z",
      " Sun, 06 Nov 1994 08:49:37 GMT",
    ]
  ) {
    assert.equal(parseHttpDate(value), undefined, JSON.stringify(value));
  }
});

test("parseHttpDate() returns undefined when a field is out of range", () => {
  for (
    const value of [
      "Thu, 31 Feb 1994 08:49:37 GMT",
      "Sun, 00 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 24:00:00 GMT",
      "Sun, 06 Nov 1994 08:60:00 GMT",
      "Sun, 06 Nov 1994 08:49:61 GMT",
    ]
  ) {
    assert.equal(parseHttpDate(value), undefined, value);
  }
});
