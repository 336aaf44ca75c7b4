// The default `fetch` (`src/_runtime/fetch.ts`; in the npm package,
// `fetch.npm.ts`), against a real server on 127.0.0.1, in a child process:
// what is tested is whether the process lives.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { getDefaultHighWaterMark } from "node:stream";
import { test } from "node:test";
import { startChild } from "../_helpers/child.ts";
import { deferred, patternBytes, rawServer } from "../_helpers/server.ts";

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
  assert.deepEqual(child.lines, [`read ${body.byteLength} ${digest}`]);
});
