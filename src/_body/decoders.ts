// The decoders of the content codings `content_decoding.ts` decodes itself
// (where the runtime's `fetch` left a body compressed): Node's streams, on
// every runtime. Loaded with the first body that needs one.

import { Transform, type TransformCallback } from "node:stream";
import {
  createBrotliDecompress,
  createGunzip,
  createInflate,
  createInflateRaw,
} from "node:zlib";

export { Duplex } from "node:stream";

/**
 * A decoder made for the first bytes of the body, by `choose`: an empty
 * body is empty decoded, as Node's and Bun's `fetch` (and browsers) take
 * it, where zlib's gunzip fails on no input at all (a server that marks
 * even an empty file `gzip`). `deflate` is chosen by its first byte (see
 * `DECODERS`).
 */
class LazyDecoder extends Transform {
  #choose: (first: number) => Transform;
  #decoder: Transform | undefined;

  constructor(choose: (first: number) => Transform) {
    super();
    this.#choose = choose;
  }

  override _transform(
    chunk: Uint8Array,
    _encoding: BufferEncoding,
    next: TransformCallback,
  ): void {
    if (chunk.byteLength === 0) return next();
    if (this.#decoder === undefined) {
      const decoder = this.#choose(chunk[0] as number);
      // Paused while the bytes it made are not read: zlib then stops
      // decoding, and the write below waits, so a small body that decodes
      // to gigabytes (a bomb) is never held in memory, as with zlib's own
      // stream.
      decoder.on("data", (bytes: Uint8Array) => {
        if (!this.push(bytes)) decoder.pause();
      });
      decoder.on("error", (error) => this.destroy(error));
      this.#decoder = decoder;
    }
    this.#decoder.write(chunk, next);
  }

  override _read(size: number): void {
    this.#decoder?.resume();
    super._read(size);
  }

  override _flush(done: TransformCallback): void {
    const decoder = this.#decoder;
    if (decoder === undefined) return done();
    decoder.once("end", () => done());
    decoder.end();
  }
}

/**
 * Each coding's decoder. `deflate` as browsers and Node's `fetch` take it:
 * a zlib stream (RFC 1950, what the name means), or raw deflate data (RFC
 * 1951, what some servers send), told apart by the first byte: a zlib
 * stream's low four bits name its method, 8.
 */
const DECODERS: Record<string, () => Transform> = {
  gzip: () => new LazyDecoder(() => createGunzip()),
  "x-gzip": () => new LazyDecoder(() => createGunzip()),
  deflate: () =>
    new LazyDecoder((first) =>
      (first & 0x0f) === 0x08 ? createInflate() : createInflateRaw()
    ),
  br: () => new LazyDecoder(() => createBrotliDecompress()),
};

/**
 * A new decoder of `encoding`: `gzip` (or `x-gzip`), `deflate` or `br`
 * (a `RangeError` for any other).
 */
export function decoder(encoding: string): Transform {
  const create = DECODERS[encoding];
  if (create === undefined) {
    throw new RangeError(`No decoder of "${encoding}"`);
  }
  return create();
}
