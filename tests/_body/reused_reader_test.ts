import assert from "node:assert/strict";
import { test } from "node:test";
import { READ_SIZE, reusedReader } from "../../src/_body/reused_reader.ts";
import { bytesRoute, patternBytes, startServer } from "../_helpers/server.ts";
import { streamOf } from "../_helpers/streams.ts";

/** What `readAll` saw. */
interface Read {
  /** A copy of the bytes read. */
  bytes: Uint8Array;
  /** Each chunk as read (a later read may have taken its memory). */
  chunks: Uint8Array[];
  /** Each chunk's length, when it was read. */
  sizes: number[];
  /** The size of each chunk's memory, when it was read. */
  memory: number[];
  /** What the reader said of its buffer. */
  reusesBuffer: boolean;
}

/** Reads `stream` to its end with a `reusedReader`, with `byob` as given. */
async function readAll(
  stream: ReadableStream<Uint8Array>,
  byob?: boolean,
): Promise<Read> {
  const reader = reusedReader(stream, byob);
  const read: Read = {
    bytes: new Uint8Array(),
    chunks: [],
    sizes: [],
    memory: [],
    reusesBuffer: reader.reusesBuffer,
  };
  const copies: number[][] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    copies.push(Array.from(value));
    read.chunks.push(value);
    read.sizes.push(value.byteLength);
    read.memory.push(value.buffer.byteLength);
  }
  read.bytes = Uint8Array.from(copies.flat());
  return read;
}

test("reusedReader() reads a byte stream into one buffer of READ_SIZE, in order", async () => {
  const body = patternBytes(100_000);
  const { bytes, chunks, sizes, memory, reusesBuffer } = await readAll(
    streamOf(body, 30_000, true),
    true,
  );
  assert.deepEqual(bytes, body);
  assert.equal(reusesBuffer, true);
  assert.deepEqual(sizes, [
    30_000,
    30_000,
    30_000,
    10_000,
  ]);
  // Every chunk was read into the reader's buffer, not the stream's own.
  assert.deepEqual(memory, [READ_SIZE, READ_SIZE, READ_SIZE, READ_SIZE]);
  // And each read took that memory over from the chunk before (a
  // transfer; the last chunk's, the read that found the end): one buffer,
  // passed on, not one per read.
  assert.deepEqual(chunks.map((chunk) => chunk.buffer.byteLength), [
    0,
    0,
    0,
    0,
  ]);
});

for (
  const [what, byteStream, byob] of [
    ["takes the chunks of a stream that is no byte stream", false, true],
    ["without byob takes a byte stream's own chunks", true, false],
  ] as const
) {
  test(`reusedReader() ${what} as they come`, async () => {
    const body = patternBytes(100_000);
    const { bytes, memory, reusesBuffer } = await readAll(
      streamOf(body, 30_000, byteStream),
      byob,
    );
    assert.deepEqual(bytes, body);
    assert.deepEqual(memory, [30_000, 30_000, 30_000, 10_000]);
    assert.equal(reusesBuffer, false);
  });
}

for (const byteStream of [true, false]) {
  const kind = byteStream ? "a byte stream" : "another stream";
  test(`reusedReader().cancel() cancels ${kind} with the reason given`, async () => {
    let reason: unknown;
    const reader = reusedReader(
      streamOf(patternBytes(100_000), 30_000, byteStream, (why) => {
        reason = why;
      }),
      true,
    );
    assert.equal((await reader.read()).value?.byteLength, 30_000);
    await reader.cancel("enough");
    assert.equal(reason, "enough");
    assert.equal((await reader.read()).done, true);
  });
}

test("reusedReader() reads no more than asked into its one buffer", async () => {
  const body = patternBytes(10_000, 3);
  const reader = reusedReader(streamOf(body, 10_000, true), true);
  const sizes: number[] = [];
  const copies: number[][] = [];
  for (;;) {
    const { done, value } = await reader.read(3000);
    if (done) break;
    sizes.push(value.byteLength);
    assert.equal(value.buffer.byteLength, READ_SIZE); // the one buffer
    copies.push(Array.from(value));
  }
  assert.deepEqual(sizes, [3000, 3000, 3000, 1000]);
  assert.deepEqual(copies.flat(), Array.from(body));
});

test("reusedReader() reads a fetch body from a local server whole", async () => {
  const body = patternBytes(3 * READ_SIZE + 123);
  await using server = await startServer({
    "/f": bytesRoute(body, { writeSize: 50_000 }),
  });
  for (const byob of [true, undefined]) {
    const response = await fetch(server.url("/f"));
    const { bytes, memory, reusesBuffer } = await readAll(
      response.body as ReadableStream,
      byob,
    );
    assert.deepEqual(bytes, body);
    // Deno's and Node's fetch bodies are byte streams, read into the one
    // buffer when asked; Bun's is not, and comes in its own chunks. By
    // default, only Deno's is read so (see `Host.byobReads`).
    const intoOne = memory.every((size) => size === READ_SIZE);
    // The reader says which it did (what PartWriter's gathering follows).
    assert.equal(reusesBuffer, intoOne);
    if (byob === true && !("Bun" in globalThis)) {
      assert.ok(intoOne, String(memory));
    } else if (byob === undefined) {
      assert.equal(intoOne, "Deno" in globalThis, String(memory));
    }
  }
});
