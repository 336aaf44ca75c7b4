// A read under way settles when its attempt is aborted: Node's `fetch` (undici)
// may leave it pending for good once the request is aborted, as it does for a
// body it fails to decode midway (a gzip body corrupted in the middle: neither
// an error nor an end reaches the reader, and aborting the request does not
// change that). Cancelling the reader ends the read at once, as the streams
// standard says a cancel does, with no cost per chunk.

/** What a body reader offers to be cancelled. */
export interface Cancelable {
  cancel(reason?: unknown): Promise<void>;
}

/**
 * Cancels `reader` when `signal` aborts (its pending read then resolves as
 * the end of the body: the caller checks the signal after each read). The
 * watch ends when the returned object is disposed (`using`).
 */
export function cancelOnAbort(
  signal: AbortSignal,
  reader: Cancelable,
): Disposable {
  const cancel = (): void => {
    reader.cancel(signal.reason).catch(() => {});
  };
  if (signal.aborted) cancel();
  else signal.addEventListener("abort", cancel, { once: true });
  return {
    [Symbol.dispose]: () => signal.removeEventListener("abort", cancel),
  };
}
