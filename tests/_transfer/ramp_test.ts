import assert from "node:assert/strict";
import { test } from "node:test";
import {
  FIRST_STEP,
  LOCAL_ANSWER,
  MIN_WINDOW,
  Ramp,
} from "../../src/_transfer/ramp.ts";

const MB = 1_000_000;

/**
 * Feeds `ramp` one window at a time at `rates[i]` MB/s, with `left` bytes
 * still to fetch; returns the connections after each window.
 */
function run(ramp: Ramp, rates: number[], left = 1e12): number[] {
  let time = 0;
  let bytes = 0;
  ramp.observe(time, bytes, left);
  return rates.map((rate) => {
    time += MIN_WINDOW;
    bytes += (rate * MB / 1000) * MIN_WINDOW;
    return ramp.observe(time, bytes, left);
  });
}

test("Ramp opens a few connections after the first window, then doubles while the rate rises", () => {
  const ramp = new Ramp({ max: 16, firstAnswer: 50 });
  // 20 MB/s per connection, as under a per-connection cap.
  const seen = run(ramp, [20, 80, 160, 320]);
  assert.deepEqual(seen, [FIRST_STEP, 8, 16, 16]);
  assert.equal(ramp.settled, true);
});

test("Ramp stops adding when the rate stops rising", () => {
  const ramp = new Ramp({ max: 16, firstAnswer: 50 });
  // One connection gets 70, four get 250, eight get 260: not worth more.
  assert.deepEqual(run(ramp, [70, 250, 260, 400]), [FIRST_STEP, 8, 8, 8]);
  assert.equal(ramp.settled, true);
  assert.equal(ramp.connections, 8);
});

test("Ramp leaves a server that answers within LOCAL_ANSWER ms to one connection", () => {
  const ramp = new Ramp({ max: 16, firstAnswer: LOCAL_ANSWER - 1 });
  assert.deepEqual(run(ramp, [1000, 1000]), [1, 1]);
  assert.equal(ramp.settled, true);
});

test("Ramp stays at one connection when the rest would take less than a second", () => {
  const ramp = new Ramp({ max: 16, firstAnswer: 50 });
  // 20 MB/s with 10 MB left: half a second.
  assert.deepEqual(run(ramp, [20], 10 * MB), [1]);
  assert.equal(ramp.settled, true);
});

test("Ramp measures over eight first answers when that is longer than MIN_WINDOW", () => {
  const ramp = new Ramp({ max: 16, firstAnswer: 100 });
  ramp.observe(0, 0, 1e12);
  // 800 ms window: nothing decided at 500 ms.
  assert.equal(ramp.observe(500, 10 * MB, 1e12), 1);
  assert.equal(ramp.observe(800, 16 * MB, 1e12), FIRST_STEP);
});

test("Ramp.cap() lowers the most connections, and settles it when reached", () => {
  const ramp = new Ramp({ max: 16, firstAnswer: 50 });
  run(ramp, [20]);
  assert.equal(ramp.connections, FIRST_STEP);
  ramp.cap(3);
  assert.equal(ramp.settled, true);
  const one = new Ramp({ max: 1, firstAnswer: 50 });
  assert.equal(one.settled, true);
});
