// Writes a stream of byte chunks of any size to a file in writes of exactly
// `chunkSize` bytes (the last one may be shorter), calling `onWrite` after
// each. Network chunks are split or joined; a network chunk that covers whole
// writes is written from its own memory, and one staging buffer (allocated on
// first need, no larger than the body) joins the rest.

import type { FileWriter } from "./_fs.ts";

/** Splits or joins chunks into fixed-size writes. */
export class ChunkedWriter {
  #file: FileWriter;
  #chunkSize: number;
  #expected: number | undefined;
  #onWrite: (written: number) => void;
  #buffer: Uint8Array | undefined;
  #buffered = 0;
  #written = 0;

  /**
   * @param file Where to write.
   * @param chunkSize Bytes per write.
   * @param expected The body's expected length, if known: bounds the staging buffer.
   * @param onWrite Called with the total bytes written after each write.
   */
  constructor(
    file: FileWriter,
    chunkSize: number,
    expected: number | undefined,
    onWrite: (written: number) => void,
  ) {
    this.#file = file;
    this.#chunkSize = chunkSize;
    this.#expected = expected;
    this.#onWrite = onWrite;
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

  /** Writes what is staged (the short last write). */
  async flush(): Promise<void> {
    if (this.#buffered > 0) await this.#writeBuffer();
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
    this.#written += bytes.byteLength;
    this.#onWrite(this.#written);
  }
}
