import assert from "node:assert/strict";
import { test } from "node:test";
import {
  EARLY_BYTES,
  EARLY_STEP,
  FIRST_STEP,
  isLoopback,
  LOCAL_ANSWER,
  MIN_WINDOW,
  Ramp,
  SETTLE_ANSWERS,
  STEP,
  WINDOW_ANSWERS,
} from "../../src/_transfer/ramp.ts";

const MB = 1_000_000;

/** The first answer's time the ramps below are given: short windows. */
const ANSWER = 50;

/**
 * Feeds `ramp` one window at a time at `rates[i]` MB/s, with `left` bytes
 * still to fetch (after a step, first the time the new connections get to
 * connect, then the next window); returns the connections after each window.
 */
function run(ramp: Ramp, rates: number[], left = 1e12): number[] {
  let time = 0;
  let bytes = 0;
  let connections = ramp.connections;
  ramp.observe(time, bytes, left);
  return rates.map((rate) => {
    time += MIN_WINDOW;
    bytes += (rate * MB / 1000) * MIN_WINDOW;
    const now = ramp.observe(time, bytes, left);
    if (now !== connections) {
      // Connecting: nothing decided, then the next window starts.
      time += SETTLE_ANSWERS * ANSWER;
      assert.equal(ramp.observe(time, bytes, left), now);
      ramp.observe(time, bytes, left);
    }
    connections = now;
    return now;
  });
}

test("Ramp opens a few connections after the first window, then STEP times as many while the rate rises", () => {
  const ramp = new Ramp({ max: 16, firstAnswer: ANSWER });
  // 20 MB/s per connection, as under a per-connection cap.
  const seen = run(ramp, [20, 80, 320]);
  assert.deepEqual(seen, [FIRST_STEP, FIRST_STEP * STEP, 16]);
  assert.equal(ramp.settled, true);
});

test("Ramp stops adding when the rate stops rising", () => {
  const ramp = new Ramp({ max: 64, firstAnswer: ANSWER });
  // One connection gets 70, four get 250, sixteen get 260: not worth more.
  assert.deepEqual(run(ramp, [70, 250, 260, 400]), [4, 16, 16, 16]);
  assert.equal(ramp.settled, true);
  assert.equal(ramp.connections, 16);
});

test("Ramp measures a step's rate only from when its new connections have answered", () => {
  const ramp = new Ramp({ max: 64, firstAnswer: ANSWER });
  ramp.observe(0, 0, 1e12);
  assert.equal(ramp.observe(MIN_WINDOW, 4 * MB, 1e12), FIRST_STEP);
  // Right after the step the rate has not risen yet: not measured.
  assert.equal(ramp.observe(MIN_WINDOW + 10, 4 * MB, 1e12), FIRST_STEP);
  assert.equal(ramp.settled, false);
  // From their first answer, a window at 4 times the rate.
  const start = MIN_WINDOW + ANSWER;
  ramp.observe(start, 5 * MB, 1e12);
  assert.equal(
    ramp.observe(start + MIN_WINDOW, 5 * MB + 16 * MB, 1e12),
    FIRST_STEP * STEP,
  );
});

test("Ramp leaves a server that answers within LOCAL_ANSWER ms to one connection", () => {
  const ramp = new Ramp({ max: 16, firstAnswer: LOCAL_ANSWER - 1 });
  assert.deepEqual(run(ramp, [1000, 1000]), [1, 1]);
  assert.equal(ramp.settled, true);
});

test("Ramp leaves a server on this machine by name to one connection, however slow its first answer", () => {
  const ramp = new Ramp({ max: 16, firstAnswer: ANSWER, loopback: true });
  assert.deepEqual(run(ramp, [1000, 1000]), [1, 1]);
  assert.equal(ramp.settled, true);
});

test("isLoopback() knows localhost and 127.0.0.0/8 and ::1, and nothing else", () => {
  for (
    const url of [
      "http://localhost/",
      "http://a.localhost:8/",
      "http://127.0.0.1/",
      "http://127.1.2.3:80/",
      "http://[::1]/",
    ]
  ) {
    assert.equal(isLoopback(new URL(url).hostname), true, url);
  }
  for (
    const url of [
      "http://example.com/",
      "http://10.0.0.1/",
      "http://127.0.0.1.example/",
      "http://[::2]/",
      "http://localhost.example/",
    ]
  ) {
    assert.equal(isLoopback(new URL(url).hostname), false, url);
  }
});

test("Ramp stays at one connection when the rest would take less than a second", () => {
  const ramp = new Ramp({ max: 16, firstAnswer: ANSWER });
  // 20 MB/s with 10 MB left: half a second.
  assert.deepEqual(run(ramp, [20], 10 * MB), [1]);
  assert.equal(ramp.settled, true);
});

test("Ramp measures over WINDOW_ANSWERS first answers when that is longer than MIN_WINDOW", () => {
  const ramp = new Ramp({ max: 16, firstAnswer: 100 });
  const window = WINDOW_ANSWERS * 100;
  ramp.observe(0, 0, 1e12);
  assert.equal(ramp.observe(window - 1, 10 * MB, 1e12), 1);
  assert.equal(ramp.observe(window, 16 * MB, 1e12), FIRST_STEP);
});

test("Ramp.cap() lowers the most connections, and settles it when reached", () => {
  const ramp = new Ramp({ max: 16, firstAnswer: ANSWER });
  run(ramp, [20]);
  assert.equal(ramp.connections, FIRST_STEP);
  ramp.cap(3);
  assert.equal(ramp.settled, true);
  const one = new Ramp({ max: 1, firstAnswer: 50 });
  assert.equal(one.settled, true);
});

test("Ramp takes the next step at the first window that shows a rise, while the new connections are still in slow start", () => {
  const ramp = new Ramp({ max: 64, firstAnswer: ANSWER });
  ramp.observe(0, 0, 1e12);
  // One connection at 70 MB/s: the first step.
  assert.equal(ramp.observe(MIN_WINDOW, 70 * MB / 1000 * MIN_WINDOW, 1e12), 4);
  // A window from the new connections' first answer shows 100 MB/s, more
  // than RISE times 70: the next step at once, before SETTLE_ANSWERS.
  const start = MIN_WINDOW + ANSWER;
  const bytes = 70 * MB / 1000 * MIN_WINDOW;
  ramp.observe(start, bytes, 1e12);
  const end = start + MIN_WINDOW;
  assert.ok(end < MIN_WINDOW + SETTLE_ANSWERS * ANSWER + MIN_WINDOW);
  assert.equal(
    ramp.observe(end, bytes + 100 * MB / 1000 * MIN_WINDOW, 1e12),
    FIRST_STEP * STEP,
  );
});

test("Ramp stops only on a window that starts SETTLE_ANSWERS first answers after the step", () => {
  const ramp = new Ramp({ max: 64, firstAnswer: ANSWER });
  const at = (rate: number) => rate * MB / 1000 * MIN_WINDOW;
  ramp.observe(0, 0, 1e12);
  let bytes = at(70);
  assert.equal(ramp.observe(MIN_WINDOW, bytes, 1e12), FIRST_STEP);
  // An early window without a rise (slow start): measured on, not settled.
  let time = MIN_WINDOW + ANSWER;
  ramp.observe(time, bytes, 1e12);
  time += MIN_WINDOW;
  bytes += at(70);
  assert.equal(ramp.observe(time, bytes, 1e12), FIRST_STEP);
  assert.equal(ramp.settled, false);
  // That window ended after the settle time: the next is judged, and
  // without a rise it stops the ramp.
  assert.ok(time >= MIN_WINDOW + SETTLE_ANSWERS * ANSWER);
  time += MIN_WINDOW;
  bytes += at(75);
  assert.equal(ramp.observe(time, bytes, 1e12), FIRST_STEP);
  assert.equal(ramp.settled, true);
});

test("Ramp.begin() gives a file of EARLY_BYTES or more EARLY_STEP connections at the first answer, and settles", () => {
  const ramp = new Ramp({ max: 64, firstAnswer: ANSWER });
  assert.equal(ramp.begin(0, EARLY_BYTES), EARLY_STEP);
  assert.equal(ramp.settled, true);
  // Whatever the rate shows later.
  ramp.observe(ANSWER, 0, 1e12);
  assert.equal(ramp.observe(ANSWER + MIN_WINDOW, 300 * MB, 1e12), EARLY_STEP);
  // Never more than the most allowed.
  const few = new Ramp({ max: 8, firstAnswer: ANSWER });
  assert.equal(few.begin(0, EARLY_BYTES), 8);
  assert.equal(few.settled, true);
});

test("Ramp.begin() leaves a smaller file, or a server on this machine or network, to the first connection's rate", () => {
  const small = new Ramp({ max: 16, firstAnswer: ANSWER });
  assert.equal(small.begin(0, EARLY_BYTES - 1), 1);
  assert.equal(small.settled, false);
  assert.deepEqual(run(small, [20]), [FIRST_STEP]);
  const local = new Ramp({ max: 16, firstAnswer: LOCAL_ANSWER - 1 });
  assert.equal(local.begin(0, 1e12), 1);
  const named = new Ramp({ max: 16, firstAnswer: ANSWER, loopback: true });
  assert.equal(named.begin(0, 1e12), 1);
  const one = new Ramp({ max: 1, firstAnswer: ANSWER });
  assert.equal(one.begin(0, 1e12), 1);
});
