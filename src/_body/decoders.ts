// The decoders of the content codings `content_decoding.ts` decodes itself
// (where the runtime's `fetch` left a body compressed): Node's streams, on
// every runtime. Loaded with the first body that needs one.

import { Transform, type TransformCallback } from "node:stream";
import {
  createBrotliDecompress,
  createGunzip,
  createInflate,
  createInflateRaw,
  type Inflate,
  type InflateRaw,
} from "node:zlib";

export { Duplex } from "node:stream";

/**
 * `deflate` as browsers and Node's `fetch` take it: a zlib stream (RFC
 * 1950, what the name means), or raw deflate data (RFC 1951, what some
 * servers send), told apart by the first byte: a zlib stream's low four
 * bits name its method, 8.
 */
class DeflateDecoder extends Transform {
  #inflate: Inflate | InflateRaw | undefined;

  override _transform(
    chunk: Uint8Array,
    _encoding: BufferEncoding,
    next: TransformCallback,
  ): void {
    if (chunk.byteLength === 0) return next();
    if (this.#inflate === undefined) {
      const zlib = ((chunk[0] as number) & 0x0f) === 0x08;
      const inflate = zlib ? createInflate() : createInflateRaw();
      inflate.on("data", (bytes: Uint8Array) => this.push(bytes));
      inflate.on("error", (error) => this.destroy(error));
      this.#inflate = inflate;
    }
    this.#inflate.write(chunk, next);
  }

  override _flush(done: TransformCallback): void {
    const inflate = this.#inflate;
    if (inflate === undefined) return done();
    inflate.once("end", () => done());
    inflate.end();
  }
}

const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  "x-gzip": createGunzip,
  deflate: () => new DeflateDecoder(),
  br: createBrotliDecompress,
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
