// The connections of a segmented download, each fetching parts of the file
// (`pieces.ts`) with a bounded `Range` and `If-Range`, and writing them at
// their offsets in the one partial file. With a digest, a source whose own
// validator is not known yet (a mirror on another server, gone on to with
// parts on disk) is asked without `If-Range`, held to the file's length, and
// each answer must name the version its first named: the parts are kept,
// and the digest judges the file joined (see `PartialFile.resumeValidator`).
// Every 206 is checked (its range, total and validator) before a byte is
// written, and a part is written only up to its end, which a connection
// stealing half of it may lower. Each connection retries as a download
// does (timeouts, backoff, Retry-After); one that a server refuses (429,
// 503, a 200 that ignores the range, or a 416 that tells of no other
// length), or a proxy (a tunnel refused with a 429 or a 503), while others
// run ends, and the download goes on with fewer. So
// does one denied (403, from the server or a proxy's tunnel) while others
// were open: a proxy's limit on connections per client (squid's `maxconn`
// denies every request of a client with more open); the last one denied so
// is asked again, alone, and only a 403 to that fails the download. A
// forwarded request's denial (an `http:` URL through a proxy) leaves its
// connection open in the runtime's pool, kept alive by the proxy, which
// counts it still: it is closed at once (see `closeDeniedConnection`). With
// `connections: "auto"`, the ramp decides how many; resumed from parts, the
// download has none yet, and the first part's answer starts it. The sidecar
// records the ranges on disk as each part ends, and every second, so that a
// crash loses at most a second of them; every second, too, the partial file
// is looked for under its name (another program may have removed it).

import { ProtocolError } from "../errors.ts";
import { Paused } from "../_pause.ts";
import { failureOf } from "../_http/failure.ts";
import { cancelOnAbort } from "../_body/cancel_on_abort.ts";
import { contentEncoding, decodedBody } from "../_body/content_decoding.ts";
import { READ_SIZE, reusedReader } from "../_body/reused_reader.ts";
import {
  type ContentRange,
  isOtherVersion,
  parseContentRange,
  parseLength,
  rangeValidatorOf,
} from "../_http/range.ts";
import { request } from "../_http/request.ts";
import { wallClock } from "../_revalidation.ts";
import { parseRetryAfter } from "../_http/retry_policy.ts";
import { HTTPError, ProxyError } from "../errors.ts";
import { closeDeniedConnection, envProxyOf } from "../_runtime/fetch.ts";
import { expectListeners } from "../_listeners.ts";
import { Rerun, withRetries } from "./attempts.ts";
import type { Slot } from "./budget.ts";
import { Connection } from "./connection.ts";
import { type Piece, Pieces } from "./pieces.ts";
import { MAX_WRITE, PartWriter } from "./part_writer.ts";
import { SourceMismatch } from "./sources.ts";
import { type SpeedGroup, SpeedMeter } from "./speed_check.ts";
import { type Ramp, rampFor } from "./ramp.ts";
import type { Transfer } from "./strategy.ts";

/** No part is split in two smaller than this. */
export const MIN_PIECE = 1024 * 1024;
/**
 * A connection takes half of another's part only if that half would keep
 * one connection busy this long (ms): a new connection costs its setup and
 * slow start, and the connection cut short is closed.
 */
const STEAL_AFTER = 200;
/**
 * How often the sidecar's ranges are brought up to date while parts are
 * written, and connections the host's budget refused are asked for again.
 */
const CHECKPOINT_EVERY = 1000;
/**
 * The most bytes before a part's offset that an answer may start at: a
 * cache that serves ranges in whole blocks sends them (its `Content-Range`
 * says where its bytes start), and they are dropped unwritten. An
 * answer that starts further back (from byte 0, say, to every part) would
 * cost more than the part's own bytes, and is refused.
 */
const MAX_SKIP = MIN_PIECE;
/** How often, at most, progress is reported while parts are written. */
const REPORT_EVERY = 50;

/**
 * The parts cannot be fetched as parts: the file changed on the server (its
 * validator, or its length), or the server ignores ranges while no other
 * connection runs. The download starts over, on one connection.
 */
export class StartOver extends Error {
  /** @param message Why. */
  constructor(message: string) {
    super(message);
    this.name = "StartOver";
  }
}

/**
 * An answer for the same file that is not the part asked for: a 200 (the
 * range ignored), a 206 of other bytes, or a 416 that tells no other
 * length. A server (or a proxy) that does
 * so once may do so again: the connection ends, or, the last one, starts
 * the download over on one connection, which needs no ranges.
 */
class RangeIgnored extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RangeIgnored";
  }
}

/**
 * Whether `error` is a server's "no more connections" (429, 503, no range,
 * a range refused), or a proxy's: a tunnel refused with a 429 or a 503 (a
 * limit on each client's connections; Node and Bun tell the status).
 */
function isRefusal(error: unknown): boolean {
  return error instanceof RangeIgnored ||
    ((error instanceof HTTPError || error instanceof ProxyError) &&
      (error.status === 429 || error.status === 503));
}

/**
 * Whether `error` denies the request (a 403, or a tunnel the proxy refused
 * with a 403 or a status the runtime does not tell): what squid answers
 * every request of a client that has more connections open than its
 * `maxconn` allows.
 */
function isDenial(error: unknown): error is HTTPError | ProxyError {
  if (error instanceof HTTPError) return error.status === 403;
  return error instanceof ProxyError && error.variable === undefined &&
    (error.status === 403 || error.status === undefined);
}

/** The connections of one segmented download. */
export class Workers {
  #transfer: Transfer;
  #ramp: Ramp | undefined;
  // Whether the first answer is to start a ramp (resumed, on "auto").
  #rampAtAnswer: boolean;
  #pieces: Pieces;
  #total: number;
  #target: number;
  #running = new Set<Promise<void>>();
  #count = 0;
  #failure: { error: unknown } | undefined;
  // Denials (`isDenial`) of requests made while other connections were
  // open: refusals of one connection too many, not of the file.
  #crowded = new WeakSet<object>();
  #stop = new AbortController();
  // What a connection's wait to retry listens to: a failure of another
  // connection (`#stop`) ends it too, not only the download's signal.
  #retrySignal: AbortSignal | undefined;
  #lastReport = 0;
  #reported = false;
  #reportLater: ReturnType<typeof setTimeout> | undefined;
  #saved = -1;
  #checkpoint: Promise<void> = Promise.resolve();
  // When the workers started, and the bytes on disk then: the rate.
  #start = { time: 0, bytes: 0 };
  // The connections together, judged by `minSpeed` (if set).
  #speedGroup: SpeedGroup | undefined;

  /**
   * @param transfer The download's transfer: its partial file holds the
   * validator and total, and the bytes on disk (a prefix, or ranges).
   * @param ramp The ramp that decides the connections (`"auto"`), if the
   * first connection started one; otherwise, on `"auto"`, the first answer
   * here does.
   */
  constructor(transfer: Transfer, ramp: Ramp | undefined) {
    this.#transfer = transfer;
    this.#ramp = ramp;
    const { partial, options } = transfer;
    this.#total = partial.total as number;
    this.#pieces = new Pieces(
      this.#total,
      partial.ranges ?? [[0, partial.offset]],
    );
    const wanted = options.connections === "auto"
      ? ramp?.connections ?? 1
      : options.connections;
    this.#target = Math.min(wanted, transfer.maxConnections);
    this.#rampAtAnswer = options.connections === "auto" && ramp === undefined;
    const { minSpeed, minSpeedWindow } = options;
    if (minSpeed > 0 && Number.isFinite(minSpeedWindow)) {
      this.#speedGroup = {
        meter: new SpeedMeter(minSpeedWindow),
        connections: () => this.#count,
      };
    }
  }

  /** Fetches every missing part; then the digest, of the whole file. */
  async run(): Promise<void> {
    const { partial, integrity } = this.#transfer;
    // From now on the file is in parts: record them before any is written.
    await partial.recordRanges(this.#pieces.doneRanges());
    // Now and then, also while every connection waits for its server: the
    // ranges on disk, and the connections the host's budget had no room
    // for (another download's, ended since, are free now).
    const timer = setInterval(() => {
      this.#save();
      this.#look();
      this.#fill();
    }, CHECKPOINT_EVERY);
    this.#transfer.showParts(() => this.#pieces.active);
    this.#start = { time: performance.now(), bytes: this.#pieces.bytesDone };
    // Each connection listens to both signals (or, while it waits to retry,
    // to one aborted by either): as many as it may open, while they run.
    const { signal, maxConnections } = this.#transfer;
    expectListeners(signal, maxConnections);
    expectListeners(this.#stop.signal, maxConnections);
    this.#retrySignal = AbortSignal.any([signal, this.#stop.signal]);
    expectListeners(this.#retrySignal, maxConnections);
    try {
      this.#fill();
      while (this.#running.size > 0) await Promise.race(this.#running);
    } finally {
      expectListeners(signal, -maxConnections);
      clearInterval(timer);
      // The last writes' report, if it was held back: a pause must not
      // leave progress (and `bytesWritten`) behind the bytes on disk (a
      // cancel tells nothing more).
      if (
        this.#reportLater !== undefined &&
        this.#failure?.error instanceof Paused
      ) {
        this.#report(performance.now());
      }
      clearTimeout(this.#reportLater);
      this.#transfer.showParts(undefined);
    }
    // No sidecar is written after this: the commit removes it.
    await this.#checkpoint;
    if (this.#failure !== undefined) {
      const { error } = this.#failure;
      // Paused: the next run goes on from the parts on disk.
      if (this.#transfer.isCancellation(error)) {
        await partial.recordRanges(this.#pieces.doneRanges());
      } else {
        // Failed: the next source (a mirror) goes on from every byte on
        // disk, not from the last checkpoint's (up to a second behind, or
        // a part): none is fetched again, and progress does not go back.
        // Its run records them in the sidecar.
        partial.ranges = this.#pieces.doneRanges();
      }
      throw error;
    }
    this.#transfer.signal.throwIfAborted();
    if (!this.#pieces.complete) {
      throw new ProtocolError(
        `Cannot download "${this.#transfer.url}": no connection could fetch the rest`,
      );
    }
    partial.ranges = [[0, this.#total]];
    partial.offset = this.#total;
    this.#transfer.report(this.#total, this.#total);
    if (integrity !== undefined) {
      integrity.reset();
      // Gigabytes, for a big file: a cancel or a pause stops it.
      await partial.hash(integrity, this.#transfer.signal);
    }
  }

  /**
   * Opens connections up to the target, as the budget of the host the
   * download's bytes come from allows.
   */
  #fill(): void {
    const { budget, slot: first } = this.#transfer;
    while (this.#count < this.#target && this.#failure === undefined) {
      // The download's first connection is counted already.
      const slot = this.#count > 0 ? budget.more(first) : first;
      if (slot === undefined) return;
      const counted = ++this.#count;
      const worker = this.#work(slot).finally(() => {
        if (slot !== first) slot.release();
        this.#running.delete(worker);
      });
      this.#running.add(worker);
      // It left at once, uncounted already: nothing was left to claim, and
      // another would find nothing either (every part on disk, resumed).
      if (this.#count < counted) return;
    }
  }

  /**
   * One connection: claims parts and fetches them, until none is left. It
   * is uncounted as it decides to leave, not a turn later: of connections
   * refused at once, each sees those that left before it, so the last one
   * does not leave but retries, or starts the download over. `slot` is
   * its count in the budget.
   */
  async #work(slot: Slot): Promise<void> {
    const pieces = this.#pieces;
    let counted = true;
    // Whether a refusal makes this connection leave, others running: if so
    // it is uncounted now, when the retry loop asks, and not once its error
    // has reached the catch below, by which time another connection refused
    // in the same turn has asked too, seen this one counted, and left.
    const leaves = (error: unknown): boolean => {
      if (!(isRefusal(error) || this.#isCrowded(error)) || this.#count <= 1) {
        return false;
      }
      this.#count--;
      counted = false;
      // Fewer connections from now on; the others take this part.
      this.#target = Math.max(1, this.#count);
      this.#ramp?.cap(this.#target);
      return true;
    };
    try {
      while (this.#failure === undefined) {
        // Sized for the most connections this download may have: a
        // connection opened later finds free bytes to claim, and the ones
        // before it are not cut short (a cut closes a connection).
        const left = this.#total - pieces.bytesDone;
        const size = Math.max(
          MIN_PIECE,
          Math.ceil(left / this.#transfer.maxConnections),
        );
        const piece = pieces.claim(size, this.#leastSteal());
        if (piece === undefined) return;
        try {
          await withRetries(
            {
              ...this.#transfer,
              signal: this.#retrySignal ?? this.#transfer.signal,
              isFinal: (error) =>
                leaves(error) || error instanceof StartOver ||
                error instanceof RangeIgnored,
              // The last connection denied while others were open: asked
              // again, alone now, uncounted (a denial then is final).
              refusedForNow: (error) => this.#isCrowded(error),
            },
            () => this.#fetch(piece, slot),
            () => piece.written,
          );
        } catch (error) {
          pieces.release(piece);
          if (!counted) return;
          this.#fail(
            error instanceof RangeIgnored
              ? new StartOver(error.message)
              : error,
          );
          return;
        }
        pieces.release(piece);
        this.#save();
      }
    } finally {
      if (counted) this.#count--;
    }
  }

  /** Whether `error` denied a request made while others were open. */
  #isCrowded(error: unknown): boolean {
    return typeof error === "object" && error !== null &&
      this.#crowded.has(error);
  }

  /**
   * Whether `error` is the answer to a request forwarded through the proxy
   * the environment names (an `http:` URL's, not a tunnel's), on a
   * connection the proxy keeps.
   */
  #isForwarded(error: unknown): error is HTTPError {
    if (!(error instanceof HTTPError) || !error.url.startsWith("http:")) {
      return false;
    }
    const proxy = envProxyOf(this.#transfer.fetch, error.url);
    return proxy !== undefined && proxy.origin.startsWith("http");
  }

  /** The smallest half worth taking from another connection's part. */
  #leastSteal(): number {
    const elapsed = performance.now() - this.#start.time;
    const bytes = this.#pieces.bytesDone - this.#start.bytes;
    const perConnection = bytes / Math.max(1, elapsed) /
      Math.max(1, this.#count);
    return Math.max(MIN_PIECE, perConnection * STEAL_AFTER);
  }

  /**
   * One request for the rest of `piece`: checks the answer, then writes its
   * body at the piece's offset, up to the piece's end (which may be lowered
   * meanwhile), on the connection `slot` counts.
   */
  async #fetch(piece: Piece, slot: Slot): Promise<void> {
    const { url, options, partial, source } = this.#transfer;
    const from = piece.start + piece.written;
    if (from >= piece.end) return;
    const to = piece.end - 1;
    // With a digest, none for a source whose own is not known (another
    // server's): see `PartialFile.resumeValidator`.
    const validator = partial.resumeValidator(source);
    const range: [string, string] = ["range", `bytes=${from}-${to}`];
    using connection = new Connection(this.#transfer, {
      stop: this.#stop.signal,
      group: this.#speedGroup,
      slot,
    });
    const { abort } = connection;
    const sent = performance.now();
    // Others open as it is asked (or answered: see the catch below).
    const crowded = this.#count > 1;
    try {
      const { response, url: at } = await request(url, {
        from: this.#transfer.source,
        authorization: this.#transfer.authorizations?.get(
          this.#transfer.source,
        ),
        fetch: this.#transfer.fetch,
        headers: options.headers,
        extra: validator === undefined
          ? [range]
          : [range, ["if-range", validator]],
        maxRedirects: options.maxRedirects,
        signal: abort.signal,
      });
      // The first answer of a download resumed in parts tells where its
      // bytes come from: its other connections may open, counted there.
      const unknown = !slot.known;
      connection.answered(at);
      if (unknown) this.#fill();
      const { start, end } = this.#check(response, at, from, to, validator);
      connection.transferring();
      if (this.#transfer.integrity !== undefined) {
        // Of the version asked with, or named (see `#versionOf`): the
        // bytes are spliced from here on if it is not the file's.
        await partial.resumedFrom(
          source,
          validator ?? this.#versionOf(response),
        );
      }
      // The source (after redirects) these bytes come from: a download
      // resumed from parts, or gone on to its next source, makes no other
      // request that would tell it.
      this.#transfer.arrived(at);
      if (this.#rampAtAnswer) this.#startRamp(performance.now() - sent);
      // A resumed file's first answer: progress tells what is on disk
      // before any part of this run is written, as a single stream does.
      if (!this.#reported) this.#report(performance.now());
      if (response.body === null) {
        throw new ProtocolError(
          `Cannot download "${url}": a part came without a body`,
        );
      }
      await this.#write(
        piece,
        await this.#decoded(response, response.body, options.headers),
        end + 1,
        from - start,
        connection,
        // A coded part's range counts coded bytes, not the file's.
        contentEncoding(response.headers) === undefined,
      );
    } catch (error) {
      const denied = isDenial(error);
      if ((crowded || this.#count > 1) && (denied || isRefusal(error))) {
        // A forwarded request's connection stays open after a denial, and
        // after a 429 or a 503 too (squid's `maxconn` with a `deny_info` of
        // that status), counted by the proxy still: closed, and the part
        // asked again alone, uncounted, as after a denial. On this
        // connection's signal, not aborted yet: a cancel, or its timeout,
        // ends it.
        const forwarded = this.#isForwarded(error);
        if (denied || forwarded) this.#crowded.add(error);
        if (forwarded) {
          await closeDeniedConnection(
            this.#transfer.fetch,
            error.url,
            abort.signal,
          );
        }
      }
      abort.abort(error);
      throw error;
    }
  }

  /**
   * Refuses any answer but a 206 of this file from `from` through `to`, or
   * past it (a server may answer a bounded range to the file's end), or
   * short of it (a server that sends ranges in pieces of its own size), or
   * from up to {@linkcode MAX_SKIP} bytes before `from` (a cache that
   * serves whole blocks): returns the first byte it sends and the last.
   */
  #check(
    response: Response,
    at: string,
    from: number,
    to: number,
    validator: string | undefined,
  ): { start: number; end: number } {
    const { url, partial } = this.#transfer;
    const { status } = response;
    const range = status === 206 || status === 416
      ? parseContentRange(response.headers.get("content-range"))
      : undefined;
    this.#assertSameLength(response, range, validator === undefined);
    // An error's validators are of its page, not of the file (a 503 page
    // served as a file has an ETag of its own): a failure, not a change.
    const changed = validator !== undefined &&
      (response.ok || status === 416) &&
      isOtherVersion(response.headers, validator);
    const otherLength = range?.total !== undefined &&
      range.total !== this.#total;
    if (changed || otherLength) {
      throw new StartOver(
        `Cannot download "${url}": the file changed on the server`,
      );
    }
    if (status === 416) {
      // Bytes inside the file's length, of its version, not satisfiable:
      // without another length (`bytes */<total>`) the answer tells of no
      // change. The connection ends, the parts on disk stay, and the
      // others' answers (each naming its length and version) tell whether
      // the file changed; the last one's starts the download over.
      throw new RangeIgnored(
        `Cannot download "${url}": asked for bytes ${from}-${to}, got ${
          `${status} ${response.statusText}`.trim()
        } (${response.headers.get("content-range") ?? "no Content-Range"})`,
      );
    }
    if (status === 206) {
      if (
        range?.start === undefined || range.start > from ||
        from - range.start > MAX_SKIP || range.end === undefined ||
        range.end < from || range.total === undefined
      ) {
        throw new RangeIgnored(
          `Cannot download "${url}": asked for bytes ${from}-${to}, got ${
            response.headers.get("content-range") ?? "no Content-Range"
          }`,
        );
      }
      // A 206 of this very version: the server vouched for it now.
      partial.vouched = wallClock();
      return { start: range.start, end: range.end };
    }
    // A whole answer for the same version: ranges ignored here.
    if (response.ok) {
      throw new RangeIgnored(
        `Cannot download "${url}": the server ignored the range asked for`,
      );
    }
    throw new HTTPError(response.status, at, {
      asked: this.#transfer.source,
      statusText: response.statusText,
      retryAfter: parseRetryAfter(response.headers.get("retry-after")),
    });
  }

  /**
   * Refuses a source whose answer gives the file another length than the
   * one a source before it gave (a stale mirror: {@linkcode SourceMismatch}),
   * before anything is dropped: the parts on disk stay for the next source.
   * `range` is the answer's `Content-Range`, for a 206 or a 416.
   */
  #assertSameLength(
    response: Response,
    range: ContentRange | undefined,
    unasked: boolean,
  ): void {
    const { url, source } = this.#transfer;
    // Asked whatever its version (a digest's join), a source is held to the
    // file's length: the parts on disk are of it. Unless it is asked for its
    // own file, whatever its length (`anyLength`): the download then starts
    // over with it (`#check`).
    const knownTotal = unasked && !this.#transfer.anyLength
      ? this.#total
      : this.#transfer.knownTotal;
    if (knownTotal === undefined) return;
    const { status, headers } = response;
    const length = status === 206 || status === 416
      ? range?.total
      : response.ok && contentEncoding(headers) === undefined
      ? parseLength(headers.get("content-length"))
      : undefined;
    if (length !== undefined && length !== knownTotal) {
      throw new SourceMismatch(url, source, length, knownTotal);
    }
  }

  /**
   * The version a 206 asked for without `If-Range` is of (a digest's join:
   * see `PartialFile.resumeValidator`): the one it names, which must be the
   * one this source's earlier answers named, if any did. One that names
   * none, or another (the file changed on it), cannot be resumed from: the
   * download starts over ({@linkcode StartOver}).
   */
  #versionOf(response: Response): string {
    const { partial, source, url } = this.#transfer;
    const named = rangeValidatorOf(response.headers);
    const own = partial.resumeValidator(source);
    if (named === undefined || (own !== undefined && own !== named)) {
      throw new StartOver(
        `Cannot download "${url}": ${source} names ${
          named === undefined ? "no version" : "another version"
        } of the part it sent`,
      );
    }
    return named;
  }

  /**
   * A part's body as the file's bytes: decoded where a server compressed it
   * although asked not to, and the runtime's `fetch` left it so, as a single
   * stream's is (Node's `fetch` decodes it, Deno's not when asked for
   * `identity`: written as it came, the compressed bytes would be spliced into the file). A coding
   * not decoded here is no part of this file: the connection ends, or,
   * the last one, the download starts over on one.
   */
  async #decoded(
    response: Response,
    body: ReadableStream<Uint8Array>,
    headers: Headers,
  ): Promise<ReadableStream<Uint8Array>> {
    const encoding = contentEncoding(response.headers);
    const decoded = await decodedBody(
      body,
      encoding,
      headers.get("accept-encoding"),
    );
    if (decoded === undefined) {
      throw new RangeIgnored(
        `Cannot download "${this.#transfer.url}": a part came encoded as "${encoding}", which cannot be decoded here`,
      );
    }
    return decoded;
  }

  /**
   * Writes the body, asked up to `asked` (exclusive), at the piece's offset,
   * up to its end, its first `skip` bytes dropped (sent from before the
   * offset); then it is whole. `asked` is the end of the answer's
   * `Content-Range`: with `bounded`, a body that goes on past it fails the
   * part, no byte past it written (bytes the server named as no byte of
   * the file), once those before it are.
   */
  async #write(
    piece: Piece,
    body: ReadableStream<Uint8Array>,
    asked: number,
    skip: number,
    connection: Connection,
    bounded: boolean,
  ): Promise<void> {
    const { url, partial, throttle } = this.#transfer;
    const { signal } = connection.abort;
    const reader = reusedReader(body);
    using _watch = cancelOnAbort(signal, reader);
    // Where the body's next byte (past `skip`) goes.
    let next = piece.start + piece.written;
    const file = await partial.writerAt(next);
    const writer = new PartWriter(file, {
      room: () => piece.end - piece.start - piece.written,
      writeSize: () => throttle.readSize(MAX_WRITE),
      wrote: async (bytes) => {
        this.#pieces.wrote(piece, bytes);
        this.#progress();
        await connection.pace(bytes);
      },
    }, signal);
    try {
      for (;;) {
        let result;
        try {
          // Under a limit, a fraction of a second's bytes (see PartWriter).
          result = await reader.read(throttle.readSize(READ_SIZE));
          signal.throwIfAborted(); // a read the abort ended
        } catch (error) {
          throw failureOf(url, error, signal);
        }
        if (result.done) break;
        connection.received(result.value.byteLength);
        let bytes = result.value;
        if (skip > 0) {
          // Bytes before the part's offset: not written.
          const dropped = Math.min(skip, bytes.byteLength);
          skip -= dropped;
          bytes = bytes.subarray(dropped);
          if (bytes.byteLength === 0) continue;
        }
        const past = bounded && next + bytes.byteLength > asked;
        if (past) bytes = bytes.subarray(0, asked - next);
        next += bytes.byteLength;
        // Gathered only from the reader's one buffer (see PartWriter).
        await writer.take(bytes, reader.reusesBuffer && !throttle.limited);
        if (past) {
          await writer.flush();
          await reader.cancel().catch(() => {});
          // Past the piece's end (lowered meanwhile) as well: it is whole.
          if (piece.start + piece.written >= piece.end) return;
          throw new ProtocolError(
            `Cannot download "${url}": a part's body is longer than its Content-Range (bytes up to ${
              asked - 1
            })`,
          );
        }
        if (piece.start + piece.written >= piece.end && piece.end < asked) {
          // Its end was lowered: the rest is another connection's (and the
          // connection closes with the answer; one read to its end stays
          // open for the next part).
          await reader.cancel().catch(() => {});
          return;
        }
      }
      await writer.flush();
    } finally {
      await writer.drop();
      await file.close();
    }
    if (piece.start + piece.written === asked && asked < piece.end) {
      // Sent whole, short of the part: the rest is asked for at once,
      // uncounted (each answer moves the part on by a byte at least).
      throw new Rerun(
        `Cannot download "${url}": the server sent bytes up to ${
          asked - 1
        } only`,
      );
    }
    if (piece.start + piece.written < piece.end) {
      throw new ProtocolError(
        `Cannot download "${url}": a part ended after ${piece.written} of ${
          piece.end - piece.start
        } bytes`,
      );
    }
  }

  /**
   * Reports progress, at most every `REPORT_EVERY` ms (the last write of a
   * burst is reported when that time is up), and lets the ramp open
   * connections.
   */
  #progress(): void {
    const now = performance.now();
    const done = this.#pieces.bytesDone;
    if (now - this.#lastReport >= REPORT_EVERY || done === this.#total) {
      this.#report(now);
    } else {
      this.#reportLater ??= setTimeout(
        () => this.#report(performance.now()),
        REPORT_EVERY - (now - this.#lastReport),
      );
    }
    const ramp = this.#ramp;
    if (ramp !== undefined && !ramp.settled) {
      this.#raise(ramp.observe(now, done, this.#total - done));
    }
  }

  /** The first part's answer, after `ms`, starts the ramp (see `#rampAtAnswer`). */
  #startRamp(ms: number): void {
    this.#rampAtAnswer = false;
    const { source, maxConnections } = this.#transfer;
    const ramp = rampFor(source, maxConnections, ms);
    this.#ramp = ramp;
    this.#raise(
      ramp.begin(performance.now(), this.#total - this.#pieces.bytesDone),
    );
  }

  /** Opens connections up to `wanted`, if that is more than now. */
  #raise(wanted: number): void {
    if (wanted <= this.#target) return;
    this.#target = Math.min(wanted, this.#transfer.maxConnections);
    this.#fill();
  }

  #report(now: number): void {
    clearTimeout(this.#reportLater);
    this.#reportLater = undefined;
    this.#lastReport = now;
    this.#reported = true;
    try {
      this.#transfer.report(this.#pieces.bytesDone, this.#total);
    } catch (error) {
      // A progress callback that throws fails the download, as on one
      // connection; from the timer, it would be thrown to no one.
      this.#fail(error);
    }
  }

  /** Brings the sidecar's ranges up to date, if more is on disk since. */
  #save(): void {
    const done = this.#pieces.bytesDone;
    if (done === this.#saved || this.#failure !== undefined) return;
    this.#saved = done;
    const ranges = this.#pieces.doneRanges();
    this.#checkpoint = this.#checkpoint.then(() =>
      this.#transfer.partial.recordRanges(ranges)
    ).catch((error) => this.#fail(error));
  }

  /**
   * Looks for the partial file under its name: removed by another program
   * (or its directory removed, or replaced), it is gone for good, though
   * each connection's writer, open on it, writes on without an error until
   * the whole file is fetched in vain. The download fails at once, as a
   * single stream's pipe does (`SizePoller`).
   */
  #look(): void {
    if (this.#failure !== undefined) return;
    this.#checkpoint = this.#checkpoint.then(() =>
      this.#transfer.partial.assertPresent()
    ).catch((error) => this.#fail(error));
  }

  /** Records the download's error, and stops every connection. */
  #fail(error: unknown): void {
    this.#failure ??= { error };
    this.#stop.abort(error);
  }
}
