// A real HTTP server on 127.0.0.1 (port 0) for the tests, on `node:http` so
// that the same tests run under Deno and Node. Each test starts its own with
// the routes it needs; faults are made by the route handlers.

import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import {
  type AddressInfo,
  createServer as createNetServer,
  type Socket,
} from "node:net";
import { mergeRanges } from "../../src/_transfer/pieces.ts";

/** A request the server received. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
}

/** Answers one request. */
export type Route = (
  request: IncomingMessage,
  response: ServerResponse,
) => void | Promise<void>;

/** A running test server. */
export interface TestServer extends AsyncDisposable {
  /** The absolute URL of `path` on this server. */
  url(path: string): string;
  /** Every request received, in order. */
  requests: SeenRequest[];
  /** Stops the server, dropping open connections. */
  close(): Promise<void>;
}

/** A port on 127.0.0.1 with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A running {@linkcode rawServer}. */
export interface RawServer extends AsyncDisposable {
  /** Its port on 127.0.0.1. */
  port: number;
  /** How many connections it took. */
  readonly connections: number;
}

/**
 * A TCP server on 127.0.0.1 that hands each connection to `onSocket`, for
 * faults no HTTP server makes (before any answer, or in how it ends),
 * counting them.
 */
export async function rawServer(
  onSocket: (socket: Socket) => void,
): Promise<RawServer> {
  let connections = 0;
  const server = createNetServer((socket) => {
    connections++;
    socket.on("error", () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return connections;
    },
    [Symbol.asyncDispose]: () =>
      new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Starts a server answering `routes` (by path, query excluded); 404 otherwise. */
export async function startServer(
  routes: Record<string, Route>,
): Promise<TestServer> {
  const requests: SeenRequest[] = [];
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    requests.push({
      method: request.method ?? "",
      path,
      headers: request.headers,
    });
    const route = routes[path];
    if (route === undefined) {
      response.writeHead(404, "Not Found").end();
      return;
    }
    Promise.resolve(route(request, response)).catch(() => response.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  function close(): Promise<void> {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closed;
  }
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Options for {@linkcode bytesRoute}. */
export interface BytesRouteOptions {
  /** Send a Content-Length header. Default true. */
  contentLength?: boolean;
  /** Extra headers. */
  headers?: Record<string, string>;
  /** Split the body into writes of this size. Default: one write. */
  writeSize?: number;
  /** Wait for this before sending the bytes from `gateAt` on. */
  gate?: Promise<void>;
  /** Where the gate stands in the body. Default 0. */
  gateAt?: number;
}

/** A route answering 200 with `body`. */
export function bytesRoute(
  body: Uint8Array,
  options: BytesRouteOptions = {},
): Route {
  return async (_request, response) => {
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.contentLength ?? true) {
      headers["content-length"] = body.byteLength;
    }
    response.writeHead(200, headers);
    const gateAt = options.gate === undefined
      ? body.byteLength
      : options.gateAt ?? 0;
    await writeParts(response, body.subarray(0, gateAt), options.writeSize);
    if (options.gate !== undefined) {
      await options.gate;
      await writeParts(response, body.subarray(gateAt), options.writeSize);
    }
    response.end();
  };
}

/** A route answering `status` with a short text body. */
export function statusRoute(status: number, text = "no"): Route {
  return (_request, response) => {
    response.writeHead(status, { "content-type": "text/plain" }).end(text);
  };
}

async function writeParts(
  response: ServerResponse,
  bytes: Uint8Array,
  writeSize = bytes.byteLength,
): Promise<void> {
  for (let offset = 0; offset < bytes.byteLength; offset += writeSize) {
    const part = bytes.subarray(offset, offset + writeSize);
    if (!response.write(part)) {
      await new Promise<void>((resolve) => response.once("drain", resolve));
    }
  }
}

/** `length` bytes of a repeating, position-dependent pattern. */
export function patternBytes(length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed + (i >> 8)) & 0xff;
  return bytes;
}

/** A promise with its resolver, for gates and signals between test and server. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
} {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => resolve = r);
  return { promise, resolve };
}

/** What one request to a {@linkcode fileRoute} does wrong (nothing if absent). */
export interface Fault {
  /** Answer this status instead (no body beyond a short text). */
  status?: number;
  /** With `status`: the Retry-After header to send. */
  retryAfter?: string;
  /** With `status`: more headers to send (an error page's own ETag, say). */
  statusHeaders?: Record<string, string>;
  /**
   * Drop the connection after sending this many body bytes (once `release`
   * resolves, if given: a test holds the drop until the client has the bytes,
   * since a fetch may discard what it had not handed over when the
   * connection breaks).
   */
  dropAfter?: number;
  /** Stop sending after this many body bytes until `release` resolves. */
  stallAfter?: number;
  /**
   * Stop sending after this many body bytes until `release` resolves, then
   * send the rest (a stall drops the connection instead).
   */
  holdAfter?: number;
  /** Send no answer at all until `release` resolves. */
  stallHeaders?: boolean;
  /** Answer as usual, but only once this resolves. */
  answerAfter?: Promise<void>;
  /** Ends a stall, or lets a drop happen. */
  release?: Promise<void>;
  /** Answer 200 with the whole body even to a Range request. */
  ignoreRange?: boolean;
  /** Ignore If-None-Match and If-Modified-Since (answer 200, never 304). */
  ignoreConditions?: boolean;
  /**
   * Answer a request for the whole file with a 206 of every byte
   * (`bytes 0-<last>/<total>`), as some servers answer every GET.
   */
  wholeAs206?: boolean;
  /**
   * Answer a Range request (of the version asked for, or, `If-Range` not
   * met, of the version served now) with a 206 of every byte
   * (`bytes 0-<last>/<total>`): a server that ignores where a range starts.
   */
  rangeAsWhole206?: boolean;
  /**
   * Serve the Range whatever its If-Range says (a server without If-Range:
   * a 206, or a 416, of the version it has now).
   */
  ignoreIfRange?: boolean;
  /**
   * Answer a Range request with a 206 from byte 0, as many bytes long as
   * the range asked for (never every byte, but for a range from byte 0).
   */
  wrongRange?: boolean;
  /**
   * Answer a Range past the file's end with a 416 as Apache does: without
   * `Content-Range` (a SHOULD of RFC 9110 §15.5.17), ETag or Last-Modified
   * (an error's headers).
   */
  bare416?: boolean;
  /**
   * Answer a Range from the start of its block of this many bytes, as a
   * cache that serves whole blocks does.
   */
  alignTo?: number;
  /** Answer a Range with at most this many bytes (a 206 short of it). */
  cap?: number;
  /** Answer a bounded Range request with a 206 to the end of the file. */
  openEnded?: boolean;
  /**
   * Send this many bytes (0xee) after a 206's range, its Content-Length
   * counting them: a body longer than its Content-Range says.
   */
  overlong?: number;
  /**
   * Send the body at this many bytes per second, 16 KiB at a time (a
   * server's cap per connection).
   */
  pace?: number;
}

/** What {@linkcode FileRouteOptions.faultFor} knows of a request. */
export interface RequestInfo {
  /** The request's index, from 0, in the order they came. */
  index: number;
  /** Its Range header, or null. */
  range: string | null;
  /** The answers being sent now, this one included. */
  active: number;
}

/** Options for {@linkcode fileRoute}. */
export interface FileRouteOptions {
  /** The file's bytes. */
  body: Uint8Array;
  /** A strong ETag; from `change` on, `changed` and `changedEtag` are served. */
  etag?: string | undefined;
  /** A Last-Modified date. */
  lastModified?: string;
  /** The Last-Modified date after the change. */
  changedLastModified?: string;
  /** The request index from which the file has changed. */
  change?: number;
  /** The file's bytes after the change. */
  changed?: Uint8Array;
  /** The ETag after the change. */
  changedEtag?: string;
  /** One fault per request, in order; requests past the end get none. */
  faults?: Fault[];
  /**
   * The fault of a request, chosen by what it asks (for the requests of
   * several connections, whose order is not known); after `faults`.
   */
  faultFor?: (request: RequestInfo) => Fault | undefined;
  /** Answer 503 to a request while this many answers are being sent. */
  maxActive?: number;
  /**
   * `false`: a server that serves no ranges (no `Accept-Ranges`, a 200 with
   * the whole body to every Range request).
   */
  ranges?: boolean;
  /**
   * How the server writes a 206's `Content-Range` of bytes `first` through
   * `last` of `total` (a server's own form).
   *
   * @default {(first, last, total) => `bytes ${first}-${last}/${total}`}
   */
  contentRange?: (first: number, last: number, total: number) => string;
}

/** What a {@linkcode fileRoute} sent, per request. */
export interface FileRouteLog {
  /** The Range header of each request, or null. */
  ranges: (string | null)[];
  /** The If-Range header of each request, or null. */
  ifRanges: (string | null)[];
  /**
   * The condition of each request, as `if-none-match: <etag>` or
   * `if-modified-since: <date>`, or null (a 304 answers a condition met).
   */
  conditions: (string | null)[];
  /** The status of each answer. */
  statuses: number[];
  /** The body bytes sent in answer to each request. */
  sent: number[];
  /** Per request: resolves when the client closed the connection before the answer ended. */
  abandoned: Promise<void>[];
  /** The most answers sent at once (503s to `maxActive` not counted). */
  mostActive: number;
  /** The TCP connections the requests came on. */
  connections: number;
}

/**
 * The bytes the requests logged in `ranges` asked for, merged: `[start,
 * end)` spans of a file of `total` bytes (no Range: all of it). What was
 * asked, not what was sent: a server sends past the end a client stops
 * reading at (a part another connection took half of) into the socket.
 */
export function askedBytes(
  ranges: (string | null)[],
  total: number,
): [number, number][] {
  return mergeRanges(ranges.map((range): [number, number] => {
    if (range === null) return [0, total];
    const match = /^bytes=(\d+)-(\d*)$/.exec(range);
    if (match === null) throw new TypeError(`Unexpected range "${range}"`);
    const end = match[2] === "" ? total : Number(match[2]) + 1;
    return [Number(match[1]), Math.min(end, total)];
  }));
}

/**
 * A route serving a file the way a real server does (Range, If-Range,
 * ETag, Last-Modified), with a list of faults to inject, one per request.
 */
export function fileRoute(
  options: FileRouteOptions,
): { route: Route; log: FileRouteLog } {
  const log: FileRouteLog = {
    ranges: [],
    ifRanges: [],
    conditions: [],
    statuses: [],
    sent: [],
    abandoned: [],
    mostActive: 0,
    connections: 0,
  };
  const sockets = new WeakSet<object>();
  let active = 0;
  const route: Route = async (request, response) => {
    const index = log.ranges.length;
    if (!sockets.has(request.socket)) {
      sockets.add(request.socket);
      log.connections++;
    }
    active++;
    response.on("close", () => active--);
    const ifNoneMatch = request.headers["if-none-match"] ?? null;
    const ifModifiedSince = request.headers["if-modified-since"] ?? null;
    log.conditions.push(
      ifNoneMatch !== null
        ? `if-none-match: ${ifNoneMatch}`
        : ifModifiedSince !== null
        ? `if-modified-since: ${ifModifiedSince}`
        : null,
    );
    const writeHead = response.writeHead.bind(response);
    response.writeHead = ((status: number, ...rest: never[]) => {
      log.statuses[index] = status;
      return writeHead(status, ...rest);
    }) as typeof response.writeHead;
    if (options.maxActive !== undefined && active > options.maxActive) {
      log.ranges.push(request.headers.range ?? null);
      log.ifRanges.push((request.headers["if-range"] as string) ?? null);
      log.sent.push(0);
      log.abandoned.push(new Promise(() => {}));
      response.writeHead(503, { "retry-after": "0" }).end("too many");
      return;
    }
    log.mostActive = Math.max(log.mostActive, active);
    const fault = options.faults?.[index] ??
      options.faultFor?.({
        index,
        range: request.headers.range ?? null,
        active,
      }) ?? {};
    const changed = options.change !== undefined && index >= options.change;
    const body = changed ? options.changed ?? options.body : options.body;
    const etag = changed ? options.changedEtag : options.etag;
    const lastModified = changed
      ? options.changedLastModified ?? options.lastModified
      : options.lastModified;
    const range = request.headers.range ?? null;
    const ifRange = (request.headers["if-range"] as string | undefined) ?? null;
    log.ranges.push(range);
    log.ifRanges.push(ifRange);
    log.sent.push(0);
    log.abandoned.push(
      new Promise((resolve) =>
        response.on("close", () => {
          if (!response.writableEnded) resolve();
        })
      ),
    );
    await fault.answerAfter;
    if (fault.stallHeaders) {
      await fault.release;
      response.destroy();
      return;
    }
    if (fault.status !== undefined) {
      const headers: Record<string, string> = { ...fault.statusHeaders };
      if (fault.retryAfter !== undefined) {
        headers["retry-after"] = fault.retryAfter;
      }
      response.writeHead(fault.status, headers).end("try later");
      return;
    }
    const ranges = options.ranges !== false;
    const headers: Record<string, string | number> = ranges
      ? { "accept-ranges": "bytes" }
      : {};
    if (etag !== undefined) headers.etag = etag;
    if (lastModified !== undefined) headers["last-modified"] = lastModified;
    // RFC 9110 §13.2.2: If-None-Match first; If-Modified-Since without it.
    const notModified = ifNoneMatch !== null
      ? etag !== undefined && ifNoneMatch === etag
      : ifModifiedSince !== null && lastModified !== undefined &&
        Date.parse(ifModifiedSince) >= Date.parse(lastModified);
    if (notModified && !fault.ignoreConditions) {
      response.writeHead(304, headers).end();
      return;
    }
    const validatorOk = ifRange === null || fault.ignoreIfRange ||
      ifRange === etag || (etag === undefined && ifRange === lastModified);
    const match = range === null ? null : /^bytes=(\d+)-(\d*)$/.exec(range);
    let start = 0;
    let end = body.byteLength; // one past the last byte sent
    let overlong = 0; // bytes sent past a 206's range
    if (
      match !== null && validatorOk && !fault.ignoreRange && ranges &&
      Number(match[1]) >= body.byteLength
    ) {
      // Nothing left to send: the client has the whole file.
      if (fault.bare416) {
        response.writeHead(416, { "content-type": "text/html" }).end("no");
        return;
      }
      headers["content-range"] = `bytes */${body.byteLength}`;
      response.writeHead(416, headers).end();
      return;
    }
    if (
      match !== null && validatorOk && !fault.ignoreRange && ranges &&
      !fault.rangeAsWhole206
    ) {
      start = Number(match[1]);
      end = match[2] === "" || match[2] === undefined || fault.openEnded
        ? body.byteLength
        : Math.min(body.byteLength, Number(match[2]) + 1);
      if (fault.wrongRange) [start, end] = [0, end - start];
      if (fault.alignTo !== undefined) start -= start % fault.alignTo;
      if (fault.cap !== undefined) end = Math.min(end, start + fault.cap);
      headers["content-range"] = options.contentRange === undefined
        ? `bytes ${start}-${end - 1}/${body.byteLength}`
        : options.contentRange(start, end - 1, body.byteLength);
      overlong = fault.overlong ?? 0;
      headers["content-length"] = end - start + overlong;
      response.writeHead(206, headers);
    } else if (
      body.byteLength > 0 &&
      (fault.wholeAs206 && range === null ||
        fault.rangeAsWhole206 && range !== null)
    ) {
      headers["content-range"] = `bytes 0-${
        body.byteLength - 1
      }/${body.byteLength}`;
      headers["content-length"] = body.byteLength;
      response.writeHead(206, headers);
    } else {
      headers["content-length"] = body.byteLength;
      response.writeHead(200, headers);
    }
    let part = body.subarray(start, end);
    if (overlong > 0) {
      const longer = new Uint8Array(part.byteLength + overlong);
      longer.set(part);
      longer.fill(0xee, part.byteLength);
      part = longer;
    }
    const cut = fault.dropAfter ?? fault.stallAfter ?? fault.holdAfter;
    const rest = part.subarray(cut ?? part.byteLength);
    if (cut !== undefined) part = part.subarray(0, cut);
    if (fault.pace !== undefined) {
      await writePaced(response, part, fault.pace, (sent) => {
        log.sent[index] = sent;
      });
    } else {
      await new Promise<void>((resolve) =>
        response.write(part, () => resolve())
      );
      log.sent[index] = part.byteLength;
    }
    if (fault.dropAfter !== undefined) {
      await fault.release;
      response.destroy();
      return;
    }
    if (fault.stallAfter !== undefined) {
      await fault.release;
      response.destroy();
      return;
    }
    if (fault.holdAfter !== undefined) {
      await fault.release;
      await writeParts(response, rest);
      log.sent[index] = part.byteLength + rest.byteLength;
    }
    response.end();
  };
  return { route, log };
}

/**
 * How far behind its pace a paced body may fall and still catch up (a
 * server's cap lets a short burst through, not the bytes of a whole pause).
 */
const PACE_CATCH_UP = 100;

/**
 * Writes `bytes` at `pace` bytes per second, 16 KiB at a time, each write
 * at the time the pace gives it (late writes do not slow the next ones, up
 * to {@linkcode PACE_CATCH_UP} late: a process stopped for a second and a
 * half, as a loaded machine stops one, does not send that long's bytes at
 * once when it runs again), until the client goes.
 */
async function writePaced(
  response: ServerResponse,
  bytes: Uint8Array,
  pace: number,
  onSent: (sent: number) => void,
): Promise<void> {
  let start = performance.now();
  for (let sent = 0; sent < bytes.byteLength && !response.destroyed;) {
    let due = start + sent * 1000 / pace - performance.now();
    if (due < -PACE_CATCH_UP) {
      start -= due + PACE_CATCH_UP;
      due = -PACE_CATCH_UP;
    }
    if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
    const chunk = bytes.subarray(sent, sent + 16_384);
    await new Promise<void>((resolve) =>
      response.write(chunk, () => resolve())
    );
    sent += chunk.byteLength;
    onSent(sent);
  }
}

/** A file served at a few paths by one {@linkcode fileRoute}. */
export interface ServedFile extends AsyncDisposable {
  /** The URL of `path` (the first of the paths by default). */
  url: (path?: string) => string;
  /** What the route sent. */
  log: FileRouteLog;
}

/** Serves `options`' file at each of `paths` (one route, one log). */
export async function serveFile(
  options: FileRouteOptions,
  paths: string[] = ["/f"],
): Promise<ServedFile> {
  const { route, log } = fileRoute(options);
  const server = await startServer(
    Object.fromEntries(paths.map((path) => [path, route])),
  );
  return {
    url: (path = paths[0] as string) => server.url(path),
    log,
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/** A redirector to signed links that expire, made by {@linkcode signedLinks}. */
export interface SignedLinks {
  /**
   * The URL a user is given: answers each request with a `302` to the
   * target and a signature of its own (`?sig=<n>`).
   */
  redirect: Route;
  /**
   * The target: serves the route a link is signed for while the link is
   * good (once, with `oneUse`), and `403` after, as an expired S3 or CDN
   * link is answered.
   */
  signed: Route;
  /** The signature of each request to `signed`, in order. */
  used: string[];
  /** How many requests `signed` refused. */
  readonly refused: number;
  /** Expires every link signed so far (what the passing of time does). */
  expireAll(): void;
}

/**
 * A redirector handing out links to `target()` signed for `route`, as
 * GitHub's release assets and presigned S3 links are: each request to
 * `redirect` signs a new one. A link expires when used, with `oneUse`, or
 * at {@linkcode SignedLinks.expireAll}: never by time.
 */
export function signedLinks(
  route: Route,
  target: () => string,
  options: { oneUse?: boolean } = {},
): SignedLinks {
  let signed = 0;
  let refused = 0;
  const good = new Set<string>();
  const used: string[] = [];
  return {
    redirect: (_request, response) => {
      const sig = String(signed++);
      good.add(sig);
      response.writeHead(302, { location: `${target()}?sig=${sig}` }).end();
    },
    signed: (request, response) => {
      const sig = new URL(request.url ?? "/", "http://x").searchParams.get(
        "sig",
      ) ?? "";
      used.push(sig);
      if (!good.has(sig)) {
        refused++;
        response.writeHead(403, "Forbidden").end("Request has expired");
        return;
      }
      if (options.oneUse) good.delete(sig);
      return route(request, response);
    },
    used,
    get refused() {
      return refused;
    },
    expireAll: () => good.clear(),
  };
}
