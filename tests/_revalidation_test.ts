import assert from "node:assert/strict";
import { test } from "node:test";
import { CLOCK_SLACK, isFresh, maxAgeOf } from "../src/_revalidation.ts";
import { type CacheRecord, RECORD_VERSION } from "../src/_disk/record.ts";

const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;
const FILE = { size: 10, mtime: NOW - 2 * HOUR };

function record(checked: number): CacheRecord {
  return {
    version: RECORD_VERSION,
    url: "https://example.com/f",
    validator: '"v"',
    checked,
    ...FILE,
  };
}

test("maxAgeOf() gives 0 for always, undefined for never and Infinity, and the number of ms otherwise", () => {
  assert.equal(maxAgeOf("always", "c"), 0);
  assert.equal(maxAgeOf("never", "c"), undefined);
  assert.equal(maxAgeOf(Infinity, "c"), undefined);
  assert.equal(maxAgeOf(HOUR, "c"), HOUR);
  for (const bad of [-1, NaN, "daily" as "never"]) {
    assert.throws(() => maxAgeOf(bad, "c"), RangeError);
  }
});

test("isFresh() under always: only a check made after it was asked", () => {
  const always = { maxAge: 0, since: NOW - 1000 };
  assert.equal(isFresh(always, record(NOW - 500), FILE, NOW), true);
  assert.equal(isFresh(always, record(NOW - 1000), FILE, NOW), false);
  assert.equal(isFresh(always, record(NOW - 5000), FILE, NOW), false);
});

test("isFresh() under a maximum age: a check within it, or one made after it was asked", () => {
  const hourly = { maxAge: HOUR, since: NOW };
  assert.equal(isFresh(hourly, record(NOW - HOUR / 2), FILE, NOW), true);
  assert.equal(isFresh(hourly, record(NOW - 2 * HOUR), FILE, NOW), false);
});

test("isFresh() judges a file without a record by its modification time, never fresh under always", () => {
  assert.equal(isFresh({ maxAge: 0, since: NOW }, undefined, FILE, NOW), false);
  assert.equal(
    isFresh({ maxAge: 3 * HOUR, since: NOW }, undefined, FILE, NOW),
    true,
  );
  assert.equal(
    isFresh({ maxAge: HOUR, since: NOW }, undefined, FILE, NOW),
    false,
  );
});

test("isFresh() takes nothing dated well after now as fresh: a check or a file from a clock ahead", () => {
  const always = { maxAge: 0, since: NOW - 1000 };
  assert.equal(isFresh(always, record(NOW + HOUR), FILE, NOW), false);
  // Processes' clocks differ a little: a check just ahead is one made now.
  assert.equal(isFresh(always, record(NOW + CLOCK_SLACK), FILE, NOW), true);
  const hourly = { maxAge: HOUR, since: NOW };
  assert.equal(isFresh(hourly, record(NOW + HOUR / 2), FILE, NOW), false);
  const ahead = { size: 10, mtime: NOW + HOUR / 2 };
  assert.equal(isFresh(hourly, undefined, ahead, NOW), false);
  const just = { size: 10, mtime: NOW + CLOCK_SLACK };
  assert.equal(isFresh(hourly, undefined, just, NOW), true);
});
