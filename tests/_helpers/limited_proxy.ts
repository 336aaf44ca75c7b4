// A forwarding proxy on 127.0.0.1 (port 0) with a limit on each client's
// connections, as squid's `maxconn` (`acl c maxconn 2`, `http_access deny
// c`): every request that comes while the client has more connections open
// than the limit is answered `403 Forbidden` (`X-Squid-Error:
// ERR_ACCESS_DENIED 0`), or the status a `deny_info` names (`deny_info
// 503:ERR_ACCESS_DENIED c`), and the connection is kept alive, as squid
// keeps it; the others are forwarded to the server. On `node:net`, reading each
// request's head itself: a connection's opening and closing are what it
// counts, which `node:http`'s server does not tell on every runtime. Plain
// `GET`s of an absolute URL (`GET http://127.0.0.1:1234/f`) only, one at a
// time on a connection, to loopback servers.

import { request as httpRequest } from "node:http";
import { type AddressInfo, createServer, type Socket } from "node:net";

/** A request {@linkcode startLimitedProxy} answered. */
export interface LimitedRequest {
  /** `GET`, `HEAD`. */
  method: string;
  /** Its `Range`, if any. */
  range: string | undefined;
  /** The answer's status: the denial's (403 by default) for a denial. */
  status: number;
}

/** A running {@linkcode startLimitedProxy}. */
export interface LimitedProxy extends AsyncDisposable {
  /** The proxy's URL, `http://127.0.0.1:<port>`. */
  url: string;
  /** The requests it answered, in order, and how (the denial's status: denied). */
  requests: LimitedRequest[];
  /** The most connections open at once, denied ones too. */
  mostOpen: number;
  /** Stops the proxy, dropping every connection. */
  close(): Promise<void>;
}

// What squid 5.7 says with each status.
const STATUS_TEXT = {
  403: "Forbidden",
  429: "Too Many Requests",
  503: "Service Unavailable",
};
const DENIAL_BODY = "<html><body>ERR_ACCESS_DENIED</body></html>\n";
// Hop-by-hop headers: the proxy's own, never passed on.
const HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "transfer-encoding",
]);

/**
 * Starts a proxy that denies a client's requests beyond `maxconn` open,
 * answering them `status` (squid's `deny_info` may name 429 or 503).
 */
export async function startLimitedProxy(
  maxconn: number,
  status: 403 | 429 | 503 = 403,
): Promise<LimitedProxy> {
  const sockets = new Set<Socket>();
  const requests: LimitedRequest[] = [];
  const proxy = {
    url: "",
    requests,
    mostOpen: 0,
    close,
    [Symbol.asyncDispose]: close,
  };
  const server = createServer((socket) => {
    sockets.add(socket);
    proxy.mostOpen = Math.max(proxy.mostOpen, sockets.size);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    let buffered = "";
    let busy = false;
    const next = (): void => {
      const end = buffered.indexOf("\r\n\r\n");
      if (busy || end < 0) return;
      const head = buffered.slice(0, end).split("\r\n");
      buffered = buffered.slice(end + 4);
      busy = true;
      answer(socket, head, sockets.size > maxconn).then((keep) => {
        busy = false;
        if (keep) next();
        else socket.end();
      });
    };
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      next();
    });
  });

  /**
   * Answers the request of `head` on `socket`: denied, or forwarded.
   * Resolves whether the connection stays open for the next request.
   */
  function answer(
    socket: Socket,
    head: string[],
    denied: boolean,
  ): Promise<boolean> {
    const [method = "", target = ""] = (head[0] ?? "").split(" ");
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line
        .slice(colon + 1).trim();
    }
    const keep = headers.connection?.toLowerCase() !== "close";
    const asked = { method, range: headers.range };
    const connection = keep ? "keep-alive" : "close";
    if (denied) {
      requests.push({ ...asked, status });
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\n` +
          `X-Squid-Error: ERR_ACCESS_DENIED 0\r\n` +
          `Content-Type: text/html\r\nContent-Length: ${DENIAL_BODY.length}\r\n` +
          `Connection: ${connection}\r\n\r\n${DENIAL_BODY}`,
      );
      return Promise.resolve(keep);
    }
    const url = new URL(target);
    for (const name of HOP) delete headers[name];
    return new Promise((resolve) => {
      const upstream = httpRequest({
        host: url.hostname,
        port: url.port,
        method,
        path: url.pathname + url.search,
        headers,
      }, (reply) => {
        requests.push({ ...asked, status: reply.statusCode ?? 502 });
        const sized = reply.headers["content-length"] !== undefined;
        const lines = [`HTTP/1.1 ${reply.statusCode} ${reply.statusMessage}`];
        for (let i = 0; i < reply.rawHeaders.length; i += 2) {
          const name = reply.rawHeaders[i] ?? "";
          if (!HOP.has(name.toLowerCase())) {
            lines.push(`${name}: ${reply.rawHeaders[i + 1]}`);
          }
        }
        // Without a length, the body ends with the connection.
        const stays = keep && sized;
        lines.push(`Connection: ${stays ? "keep-alive" : "close"}`);
        socket.write(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
        reply.on("data", (chunk: Uint8Array) => socket.write(chunk));
        reply.on("end", () => {
          socket.off("close", drop);
          resolve(stays);
        });
      });
      // The client gone (a part cut short), or the server: neither waits.
      const drop = (): void => {
        upstream.destroy();
        socket.destroy();
        resolve(false);
      };
      socket.once("close", drop);
      upstream.on("error", drop);
      upstream.end();
    });
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let closed: Promise<void> | undefined;
  function close(): Promise<void> {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
    return closed;
  }
  return proxy;
}
