import assert from "node:assert/strict";
import { test } from "node:test";
import { SpeedCheck, SpeedMeter } from "../../src/_transfer/speed_check.ts";
import { useManualClock } from "../_helpers/manual_clock.ts";

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

test("SpeedMeter counts time as held back while any of its holders is held", async () => {
  const meter = new SpeedMeter(50);
  meter.held();
  meter.held();
  meter.released(); // one holder left
  await new Promise((resolve) => setTimeout(resolve, 120));
  assert.equal(meter.measure(), undefined);
  meter.released();
  meter.released(); // one too many: ignored
  await new Promise((resolve) => setTimeout(resolve, 120));
  meter.received(1000);
  const speed = meter.measure();
  assert.ok(speed !== undefined && speed > 0, `${speed}`);
});

test("SpeedCheck in a group calls onSlow only once the group is under the minimum, with the group's speed", async () => {
  // A window long enough that no stall of a loaded machine spans it.
  const group = { meter: new SpeedMeter(500), connections: () => 2 };
  // Another connection of the group, fast, until `feeding` stops.
  const feeding = setInterval(() => group.meter.received(1_000_000), 5);
  let stoppedAt = Infinity;
  const speed = await new Promise<number>((resolve) => {
    // This connection brings nothing: under its share from the start.
    new SpeedCheck(1000, 500, (measured) => resolve(measured), group);
    setTimeout(() => {
      clearInterval(feeding);
      stoppedAt = performance.now();
    }, 1000);
  });
  clearInterval(feeding);
  // Not while the group kept its pace; then at the group's speed.
  assert.ok(performance.now() >= stoppedAt, "judged while the group was fast");
  assert.ok(speed < 1000, `${speed}`);
});

test("SpeedCheck does not count as slow a stretch the process did not run (its sample came a period late or more)", () => {
  using clock = useManualClock();
  const speeds: number[] = [];
  const check = new SpeedCheck(1000, 500, (speed) => speeds.push(speed));
  /** `ms` at 2000 bytes/s, twice the minimum, sampled as it goes. */
  const flow = (ms: number): void => {
    for (let at = 0; at < ms; at += 100) {
      check.received(200);
      clock.advance(100);
    }
  };
  flow(1000);
  // The process stops for 1.5 s (no byte can be read), then runs on: the
  // sample due meanwhile fires late, before the bytes waiting are read.
  clock.jump(1500);
  clock.advance(0);
  flow(1000);
  check.stop();
  assert.deepEqual(speeds, []);
});

test("SpeedCheck still calls onSlow for a slow body sampled on time after a stretch the process did not run", () => {
  using clock = useManualClock();
  const group = { meter: new SpeedMeter(500), connections: () => 2 };
  const speeds: number[] = [];
  const checks = [0, 1].map(() =>
    new SpeedCheck(1000, 500, (speed) => speeds.push(speed), group)
  );
  clock.jump(1500);
  clock.advance(0);
  // On time from now on, and nothing comes: slow, once the stretch counted
  // for each connection's sample alike is out of the window.
  clock.advance(1000);
  for (const check of checks) check.stop();
  assert.deepEqual(speeds, [0, 0]);
});

test("SpeedMeter counts once a stretch that several connections mark absent", () => {
  using clock = useManualClock();
  const meter = new SpeedMeter(500);
  const start = clock.now();
  clock.jump(1500);
  meter.absent(start + 100);
  meter.absent(start + 100); // another connection's late sample
  clock.advance(250);
  meter.received(700);
  // 1,750 ms passed, 1,400 of them absent: 700 bytes in 350 ms.
  assert.equal(meter.measure(), 2000);
});
