import assert from "node:assert/strict";
import { test } from "node:test";
import { mergeRanges, Pieces } from "../../src/_transfer/pieces.ts";

test("mergeRanges() sorts, joins touching or overlapping ranges, and drops empty ones", () => {
  assert.deepEqual(
    mergeRanges([[10, 20], [0, 5], [5, 8], [15, 30], [40, 40], [50, 60]]),
    [[0, 8], [10, 30], [50, 60]],
  );
  assert.deepEqual(mergeRanges([]), []);
});

test("Pieces claims free ranges in order, at most maxSize long", () => {
  const pieces = new Pieces(100);
  const a = pieces.claim(40, 10);
  const b = pieces.claim(40, 10);
  const c = pieces.claim(40, 10);
  assert.deepEqual([a, b, c].map((p) => p && [p.start, p.end]), [
    [0, 40],
    [40, 80],
    [80, 100],
  ]);
});

test("Pieces claims with a piece the rest of its range that would be smaller than minSize", () => {
  const pieces = new Pieces(2 * 1024 + 1);
  const first = pieces.claim(1024, 1024);
  const second = pieces.claim(1024, 1024);
  assert.deepEqual([first?.start, first?.end], [0, 1024]);
  // Not 1024 bytes and a part of 1 byte, with a request of its own.
  assert.deepEqual([second?.start, second?.end], [1024, 2 * 1024 + 1]);
  assert.equal(pieces.claim(1024, 1024), undefined);
});

test("Pieces leaves out the ranges done, and counts them as done", () => {
  const pieces = new Pieces(100, [[0, 30], [60, 70]]);
  assert.equal(pieces.bytesDone, 40);
  const a = pieces.claim(1000, 10);
  const b = pieces.claim(1000, 10);
  assert.deepEqual([a, b].map((p) => p && [p.start, p.end]), [[30, 60], [
    70,
    100,
  ]]);
  assert.equal(pieces.complete, false);
});

test("Pieces steals the far half of the largest active piece when none is free, lowering its owner's end", () => {
  const pieces = new Pieces(100);
  const a = pieces.claim(100, 10);
  assert.ok(a !== undefined);
  pieces.wrote(a, 20);
  const stolen = pieces.claim(100, 10);
  // 80 bytes left of a: it keeps [20, 60), the thief gets [60, 100).
  assert.deepEqual(stolen && [stolen.start, stolen.end], [60, 100]);
  assert.equal(a.end, 60);
  assert.equal(pieces.active.length, 2);
});

test("Pieces steals nothing when the half would be smaller than minSize", () => {
  const pieces = new Pieces(100);
  const a = pieces.claim(100, 10);
  assert.ok(a !== undefined);
  pieces.wrote(a, 85);
  assert.equal(pieces.claim(100, 10), undefined);
});

test("Pieces.wrote() refuses a write past its piece's end", () => {
  const pieces = new Pieces(100);
  const a = pieces.claim(50, 10);
  assert.ok(a !== undefined);
  assert.throws(() => pieces.wrote(a, 51), RangeError);
});

test("Pieces.release() keeps what was written, and frees the rest for another connection", () => {
  const pieces = new Pieces(100);
  const a = pieces.claim(100, 10);
  assert.ok(a !== undefined);
  pieces.wrote(a, 30);
  pieces.release(a);
  assert.deepEqual(pieces.doneRanges(), [[0, 30]]);
  assert.equal(pieces.bytesDone, 30);
  const b = pieces.claim(100, 10);
  assert.deepEqual(b && [b.start, b.end], [30, 100]);
  pieces.wrote(b as NonNullable<typeof b>, 70);
  pieces.release(b as NonNullable<typeof b>);
  assert.equal(pieces.complete, true);
  assert.deepEqual(pieces.doneRanges(), [[0, 100]]);
});

test("Pieces.doneRanges() counts what active pieces wrote so far", () => {
  const pieces = new Pieces(100, [[90, 100]]);
  const a = pieces.claim(45, 10);
  const b = pieces.claim(45, 10);
  pieces.wrote(a as NonNullable<typeof a>, 10);
  pieces.wrote(b as NonNullable<typeof b>, 5);
  assert.deepEqual(pieces.doneRanges(), [[0, 10], [45, 50], [90, 100]]);
  assert.equal(pieces.bytesDone, 25);
});
