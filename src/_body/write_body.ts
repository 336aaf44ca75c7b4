// Moving one response body into the partial file, from its `offset` on: by
// the runtime's own pipe when nothing needs to see the bytes (no digest, no
// exact write size asked for, more than one write of them), with progress
// read from the file's size; else in fixed-size writes, each reported.
// Either way, when it settles the file holds exactly `offset` bytes (every
// byte received that could be written), so a retry appends from there.

import { ProtocolError } from "../errors.ts";
import type { PartialFile } from "../_disk/partial_file.ts";
import type { FileWriter } from "../_runtime/fs.ts";
import { Paused } from "../_pause.ts";
import { Rerun } from "../_transfer/attempts.ts";
import type { Throttle } from "../_transfer/rate_limiter.ts";
import { ChunkedWriter } from "./chunked_writer.ts";
import type { IntegrityCheck } from "./integrity.ts";
import { pollInterval, SizePoller } from "./size_poller.ts";

/** How {@linkcode writeBody} writes, and whom it tells. */
export interface BodyTarget {
  /** The download's URL, for messages. */
  url: string;
  /** The partial file; its `offset` and `total` say where and how much. */
  partial: PartialFile;
  /**
   * Whether the body is `fetch`'s own stream, not one the library made of
   * it (decoded): see `FileWriter.pipe`.
   */
  fetched: boolean;
  /** Bytes per write. */
  chunkSize: number;
  /** Whether writes must be exactly `chunkSize` (the caller asked). */
  exactWrites: boolean;
  /** The digest the bytes feed, in file order. */
  integrity: IntegrityCheck | undefined;
  /** The idle timeout, in ms (the pipe's progress is read at a tenth of it). */
  idleTimeout: number;
  /** Hears of the bytes received (the idle and speed watches). */
  received: (bytes: number) => void;
  /** The bandwidth limits: while one holds, the pipe is not used. */
  throttle: Throttle;
  /**
   * Whether the server serves ranges: a limit set while the pipe writes
   * then stops it, for a paced request of the rest (else the rest would
   * come from byte 0, and the pipe goes on to the end).
   */
  ranged: boolean;
  /** Pays for bytes read under the bandwidth limits (`Connection.pace`). */
  pace: (bytes: number) => Promise<void>;
  /** Aborts the attempt: how a failure seen outside the read stops it. */
  abort: AbortController;
  /** What a failed read means (see `failureOf`). */
  readError: (error: unknown) => unknown;
  /** Reports the bytes on disk and the total. */
  report: (current: number, total: number | undefined) => void;
  /**
   * The most bytes the file may hold, and the error that stops the body as
   * soon as it holds more, before the bytes past it are written or
   * reported: for a body of unknown length (no `total`), from a source
   * whose file is longer than the one another source gave the length of
   * (see `sources.ts`); for a rest that ends before the file does, its
   * `Content-Range`'s end.
   */
  bound?: { bytes: number; error: () => Error } | undefined;
}

/**
 * Writes `body` into the partial file from its `offset`, then checks the
 * file is complete: a body longer or shorter than `total` is a
 * {@linkcode ProtocolError}. On failure the partial file keeps every byte
 * written (its `offset` says how many).
 */
export async function writeBody(
  body: ReadableStream<Uint8Array> | null,
  target: BodyTarget,
): Promise<void> {
  const { partial } = target;
  const file = await partial.writer();
  target.report(partial.offset, partial.total);
  if (body !== null && pipesNatively(file, target)) {
    await pipe(body, file, target);
  } else {
    await writeChunks(body, file, target);
  }
  const { offset, total } = partial;
  if (total !== undefined && offset !== total) {
    throw new ProtocolError(
      `Cannot download "${target.url}": the body ended after ${offset} of ${total} bytes`,
    );
  }
}

function tooLong(url: string, total: number): ProtocolError {
  return new ProtocolError(
    `Cannot download "${url}": the body is longer than the ${total} bytes announced`,
  );
}

/**
 * Whether the body goes through the runtime's pipe (see `FileWriter.pipe`):
 * where there is one, unless the caller asked for exact writes, the bytes
 * need a digest (the pipe shows them to no one), a bandwidth limit holds
 * (the pipe reads as fast as it can), a `bound` is to be kept (the pipe,
 * seen every 100 ms, would write hundreds of megabytes past it), or the
 * body is one write or less (nothing to save).
 */
function pipesNatively(file: FileWriter, target: BodyTarget): boolean {
  const { offset, total } = target.partial;
  return file.pipe !== undefined && !target.exactWrites &&
    target.integrity === undefined && !target.throttle.limited &&
    target.bound === undefined &&
    (total === undefined || total - offset > target.chunkSize);
}

/** Writes the body in writes of `chunkSize`, reporting each. */
async function writeChunks(
  body: ReadableStream<Uint8Array> | null,
  file: FileWriter,
  target: BodyTarget,
): Promise<void> {
  const { partial, integrity } = target;
  const { throttle, bound } = target;
  const { offset, total } = partial;
  // The digest covers what reaches the file, in file order.
  const sink: FileWriter = integrity === undefined ? file : {
    write: (bytes) => {
      integrity.update(bytes);
      return file.write(bytes);
    },
    close: () => file.close(),
  };
  const writer = new ChunkedWriter(
    sink,
    target.chunkSize,
    total === undefined ? undefined : total - offset,
    (written) => target.report(offset + written, total),
    // Under a limit, reads of a fraction of a second's bytes, each written
    // once paid for (unless the caller asked for exact writes).
    {
      readSize: (most) => throttle.readSize(most),
      writePaced: !target.exactWrites,
    },
  );
  let received = offset;
  try {
    if (body !== null) {
      await writer.pipeFrom(
        body,
        (bytes) => {
          target.received(bytes.byteLength);
          received += bytes.byteLength;
          if (total !== undefined && received > total) {
            throw tooLong(target.url, total);
          }
          if (bound !== undefined && received > bound.bytes) {
            throw bound.error();
          }
          // Paced only while a limit holds: else no promise per read.
          return throttle.limited ? target.pace(bytes.byteLength) : undefined;
        },
        target.readError,
        target.abort.signal,
      );
    }
  } finally {
    // Every byte received that can still be written is: the file (and the
    // digest) then hold exactly the bytes before `offset`.
    await writer.flush(true);
    partial.offset = offset + writer.written;
  }
}

/**
 * Moves the body with the runtime's pipe, reporting progress and feeding
 * the idle watchdog from the file's size, read every 100 ms or more often
 * (see `pollInterval`). The pipe closes the file.
 */
async function pipe(
  body: ReadableStream<Uint8Array>,
  file: FileWriter,
  target: BodyTarget,
): Promise<void> {
  const { partial, url } = target;
  const total = partial.total;
  let last = partial.offset;
  const poller = new SizePoller(
    partial.path,
    partial.offset,
    pollInterval(target.idleTimeout),
    (size) => {
      target.received(size - last);
      last = size;
      if (total !== undefined && size > total) throw tooLong(url, total);
      target.report(size, total);
    },
    (error) => target.abort.abort(error),
  );
  // A limit set meanwhile: the next attempt, paced, resumes from the bytes
  // on disk (a file that cannot be resumed, for want of a validator, a
  // length or ranges, keeps its pace to its end).
  const unwatch =
    target.ranged && partial.validator !== undefined && total !== undefined
      ? target.throttle.onLimited(() => target.abort.abort(new Rerun()))
      : undefined;
  let failure: { error: unknown } | undefined;
  try {
    await (file as Required<FileWriter>).pipe(
      body,
      target.readError,
      target.abort.signal,
      target.fetched,
    );
  } catch (error) {
    failure = { error };
  } finally {
    unwatch?.();
    poller.stop();
    partial.closedElsewhere();
  }
  // Every write has landed: the size on disk is what the file holds.
  const size = await partial.measure();
  if (total !== undefined && size > total) {
    await partial.restart();
    target.integrity?.reset();
    throw tooLong(url, total);
  }
  if (failure !== undefined) {
    // Paused, or a read that failed (a drop, retried or gone on to the next
    // source): progress tells the bytes on disk, which the last look at the
    // file may have missed, as the chunked writes' reports do. An abort
    // (a cancel, a timeout) tells nothing more.
    const { signal } = target.abort;
    if (
      size !== last && (!signal.aborted || signal.reason instanceof Paused)
    ) {
      target.report(size, total);
    }
    throw failure.error;
  }
  target.report(size, total);
}
