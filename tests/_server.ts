// A real HTTP server on 127.0.0.1 (port 0) for the tests, on `node:http` so
// that the same tests run under Deno and Node. Each test starts its own with
// the routes it needs; faults are made by the route handlers.

import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

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
