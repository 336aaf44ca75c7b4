// The default `fetch` (`src/_runtime/fetch.ts`; in the npm package,
// `fetch.npm.ts`), against a real server on 127.0.0.1, in a child process:
// what is tested is whether the process lives.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { getDefaultHighWaterMark } from "node:stream";
import { test } from "node:test";
import { startChild } from "../_helpers/child.ts";
import {
  bytesRoute,
  deferred,
  patternBytes,
  rawServer,
  startServer,
} from "../_helpers/server.ts";

test("defaultFetch() hands over the whole body when the server ends a Connection: close answer while the body waits to be read", async () => {
  // As many bytes as Node's fetch (undici) takes in before it stops reading
  // the connection while no one reads the body (the default high-water
  // mark: 16 KiB on Node 20, 64 KiB from Node 22): it stops at the body's
  // last byte, and then the server's FIN comes. Node 22's and 24's own
  // fetch then throw an AssertionError that no code can catch, from the
  // socket's `end` event (undici #5360): the process ends.
  const body = patternBytes(getDefaultHighWaterMark(false), 3);
  const head = "HTTP/1.1 200 OK\r\nconnection: close\r\n" +
    `content-length: ${body.byteLength}\r\n\r\n`;
  const clientEnded = deferred();
  await using server = await rawServer((socket) => {
    socket.once("data", async (request: Uint8Array) => {
      if (Buffer.from(request).toString().startsWith("GET /gate ")) {
        // Answered once the client has taken the body's FIN.
        await clientEnded.promise;
        socket.end("HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
        return;
      }
      // The client's own FIN: it has taken the server's, and closes its side.
      socket.once("end", () => clientEnded.resolve());
      socket.end(Buffer.concat([Buffer.from(head), body]));
    });
  });
  const url = (path: string): string =>
    `http://127.0.0.1:${server.port}${path}`;
  // Deno's fetch reads no more of the connection while its body waits, so
  // it takes the FIN only once the body is read: there, no gate.
  const child = startChild("default_fetch_child", [
    url("/f"),
    "Deno" in globalThis ? "" : url("/gate"),
  ]);
  assert.equal(await child.exited, 0);
  const digest = createHash("sha256").update(body).digest("hex");
  assert.equal(child.lines[0], `read ${body.byteLength} ${digest}`);
});

test("defaultFetch() loads no more of undici 8 than its fetch and Agent when it stands in for Node's fetch", async () => {
  // The whole of undici 8 (its index) takes a third longer to load: on Node
  // 22 and 24, the package's every first request waits for it. A later
  // undici 8 that moved those two modules would be loaded whole.
  const body = patternBytes(1024, 5);
  await using server = await startServer({ "/f": bytesRoute(body) });
  const child = startChild("default_fetch_child", [server.url("/f"), ""]);
  assert.equal(await child.exited, 0);
  assert.deepEqual(child.lines.slice(1), ["undici 8 index not loaded"]);
});
