// The same bytes on every runtime when a server compresses a body although
// the request asked for `Accept-Encoding: identity`. Node's and Bun's `fetch`
// always decode `gzip`, `deflate` and `br`; Deno's decodes only when it chose
// the `Accept-Encoding` itself, so with ours it hands over the bytes as sent.
// Where the runtime's `fetch` did not decode, the body is decoded here, so
// that a download saves the decoded file everywhere (what a browser saves,
// too). A custom `fetch` is taken to behave as the runtime's own. A
// `deflate` body may be raw deflate data, as Node's and Bun's `fetch` (and
// browsers) accept.

import { Duplex, Transform, type TransformCallback } from "node:stream";
import {
  createBrotliDecompress,
  createGunzip,
  createInflate,
  createInflateRaw,
  type Inflate,
  type InflateRaw,
} from "node:zlib";
import { host } from "../_runtime/fs.ts";

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
 * The content coding of `headers` if the body is compressed: `undefined`
 * for none (`identity`).
 */
export function contentEncoding(headers: Headers): string | undefined {
  const encoding = headers.get("content-encoding")?.trim().toLowerCase();
  return encoding === undefined || encoding === "" || encoding === "identity"
    ? undefined
    : encoding;
}

/**
 * `body` as the runtime's `fetch` would decode it: itself where `fetch`
 * decoded it already or where it is not compressed, else decoded. Any
 * coding but `gzip`, `deflate` and `br` (several, or `zstd`, which runtimes
 * and their versions treat differently) returns `undefined`: the caller
 * refuses the answer rather than save bytes another runtime would not.
 * A body that does not decode fails its reads as `fetch`'s own decoding does
 * (see `isDecodeFailure`).
 */
export function decodedBody(
  body: ReadableStream<Uint8Array>,
  encoding: string | undefined,
): ReadableStream<Uint8Array> | undefined {
  if (encoding === undefined) return body;
  const create = DECODERS[encoding];
  // Refused everywhere, also where `fetch` passed it through or decoded it:
  // runtimes (and their versions) differ on these.
  if (create === undefined) return undefined;
  if (host.fetchDecodes) return body;
  const { readable, writable } = Duplex.toWeb(create());
  // Cancelling `readable` ends the decoder, and with it the pipe, which
  // cancels `body`.
  void body.pipeTo(writable as WritableStream<Uint8Array>).catch(() => {});
  return readable as ReadableStream<Uint8Array>;
}
