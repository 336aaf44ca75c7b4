import assert from "node:assert/strict";
import { test } from "node:test";
import { ChunkedWriter } from "../../src/_body/chunked_writer.ts";
import type { FileWriter } from "../../src/_runtime/fs.ts";
import { stalledAfter, streamOf } from "../_helpers/streams.ts";

/** A FileWriter that records every write (copied: the writer reuses its buffer). */
interface FakeFile extends FileWriter {
  /** A copy of each write's bytes, in order. */
  writes: number[][];
  /** The array each write was given, as given. */
  arrays: Uint8Array[];
}

function fakeFile(): FakeFile {
  const writes: number[][] = [];
  const arrays: Uint8Array[] = [];
  return {
    writes,
    arrays,
    write(data: Uint8Array): Promise<void> {
      writes.push(Array.from(data));
      arrays.push(data);
      return Promise.resolve();
    },
    close(): Promise<void> {
      return Promise.resolve();
    },
  };
}

/** The bytes `start`, `start + 1`, ... (`length` of them). */
function bytes(start: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => start + i);
}

/** The numbers `start`, `start + 1`, ... (`length` of them). */
function range(start: number, length: number): number[] {
  return Array.from({ length }, (_, i) => start + i);
}

test("ChunkedWriter.push() joins chunks into one write when they are smaller than chunkSize", async () => {
  const file = fakeFile();
  const writer = new ChunkedWriter(file, 4, undefined, () => {});
  await writer.push(bytes(1, 1));
  await writer.push(bytes(2, 2));
  assert.deepEqual(file.writes, []);
  await writer.push(bytes(4, 3));
  assert.deepEqual(file.writes, [[1, 2, 3, 4]]);
  assert.equal(writer.written, 4);
  await writer.push(bytes(7, 2));
  assert.deepEqual(file.writes, [[1, 2, 3, 4], [5, 6, 7, 8]]);
  await writer.flush();
  assert.deepEqual(file.writes, [[1, 2, 3, 4], [5, 6, 7, 8]]);
  assert.equal(writer.written, 8);
});

test("ChunkedWriter.push() splits a chunk into writes from its own memory when it covers several chunkSizes", async () => {
  const file = fakeFile();
  const writer = new ChunkedWriter(file, 4, undefined, () => {});
  const chunk = bytes(0, 14);
  await writer.push(chunk);
  assert.deepEqual(file.writes, [range(0, 4), range(4, 4), range(8, 4)]);
  for (const [i, array] of file.arrays.entries()) {
    assert.equal(array.buffer, chunk.buffer);
    assert.equal(array.byteOffset, 4 * i);
    assert.equal(array.byteLength, 4);
  }
  await writer.flush();
  assert.deepEqual(file.writes, [
    range(0, 4),
    range(4, 4),
    range(8, 4),
    [12, 13],
  ]);
  assert.notEqual(file.arrays[3]?.buffer, chunk.buffer);
  assert.equal(writer.written, 14);
});

test("ChunkedWriter.push() writes exactly chunkSize bytes each time when chunk sizes are mixed", async () => {
  const file = fakeFile();
  const writer = new ChunkedWriter(file, 5, undefined, () => {});
  const sizes = [3, 9, 1, 12, 2, 5, 1];
  let next = 0;
  for (const size of sizes) {
    await writer.push(bytes(next, size));
    next += size;
  }
  await writer.flush();
  assert.equal(next, 33);
  assert.deepEqual(file.writes, [
    range(0, 5),
    range(5, 5),
    range(10, 5),
    range(15, 5),
    range(20, 5),
    range(25, 5),
    range(30, 3),
  ]);
  assert.equal(writer.written, 33);
});

test("ChunkedWriter.push() writes the middle of a chunk from its own memory when it follows staged bytes", async () => {
  const file = fakeFile();
  const writer = new ChunkedWriter(file, 4, undefined, () => {});
  await writer.push(bytes(0, 2));
  const chunk = bytes(2, 10);
  await writer.push(chunk);
  assert.deepEqual(file.writes, [range(0, 4), range(4, 4), range(8, 4)]);
  assert.notEqual(file.arrays[0]?.buffer, chunk.buffer);
  assert.equal(file.arrays[1]?.buffer, chunk.buffer);
  assert.equal(file.arrays[1]?.byteOffset, 2);
  assert.equal(file.arrays[2]?.buffer, chunk.buffer);
  assert.equal(file.arrays[2]?.byteOffset, 6);
});

test("ChunkedWriter.flush() writes the short tail when fewer than chunkSize bytes are staged", async () => {
  const file = fakeFile();
  const writer = new ChunkedWriter(file, 8, 3, () => {});
  await writer.push(bytes(7, 3));
  assert.deepEqual(file.writes, []);
  assert.equal(writer.written, 0);
  await writer.flush();
  assert.deepEqual(file.writes, [[7, 8, 9]]);
  assert.equal(writer.written, 3);
  await writer.flush();
  assert.deepEqual(file.writes, [[7, 8, 9]]);
});

test("ChunkedWriter.flush() writes nothing when the input was empty", async () => {
  const file = fakeFile();
  const written: number[] = [];
  const writer = new ChunkedWriter(file, 4, 0, (n) => written.push(n));
  await writer.push(new Uint8Array(0));
  await writer.flush();
  assert.deepEqual(file.writes, []);
  assert.deepEqual(written, []);
  assert.equal(writer.written, 0);
});

test("ChunkedWriter.push() ignores an empty chunk when bytes are staged", async () => {
  const file = fakeFile();
  const writer = new ChunkedWriter(file, 4, undefined, () => {});
  await writer.push(bytes(1, 2));
  await writer.push(new Uint8Array(0));
  await writer.push(bytes(3, 2));
  await writer.flush();
  assert.deepEqual(file.writes, [[1, 2, 3, 4]]);
});

test("ChunkedWriter.push() grows its buffer when the body is longer than expected", async () => {
  const file = fakeFile();
  const writer = new ChunkedWriter(file, 8, 3, () => {});
  await writer.push(bytes(0, 2));
  await writer.push(bytes(2, 3));
  await writer.push(bytes(5, 4));
  assert.deepEqual(file.writes, [range(0, 8)]);
  await writer.push(bytes(9, 2));
  await writer.flush();
  assert.deepEqual(file.writes, [range(0, 8), range(8, 3)]);
  assert.equal(writer.written, 11);
});

test("ChunkedWriter.push() grows its buffer when the first chunk is already longer than expected", async () => {
  const file = fakeFile();
  const writer = new ChunkedWriter(file, 4, 2, () => {});
  await writer.push(bytes(0, 3));
  await writer.push(bytes(3, 3));
  await writer.flush();
  assert.deepEqual(file.writes, [range(0, 4), range(4, 2)]);
  assert.equal(writer.written, 6);
});

test("ChunkedWriter.push() reuses one staging buffer when one-byte chunks fill several writes", async () => {
  const file = fakeFile();
  const writer = new ChunkedWriter(file, 3, 9, () => {});
  for (let i = 0; i < 9; i++) await writer.push(bytes(i, 1));
  await writer.flush();
  assert.deepEqual(file.writes, [range(0, 3), range(3, 3), range(6, 3)]);
  assert.equal(file.arrays[1]?.buffer, file.arrays[0]?.buffer);
  assert.equal(file.arrays[2]?.buffer, file.arrays[0]?.buffer);
});

test("ChunkedWriter.push() stages in a buffer no larger than the body when the expected length is below chunkSize", async () => {
  const file = fakeFile();
  const writer = new ChunkedWriter(file, 1024, 3, () => {});
  await writer.push(bytes(0, 1));
  await writer.push(bytes(1, 2));
  await writer.flush();
  assert.deepEqual(file.writes, [[0, 1, 2]]);
  assert.equal(file.arrays[0]?.buffer.byteLength, 3);
});

test("ChunkedWriter calls onWrite with the running total after each write", async () => {
  const file = fakeFile();
  const written: number[] = [];
  const writer = new ChunkedWriter(file, 4, 11, (n) => written.push(n));
  await writer.push(bytes(0, 3));
  assert.deepEqual(written, []);
  await writer.push(bytes(3, 6));
  assert.deepEqual(written, [4, 8]);
  await writer.push(bytes(9, 2));
  await writer.flush();
  assert.deepEqual(written, [4, 8, 11]);
  assert.equal(file.writes.length, 3);
});

test("ChunkedWriter calls onWrite only after the file's write resolved", async () => {
  const events: string[] = [];
  const file: FileWriter = {
    async write(data: Uint8Array): Promise<void> {
      events.push(`write start ${data.byteLength}`);
      await Promise.resolve();
      events.push(`write end ${data.byteLength}`);
    },
    close: () => Promise.resolve(),
  };
  const writer = new ChunkedWriter(file, 2, undefined, (n) => {
    events.push(`onWrite ${n}`);
  });
  await writer.push(bytes(0, 3));
  await writer.flush();
  assert.deepEqual(events, [
    "write start 2",
    "write end 2",
    "onWrite 2",
    "write start 1",
    "write end 1",
    "onWrite 3",
  ]);
});

// pipeFrom(): a byte stream (read with BYOB into the staging buffer, one
// write in flight) or any other stream (through push()).

/** A signal that never aborts. */
const NEVER = new AbortController().signal;

async function pipe(
  body: Uint8Array,
  chunkSize: number,
  pieceSize: number,
  byteStream: boolean,
  expected: number | undefined,
): Promise<{ file: FakeFile; reports: number[]; seen: number }> {
  const file = fakeFile();
  const reports: number[] = [];
  let seen = 0;
  const writer = new ChunkedWriter(
    file,
    chunkSize,
    expected,
    (written) => reports.push(written),
  );
  await writer.pipeFrom(
    streamOf(body, pieceSize, byteStream),
    (read) => {
      seen += read.byteLength;
    },
    (error) => error,
    NEVER,
  );
  await writer.flush();
  return { file, reports, seen };
}

for (const byteStream of [true, false]) {
  const kind = byteStream ? "a byte stream" : "another stream";
  for (const expected of [1000, undefined, 10, 5000]) {
    test(`ChunkedWriter.pipeFrom() writes exact chunks from ${kind} when ${expected ?? "no"} length is announced`, async () => {
      const body = bytes(0, 1000);
      for (
        const [chunkSize, pieceSize] of [[64, 333], [64, 7], [64, 64], [
          4096,
          100,
        ], [1, 3]] as const
      ) {
        const { file, reports, seen } = await pipe(
          body,
          chunkSize,
          pieceSize,
          byteStream,
          expected,
        );
        const wanted = Array<number>(Math.floor(1000 / chunkSize)).fill(
          chunkSize,
        );
        if (1000 % chunkSize !== 0) wanted.push(1000 % chunkSize);
        const label = `chunkSize ${chunkSize}, pieces of ${pieceSize}`;
        assert.deepEqual(
          file.writes.map((write) => write.length),
          wanted,
          label,
        );
        let sum = 0;
        assert.deepEqual(reports, wanted.map((size) => sum += size), label);
        assert.deepEqual(
          file.writes.flat(),
          range(0, 1000).map((n) => n & 0xff),
          label,
        );
        assert.equal(seen, 1000, label);
      }
    });
  }
}

for (const byteStream of [true, false]) {
  const kind = byteStream ? "a byte stream" : "another stream";
  test(`ChunkedWriter.pipeFrom() under a limit reads no more than its read size from ${kind}, and writes each read once paid for`, async () => {
    const body = bytes(0, 1000);
    for (const writePaced of [true, false]) {
      const file = fakeFile();
      const reports: number[] = [];
      const reads: number[] = [];
      let paid = 0;
      const writer = new ChunkedWriter(
        file,
        256,
        1000,
        (written) => reports.push(written),
        { readSize: (most) => Math.min(most, 30), writePaced },
      );
      await writer.pipeFrom(
        streamOf(body, 100, byteStream),
        (read) => {
          reads.push(read.byteLength);
          // What is written is paid for first.
          assert.ok(file.writes.flat().length <= paid);
          return Promise.resolve().then(() => {
            paid += read.byteLength;
          });
        },
        (error) => error,
        NEVER,
      );
      await writer.flush();
      const label = writePaced ? "writes paced" : "exact writes";
      assert.ok(reads.every((n) => n <= 30), `${label}: ${reads}`);
      assert.equal(paid, 1000, label);
      // Each paid read is written at once; exact writes stay whole chunks.
      assert.deepEqual(
        file.writes.map((write) => write.length),
        writePaced ? reads : [256, 256, 256, 232],
        label,
      );
      assert.equal(reports.at(-1), 1000, label);
      assert.deepEqual(
        file.writes.flat(),
        range(0, 1000).map((n) => n & 0xff),
        label,
      );
    }
  });
}

test("ChunkedWriter.pipeFrom() with a pacing that holds no limit reads and writes whole chunks", async () => {
  const file = fakeFile();
  const writer = new ChunkedWriter(file, 64, undefined, () => {}, {
    readSize: (most) => most,
    writePaced: true,
  });
  await writer.pipeFrom(
    streamOf(bytes(0, 200), 200, true),
    () => undefined, // not paced: no limit holds
    (error) => error,
    NEVER,
  );
  await writer.flush();
  assert.deepEqual(file.writes.map((write) => write.length), [64, 64, 64, 8]);
});

test("ChunkedWriter.pipeFrom() of an empty byte stream writes nothing", async () => {
  const { file, reports, seen } = await pipe(new Uint8Array(), 64, 1, true, 0);
  assert.deepEqual(file.writes, []);
  assert.deepEqual(reports, []);
  assert.equal(seen, 0);
});

test("ChunkedWriter.pipeFrom() drops staged bytes when a read fails, whichever the reader, and maps the error", async () => {
  for (const byteStream of [true, false]) {
    const file = fakeFile();
    const writer = new ChunkedWriter(file, 4, undefined, () => {});
    let sent = 0;
    const broken = new Error("connection reset");
    const source = byteStream
      ? new ReadableStream({
        type: "bytes",
        pull(controller): void {
          // 10 bytes (2 writes of 4, 2 staged), then the failure.
          if (sent < 10) controller.enqueue(bytes(sent, 5)), sent += 5;
          else controller.error(broken);
        },
      })
      : new ReadableStream<Uint8Array>({
        pull(controller): void {
          if (sent < 10) controller.enqueue(bytes(sent, 5)), sent += 5;
          else controller.error(broken);
        },
      });
    await assert.rejects(
      writer.pipeFrom(
        source,
        () => {},
        (error) => new TypeError(`mapped: ${error}`),
        NEVER,
      ),
      /mapped: Error: connection reset/,
    );
    await writer.flush();
    // A byte stream's failed read took the buffer and its 2 staged bytes;
    // another stream's (Bun's fetch body) are dropped too, so that the file,
    // and where a retry resumes, do not depend on the reader.
    const kind = byteStream ? "byte stream" : "other stream";
    assert.equal(writer.written, 8, kind);
    assert.deepEqual(file.writes.flat(), range(0, 8), kind);
  }
});

test("ChunkedWriter.pipeFrom() ends a read that would stay pending when the signal aborts, whichever the reader, dropping the staged bytes", async () => {
  for (const byteStream of [true, false]) {
    const kind = byteStream ? "byte stream" : "other stream";
    const file = fakeFile();
    const writer = new ChunkedWriter(file, 4, undefined, () => {});
    const abort = new AbortController();
    const source = stalledAfter(
      bytes(0, 6),
      byteStream,
      () => abort.abort(new RangeError("stopped")),
    );
    await assert.rejects(
      writer.pipeFrom(
        source,
        () => {},
        (error) => new TypeError(`mapped: ${error}`),
        abort.signal,
      ),
      { name: "TypeError", message: "mapped: RangeError: stopped" },
      kind,
    );
    await writer.flush();
    assert.equal(writer.written, 4, kind);
  }
});

test("ChunkedWriter.pipeFrom() writes nothing more once a write's callback aborts, whichever the reader, though a read brought many writes' bytes", async () => {
  for (const byteStream of [true, false]) {
    const kind = byteStream ? "byte stream" : "other stream";
    const file = fakeFile();
    const abort = new AbortController();
    // One chunk of 10 writes (Bun's fetch hands over what the socket holds);
    // the first write's report stops the download.
    const writer = new ChunkedWriter(file, 4, undefined, () => {
      abort.abort(new RangeError("paused"));
    });
    await assert.rejects(
      writer.pipeFrom(
        streamOf(bytes(0, 40), 40, byteStream),
        () => {},
        (error) => new TypeError(`mapped: ${error}`),
        abort.signal,
      ),
      { name: "TypeError", message: "mapped: RangeError: paused" },
      kind,
    );
    await writer.flush();
    // A byte stream's reads are one write each: the one in flight lands.
    assert.ok(writer.written <= 8, `${kind}: ${writer.written}`);
    assert.deepEqual(file.writes.flat(), range(0, writer.written), kind);
  }
});

test("ChunkedWriter.pipeFrom() throws a write's error over the end of a read its abort caused (a progress callback that cancels, then throws)", async () => {
  const abort = new AbortController();
  const boom = new Error("boom");
  const writer = new ChunkedWriter(fakeFile(), 4, undefined, () => {
    abort.abort(new RangeError("canceled"));
    throw boom;
  });
  // A chunk to write, then a read that waits until the stream is cancelled.
  const source = stalledAfter(bytes(0, 4), true);
  await assert.rejects(
    writer.pipeFrom(source, () => {}, (error) => error, abort.signal),
    (error) => error === boom,
  );
});

test("ChunkedWriter.pipeFrom() does not count bytes that onRead refuses", async () => {
  const file = fakeFile();
  const writer = new ChunkedWriter(file, 4, undefined, () => {});
  let reads = 0;
  let accepted = 0;
  await assert.rejects(
    writer.pipeFrom(
      streamOf(bytes(0, 12), 6, true),
      (read) => {
        if (++reads === 2) throw new RangeError("too long");
        accepted += read.byteLength;
      },
      (error) => error,
      NEVER,
    ),
    RangeError,
  );
  await writer.flush();
  // Reads fill at most the 4-byte buffer: the first was accepted, the
  // second (bytes 4 and 5) refused and never written.
  assert.equal(accepted, 4);
  assert.deepEqual(file.writes.flat(), range(0, accepted));
});
