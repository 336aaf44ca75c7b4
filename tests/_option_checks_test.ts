// The checks of option values (src/_option_checks.ts): each takes what is in
// range and throws, naming the option and its value, for anything else.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  count,
  countOrInfinity,
  duration,
  flag,
  positive,
  rateOf,
  speedOf,
} from "../src/_option_checks.ts";

test("rateOf() takes 1 byte per second or more, or Infinity, undefined as Infinity, and throws a RangeError otherwise", () => {
  assert.equal(rateOf(undefined, "X"), Infinity);
  assert.equal(rateOf(Infinity, "X"), Infinity);
  assert.equal(rateOf(1, "X"), 1);
  assert.equal(rateOf(1.5, "X"), 1.5);
  assert.equal(rateOf(Number.MAX_VALUE, "X"), Number.MAX_VALUE);
  // Less than a byte a second: the schedule's arithmetic overflowed far
  // below it (no limit at 1e-300, timers spinning at 5e-324).
  for (const rate of [0, -1, NaN, -Infinity, 0.5, 1e-300, 5e-324]) {
    assert.throws(
      () => rateOf(rate, "Cannot download x"),
      new RangeError(
        `Cannot download x: rateLimit must be at least 1 byte per second, or Infinity, got ${rate}`,
      ),
    );
  }
});

test("every number check throws a TypeError, with the same message, for a value that is no number", () => {
  const rule = (text: string) => `X: ${text}, got 5M`;
  const given = "5M" as unknown as number;
  const checks: [() => unknown, string][] = [
    [
      () => rateOf(given, "X"),
      rule("rateLimit must be at least 1 byte per second, or Infinity"),
    ],
    [
      () => speedOf("X", given),
      rule("minSpeed must be 0 or more bytes per second"),
    ],
    [
      () => count("X", "retries", given),
      rule("retries must be a whole number of 0 or more"),
    ],
    [
      () => duration("X", "idleTimeout", given),
      rule("idleTimeout must be 0 or more milliseconds"),
    ],
    [
      () => positive("X", "minSpeedWindow", given),
      rule("minSpeedWindow must be more than 0 milliseconds"),
    ],
    [
      () => countOrInfinity("X", "concurrency", given),
      rule("concurrency must be a positive integer or Infinity"),
    ],
  ];
  for (const [check, message] of checks) {
    assert.throws(check, { name: "TypeError", message });
  }
});

test("count(), duration() and positive() take what is in range and throw a RangeError naming the option otherwise", () => {
  assert.equal(count("X", "retries", 0), 0);
  assert.throws(() => count("X", "retries", 1.5), {
    name: "RangeError",
    message: "X: retries must be a whole number of 0 or more, got 1.5",
  });
  assert.equal(duration("X", "idleTimeout", Infinity), Infinity);
  assert.throws(() => duration("X", "idleTimeout", -1), {
    name: "RangeError",
    message: "X: idleTimeout must be 0 or more milliseconds, got -1",
  });
  assert.equal(positive("X", "minSpeedWindow", 1), 1);
  assert.throws(() => positive("X", "minSpeedWindow", 0), {
    name: "RangeError",
    message: "X: minSpeedWindow must be more than 0 milliseconds, got 0",
  });
});

test("speedOf() takes 0 or more bytes per second and throws for Infinity or a negative speed", () => {
  assert.equal(speedOf("X", 0), 0);
  for (const speed of [-1, Infinity, NaN]) {
    assert.throws(() => speedOf("X", speed), {
      name: "RangeError",
      message: `X: minSpeed must be 0 or more bytes per second, got ${speed}`,
    });
  }
});

test("flag() takes a boolean and throws a TypeError for anything else", () => {
  assert.equal(flag("X", "useEnvProxy", false), false);
  assert.throws(() => flag("X", "useEnvProxy", "yes" as unknown as boolean), {
    name: "TypeError",
    message: "X: useEnvProxy must be true or false, got yes",
  });
});

test("countOrInfinity() takes a positive integer or Infinity and throws a RangeError otherwise", () => {
  assert.equal(countOrInfinity("X", "concurrency", 1), 1);
  assert.equal(countOrInfinity("X", "concurrency", Infinity), Infinity);
  for (const value of [0, 1.5, -Infinity, NaN]) {
    assert.throws(() => countOrInfinity("X", "concurrency", value), {
      name: "RangeError",
      message:
        `X: concurrency must be a positive integer or Infinity, got ${value}`,
    });
  }
});
