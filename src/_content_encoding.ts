// The same bytes on every runtime when a server compresses a body although
// the request asked for `Accept-Encoding: identity`. Node's and Bun's `fetch`
// always decode `gzip`, `deflate` and `br`; Deno's decodes only when it chose
// the `Accept-Encoding` itself, so with ours it hands over the bytes as sent.
// Where the runtime's `fetch` did not decode, the body is decoded here, so
// that a download saves the decoded file everywhere (what a browser saves,
// too). A custom `fetch` is taken to behave as the runtime's own.

import { Duplex } from "node:stream";
import {
  type BrotliDecompress,
  createBrotliDecompress,
  createGunzip,
  createInflate,
  type Gunzip,
  type Inflate,
} from "node:zlib";
import { host } from "./_fs.ts";

const DECODERS: Record<string, () => Gunzip | Inflate | BrotliDecompress> = {
  gzip: createGunzip,
  "x-gzip": createGunzip,
  deflate: createInflate,
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
 * decoded it already or where it is not compressed, else decoded. A coding
 * this cannot decode (e.g. several, or `zstd`) returns `undefined`: the
 * caller refuses the answer rather than save bytes other runtimes would not.
 * A body that does not decode fails its reads with `invalid(error)`.
 */
export function decodedBody(
  body: ReadableStream<Uint8Array>,
  encoding: string | undefined,
  invalid: (error: unknown) => unknown,
): ReadableStream<Uint8Array> | undefined {
  if (encoding === undefined || host.fetchDecodes) return body;
  const create = DECODERS[encoding];
  if (create === undefined) return undefined;
  const decoder = create();
  const decodeErrors = new WeakSet<object>();
  decoder.on("error", (error) => decodeErrors.add(error));
  const { readable, writable } = Duplex.toWeb(decoder);
  void body.pipeTo(writable as WritableStream<Uint8Array>).catch(() => {});
  const reader = (readable as ReadableStream<Uint8Array>).getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller): Promise<void> {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (error) {
        controller.error(
          typeof error === "object" && error !== null &&
            decodeErrors.has(error)
            ? invalid(error)
            : error,
        );
      }
    },
    async cancel(reason): Promise<void> {
      // Ends the decoder, and with it the pipe, which cancels `body`.
      await reader.cancel(reason);
    },
  });
}
