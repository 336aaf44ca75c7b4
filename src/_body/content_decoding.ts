// The same bytes on every runtime when a server compresses a body although
// the request asked for `Accept-Encoding: identity`. Node's and Bun's `fetch`
// always decode `gzip`, `deflate` and `br`; Deno's decodes only when it chose
// the `Accept-Encoding` itself, so with ours it hands over the bytes as sent.
// Where the runtime's `fetch` did not decode, the body is decoded here, so
// that a download saves the decoded file everywhere (what a browser saves,
// too). A custom `fetch` is taken to behave as the runtime's own. A
// `deflate` body may be raw deflate data, as Node's and Bun's `fetch` (and
// browsers) accept. The decoders (`decoders.ts`) are loaded with the first
// body that needs one: loading `node:zlib` costs Deno's start-up about 25 ms.

import { host } from "../_runtime/fs.ts";

/** The codings decoded here: those `decoders.ts` has a decoder of. */
const DECODED = new Set(["gzip", "x-gzip", "deflate", "br"]);

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
export async function decodedBody(
  body: ReadableStream<Uint8Array>,
  encoding: string | undefined,
): Promise<ReadableStream<Uint8Array> | undefined> {
  if (encoding === undefined) return body;
  // Refused everywhere, also where `fetch` passed it through or decoded it:
  // runtimes (and their versions) differ on these.
  if (!DECODED.has(encoding)) return undefined;
  if (host.fetchDecodes) return body;
  const { Duplex, decoder } = await import("./decoders.ts");
  const { readable, writable } = Duplex.toWeb(decoder(encoding));
  // Cancelling `readable` ends the decoder, and with it the pipe, which
  // cancels `body`.
  void body.pipeTo(writable as WritableStream<Uint8Array>).catch(() => {});
  return readable as ReadableStream<Uint8Array>;
}
