// A download's recent speed (src/cli/speed_meter.ts), from samples given
// with their times: no clock, no download.

import assert from "node:assert/strict";
import { test } from "node:test";
import { SPEED_WINDOW, SpeedMeter } from "../../src/cli/speed_meter.ts";

test("SpeedMeter.speed() is undefined when the samples span less than 200 ms", () => {
  const meter = new SpeedMeter();
  assert.equal(meter.speed(1000), undefined);
  meter.add(1000, 0);
  meter.add(1199, 5000);
  assert.equal(meter.speed(1199), undefined);
  meter.add(1200, 5000);
  assert.equal(meter.speed(1200), 25_000);
});

test("SpeedMeter.speed() is measured over the last SPEED_WINDOW ms when samples are older", () => {
  const meter = new SpeedMeter();
  meter.add(0, 0);
  meter.add(1000, 100_000); // 100 KB/s, then 10 KB/s
  for (let time = 2000; time <= 2000 + SPEED_WINDOW; time += 1000) {
    meter.add(time, 100_000 + 10 * (time - 1000));
  }
  assert.equal(meter.speed(2000 + SPEED_WINDOW), 10_000);
});

// Reported bug: a download that started over from its first byte (the
// server cannot resume) showed a negative speed, "-1713218 B/s", for the
// 3 s its samples from before the restart were kept.
test("SpeedMeter.speed() measures from the restart when the bytes go back (the download started over)", () => {
  const meter = new SpeedMeter();
  meter.add(0, 0);
  meter.add(1000, 10_000_000);
  meter.add(1100, 0);
  assert.equal(meter.speed(1100), undefined);
  meter.add(1300, 400_000);
  assert.equal(meter.speed(1300), 2_000_000);
});

// Reported bug: a download whose server stopped sending kept showing the
// speed it last had, and an ETA of seconds, until its idle timeout (60 s).
test("SpeedMeter.speed() slows down to 0 when no bytes come (a stalled download)", () => {
  const meter = new SpeedMeter();
  meter.add(0, 0);
  meter.add(1000, 1_000_000);
  assert.equal(meter.speed(1000), 1_000_000);
  assert.equal(meter.speed(2000), 500_000);
  assert.equal(meter.speed(1000 + SPEED_WINDOW), 0);
  assert.equal(meter.speed(60_000), 0);
  meter.add(61_000, 1_000_000 + 8000);
  assert.equal(meter.speed(61_000), 8000 / 3);
});
