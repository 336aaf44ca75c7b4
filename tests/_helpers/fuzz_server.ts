// A seeded fault-fuzz server for tests/download_fuzz_test.ts: a real HTTP
// server on 127.0.0.1 (port 0) serving one file at a few paths (mirrors),
// whose every answer is drawn from a seeded PRNG: served as a real server
// would (Range, If-Range, ETag or Last-Modified), or cut, busy, ignoring the
// Range, answering another range, trickling, compressing it anyway, or
// changing the file to a new version first. Each source may be set apart
// (`perSource`): another version (a stale mirror), its own validator kind,
// fault rate and ranges, a validator borrowed from the first, or gone after
// a few requests. The draws follow the order the requests come in.

import type { IncomingMessage, ServerResponse } from "node:http";
import {
  brotliCompressSync,
  deflateRawSync,
  deflateSync,
  gzipSync,
} from "node:zlib";
import assert from "node:assert/strict";
import { env } from "node:process";
import {
  type Download,
  DownloadInterrupt,
  type DownloadOptions,
  FileSystemError,
  HTTPError,
  IntegrityError,
  LockTimeoutError,
  NetworkError,
  ProtocolError,
  RedirectError,
  RetriesExhaustedError,
  TimeoutError,
} from "../../mod.ts";
import { startServer, type TestServer } from "./server.ts";

/** A small seeded PRNG (mulberry32): the same seed, the same draws. */
export class Prng {
  #state: number;

  /** @param seed Any integer. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)] as T;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** What one answer does. */
export type FuzzAnswer =
  | "normal"
  | "cut"
  | "busy"
  | "busy-retry-after"
  | "ignore-range"
  | "wrong-range"
  | "change"
  | "trickle"
  | "no-length"
  | "redirect"
  | "server-error"
  | "not-found"
  | "stall"
  | "stall-headers"
  | "gzip"
  | "whole-206"
  | "ignore-if-range"
  | "gone";

/**
 * The validator the server gives its file: a strong ETag, a weak one
 * (`W/`, or `w/` as older Werkzeug sends it), a Last-Modified date, or none.
 */
export type FuzzValidator =
  | "etag"
  | "weak-etag"
  | "lower-weak-etag"
  | "last-modified"
  | "none";

/**
 * The header value of a validator of kind `kind` for the version tagged
 * `tag` and dated `date`: an ETag (`"tag"`, `W/"tag"`, `w/"tag"`), the date,
 * or `undefined` for none.
 */
export function validatorText(
  kind: FuzzValidator,
  tag: string,
  date: string,
): string | undefined {
  return kind === "etag"
    ? `"${tag}"`
    : kind === "weak-etag"
    ? `W/"${tag}"`
    : kind === "lower-weak-etag"
    ? `w/"${tag}"`
    : kind === "last-modified"
    ? date
    : undefined;
}

/** Options for {@linkcode startFuzzServer}. */
export interface FuzzServerOptions {
  /** The file's versions, in the order the server changes to them. */
  versions: Uint8Array[];
  /** Its validator. */
  validator: FuzzValidator;
  /** Whether it serves ranges at all. */
  ranges: boolean;
  /** The chance that an answer is a fault. */
  faultRate: number;
  /** How many sources (servers) serve the file, each at `/f`. */
  sources: number;
  /**
   * Whether each source has validators of its own (mirrors on other
   * servers), or all give the first's.
   */
  ownValidators: boolean;
  /**
   * How many versions ahead of the first the other sources are (negative:
   * behind, a stale mirror), within the versions there are.
   */
  lag: number;
  /**
   * Per source, what sets it apart, overriding the options above for that
   * source (tests/download_mirrors_fuzz_test.ts): mirrors of other versions,
   * validators and faults, and sources that go away.
   */
  perSource?: FuzzSource[];
}

/** What sets one source of a fuzz server apart from the others. */
export interface FuzzSource {
  /**
   * How many versions ahead of the first source's this one is (for the
   * first source too: a mirror list whose first is stale), within the
   * versions there are.
   * @default options.lag (0 for the first source)
   */
  lag?: number | undefined;
  /** @default options.validator */
  validator?: FuzzValidator | undefined;
  /** @default options.ranges */
  ranges?: boolean | undefined;
  /** @default options.faultRate */
  faultRate?: number | undefined;
  /**
   * After how many requests the source is gone: each later one answered
   * 404 (a file taken down) or cut before any answer (a host gone).
   * @default never
   */
  goneAfter?: number | undefined;
  /**
   * Whether its validator names the first source's version whatever it
   * serves (mirrors synced keeping dates, with bytes that differ).
   * @default false
   */
  borrowsValidator?: boolean | undefined;
  /** @default "not-found" */
  goneAs?: "not-found" | "reset" | undefined;
}

/** One request and what the server did. */
export interface FuzzRequest {
  source: number;
  range: string | null;
  ifRange: string | null;
  answer: FuzzAnswer;
  version: number;
  status: number;
}

/** A running fuzz server. */
export interface FuzzServer extends AsyncDisposable {
  /** The URL of each source. */
  urls: string[];
  /** Every request, in order. */
  log: FuzzRequest[];
  /** The version served now (an index into `versions`). */
  version(): number;
  /** Whether faults are drawn (false: every answer is served normally). */
  faulty: boolean;
  /** The body bytes handed to the sockets so far, by every source. */
  sent(): number;
  /**
   * Calls `listener` with the bytes sent so far each time more are handed
   * to a socket (before the write completes).
   */
  onSent(listener: (sent: number) => void): void;
  /** The validator the first source gives its file now, if any. */
  validator(): string | undefined;
}

const FAULTS: FuzzAnswer[] = [
  "cut",
  "cut",
  "busy",
  "busy-retry-after",
  "ignore-range",
  "wrong-range",
  "change",
  "trickle",
  "no-length",
  "redirect",
  "server-error",
  "stall",
  "stall-headers",
  "gzip",
  "whole-206",
  "ignore-if-range",
];

/** The codings an answer compressed anyway comes in. */
const CODINGS: [string, (bytes: Uint8Array) => Uint8Array][] = [
  ["gzip", gzipSync],
  ["deflate", deflateSync],
  ["deflate", deflateRawSync],
  ["br", brotliCompressSync],
];

/**
 * Last-Modified dates well before the answer's Date, one per version (and
 * per source, with validators of its own), in order.
 */
export const DATES = Array.from(
  { length: 24 },
  (_, i) => new Date(Date.UTC(2024, 0, 1 + i)).toUTCString(),
);

/** Starts a server whose answers `prng` draws (see the module comment). */
export async function startFuzzServer(
  prng: Prng,
  options: FuzzServerOptions,
): Promise<FuzzServer> {
  const log: FuzzRequest[] = [];
  let version = 0;
  const state = { faulty: true };
  let sent = 0;
  const listeners: ((sent: number) => void)[] = [];
  const write = (
    response: ServerResponse,
    bytes: Uint8Array,
  ): Promise<void> => {
    if (bytes.byteLength > 0 && !response.destroyed) {
      sent += bytes.byteLength;
      for (const listener of listeners) listener(sent);
    }
    return writeBytes(response, bytes);
  };
  const perSource = (source: number): FuzzSource =>
    options.perSource?.[source] ?? {};
  const kindOf = (source: number): FuzzValidator =>
    perSource(source).validator ?? options.validator;
  const requestsTo = Array.from({ length: options.sources }, () => 0);
  // `as`: whose validators (`source`'s own kind) are given.
  const validatorOf = (
    source: number,
    served: number,
    as = source,
  ): string | undefined => {
    const tag = options.ownValidators ? `s${as}-v${served}` : `v${served}`;
    return validatorText(
      kindOf(source),
      tag,
      DATES[served + (options.ownValidators ? as * 3 : 0)] as string,
    );
  };
  const route = (source: number) =>
  async (
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> => {
    const own = perSource(source);
    const asked = (requestsTo[source] ?? 0) + 1;
    requestsTo[source] = asked;
    const gone = asked > (own.goneAfter ?? Infinity);
    let answer: FuzzAnswer = gone
      ? "gone"
      : state.faulty && prng.chance(own.faultRate ?? options.faultRate)
      ? prng.chance(0.01) ? "not-found" : prng.pick(FAULTS)
      : "normal";
    if (answer === "change") {
      if (version + 1 < options.versions.length) version++;
      else answer = "normal";
    }
    const served = Math.min(
      options.versions.length - 1,
      Math.max(0, version + (own.lag ?? (source === 0 ? 0 : options.lag))),
    );
    const body = options.versions[served] as Uint8Array;
    const validator = own.borrowsValidator === true
      ? validatorOf(source, version, 0)
      : validatorOf(source, served);
    const range = request.headers.range ?? null;
    const ifRange = (request.headers["if-range"] as string | undefined) ??
      null;
    const entry: FuzzRequest = {
      source,
      range,
      ifRange,
      answer,
      version: served,
      status: 0,
    };
    log.push(entry);
    const send = (status: number, headers: Record<string, string>): void => {
      entry.status = status;
      response.writeHead(status, headers);
    };
    if (answer === "gone") {
      if (own.goneAs === "reset") {
        response.socket?.destroy();
        return;
      }
      send(404, {});
      response.end("gone");
      return;
    }
    if (answer === "stall-headers") {
      // Until the client gives up (its connect timeout) or the server closes.
      return;
    }
    if (answer === "redirect") {
      send(302, { location: `/f?r=${log.length}` });
      response.end();
      return;
    }
    if (answer === "server-error" || answer === "not-found") {
      send(answer === "not-found" ? 404 : 500, {});
      response.end("no");
      return;
    }
    if (answer === "busy" || answer === "busy-retry-after") {
      // 429 or 503, with a Retry-After of none, of seconds (a long one, past
      // BUSY_RETRY_AFTER, sends a download of two sources to the other), or
      // of a date ahead or past; the client caps the wait (retryAfterCap).
      const status = prng.pick([503, 503, 429]);
      const retryAfter = answer === "busy" ? undefined : prng.pick([
        "0",
        "1",
        "3600",
        new Date(Date.now() + 3_600_000).toUTCString(),
        DATES[0] as string,
      ]);
      send(
        status,
        retryAfter === undefined ? {} : { "retry-after": retryAfter },
      );
      response.end("busy");
      return;
    }
    const ranges = own.ranges ?? options.ranges;
    const headers: Record<string, string> = ranges
      ? { "accept-ranges": "bytes" }
      : {};
    if (kindOf(source).endsWith("etag")) headers.etag = validator as string;
    if (kindOf(source) === "last-modified") {
      headers["last-modified"] = validator as string;
    }
    const match = range === null ? null : /^bytes=(\d+)-(\d*)$/.exec(range);
    const validatorOk = ifRange === null || ifRange === validator ||
      answer === "ignore-if-range";
    const serveRange = match !== null && validatorOk && ranges &&
      answer !== "ignore-range" && answer !== "gzip";
    if (answer === "whole-206" && ranges) {
      headers["content-range"] = `bytes 0-${
        body.byteLength - 1
      }/${body.byteLength}`;
      headers["content-length"] = String(body.byteLength);
      if (body.byteLength === 0) {
        answer = "normal";
      } else {
        send(206, headers);
        await write(response, body);
        response.end();
        return;
      }
    }
    if (answer === "gzip") {
      // Compressed though the client asked for identity, in a coding it
      // decodes (deflate with zlib's wrapper or raw, as servers send it); an
      // empty file, sometimes empty and marked compressed too.
      const [coding, compress] = prng.pick(CODINGS);
      headers["content-encoding"] = coding;
      const zipped = body.byteLength === 0 && prng.chance(0.5)
        ? body
        : compress(body);
      headers["content-length"] = String(zipped.byteLength);
      send(200, headers);
      await write(response, zipped);
      response.end();
      return;
    }
    let start = 0;
    let end = body.byteLength;
    if (serveRange) {
      const first = Number(match[1]);
      if (first >= body.byteLength) {
        send(416, {
          ...headers,
          "content-range": `bytes */${body.byteLength}`,
        });
        response.end();
        return;
      }
      start = first;
      end = match[2] === "" || match[2] === undefined
        ? body.byteLength
        : Math.min(body.byteLength, Number(match[2]) + 1);
      let claimedStart = start;
      let claimedTotal = body.byteLength;
      if (answer === "wrong-range") {
        // Another range than the one asked for, or another total.
        if (prng.chance(0.5)) {
          claimedStart = start > 0 ? start - 1 : Math.min(1, end - 1);
          start = claimedStart;
        } else {
          claimedTotal = body.byteLength + 1 + prng.below(100);
        }
      }
      headers["content-range"] = `bytes ${claimedStart}-${
        end - 1
      }/${claimedTotal}`;
      headers["content-length"] = String(end - start);
      send(206, headers);
    } else {
      // A body without a length comes chunked.
      if (answer !== "no-length") {
        headers["content-length"] = String(body.byteLength);
      }
      send(200, headers);
    }
    const part = body.subarray(start, end);
    if (answer === "cut" && part.byteLength > 0) {
      const cut = prng.below(part.byteLength);
      await write(response, part.subarray(0, cut));
      response.destroy();
      return;
    }
    if (answer === "stall" && part.byteLength > 0) {
      // Some bytes, then nothing until the client gives up (its idle
      // timeout) or the server closes.
      await write(response, part.subarray(0, prng.below(part.byteLength)));
      return;
    }
    if (answer === "trickle") {
      const step = Math.max(1, Math.ceil(part.byteLength / 8));
      for (let at = 0; at < part.byteLength; at += step) {
        if (response.destroyed) return;
        await write(response, part.subarray(at, at + step));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      response.end();
      return;
    }
    await write(response, part);
    response.end();
  };
  const servers: TestServer[] = [];
  for (let source = 0; source < options.sources; source++) {
    servers.push(await startServer({ "/f": route(source) }));
  }
  return {
    urls: servers.map((server) => server.url("/f")),
    log,
    version: () => version,
    get faulty(): boolean {
      return state.faulty;
    },
    set faulty(value: boolean) {
      state.faulty = value;
    },
    sent: () => sent,
    onSent: (listener) => listeners.push(listener),
    validator: () => validatorOf(0, version),
    [Symbol.asyncDispose]: async () => {
      await Promise.all(servers.map((server) => server.close()));
    },
  };
}

/**
 * Writes `bytes` to `response`, resolving once they are handed to the
 * socket (or at once when the client went away).
 */
export function writeBytes(
  response: ServerResponse,
  bytes: Uint8Array,
): Promise<void> {
  if (bytes.byteLength === 0 || response.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    // The callback comes once the bytes are handed to the socket, or with
    // an error when the client went away.
    response.write(bytes, () => resolve());
  });
}

/**
 * The seeds a fuzz test runs: those in `FUZZ_SEEDS` ("0-1999", "17,42" or
 * both, "0-9,17"), else `ci`, the few run with the suite.
 */
export function seedsToRun(ci: number[]): number[] {
  const given = env.FUZZ_SEEDS;
  if (given === undefined || given === "") return ci;
  return given.split(",").flatMap((part) => {
    const [from, to] = part.split("-").map(Number) as [number, number?];
    if (to === undefined) return [from];
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}

/** The errors a download fails with (a cancel ends it with another). */
export const TYPED_ERRORS = [
  HTTPError,
  NetworkError,
  TimeoutError,
  ProtocolError,
  RedirectError,
  IntegrityError,
  FileSystemError,
  RetriesExhaustedError,
  LockTimeoutError,
];

/**
 * Asserts that a download ended as a fuzz allows: `"done"` without an
 * error, `"canceled"` (only when `canceling`) with its `DownloadInterrupt`,
 * or `"failed"` with one of {@linkcode TYPED_ERRORS}.
 */
export function assertEndedWell(
  state: string,
  error: unknown,
  canceling: boolean,
): void {
  if (state === "done") {
    assert.equal(error, undefined);
    return;
  }
  if (state === "canceled") {
    assert.ok(canceling, "canceled without a cancel");
    assert.ok(
      error instanceof DownloadInterrupt,
      `canceled with ${String(error)}`,
    );
    return;
  }
  assert.equal(state, "failed", `ended ${state}`);
  assert.ok(
    TYPED_ERRORS.some((type) => error instanceof type),
    `failed with an untyped error: ${(error as Error)?.stack ?? String(error)}`,
  );
}

/**
 * Retries and timeouts for a download from a fuzz server: short backoffs, a
 * capped Retry-After (the server's go up to an hour), and short timeouts,
 * for the server's stalls (a stall is retried as any fault).
 */
export const FUZZ_RETRY_OPTIONS: DownloadOptions = {
  backoffBase: 1,
  backoffCap: 5,
  retryAfterCap: 20,
  connectTimeout: 500,
  idleTimeout: 500,
};

/**
 * Waits for `download` to end: the error it failed (or was canceled) with,
 * `undefined` when done. Fails the test, canceling it, should it not end
 * within a minute (not a timing assertion: a download that never ends
 * would hang the run).
 */
export async function waitEnded(download: Download): Promise<unknown> {
  let error: unknown;
  const ended = download.wait().catch((caught) => {
    error = caught;
  });
  if (!await endsInTime(ended)) {
    download.cancel();
    assert.fail(`the download did not end (state ${download.state})`);
  }
  return error;
}

/**
 * Whether `work` settles within a minute. Not a timing assertion: work that
 * never ends would hang the run, and the caller fails it instead.
 */
export async function endsInTime(work: Promise<unknown>): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), 60_000);
  });
  const ended = work.then(() => true, () => true);
  try {
    return await Promise.race([ended, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** A validator for a fuzz server, an ETag most often. */
export function drawValidator(prng: Prng): FuzzValidator {
  return prng.pick<FuzzValidator>([
    "etag",
    "etag",
    "weak-etag",
    "last-modified",
    "none",
  ]);
}
