import assert from "node:assert/strict";
import { test } from "node:test";
import { SpeedCheck } from "../../src/_transfer/speed_check.ts";

test("SpeedCheck calls onSlow once, with the speed measured, when a window passes under the minimum", async () => {
  let calls = 0;
  const start = performance.now();
  const speed = await new Promise<number>((resolve) => {
    const check = new SpeedCheck(1000, 100, (measured) => {
      calls++;
      resolve(measured);
    });
    check.received(10); // 10 bytes in the first window: 100 B/s
  });
  assert.ok(speed < 1000, `${speed}`);
  // Judged over a whole window at least.
  assert.ok(performance.now() - start >= 100 - 2);
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(calls, 1);
});

test("SpeedCheck never calls onSlow once stopped", async () => {
  let calls = 0;
  const check = new SpeedCheck(1000, 50, () => calls++);
  check.stop();
  await new Promise((resolve) => setTimeout(resolve, 120));
  assert.equal(calls, 0);
});

test("SpeedCheck does not judge time held back, even by a check made while the hold lasts", async () => {
  let calls = 0;
  const check = new SpeedCheck(1000, 50, () => calls++);
  check.held();
  // Four windows pass with no byte received, all of them held back.
  await new Promise((resolve) => setTimeout(resolve, 200));
  check.released();
  check.stop();
  assert.equal(calls, 0);
});
