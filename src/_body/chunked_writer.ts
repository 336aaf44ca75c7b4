// Writes a stream of byte chunks of any size to a file in writes of exactly
// `chunkSize` bytes (the last one may be shorter), calling `onWrite` after
// each. A byte stream (a `fetch` body, on Deno and Node) is read with a BYOB
// reader straight into the staging buffer, with one write in flight while the
// next chunk is read into a second buffer; other streams' chunks (a custom
// fetch's, or Bun's fetch, whose body is no byte stream) are split or joined
// (a chunk that covers whole writes is written from its own memory). Either
// way, a failed read drops the staged bytes, so what ends up in the file, and
// where a retry resumes, does not depend on the reader. The staging buffer is
// allocated on first need, no larger than the body.
//
// Under a bandwidth limit (`Pacing`), a read takes no more than the limit
// allows in a fraction of a second, and once it is paid for its bytes are
// written, not gathered into a full chunk (unless the caller asked for
// exact writes): at 50 KiB/s a chunk of 256 KiB would reach the file, and
// be reported, every 5 s.

import type { FileWriter } from "../_runtime/fs.ts";
import { cancelOnAbort } from "./cancel_on_abort.ts";
import { keepBuffer, reusedBuffer, stagingBuffer } from "./staging_buffers.ts";

/** How a bandwidth limit shapes the reads and writes of `pipeFrom`. */
export interface Pacing {
  /**
   * The most bytes the next read may take, `most` at most (the limits'
   * share of a fraction of a second: `Throttle.readSize`).
   */
  readSize(most: number): number;
  /**
   * Whether a read paid for (its `onRead` returned a promise) is written at
   * once; else its bytes are gathered into a full chunk (exact writes).
   */
  writePaced: boolean;
}

/** Splits or joins chunks into fixed-size writes. */
export class ChunkedWriter {
  #file: FileWriter;
  #chunkSize: number;
  #expected: number | undefined;
  #onWrite: (written: number) => void;
  #pacing: Pacing | undefined;
  #buffer: Uint8Array | undefined;
  // The buffer of the last write, which the next full one goes into.
  #spare: Uint8Array | undefined;
  #buffered = 0;
  #written = 0;

  /**
   * @param file Where to write.
   * @param chunkSize Bytes per write.
   * @param expected The body's expected length, if known: bounds the staging buffer.
   * @param onWrite Called with the total bytes written after each write.
   * @param pacing How a bandwidth limit shapes `pipeFrom`'s reads and
   * writes (none: reads of up to a chunk, written in full chunks).
   */
  constructor(
    file: FileWriter,
    chunkSize: number,
    expected: number | undefined,
    onWrite: (written: number) => void,
    pacing?: Pacing,
  ) {
    this.#file = file;
    this.#chunkSize = chunkSize;
    this.#expected = expected;
    this.#onWrite = onWrite;
    this.#pacing = pacing;
  }

  /** Bytes written to the file so far. */
  get written(): number {
    return this.#written;
  }

  /** Takes `chunk`, writing every full `chunkSize` it completes. */
  async push(chunk: Uint8Array): Promise<void> {
    const size = this.#chunkSize;
    let offset = 0;
    if (this.#buffered > 0) {
      offset = Math.min(size - this.#buffered, chunk.byteLength);
      this.#stage(chunk.subarray(0, offset));
      if (this.#buffered < size) return;
      await this.#writeBuffer();
    }
    while (chunk.byteLength - offset >= size) {
      await this.#write(chunk.subarray(offset, offset + size));
      offset += size;
    }
    if (offset < chunk.byteLength) this.#stage(chunk.subarray(offset));
  }

  /**
   * Reads `body` to its end, writing every full `chunkSize`; then
   * {@linkcode ChunkedWriter.flush} writes the rest. `onRead` sees each
   * read's bytes before they count (it may throw to refuse them, and the
   * next read waits for the promise it may return: a bandwidth limit, whose
   * reads are as large as `Pacing.readSize` says, and written once paid
   * for with `Pacing.writePaced`); `readError` maps a failed read to the
   * error to throw. After a failed read, bytes staged but not written are
   * dropped, whichever the reader (a BYOB read takes the buffer with it;
   * the chunks of another stream are dropped to match): only `written` bytes are in the file, and `flush()`
   * writes nothing more. The write in flight has ended before this settles,
   * so nothing is written (or reported) after it has. Aborting `signal`
   * fails the read under way (as `readError(signal.reason)`), even where
   * the body's stream would leave it pending (see `cancel_on_abort.ts`),
   * and drops the rest of a chunk that held several writes (Bun's): after
   * an abort, only the write under way lands, whichever the reader.
   */
  async pipeFrom(
    body: ReadableStream<Uint8Array>,
    onRead: (bytes: Uint8Array) => void | Promise<void>,
    readError: (error: unknown) => unknown,
    signal: AbortSignal,
  ): Promise<void> {
    let reader: ReadableStreamBYOBReader;
    try {
      reader = body.getReader({ mode: "byob" });
    } catch {
      // Not a byte stream (a custom fetch's): take its chunks as they come.
      const chunks = body.getReader();
      using _watch = cancelOnAbort(signal, chunks);
      for (;;) {
        // Typed by inference: the result's DOM type name is not in @types/node.
        let result;
        try {
          result = await chunks.read();
          signal.throwIfAborted(); // a read the abort ended
        } catch (error) {
          // As a failed BYOB read does (below): the staged bytes go too.
          this.#buffered = 0;
          throw readError(error);
        }
        if (result.done) return;
        // In slices of at most one write, as a BYOB read is: a runtime may
        // hand over more (Bun does), and a bandwidth limit then holds back
        // no more than one write's bytes.
        let value = result.value;
        while (value.byteLength > 0) {
          // Aborted by a write of this chunk (a progress listener that
          // pauses or cancels): its rest is dropped as a failed read's
          // bytes are, so nothing is written after the abort but the write
          // under way, as with a byte stream, whose reads are one write.
          if (signal.aborted) {
            this.#buffered = 0;
            throw readError(signal.reason);
          }
          const slice = value.subarray(
            0,
            this.#readSize(this.#chunkSize - this.#buffered),
          );
          value = value.subarray(slice.byteLength);
          const paced = onRead(slice);
          if (paced !== undefined) await paced;
          // One write at most: a full chunk, or what a paid read staged.
          await this.push(slice);
          if (paced !== undefined && this.#pacing?.writePaced) {
            await this.flush();
          }
        }
      }
    }
    let inFlight: Promise<{ error: unknown } | undefined> | undefined;
    using _watch = cancelOnAbort(signal, reader);
    try {
      for (;;) {
        let result;
        try {
          const room = this.#room();
          result = await reader.read(
            new Uint8Array(
              room,
              this.#buffered,
              this.#readSize(room.byteLength - this.#buffered),
            ),
          );
          signal.throwIfAborted(); // a read the abort ended
        } catch (error) {
          // The failed read took the staging buffer with it, and the bytes
          // staged there: they were never written, so they are not counted.
          this.#buffer = undefined;
          this.#buffered = 0;
          throw readError(error);
        }
        const { done, value } = result;
        let paid = false;
        if (value !== undefined) {
          // The read took over the buffer's memory (a transfer): keep its new owner.
          this.#buffer = new Uint8Array(value.buffer);
          if (value.byteLength > 0) {
            const paced = onRead(value);
            if (paced !== undefined) {
              await paced;
              paid = this.#pacing?.writePaced === true;
            }
          }
          this.#buffered += value.byteLength;
        }
        if (this.#buffered === this.#chunkSize || paid) {
          const full = this.#buffer as Uint8Array;
          const failed = await inFlight;
          if (failed !== undefined) throw failed.error;
          // A full chunk is the whole buffer; a paid read's may be less.
          inFlight = this.#write(
            this.#buffered === full.byteLength
              ? full
              : full.subarray(0, this.#buffered),
          ).then(
            () => undefined,
            (error) => ({ error }),
          );
          this.#buffer = this.#spare ?? reusedBuffer(full.byteLength);
          this.#buffered = 0;
          this.#spare = full;
        }
        if (done) break;
      }
    } catch (error) {
      const failed = await inFlight; // its own error, if any, comes second,
      // unless the read was ended by the abort: then the write's failure
      // (a callback of it that canceled, then threw) is the cause.
      if (failed !== undefined && signal.aborted) throw failed.error;
      throw error;
    }
    const failed = await inFlight;
    if (failed !== undefined) throw failed.error;
  }

  /** The most bytes the next read may take: `most`, or less if paced. */
  #readSize(most: number): number {
    return this.#pacing === undefined ? most : this.#pacing.readSize(most);
  }

  /**
   * Writes what is staged (the short last write). With `last` (the body has
   * ended: nothing is read or written after it), on the calling thread where
   * the file can (`FileWriter.writeSync`): Deno hands an asynchronous write
   * to its I/O threads, with a copy of the descriptor, which costs a small
   * file's only write more CPU than the write itself; and then the staging
   * buffers are given to the next body (see `staging_buffers.ts`).
   */
  async flush(last = false): Promise<void> {
    if (this.#buffered > 0) {
      if (!last || this.#file.writeSync === undefined) {
        await this.#writeBuffer();
      } else {
        const staged = (this.#buffer as Uint8Array).subarray(
          0,
          this.#buffered,
        );
        this.#buffered = 0;
        this.#file.writeSync(staged);
        this.#wrote(staged.byteLength);
      }
    }
    if (!last) return;
    for (const buffer of [this.#buffer, this.#spare]) {
      if (buffer !== undefined) keepBuffer(buffer.buffer as ArrayBuffer);
    }
    this.#buffer = this.#spare = undefined;
  }

  /**
   * The staging buffer's memory, with room for at least one more byte: sized
   * like the one `#stage` makes, plus the byte the read that sees the end of
   * the body needs. A body longer than announced grows it to a full chunk.
   */
  #room(): ArrayBuffer {
    if (this.#buffer === undefined) {
      const left = this.#expected === undefined
        ? this.#chunkSize
        : this.#expected - this.#written + 1;
      this.#buffer = stagingBuffer(left, this.#chunkSize);
    } else if (this.#buffered === this.#buffer.byteLength) {
      const grown = new Uint8Array(this.#chunkSize);
      grown.set(this.#buffer);
      this.#buffer = grown;
    }
    return this.#buffer.buffer as ArrayBuffer;
  }

  #stage(bytes: Uint8Array): void {
    if (this.#buffer === undefined) {
      const left = this.#expected === undefined
        ? this.#chunkSize
        : this.#expected - this.#written;
      this.#buffer = new Uint8Array(
        Math.min(this.#chunkSize, Math.max(left, bytes.byteLength)),
      );
    } else if (this.#buffer.byteLength < this.#buffered + bytes.byteLength) {
      // The body is longer than announced: grow to a full chunk.
      const grown = new Uint8Array(this.#chunkSize);
      grown.set(this.#buffer.subarray(0, this.#buffered));
      this.#buffer = grown;
    }
    this.#buffer.set(bytes, this.#buffered);
    this.#buffered += bytes.byteLength;
  }

  async #writeBuffer(): Promise<void> {
    const staged = (this.#buffer as Uint8Array).subarray(0, this.#buffered);
    this.#buffered = 0;
    await this.#write(staged);
  }

  async #write(bytes: Uint8Array): Promise<void> {
    await this.#file.write(bytes);
    this.#wrote(bytes.byteLength);
  }

  #wrote(bytes: number): void {
    this.#written += bytes;
    this.#onWrite(this.#written);
  }
}
