// One connection at a time: each attempt is one request, for the whole file
// or, when part of it is on disk with a validator, for the rest
// (`Range: bytes=<offset>-` with `If-Range`). Its body is appended to the
// partial file; an answer that is not the range asked for starts the file
// over, and nothing is ever written at an offset it does not belong to.

import { decodedBody } from "../_body/content_decoding.ts";
import { type BodyTarget, writeBody } from "../_body/write_body.ts";
import { HTTPError, ProtocolError } from "../errors.ts";
import { NotModified, versionNamed } from "../_http/conditional.ts";
import { failureOf, UndecodableBody } from "../_http/failure.ts";
import {
  type ContentRange,
  type Held,
  isWholeFile,
  judgeAnswer,
  parseContentRange,
  parseLength,
  rangeHeaders,
  rangeValidatorOf,
  revalidatorOf,
  servesRanges,
} from "../_http/range.ts";
import { contentEncoding } from "../_body/content_decoding.ts";
import { request } from "../_http/request.ts";
import { poolTurn } from "../_runtime/pool_turn.ts";
import { wallClock } from "../_revalidation.ts";
import { FinalProtocolError, parseRetryAfter } from "../_http/retry_policy.ts";
import { Rerun, withRetries } from "./attempts.ts";
import { Connection } from "./connection.ts";
import { SourceMismatch, UnprovenVersion } from "./sources.ts";
import type { Transfer, TransferStrategy } from "./strategy.ts";

/** The single-stream strategy: see the module comment. */
export const singleStream: TransferStrategy = {
  run: (transfer) =>
    withRetries(
      transfer,
      () => attempt(transfer),
      () => transfer.partial.offset,
    ),
};

/** What a strategy built on single-stream attempts hears of one. */
export interface AttemptHooks {
  /**
   * The answer was accepted (a whole file, or the rest asked for), `ms`
   * after the request was sent; the body is about to be written.
   */
  accepted?(response: Response, ms: number): void;
  /**
   * The attempt has begun: aborting `abort` stops it, and it rejects with
   * the reason. Told before anything is sent.
   */
  begun?(abort: AbortController): void;
}

/**
 * One request: asks for the rest of the file if some is on disk, checks the
 * answer, and appends its body to the partial file.
 */
export async function attempt(
  transfer: Transfer,
  hooks: AttemptHooks = {},
): Promise<void> {
  const { url, options, partial } = transfer;
  using connection = new Connection(transfer);
  const { abort } = connection;
  hooks.begun?.(abort);
  // Whether this source's bytes are being written (a source refused after
  // that has its bytes dropped).
  let writing = false;
  // Where a rest sent compressed begins (see `UndecodableBody`).
  let encodedRest: number | undefined;
  // The last byte a rest's Content-Range says it sends.
  let restEnd: number | undefined;
  try {
    // Bytes of an unknown version cannot be resumed.
    if (partial.offset > 0 && partial.validator === undefined) {
      await restart(transfer);
    }
    const held = partial.offset > 0
      ? {
        offset: partial.offset,
        total: partial.total,
        validator: partial.resumeValidator(transfer.source),
      }
      : undefined;
    const sent = performance.now();
    const asking = request(url, {
      from: transfer.source,
      authorization: transfer.authorizations?.get(transfer.source),
      fetch: transfer.fetch,
      headers: options.headers,
      extra: held === undefined
        ? transfer.conditional
        : rangeHeaders(held.offset, held.validator),
      maxRedirects: options.maxRedirects,
      signal: abort.signal,
    });
    // A new file is created while the request is on its way: after it is
    // sent (where creating a file blocks, as on Deno, a journaling disk takes
    // 0.05 to 0.2 ms that the request need not wait for).
    if (held === undefined) partial.prepare();
    const answer = await asking;
    transfer.arrived(answer.url);
    const { response } = answer;
    connection.answered(answer.url);
    if (transfer.conditional !== undefined) {
      const named = versionNamed(response.headers, transfer.conditional);
      if (held === undefined && response.status === 304 && named === "other") {
        // A 304 that names another version than the one asked about (a
        // cache or a proxy that mixed answers up) vouches for no file on
        // disk (RFC 9111 §4.3.4): the whole file is asked for at once,
        // without the condition.
        transfer.conditional = undefined;
        throw new Rerun(
          `Cannot download "${url}": a 304 answer names another version than the one asked about`,
        );
      }
      // So does the whole file (a 200, or a 206 of every byte) of the
      // file's version: a server that ignores the condition. It ends it too
      // when it answers the rest of a newer version (kept from a
      // revalidation cut short): the server went back to the file in place.
      if (
        held === undefined && response.status === 304 ||
        named === "same" && isWholeFile(response)
      ) {
        throw new NotModified(response.headers);
      }
    }
    // Asked without a validator (see `PartialFile.resumeValidator`): a rest
    // of another length is of another file, whose bytes those on disk are
    // kept from, as a whole answer of it would be refused; unless the
    // source is asked for its own file, whatever its length (`anyLength`):
    // such a rest is then a wrong range, and its whole file is asked for.
    if (
      held !== undefined && held.validator === undefined &&
      !transfer.anyLength
    ) {
      assertSameTotal(transfer, response, held);
    }
    const kind = judgeAnswer(response, held);
    if (kind === "complete") {
      // The file was on disk whole: progress tells so, as for any answer.
      // The answer's body (a server may send a page) is closed, not left
      // holding its connection.
      await response.body?.cancel().catch(() => {});
      partial.completedBy(transfer.source);
      transfer.report(partial.offset, partial.total);
      return;
    }
    if (kind === "changed") {
      // A server that ignores If-Range: the bytes on disk are of a version
      // it no longer has. Dropped, and the whole file asked for at once,
      // as if it had answered 200.
      await restart(transfer);
      throw new Rerun(
        `Cannot download "${url}": the file changed on the server`,
      );
    }
    if (kind === "refused") {
      throw new HTTPError(response.status, answer.url, {
        asked: transfer.source,
        statusText: response.statusText,
        retryAfter: parseRetryAfter(response.headers.get("retry-after")),
      });
    }
    if (kind === "wrong-range") {
      const got = response.headers.get("content-range") ?? "no Content-Range";
      await restart(transfer);
      const Failure = held === undefined ? ProtocolError : Rerun;
      // A resume the server cannot answer is not a failure of the download:
      // the whole file is asked for at once, and that answer is judged
      // (a wrong one of it fails the attempt).
      throw new Failure(
        `Cannot download "${url}": asked for ${
          held === undefined ? "the whole file" : `bytes from ${held.offset}`
        }, got ${
          response.status === 416
            ? `${response.status} ${response.statusText}`.trim()
            : "a partial answer"
        } (${got})`,
      );
    }
    connection.transferring();
    if (kind === "whole") await startWhole(transfer, response);
    if (kind === "append") await resumed(transfer, response, held);
    if (kind === "append" && partial.total === undefined) {
      await learnTotal(transfer, response);
    }
    // This answer vouches for the bytes' version (the same, for an append).
    partial.vouched = wallClock();
    hooks.accepted?.(response, performance.now() - sent);
    const body = response.body === null
      ? null
      : await decoded(url, response, response.body, options.headers);
    writing = kind === "whole";
    const coded = contentEncoding(response.headers) !== undefined;
    if (kind === "append" && coded) encodedRest = held?.offset;
    const rest = kind === "append"
      ? parseContentRange(response.headers.get("content-range"))
      : undefined;
    if (kind === "append") restEnd = rest?.end;
    await writeBody(body, {
      url,
      partial,
      fetched: body === response.body,
      chunkSize: options.chunkSize,
      exactWrites: options.chunkSizeGiven,
      integrity: transfer.integrity,
      idleTimeout: options.idleTimeout,
      received: (bytes) => connection.received(bytes),
      throttle: transfer.throttle,
      ranged: servesRanges(response),
      pace: (bytes) => connection.pace(bytes),
      abort,
      readError: (error) => failureOf(url, error, abort.signal),
      report: (current, total) => transfer.report(current, total),
      bound: kind === "whole"
        ? knownLengthBound(transfer)
        : restBound(url, rest, coded),
    });
    if (kind === "whole") assertKnownLength(transfer);
    // The body has ended: Node's fetch takes its connection back a turn
    // later, and the next request (of this download or the next one) would
    // otherwise open another (see `pool_turn.ts`).
    await poolTurn();
  } catch (error) {
    // Close the connection: the body may be unread (a refused answer), and
    // it is locked to its reader, so only aborting the request releases it.
    abort.abort(error);
    // Bytes of a file that is not this one: the next source starts over.
    if (writing && error instanceof SourceMismatch) await restart(transfer);
    if (
      error instanceof ProtocolError && restEnd !== undefined &&
      partial.offset === restEnd + 1 && partial.total !== undefined &&
      partial.offset < partial.total
    ) {
      // A rest that ends before the file does, sent whole (a server that
      // sends a range in pieces of its own size): it got the file that far,
      // and the next piece is asked for at once, uncounted. Each moves the
      // file on by a byte at least: the pieces end.
      throw new Rerun(
        `Cannot download "${url}": the server sent bytes up to ${restEnd} only`,
      );
    }
    if (
      error instanceof UndecodableBody &&
      encodedRest === transfer.partial.offset
    ) {
      // Not a byte of it decoded: see `UndecodableBody`. Never joined, and
      // no retry would mend it: the whole file is asked for at once, as
      // for a rest of another range.
      await restart(transfer);
      throw new Rerun(
        `Cannot download "${url}": the rest came as a range of a compressed stream (${error.message})`,
      );
    }
    throw error;
  }
}

/** Drops the bytes on disk, and the digest of them. */
export async function restart(transfer: Transfer): Promise<void> {
  await transfer.partial.restart();
  transfer.integrity?.reset();
}

/**
 * Sets the partial file up for a whole answer: a changed file, or a server
 * without ranges, starts over from byte 0. A body sent compressed anyway is
 * saved decoded: its `Content-Length` counts other bytes, and a `Range`
 * would too, so it has no total and is never resumed (but its validator is
 * kept for revalidation). A body of one write or less gets no sidecar: it is
 * written in one go, so resuming it in another process could save nothing
 * (and a small file costs no extra call).
 */
async function startWhole(
  transfer: Transfer,
  response: Response,
): Promise<void> {
  const encoded = contentEncoding(response.headers) !== undefined;
  const total = encoded
    ? undefined
    : parseLength(response.headers.get("content-length"));
  if (transfer.unproven) {
    throw new UnprovenVersion(transfer.url, transfer.source);
  }
  const { knownTotal } = transfer;
  // An unknown length (a chunked or compressed body) may be the file's:
  // judged once the body is in (`assertKnownLength`).
  if (knownTotal !== undefined && total !== undefined && total !== knownTotal) {
    throw new SourceMismatch(transfer.url, transfer.source, total, knownTotal);
  }
  if (transfer.partial.offset > 0) await restart(transfer);
  await transfer.partial.record(
    encoded ? undefined : rangeValidatorOf(response.headers),
    total,
    total !== undefined && total > transfer.options.chunkSize,
    transfer.source,
  );
  // A weak ETag validates no range, but a revalidation of the whole file;
  // so does the validator of a compressed answer (nginx's weakened ETag):
  // a content coding changes the bytes sent, not the file they decode to,
  // which a 304 to it vouches for.
  transfer.partial.revalidator = revalidatorOf(response.headers);
}

/**
 * Records the version a 206 continuing the file is of: the validator asked
 * with, or, asked without one (a source whose own is not known, with a
 * digest: see `PartialFile.resumeValidator`), the one it names. One that
 * names none cannot be resumed from again: the file starts over, as for an
 * answer of another version.
 */
async function resumed(
  transfer: Transfer,
  response: Response,
  held: Held | undefined,
): Promise<void> {
  const { partial } = transfer;
  const validator = held?.validator ?? rangeValidatorOf(response.headers);
  if (validator === undefined) {
    await restart(transfer);
    throw new Rerun(
      `Cannot download "${transfer.url}": ${transfer.source} names no version of the rest it sent`,
    );
  }
  if (validator !== partial.validator) {
    partial.revalidator = revalidatorOf(response.headers);
  }
  await partial.resumedFrom(transfer.source, validator);
}

/**
 * Refuses a 206 (or a 416) that says the file is of another length than
 * `held`'s ({@linkcode SourceMismatch}).
 */
function assertSameTotal(
  transfer: Transfer,
  response: Response,
  held: Held,
): void {
  const { status } = response;
  if ((status !== 206 && status !== 416) || held.total === undefined) return;
  const { total } = parseContentRange(response.headers.get("content-range")) ??
    {};
  if (total === undefined || total === held.total) return;
  throw new SourceMismatch(transfer.url, transfer.source, total, held.total);
}

/**
 * The total a 206 tells of a file whose first answer did not say its
 * length (a chunked body): from now on the body's length is checked, and
 * the partial file resumable by another process, as if it had.
 */
async function learnTotal(
  transfer: Transfer,
  response: Response,
): Promise<void> {
  const { partial } = transfer;
  const total = parseContentRange(response.headers.get("content-range"))?.total;
  if (total === undefined) return;
  await partial.record(
    partial.validator,
    total,
    total > transfer.options.chunkSize,
  );
}

/**
 * For a whole answer that does not say its length, from a source after
 * another that did: the source serves another file as soon as it sends
 * more bytes than that ({@linkcode SourceMismatch}), and the rest of its
 * body is not waited for (gigabytes, from a mirror of another file).
 */
function knownLengthBound(transfer: Transfer): BodyTarget["bound"] {
  const { knownTotal, partial } = transfer;
  if (knownTotal === undefined || partial.total !== undefined) return;
  return {
    bytes: knownTotal,
    error: () =>
      new SourceMismatch(transfer.url, transfer.source, undefined, knownTotal),
  };
}

/**
 * For a rest that ends before the file does (`range`, its `Content-Range`):
 * the file may hold no byte past it. A body longer than its range sends
 * bytes the server named as no byte of the file; the bytes before the read
 * that passed the range's end are kept, and it is asked for again from
 * there. A rest to the file's end needs none: the file's length bounds it.
 * A `coded` rest's range counts coded bytes, not the file's: it is not
 * bounded.
 */
function restBound(
  url: string,
  range: ContentRange | undefined,
  coded: boolean,
): BodyTarget["bound"] {
  const end = range?.end;
  if (
    end === undefined || coded ||
    (range?.total !== undefined && end + 1 === range.total)
  ) {
    return undefined;
  }
  return {
    bytes: end + 1,
    error: () =>
      new ProtocolError(
        `Cannot download "${url}": the body is longer than its Content-Range (bytes ${range?.start}-${end})`,
      ),
  };
}

/**
 * After a whole answer that did not say its length, from a source after
 * another that did: the source served this file only if it sent as many
 * bytes. If not, it is refused ({@linkcode SourceMismatch}; `attempt` drops
 * its bytes).
 */
function assertKnownLength(transfer: Transfer): void {
  const { knownTotal, partial } = transfer;
  if (knownTotal === undefined || partial.total !== undefined) return;
  const received = partial.offset;
  if (received === knownTotal) return;
  throw new SourceMismatch(transfer.url, transfer.source, received, knownTotal);
}

/**
 * The body as the file's bytes: decoded where the server compressed it
 * although asked not to (or asked to, by the caller's `headers`), and the
 * runtime's `fetch` left it so (the same bytes on every runtime: see
 * `_body/content_decoding.ts`).
 */
async function decoded(
  url: string,
  response: Response,
  body: ReadableStream<Uint8Array>,
  headers: Headers,
): Promise<ReadableStream<Uint8Array>> {
  const encoding = contentEncoding(response.headers);
  const decodedStream = await decodedBody(
    body,
    encoding,
    headers.get("accept-encoding"),
  );
  if (decodedStream === undefined) {
    // Every attempt would be sent the same: not retried.
    throw new FinalProtocolError(
      `Cannot download "${url}": the server sent the body encoded as "${encoding}", which cannot be decoded here`,
    );
  }
  return decodedStream;
}
