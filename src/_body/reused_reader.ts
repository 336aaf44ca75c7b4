// A reader of a body that reads a byte stream (a `fetch` body, on Deno and
// Node) into one buffer it reuses, with a BYOB reader, where the runtime's
// `fetch` is read best so (`Host.byobReads`). On Deno, the default reader
// has a new buffer made for every read (64 KiB), which the runtime fills,
// page faults of new memory included, and the collector frees: that cost
// more than copying the bytes and writing them. A script fetching 16 ranges
// of a 512 MiB file over a 40 ms path, each gathered into 256 KiB writes at
// its offset, used 1.95 s of CPU on Deno with the default reader and 1.14 s
// reading this way (6 interleaved lab rounds, medians). On Node it is the
// other way: each BYOB read copies the chunk `fetch` made into the buffer
// given, and transfers that buffer. The library's segmented download of
// that file on Node took 2.29 s and 2.57 s of CPU reading this way, 2.16 s
// and 2.35 s with the default reader; with 20 MB/s per connection, 2.48 s
// and 2.69 s against 2.29 s and 2.34 s (5 interleaved lab rounds, medians).
// A stream that is no byte stream (a custom fetch's, Bun's) is read with its
// default reader everywhere.

import { host } from "../_runtime/fs.ts";

/**
 * The size of the buffer a byte stream is read into: a read takes what has
 * arrived, up to this. With 256 KiB (a segmented write, `MAX_WRITE`) the
 * library's segmented download took 0.9 times the CPU it took with 64 KiB
 * on Deno (6 interleaved lab rounds on the same path).
 */
export const READ_SIZE = 256 * 1024;

/**
 * One read's answer: a chunk, or the end (the DOM's
 * `ReadableStreamReadResult`, whose name Node's types do not have).
 */
export type ReadResult =
  | { done: false; value: Uint8Array }
  | { done: true; value?: Uint8Array | undefined };

/** Reads a body's chunks; each is the reader's until the next read. */
export interface ReusedReader {
  /**
   * Whether the chunks are read into the reader's one buffer (a copy the
   * runtime made); else they are the stream's own, as it made them.
   */
  readonly reusesBuffer: boolean;
  /**
   * The next chunk, valid until the next call: of `most` bytes at most
   * where the reader reads into its buffer (`READ_SIZE` at most); the
   * stream's own chunks come as they were made.
   */
  read(most?: number): Promise<ReadResult>;
  /** Cancels the body (see `ReadableStreamDefaultReader.cancel`). */
  cancel(reason?: unknown): Promise<void>;
}

/**
 * A reader of `body`: see the module comment.
 *
 * @param byob Whether to read a byte stream into one buffer (the runtime's
 * choice by default).
 */
export function reusedReader(
  body: ReadableStream<Uint8Array>,
  byob: boolean = host.byobReads,
): ReusedReader {
  if (!byob) return chunksOf(body);
  let reader: ReadableStreamBYOBReader;
  try {
    reader = body.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream: its own chunks, as they come.
    return chunksOf(body);
  }
  let buffer: ArrayBuffer | undefined;
  return {
    reusesBuffer: true,
    async read(most?: number): Promise<ReadResult> {
      const memory = buffer ?? new ArrayBuffer(READ_SIZE);
      const view = most === undefined || most >= READ_SIZE
        ? new Uint8Array(memory)
        : new Uint8Array(memory, 0, most);
      // The read takes the buffer (a transfer); a failed read never gives
      // it back, so the next read starts a new one.
      buffer = undefined;
      const { done, value } = await reader.read(view);
      if (value !== undefined) buffer = value.buffer as ArrayBuffer;
      return done ? { done: true } : { done, value };
    },
    cancel: (reason) => reader.cancel(reason),
  };
}

/** A reader of `body`'s own chunks, as it makes them. */
function chunksOf(body: ReadableStream<Uint8Array>): ReusedReader {
  const reader = body.getReader();
  return {
    reusesBuffer: false,
    read: () => reader.read(),
    cancel: (reason) => reader.cancel(reason),
  };
}
