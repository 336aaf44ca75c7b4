// The CLI's sizes and durations (src/cli/units.ts): what `--max-size`
// accepts and how the display and summary print bytes and times.

import assert from "node:assert/strict";
import { test } from "node:test";
import { formatBytes, formatDuration, parseSize } from "../../src/cli/units.ts";

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

function sizeError(text: string): RangeError {
  return new RangeError(
    `Invalid size "${text}": expected a number with an optional unit (K, M, G, T), e.g. 500M`,
  );
}

// parseSize

test("parseSize() returns the bytes when the text is a plain number", () => {
  assert.equal(parseSize("0"), 0);
  assert.equal(parseSize("1"), 1);
  assert.equal(parseSize("1024"), 1024);
  assert.equal(parseSize("123456789"), 123_456_789);
});

test("parseSize() multiplies by a binary unit when the text has K, M, G or T", () => {
  assert.equal(parseSize("10k"), 10 * KiB);
  assert.equal(parseSize("10K"), 10 * KiB);
  assert.equal(parseSize("500M"), 500 * MiB);
  assert.equal(parseSize("500M"), 524_288_000);
  assert.equal(parseSize("2G"), 2 * GiB);
  assert.equal(parseSize("2g"), 2_147_483_648);
  assert.equal(parseSize("3T"), 3 * TiB);
});

test("parseSize() accepts a B or iB after the unit when the text has one, in any case", () => {
  assert.equal(parseSize("1KB"), KiB);
  assert.equal(parseSize("1kib"), KiB);
  assert.equal(parseSize("1KiB"), KiB);
  assert.equal(parseSize("2MiB"), 2 * MiB);
  assert.equal(parseSize("2mb"), 2 * MiB);
  assert.equal(parseSize("100B"), 100);
  assert.equal(parseSize("100b"), 100);
});

test("parseSize() ignores whitespace when it surrounds the number or the unit", () => {
  assert.equal(parseSize(" 7k "), 7 * KiB);
  assert.equal(parseSize("2 MB"), 2 * MiB);
  assert.equal(parseSize("\t5\tG\t"), 5 * GiB);
});

test("parseSize() rounds down to a whole byte when the text has decimals", () => {
  assert.equal(parseSize("1.5g"), 1_610_612_736);
  assert.equal(parseSize("1.5K"), 1536);
  assert.equal(parseSize("0.5M"), 512 * KiB);
  assert.equal(parseSize("0.1k"), 102); // 102.4
  assert.equal(parseSize("2.9"), 2);
  assert.equal(parseSize("0.5"), 0);
});

test("parseSize() throws a RangeError when the text is not a size", () => {
  for (
    const text of [
      "",
      " ",
      "M",
      "abc",
      "-1",
      "-1M",
      "+1M",
      ".5M",
      "5.M",
      "1,5M",
      "1e3",
      "1P",
      "1MM",
      "1 M B",
      "1KiBs",
      "0x10",
      "Infinity",
      "NaN",
      "10 0",
    ]
  ) {
    assert.throws(() => parseSize(text), sizeError(text), JSON.stringify(text));
  }
});

// formatBytes

test("formatBytes() prints whole bytes when the count is under 1 KiB", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1), "1 B");
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(12.4), "12 B");
  assert.equal(formatBytes(12.5), "13 B");
});

test("formatBytes() prints one decimal when the value in its unit is under 10", () => {
  assert.equal(formatBytes(1024), "1.0 KiB");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(7000), "6.8 KiB");
  assert.equal(formatBytes(MiB), "1.0 MiB");
  assert.equal(formatBytes(3.2 * MiB), "3.2 MiB");
  assert.equal(formatBytes(9.94 * MiB), "9.9 MiB");
  assert.equal(formatBytes(GiB), "1.0 GiB");
  assert.equal(formatBytes(2.5 * TiB), "2.5 TiB");
});

test("formatBytes() rounds to 10.0 when the value in its unit is just under 10", () => {
  assert.equal(formatBytes(10 * KiB - 1), "10.0 KiB");
});

test("formatBytes() prints no decimals when the value in its unit is 10 or more", () => {
  assert.equal(formatBytes(10 * KiB), "10 KiB");
  assert.equal(formatBytes(150_000), "146 KiB");
  // The doc comment's example says "12.3 MiB"; the code prints whole units
  // from 10 up.
  assert.equal(formatBytes(12.3 * MiB), "12 MiB");
  assert.equal(formatBytes(456 * MiB), "456 MiB");
  assert.equal(formatBytes(999.6 * GiB), "1000 GiB");
});

test("formatBytes() prints 1024 of the smaller unit when rounding reaches the next unit", () => {
  assert.equal(formatBytes(MiB - 1), "1024 KiB");
  assert.equal(formatBytes(1023.6 * KiB), "1024 KiB");
  assert.equal(formatBytes(1023.4 * KiB), "1023 KiB");
});

test("formatBytes() stays in TiB when the count is a PiB or more", () => {
  assert.equal(formatBytes(1024 * TiB), "1024 TiB");
  assert.equal(formatBytes(5 * 1024 * TiB), "5120 TiB");
});

// formatDuration

test("formatDuration() prints tenths of a second when the duration is under 10 s", () => {
  assert.equal(formatDuration(0), "0.0s");
  assert.equal(formatDuration(400), "0.4s");
  assert.equal(formatDuration(1234), "1.2s");
  assert.equal(formatDuration(5120), "5.1s");
  assert.equal(formatDuration(9940), "9.9s");
  assert.equal(formatDuration(9999), "10.0s");
});

test("formatDuration() prints whole seconds when the duration is 10 s to under a minute", () => {
  assert.equal(formatDuration(10_000), "10s");
  assert.equal(formatDuration(12_000), "12s");
  assert.equal(formatDuration(12_499), "12s");
  assert.equal(formatDuration(12_500), "13s");
  assert.equal(formatDuration(59_499), "59s");
});

test("formatDuration() prints minutes and two-digit seconds when the duration is under an hour", () => {
  assert.equal(formatDuration(59_500), "1m00s");
  assert.equal(formatDuration(60_000), "1m00s");
  assert.equal(formatDuration(65_000), "1m05s");
  assert.equal(formatDuration(185_000), "3m05s");
  assert.equal(formatDuration(3_599_499), "59m59s");
});

test("formatDuration() prints hours and two-digit minutes when the duration is an hour or more", () => {
  assert.equal(formatDuration(3_599_500), "1h00m");
  assert.equal(formatDuration(3_600_000), "1h00m");
  assert.equal(formatDuration(7_380_000), "2h03m");
  assert.equal(formatDuration(7_439_000), "2h03m"); // seconds dropped
  assert.equal(formatDuration(90_061_000), "25h01m");
});

test("formatDuration() returns ? when the duration is infinite, NaN or negative", () => {
  assert.equal(formatDuration(Infinity), "?");
  assert.equal(formatDuration(-Infinity), "?");
  assert.equal(formatDuration(NaN), "?");
  assert.equal(formatDuration(-1), "?");
});
