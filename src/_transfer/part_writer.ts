// One part's body into the partial file at its offset, up to the part's end
// (which a connection stealing half of it may lower while bytes are on their
// way). While no limit paces the reads and they land in the reader's one
// buffer (Deno, `reusedReader`), they are gathered into writes of up to
// `MAX_WRITE`: on a real network a read is about 48 KiB, and a fifth of the
// writes saves about a tenth of a segmented download's CPU. Bytes held are
// written once no read follows within `GATHER_FOR` ms, so a stalled server's
// bytes are on disk, and reported, all the same. Chunks the stream made
// itself (Node's `fetch`) are written as they come: the copy into the
// gathering buffer cost more there than the writes it saved (a 512 MiB file
// over a 40 ms path, 16 connections, 7 interleaved bench rounds, medians:
// 1.96 s against 2.22 s; with 20 MiB/s per connection, 2.33 s against
// 2.37 s).
//
// Under a bandwidth limit, reads are not gathered, and a read (a chunk
// Node's `fetch` made, or Bun's) is written, and paid for, in writes of the
// sink's `writeSize`: a fraction of a second's bytes at the limit, so the
// bytes reach the file, and progress is told, steadily.
//
// Once the part's signal aborts (a pause or a cancel, maybe from a progress
// listener told of a write), nothing more is written: only the write under
// way lands, though a read held several writes' bytes (Bun's reads hand over
// what the socket holds, often more than `MAX_WRITE`).

import type { FileWriter } from "../_runtime/fs_types.ts";

/**
 * The most bytes written (and paid for under a rate limit) at once: a
 * runtime may hand over a larger chunk (Bun does), and a connection then
 * runs ahead of a limit by no more than this. Less than `MIN_PIECE`, the
 * least part another connection takes, so a write in flight never reaches
 * into a part taken meanwhile.
 */
export const MAX_WRITE = 256 * 1024;
/** Bytes gathered are written after this many ms without another read. */
export const GATHER_FOR = 20;

/** Where a part's bytes go, and what is told of them. */
export interface PartSink {
  /** The bytes the part still has room for (its end may be lowered). */
  room(): number;
  /** Told of each write once it has landed; may hold the next (a limit). */
  wrote(bytes: number): Promise<void>;
  /**
   * The most bytes one write may take now (`MAX_WRITE`, or less under a
   * limit); `MAX_WRITE` without it.
   */
  writeSize?(): number;
}

/** Writes one part's reads; see the module comment. */
export class PartWriter {
  #file: FileWriter;
  #sink: PartSink;
  #signal: AbortSignal;
  // Made at the first read gathered: Node's chunks never are, and a part
  // of a segmented download on Node would zero 256 KiB it never uses.
  #gathered: Uint8Array | undefined;
  #held = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  // A write the timer started, awaited before anything else is written.
  #flushing: Promise<void> | undefined;

  /**
   * Writes to `file`, already at the part's offset, telling `sink`, until
   * `signal` aborts.
   */
  constructor(file: FileWriter, sink: PartSink, signal: AbortSignal) {
    this.#file = file;
    this.#sink = sink;
    this.#signal = signal;
  }

  /**
   * Takes one read's bytes. With `gather` (no limit paces them), they join
   * the bytes held, and `MAX_WRITE` of them (or the part's rest) is written
   * as soon as it is there; else they are written now, after what was held.
   * Bytes beyond the part's end are dropped.
   */
  async take(value: Uint8Array, gather: boolean): Promise<void> {
    await this.#settle();
    if (!gather) {
      await this.flush();
      await this.#put(value);
      return;
    }
    let rest = value;
    while (rest.byteLength > 0) {
      const room = this.#sink.room() - this.#held;
      if (room <= 0) return; // beyond the part's end
      const bytes = rest.subarray(
        0,
        Math.min(MAX_WRITE - this.#held, room),
      );
      rest = rest.subarray(bytes.byteLength);
      (this.#gathered ??= new Uint8Array(MAX_WRITE)).set(bytes, this.#held);
      this.#held += bytes.byteLength;
      if (this.#held === MAX_WRITE || this.#held >= this.#sink.room()) {
        await this.flush();
      }
    }
    if (this.#held > 0) {
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.#flushing = this.flush();
        // Its error is thrown to the next take(), flush() or close().
        this.#flushing.catch(() => {});
      }, GATHER_FOR);
    }
  }

  /** Writes what is held. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#settle();
    if (this.#held === 0) return;
    const bytes = (this.#gathered as Uint8Array).subarray(0, this.#held);
    try {
      await this.#put(bytes);
    } finally {
      this.#held = 0;
    }
  }

  /** Drops what is held (the part failed or was cut short). */
  async drop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#flushing?.catch(() => {});
    this.#flushing = undefined;
    this.#held = 0;
  }

  async #settle(): Promise<void> {
    const flushing = this.#flushing;
    if (flushing === undefined) return;
    this.#flushing = undefined;
    await flushing;
  }

  /**
   * Writes `value` up to the part's room, measured again for each slice of
   * at most `MAX_WRITE` (or the sink's `writeSize`): a wait for the rate
   * limit may have let another connection take the part's rest. Throws the signal's reason, writing
   * nothing more, once it has aborted.
   */
  async #put(value: Uint8Array): Promise<void> {
    let room: number;
    while (value.byteLength > 0 && (room = this.#sink.room()) > 0) {
      this.#signal.throwIfAborted();
      const most = this.#sink.writeSize?.() ?? MAX_WRITE;
      const bytes = value.subarray(0, Math.min(room, most));
      value = value.subarray(bytes.byteLength);
      await this.#file.write(bytes);
      await this.#sink.wrote(bytes.byteLength);
    }
  }
}
