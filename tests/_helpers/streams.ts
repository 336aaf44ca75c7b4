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
