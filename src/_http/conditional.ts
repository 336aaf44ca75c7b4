// Revalidation's request: `If-None-Match` with the ETag the server gave
// (weak or strong), else `If-Modified-Since` with its Last-Modified date
// (RFC 9110 §13.1.2, §13.1.3), and what a `304 Not Modified` answer to it
// means: the file on disk is the server's current one.

/**
 * The header that makes a request conditional on the file having changed
 * since the version `validator` names (an ETag, which is quoted, `W/` first
 * if weak, or a Last-Modified date; see `revalidatorOf()`).
 */
export function conditionalHeaders(validator: string): [string, string][] {
  return validator.startsWith('"') || validator.startsWith('W/"')
    ? [["if-none-match", validator]]
    : [["if-modified-since", validator]];
}

/**
 * A conditional request was answered `304 Not Modified`: the file on disk
 * is current. Not a failure: it ends the transfer, never retried.
 */
export class NotModified extends Error {
  /** @param validator The 304's validator, if it gave one. */
  constructor(readonly validator: string | undefined) {
    super("the file has not changed");
    this.name = "NotModified";
  }
}
