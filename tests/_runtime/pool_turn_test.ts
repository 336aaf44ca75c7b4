// How many connections a pool of downloads of small files opens: as many as
// downloads run at once, when the runtime's `fetch` has had its turn to take
// each connection back before the next request (see `pool_turn.ts`).

import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { test } from "node:test";
import {
  patternBytes,
  startServer,
  type TestServer,
} from "../_helpers/server.ts";
import { tempDir } from "../_helpers/temp_dir.ts";
import { assertFileHolds } from "../_helpers/file_bytes.ts";
import { startChild } from "../_helpers/child.ts";

const FILES = 40;
const CONCURRENCY = 4;
// Less than a write (the default `chunkSize`): read to its end and written
// on the calling thread, the case where the next request came first.
const BODY = patternBytes(16 * 1024);

/** A server of `/f` (any query) that counts the TCP connections it sees. */
async function countingServer(): Promise<
  { server: TestServer; connections: () => number }
> {
  const sockets = new WeakSet<object>();
  let connections = 0;
  const server = await startServer({
    "/f": (request: IncomingMessage, response: ServerResponse) => {
      if (!sockets.has(request.socket)) {
        sockets.add(request.socket);
        connections++;
      }
      response.writeHead(200, {
        "content-length": BODY.byteLength,
        "etag": '"v1"',
        "accept-ranges": "bytes",
      }).end(BODY);
    },
  });
  return { server, connections: () => connections };
}

/** Runs `work` over `0..count-1`, `concurrency` at a time. */
async function pool(
  count: number,
  concurrency: number,
  work: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  async function worker(): Promise<void> {
    while (next < count) await work(next++);
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
}

test("DownloadManager with concurrency 4 opens at most 4 connections for 40 small files", async () => {
  await using dir = await tempDir();
  const { server, connections } = await countingServer();
  await using _server = server;
  const manager = dir.manager({ concurrency: CONCURRENCY });
  // As the bench drives it: a pool of callers, each starting its next
  // download once the last one ended.
  await pool(FILES, CONCURRENCY, async (i) => {
    const download = manager.download(server.url(`/f?${i}`), {
      fname: `f${i}`,
    });
    assert.ok(download !== null);
    await download.wait();
  });
  await manager.wait();
  assert.equal(server.requests.length, FILES);
  for (const i of [0, FILES - 1]) {
    await assertFileHolds(dir.join(`f${i}`), BODY);
  }
  assert.ok(
    connections() <= CONCURRENCY,
    `${connections()} connections for ${CONCURRENCY} at a time`,
  );
});

test("DownloadManager with concurrency 8 opens at most 8 connections for 200 small files, with no server in its process", async () => {
  // The downloads in a process of their own: there, nothing but the
  // library's own waits gives the runtime's pool its turn between a body's
  // end and the next request (Deno's opened 15 and 16 without one).
  await using dir = await tempDir();
  const { server, connections } = await countingServer();
  await using _server = server;
  const count = 200;
  const concurrency = 8;
  const child = startChild("pool_child", [
    server.url("/f"),
    String(count),
    String(concurrency),
    dir.path,
  ]);
  assert.equal(await child.exited, 0);
  assert.deepEqual(child.lines, ["done"]);
  assert.equal(server.requests.length, count);
  await assertFileHolds(dir.join(`f${count - 1}`), BODY);
  assert.ok(
    connections() <= concurrency,
    `${connections()} connections for ${concurrency} at a time`,
  );
});
