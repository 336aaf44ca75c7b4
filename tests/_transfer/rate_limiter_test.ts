// The shared bandwidth limit's schedule: waits no shorter than the bytes
// cost, re-planned when the limit changes. Only lower bounds on time are
// asserted (a timer never fires early, however loaded the machine); how
// close to the limit a download runs is the bench's to measure.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CREDIT,
  creditOf,
  MIN_PACED_READ,
  pacedReadOf,
  RateLimiter,
  Throttle,
} from "../../src/_transfer/rate_limiter.ts";

/** A timer may seem to fire up to this early, in milliseconds. */
const EARLY = 2;

test("RateLimiter without a limit lets every read go at once", async () => {
  const limiter = new RateLimiter();
  assert.equal(limiter.limited, false);
  const signal = new AbortController().signal;
  for (let i = 0; i < 100; i++) {
    assert.equal(await limiter.take(1024 * 1024, signal), 0);
  }
});

test("RateLimiter lets its credit go at once, then makes each read wait for what it costs", async () => {
  const rate = 1024 * 1024; // 1 MiB/s: a KiB costs ~1 ms
  const limiter = new RateLimiter(rate);
  const signal = new AbortController().signal;
  const start = performance.now();
  // The credit, then 100 KiB more: ~98 ms of waiting in all.
  await limiter.take(creditOf(rate), signal);
  for (let i = 0; i < 10; i++) await limiter.take(10 * 1024, signal);
  const elapsed = performance.now() - start;
  assert.ok(
    elapsed >= (100 * 1024 * 1000) / rate - EARLY,
    `took ${elapsed} ms`,
  );
});

test("pacedReadOf() is a tenth of a second at the limit, 1 KiB at least", () => {
  const KiB = 1024;
  assert.equal(pacedReadOf(1), MIN_PACED_READ);
  assert.equal(pacedReadOf(10 * KiB), KiB);
  assert.equal(pacedReadOf(50 * KiB), 5 * KiB);
  assert.equal(pacedReadOf(1000 * KiB), 100 * KiB);
});

test("creditOf() is one paced read up to a chunk, or 5 ms of a limit at which a chunk lasts less", () => {
  const MiB = 1024 * 1024;
  assert.equal(creditOf(1), MIN_PACED_READ);
  assert.equal(creditOf(20 * 1024), 2 * 1024);
  assert.equal(creditOf(MiB), pacedReadOf(MiB));
  assert.equal(creditOf(2.5 * MiB), CREDIT);
  assert.equal(creditOf(50 * MiB), CREDIT); // 5 ms: 256 KiB
  assert.equal(creditOf(200 * MiB), MiB);
  assert.equal(creditOf(1000 * MiB), 5 * MiB);
});

test("RateLimiter at a high limit still makes reads past its credit wait for what they cost", async () => {
  const rate = 400 * 1024 * 1024; // a credit of 2 MiB
  const limiter = new RateLimiter(rate);
  const signal = new AbortController().signal;
  const start = performance.now();
  await limiter.take(creditOf(rate), signal);
  // 40 MiB more, 64 KiB at a time: 100 ms at the limit.
  for (let i = 0; i < 640; i++) await limiter.take(64 * 1024, signal);
  const elapsed = performance.now() - start;
  assert.ok(
    elapsed >= (40 * 1024 * 1024 * 1000) / rate - EARLY,
    `took ${elapsed} ms`,
  );
});

test("RateLimiter shares one schedule among the connections that draw from it", async () => {
  const rate = 1024 * 1024;
  const limiter = new RateLimiter(rate);
  const signal = new AbortController().signal;
  // Timed from before the credit's read: the schedule starts there, and a
  // pause between the two (a busy machine) would shorten what follows.
  const start = performance.now();
  await limiter.take(creditOf(rate), signal);
  // Four connections of 50 KiB each: 200 KiB, ~195 ms, not ~49 ms.
  await Promise.all(
    [0, 1, 2, 3].map(async () => {
      for (let i = 0; i < 5; i++) await limiter.take(10 * 1024, signal);
    }),
  );
  const elapsed = performance.now() - start;
  assert.ok(elapsed >= (200 * 1024 * 1000) / rate - EARLY, `${elapsed} ms`);
});

test("RateLimiter wakes the waiting connections when the limit is lifted or raised", async () => {
  const limiter = new RateLimiter(1); // a byte a second
  const signal = new AbortController().signal;
  await limiter.take(creditOf(1), signal);
  // Owes ~a day at this rate.
  const waiting = limiter.take(100_000, signal);
  limiter.set(Infinity);
  assert.equal(limiter.limited, false);
  await waiting;
  // Raised: what is owed costs the new rate's time, not the old one's.
  limiter.set(1);
  await limiter.take(creditOf(1), signal);
  const owing = limiter.take(100_000, signal);
  limiter.set(1e9);
  await owing;
});

test("RateLimiter converts what is owed to a lowered limit", async () => {
  const limiter = new RateLimiter(2 * 1024 * 1024);
  const signal = new AbortController().signal;
  // From before the credit's read, where the schedule starts (see above).
  const start = performance.now();
  await limiter.take(creditOf(limiter.rate), signal);
  // 100 KiB owed at 2 MiB/s (~49 ms) costs ~98 ms once the limit halves.
  const owing = limiter.take(100 * 1024, signal);
  limiter.set(1024 * 1024);
  await owing;
  const elapsed = performance.now() - start;
  assert.ok(elapsed >= 90, `${elapsed} ms`);
});

test("RateLimiter rejects a waiting read with the signal's reason when it aborts", async () => {
  const limiter = new RateLimiter(1);
  const abort = new AbortController();
  await limiter.take(creditOf(1), abort.signal);
  const waiting = limiter.take(100_000, abort.signal);
  const reason = new Error("stopped");
  abort.abort(reason);
  await assert.rejects(waiting, (error) => error === reason);
});

test("RateLimiter tells its listeners when a limit appears, not when one changes or goes", () => {
  const limiter = new RateLimiter();
  let heard = 0;
  const stop = limiter.onLimited(() => heard++);
  limiter.set(1000);
  limiter.set(2000);
  limiter.set(Infinity);
  limiter.set(500);
  stop();
  limiter.set(Infinity);
  limiter.set(100);
  assert.equal(heard, 2);
});

test("Throttle is limited while any of its limits is, and pays each", async () => {
  const own = new RateLimiter();
  const shared = new RateLimiter();
  const throttle = new Throttle([own, shared]);
  assert.equal(throttle.limited, false);
  let heard = 0;
  const stop = throttle.onLimited(() => heard++);
  shared.set(1024 * 1024);
  assert.equal(throttle.limited, true);
  own.set(2 * 1024 * 1024);
  assert.equal(heard, 2);
  stop();
  const signal = new AbortController().signal;
  // From before the credit's read, where the schedules start (see above).
  const start = performance.now();
  await throttle.take(creditOf(shared.rate), signal); // the lower credit
  // The slower limit decides: 50 KiB at 1 MiB/s.
  await throttle.take(50 * 1024, signal);
  assert.ok(performance.now() - start >= (50 * 1000) / 1024 - EARLY);
});

test("RateLimiter lets a waiting read go at its own place, not after the reads taken after it", async () => {
  const rate = 1024 * 1024;
  const limiter = new RateLimiter(rate);
  const signal = new AbortController().signal;
  await limiter.take(creditOf(rate), signal);
  // A read of ~4 ms, then, while it waits, another connection's of 100 s:
  // the first goes at its own place in the schedule, not at its end.
  const order: string[] = [];
  const small = limiter.take(4 * 1024, signal).then(() => order.push("small"));
  const stop = new AbortController();
  const big = limiter.take(100 * rate, stop.signal).then(
    () => order.push("big"),
    () => order.push("big stopped"),
  );
  await small;
  stop.abort();
  await big;
  assert.deepEqual(order, ["small", "big stopped"]);
});

test("Throttle.readSize() is the most asked without a limit, else the lowest limit's paced read", () => {
  const own = new RateLimiter();
  const shared = new RateLimiter();
  const throttle = new Throttle([own, shared]);
  const KiB = 1024;
  assert.equal(throttle.readSize(256 * KiB), 256 * KiB);
  shared.set(50 * KiB);
  assert.equal(throttle.readSize(256 * KiB), 5 * KiB);
  own.set(10 * KiB);
  assert.equal(throttle.readSize(256 * KiB), KiB);
  assert.equal(throttle.readSize(100), 100);
  own.set(Infinity);
  shared.set(100 * 1024 * KiB); // a tenth of a second is more than asked
  assert.equal(throttle.readSize(256 * KiB), 256 * KiB);
});
