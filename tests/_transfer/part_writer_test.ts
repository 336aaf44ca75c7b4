// PartWriter (src/_transfer/part_writer.ts): reads gathered into larger
// writes while no limit paces them, written anyway when no read follows,
// and never beyond the part's room.

import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_WRITE, PartWriter } from "../../src/_transfer/part_writer.ts";
import type { FileWriter } from "../../src/_runtime/fs_types.ts";

const KIB = 1024;

/** A writer under test, and what it did. */
interface Setup {
  /** Copies of the file's writes. */
  writes: Uint8Array[];
  /** What the sink was told of, write by write. */
  told: number[];
  /** The sink: its room, which a test may lower. */
  sink: { room(): number; setRoom(bytes: number): void };
  writer: PartWriter;
  /** Resolves at the next write the sink is told of. */
  nextWrite(): Promise<void>;
}

/** A file that records its writes (copies), and a sink with `room` bytes. */
function setup(
  room: number,
  failWrite = false,
  signal = new AbortController().signal,
): Setup {
  const writes: Uint8Array[] = [];
  const file = {
    write: (data: Uint8Array) => {
      if (failWrite) return Promise.reject(new Error("disk full"));
      writes.push(data.slice());
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  } as unknown as FileWriter;
  let written = 0;
  const told: number[] = [];
  let onWrote: (() => void) | undefined;
  const sink = {
    room: () => room - written,
    setRoom: (bytes: number) => {
      room = bytes;
    },
    wrote: (bytes: number) => {
      written += bytes;
      told.push(bytes);
      onWrote?.();
      return Promise.resolve();
    },
  };
  const nextWrite = () => new Promise<void>((resolve) => onWrote = resolve);
  return {
    writes,
    told,
    sink,
    writer: new PartWriter(file, sink, signal),
    nextWrite,
  };
}

const read = (size: number, fill: number) => new Uint8Array(size).fill(fill);

test("PartWriter gathers small reads into writes of MAX_WRITE, in order", async () => {
  const { writes, told, writer } = setup(10 * MAX_WRITE);
  for (let i = 0; i < 5; i++) await writer.take(read(48 * KIB, i), true);
  assert.equal(writes.length, 0);
  // The sixth fills MAX_WRITE: written at once, its rest held.
  await writer.take(read(48 * KIB, 5), true);
  assert.deepEqual(told, [MAX_WRITE]);
  await writer.flush();
  assert.deepEqual(told, [MAX_WRITE, 6 * 48 * KIB - MAX_WRITE]);
  const all = new Uint8Array(writes.flatMap((w) => [...w]));
  for (let i = 0; i < 6; i++) assert.equal(all[i * 48 * KIB], i);
  await writer.drop();
});

test("PartWriter writes what it holds when no read follows (a stalled server's bytes reach the disk)", async () => {
  const { writes, writer, nextWrite } = setup(10 * MAX_WRITE);
  const landed = nextWrite();
  await writer.take(read(1000, 7), true);
  assert.equal(writes.length, 0);
  await landed;
  assert.deepEqual(writes.map((w) => w.byteLength), [1000]);
  await writer.drop();
});

test("PartWriter writes each read at once when told not to gather (a limit paces them)", async () => {
  const { told, writer } = setup(10 * MAX_WRITE);
  await writer.take(read(1000, 1), false);
  await writer.take(read(2000, 2), false);
  assert.deepEqual(told, [1000, 2000]);
  // A read larger than MAX_WRITE is written, and paid for, in slices.
  await writer.take(read(MAX_WRITE + 10, 3), false);
  assert.deepEqual(told.slice(2), [MAX_WRITE, 10]);
});

test("PartWriter writes a read in slices of the sink's writeSize when it has one (a low limit)", async () => {
  const { told, sink, writer } = setup(10 * MAX_WRITE);
  Object.assign(sink, { writeSize: () => 5 * KIB });
  // A chunk Node's fetch made, of 12 KiB: written, and paid for, 5 KiB at
  // a time.
  await writer.take(read(12 * KIB, 1), false);
  assert.deepEqual(told, [5 * KIB, 5 * KIB, 2 * KIB]);
});

test("PartWriter writes the part's rest at once, and nothing beyond its room, also after the room was lowered", async () => {
  const { told, sink, writer } = setup(3000);
  await writer.take(read(1000, 1), true);
  // The rest of the part is here: written now, the byte beyond dropped.
  await writer.take(read(2001, 2), true);
  assert.deepEqual(told, [3000]);
  assert.equal(sink.room(), 0);
  const lowered = setup(100_000);
  await lowered.writer.take(read(5000, 1), true);
  lowered.sink.setRoom(3000);
  await lowered.writer.flush();
  assert.deepEqual(lowered.told, [3000]);
});

test("PartWriter throws a failed write from the next call, and drops what it holds", async () => {
  const { writer } = setup(10 * MAX_WRITE, true);
  await writer.take(read(1000, 1), true);
  await assert.rejects(writer.flush(), /disk full/);
  const other = setup(10 * MAX_WRITE, true);
  await other.writer.take(read(1000, 1), true);
  await other.writer.drop();
  await other.writer.flush(); // nothing held: nothing written, no error
});

test("PartWriter writes nothing more once its signal aborts, though a read held several writes' bytes (Bun)", async () => {
  for (const gather of [false, true]) {
    const abort = new AbortController();
    const { writes, told, writer, nextWrite } = setup(
      10 * MAX_WRITE,
      false,
      abort.signal,
    );
    // A listener told of the first write pauses the download.
    const paused = new RangeError("paused");
    nextWrite().then(() => abort.abort(paused));
    await assert.rejects(writer.take(read(4 * MAX_WRITE, 1), gather), paused);
    // The write under way landed; the rest of the read was not written.
    assert.deepEqual(told, [MAX_WRITE], `gather: ${gather}`);
    assert.equal(writes.length, 1);
    await writer.drop();
  }
});
