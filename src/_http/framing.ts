// Whether an answer's framing can be trusted: an answer with both
// `Content-Length` and `Transfer-Encoding` says two things of where its body
// ends. RFC 9112 §6.3 lets `Transfer-Encoding` win but says such an answer
// "ought to be handled as an error" (it is how responses are smuggled);
// Node's `fetch` refuses it, Deno's and Bun's hand it over with both
// headers. Refused here too, so that it fails the same way everywhere,
// before a byte of it is written.

/**
 * Why the framing `headers` announce cannot be trusted, or `undefined` if
 * it can.
 */
export function framingFault(headers: Headers): string | undefined {
  return headers.has("transfer-encoding") && headers.has("content-length")
    ? "Content-Length together with Transfer-Encoding"
    : undefined;
}
