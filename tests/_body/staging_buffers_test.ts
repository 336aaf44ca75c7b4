import assert from "node:assert/strict";
import { test } from "node:test";
import {
  keepBuffer,
  reusedBuffer,
  shareBuffers,
  stagingBuffer,
  stopSharingBuffers,
} from "../../src/_body/staging_buffers.ts";

test("stagingBuffer() rounds a size up to a quarter step between powers of two, within most", () => {
  assert.equal(stagingBuffer(1, 1 << 20).byteLength, 4096);
  assert.equal(stagingBuffer(4096, 1 << 20).byteLength, 4096);
  assert.equal(stagingBuffer(4097, 1 << 20).byteLength, 5120);
  assert.equal(stagingBuffer(65_537, 1 << 20).byteLength, 81_920);
  assert.equal(stagingBuffer(131_072, 1 << 20).byteLength, 131_072);
  assert.equal(stagingBuffer(65_537, 1000).byteLength, 1000);
});

test("reusedBuffer() returns a buffer kept while a job runs, and no other's twice", () => {
  shareBuffers();
  try {
    const buffer = new ArrayBuffer(12_288);
    keepBuffer(buffer);
    assert.notEqual(reusedBuffer(8192).buffer, buffer);
    assert.equal(reusedBuffer(12_288).buffer, buffer);
    assert.notEqual(reusedBuffer(12_288).buffer, buffer);
  } finally {
    stopSharingBuffers();
  }
});

test("keepBuffer() keeps nothing when no job runs", () => {
  const buffer = new ArrayBuffer(13_312);
  keepBuffer(buffer);
  shareBuffers();
  try {
    assert.notEqual(reusedBuffer(13_312).buffer, buffer);
  } finally {
    stopSharingBuffers();
  }
});

test("keepBuffer() keeps a buffer from a job that ended for the next one", () => {
  shareBuffers();
  const buffer = new ArrayBuffer(14_336);
  keepBuffer(buffer);
  stopSharingBuffers();
  shareBuffers();
  try {
    // Held weakly meanwhile: still there, no collection having run since.
    assert.equal(reusedBuffer(14_336).buffer, buffer);
  } finally {
    stopSharingBuffers();
  }
});

test("keepBuffer() keeps no detached buffer", () => {
  shareBuffers();
  try {
    const buffer = new ArrayBuffer(15_360);
    structuredClone(buffer, { transfer: [buffer] });
    keepBuffer(buffer);
    assert.equal(reusedBuffer(15_360).byteLength, 15_360);
  } finally {
    stopSharingBuffers();
  }
});
