// The same bytes on every runtime when a server compresses a body although
// the request asked for `Accept-Encoding: identity`, or when the caller asked
// for compression itself. Node's and Bun's `fetch` always decode `gzip`,
// `deflate` and `br`; Deno's (2.9.6) decodes `gzip` and `br` (not `deflate`,
// nor `x-gzip`) unless the request's `Accept-Encoding` is `identity`, so with
// ours it hands over the bytes as sent, and with a caller's `gzip` decodes
// them itself (leaving `Content-Encoding` as it was).
// Where the runtime's `fetch` did not decode, the body is decoded here, so
// that a download saves the decoded file everywhere (what a browser saves,
// too). A custom `fetch` is taken to behave as the runtime's own. A
// `deflate` body may be raw deflate data, as Node's and Bun's `fetch` (and
// browsers) accept. The decoders (`decoders.ts`) are loaded with the first
// body that needs one: loading `node:zlib` costs Deno's start-up about 25 ms.

import { host } from "../_runtime/fs.ts";

/** The codings decoded here: those `decoders.ts` has a decoder of. */
const DECODED = new Set(["gzip", "x-gzip", "deflate", "br"]);

/** The codings Deno's `fetch` decodes, when the request allows it. */
const DENO_DECODES = new Set(["gzip", "br"]);

/**
 * Whether the runtime's `fetch` decoded a body of `encoding`, asked for
 * with `acceptEncoding` (the request's `Accept-Encoding`).
 */
function fetchDecoded(
  encoding: string,
  acceptEncoding: string | null,
): boolean {
  if (host.fetchDecodes) return true;
  return DENO_DECODES.has(encoding) &&
    acceptEncoding?.trim().toLowerCase() !== "identity";
}

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
 * decoded it already (`acceptEncoding`, the request's `Accept-Encoding`,
 * tells on Deno) or where it is not compressed, else decoded. Any
 * coding but `gzip`, `deflate` and `br` (several, or `zstd`, which runtimes
 * and their versions treat differently) returns `undefined`: the caller
 * refuses the answer rather than save bytes another runtime would not.
 * A body that does not decode fails its reads as `fetch`'s own decoding does
 * (see `isDecodeFailure`).
 */
export async function decodedBody(
  body: ReadableStream<Uint8Array>,
  encoding: string | undefined,
  acceptEncoding: string | null,
): Promise<ReadableStream<Uint8Array> | undefined> {
  if (encoding === undefined) return body;
  // Refused everywhere, also where `fetch` passed it through or decoded it:
  // runtimes (and their versions) differ on these.
  if (!DECODED.has(encoding)) return undefined;
  if (fetchDecoded(encoding, acceptEncoding)) return body;
  const { Duplex, decoder } = await import("./decoders.ts");
  const { readable, writable } = Duplex.toWeb(decoder(encoding));
  // Cancelling `readable` ends the decoder, and with it the pipe, which
  // cancels `body`.
  void body.pipeTo(writable as WritableStream<Uint8Array>).catch(() => {});
  return readable as ReadableStream<Uint8Array>;
}
