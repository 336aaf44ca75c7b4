// An HTTPS server on 127.0.0.1 whose connections are counted at the TCP
// level, in front of it: Bun's https.Server emits no "connection" (nor
// "tlsClientError") for a handshake the client rejects, where Node's and
// Deno's do. The front passes bytes and ends on as they come: an end (a
// FIN, after a TLS close_notify or not) goes on as one, once the bytes
// before it are through; a failure ends the other side.

import type { IncomingMessage, ServerResponse } from "node:http";
import {
  createServer as createHttpsServer,
  type ServerOptions,
} from "node:https";
import {
  type AddressInfo,
  connect,
  createServer as createNetServer,
  type Socket,
} from "node:net";

/** A counted HTTPS server; dispose of it to close it and its connections. */
export interface CountedHttpsServer extends AsyncDisposable {
  /** The port clients connect to (the front's). */
  port: number;
  /** The TCP connections clients made. */
  readonly connections: number;
  /** `https://127.0.0.1:<port><path>`. */
  url(path: string): string;
}

/** Starts an HTTPS server with `tls`, answering with `handler`. */
export async function countedHttpsServer(
  tls: ServerOptions,
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<CountedHttpsServer> {
  const server = createHttpsServer(tls, handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  let connections = 0;
  const sockets = new Set<Socket>();
  const front = createNetServer((socket) => {
    connections++;
    const upstream = connect(
      (server.address() as AddressInfo).port,
      "127.0.0.1",
    );
    const ways: [Socket, Socket][] = [[socket, upstream], [upstream, socket]];
    for (const [from, to] of ways) {
      sockets.add(from);
      from.on("error", () => to.destroy());
      from.pipe(to);
    }
  });
  await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
  const { port } = front.address() as AddressInfo;
  return {
    port,
    get connections() {
      return connections;
    },
    url: (path) => `https://127.0.0.1:${port}${path}`,
    [Symbol.asyncDispose]: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
