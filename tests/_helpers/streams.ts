// Streams of known bytes for the body readers' tests.

/**
 * `body` in pieces of `pieceSize`, as a byte stream (which a BYOB reader
 * reads) or as any other stream; `onCancel` hears a cancel's reason.
 */
export function streamOf(
  body: Uint8Array,
  pieceSize: number,
  byteStream: boolean,
  onCancel?: (reason: unknown) => void,
): ReadableStream<Uint8Array> {
  let offset = 0;
  const next = (): Uint8Array | undefined => {
    if (offset >= body.byteLength) return undefined;
    const piece = body.slice(offset, offset + pieceSize);
    offset += pieceSize;
    return piece;
  };
  if (!byteStream) {
    return new ReadableStream<Uint8Array>({
      pull(controller): void {
        const piece = next();
        if (piece === undefined) controller.close();
        else controller.enqueue(piece);
      },
      cancel: (reason): void => onCancel?.(reason),
    });
  }
  return new ReadableStream({
    type: "bytes",
    pull(controller): void {
      const piece = next();
      if (piece === undefined) {
        controller.close();
        controller.byobRequest?.respond(0);
      } else controller.enqueue(piece);
    },
    cancel: (reason): void => onCancel?.(reason),
  });
}

/**
 * `first`, then a read that never settles until the stream is cancelled (as
 * Node's fetch leaves one for a body it fails to decode midway), as a byte
 * stream or as any other stream; `onStall` hears when that read is made.
 */
export function stalledAfter(
  first: Uint8Array,
  byteStream: boolean,
  onStall: () => void = () => {},
): ReadableStream<Uint8Array> {
  let pulls = 0;
  const pull = (
    controller: { enqueue(chunk: Uint8Array): void },
  ): Promise<void> | void => {
    if (pulls++ === 0) return controller.enqueue(first);
    onStall();
    return new Promise(() => {});
  };
  return byteStream
    ? new ReadableStream({ type: "bytes", pull })
    : new ReadableStream<Uint8Array>({ pull });
}
