// A real HTTP proxy on 127.0.0.1 (port 0) for the proxy tests, on `node:http`
// and `node:net` so that it runs under Deno, Node and Bun. It forwards plain
// requests (absolute-form, `GET http://host/path`) and tunnels `CONNECT`, as
// a corporate proxy does, to loopback addresses only, and records every
// request it gets. When the server drops a connection, the proxy drops the
// client's, as a real proxy does (a forwarded answer cut short, a tunnel
// closed), after the bytes it got before the drop. Like any proxy, it consumes `Proxy-Authorization` and
// does not forward it: a client's proxy credentials that reach the origin
// server were sent there by the client.

import {
  createServer,
  type IncomingHttpHeaders,
  request as httpRequest,
} from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";

/** A request the proxy received. */
export interface ProxiedRequest {
  /** `GET`, `CONNECT`, ... */
  method: string;
  /** The request target: `http://127.0.0.1:1234/f`, or `127.0.0.1:1234` for CONNECT. */
  target: string;
  headers: IncomingHttpHeaders;
}

/** Options for {@linkcode startProxy}. */
export interface ProxyOptions {
  /** Answer every CONNECT with 403 instead of tunnelling. Default false. */
  refuseConnect?: boolean;
  /**
   * Answer every CONNECT wrongly: `"close"` closes the connection without
   * an answer, as a proxy that drops what its rules do not allow;
   * `"garbage"` answers a line that is not HTTP, then closes it.
   */
  badConnect?: "close" | "garbage";
  /**
   * Answer every request, forwarded or CONNECT, with this status instead
   * (a 407 with `Proxy-Authenticate: Basic`), and `refusalBody` (default
   * none).
   */
  refuse?: number;
  /** The body of a `refuse` answer. */
  refusalBody?: string;
  /**
   * Answer a CONNECT with `status` (and close its connection) while `open`
   * tunnels are open or opening already: a proxy's limit on each client's
   * connections that answers one too many `503` or `429`.
   */
  tunnelLimit?: { open: number; status: number };
}

/** The head of a `refuse` answer of `options`, and its body. */
function refusal(options: ProxyOptions): string {
  const body = options.refusalBody ?? "";
  const challenge = options.refuse === 407
    ? 'Proxy-Authenticate: Basic realm="corp"\r\n'
    : "";
  return `HTTP/1.1 ${options.refuse} Refused\r\n${challenge}` +
    `Content-Length: ${
      new TextEncoder().encode(body).byteLength
    }\r\n\r\n${body}`;
}

/** A running test proxy. */
export interface TestProxy extends AsyncDisposable {
  /** The proxy's URL, `http://127.0.0.1:<port>`, with `userinfo@` if given. */
  url(userinfo?: string): string;
  /** Every request received, in order. */
  requests: ProxiedRequest[];
  /** The CONNECTs refused by `tunnelLimit`. */
  refusedTunnels: number;
  /**
   * The local ports of the proxy's connections to servers: a server that
   * sees a request from one of them got it through the proxy.
   */
  ports: Set<number>;
  /** Stops the proxy, dropping open connections and tunnels. */
  close(): Promise<void>;
}

function isLoopback(hostname: string): boolean {
  return hostname === "127.0.0.1" || hostname === "localhost";
}

/** Starts a forwarding and CONNECT proxy. */
export async function startProxy(
  options: ProxyOptions = {},
): Promise<TestProxy> {
  const requests: ProxiedRequest[] = [];
  const ports = new Set<number>();
  let port = 0;
  const tunnels = new Set<Socket>();
  // The clients' connections asking for a tunnel or tunnelled, open.
  const clients = new Set<Socket>();
  const proxy: TestProxy = {
    url: (userinfo) =>
      `http://${userinfo === undefined ? "" : `${userinfo}@`}127.0.0.1:${port}`,
    requests,
    refusedTunnels: 0,
    ports,
    close,
    [Symbol.asyncDispose]: close,
  };
  const server = createServer((request, response) => {
    const target = request.url ?? "";
    requests.push({
      method: request.method ?? "",
      target,
      headers: request.headers,
    });
    if (options.refuse !== undefined) {
      response.writeHead(options.refuse, {
        ...(options.refuse === 407
          ? { "proxy-authenticate": 'Basic realm="corp"' }
          : {}),
      }).end(options.refusalBody ?? "");
      return;
    }
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      response.writeHead(400).end();
      return;
    }
    if (url.protocol !== "http:" || !isLoopback(url.hostname)) {
      response.writeHead(502).end();
      return;
    }
    const headers = { ...request.headers };
    delete headers["proxy-authorization"];
    delete headers["proxy-connection"];
    const upstream = httpRequest({
      host: url.hostname,
      port: url.port,
      method: request.method,
      path: url.pathname + url.search,
      headers,
    }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
      // An answer cut short: `pipe` would leave the client waiting for the
      // rest; cut the client's connection, as the server cut the proxy's.
      answer.on("error", () => {});
      answer.on("close", () => {
        if (!answer.complete) response.destroy();
      });
    });
    upstream.on("socket", (socket) => {
      if (socket.localPort !== undefined) ports.add(socket.localPort);
      else socket.once("connect", () => ports.add(socket.localPort ?? 0));
    });
    upstream.on("error", () => response.destroy());
    request.pipe(upstream);
  });
  server.on("connect", (request, socket: Socket, head: Uint8Array) => {
    const target = request.url ?? "";
    requests.push({ method: "CONNECT", target, headers: request.headers });
    tunnels.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => tunnels.delete(socket));
    const [hostname = "", port = ""] = target.split(":");
    if (options.refuse !== undefined) {
      socket.end(refusal(options));
      return;
    }
    const limit = options.tunnelLimit;
    if (limit !== undefined && clients.size >= limit.open) {
      proxy.refusedTunnels++;
      socket.end(
        `HTTP/1.1 ${limit.status} Refused\r\nContent-Length: 0\r\n\r\n`,
      );
      return;
    }
    clients.add(socket);
    socket.on("close", () => clients.delete(socket));
    if (options.badConnect === "close") {
      socket.destroy();
      return;
    }
    if (options.badConnect === "garbage") {
      socket.end("garbage garbage\r\n\r\n");
      return;
    }
    if (options.refuseConnect || !isLoopback(hostname)) {
      socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const upstream = connect(Number(port), hostname, () => {
      ports.add(upstream.localPort ?? 0);
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    tunnels.add(upstream);
    upstream.on("error", () => socket.destroy());
    upstream.on("close", () => {
      tunnels.delete(upstream);
      socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  function close(): Promise<void> {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      for (const socket of tunnels) socket.destroy();
    });
    return closed;
  }
  return proxy;
}
