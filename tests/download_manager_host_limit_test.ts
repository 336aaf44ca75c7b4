// A server that allows one connection per client (nginx's `limit_conn perip
// 1` with `limit_conn_status 503`), and a manager that downloads several of
// its files at once: a download refused while another of the manager's
// transfers from the host waits for that one to end, spending no retry.
// The behaviour lives in src/_transfer/attempts.ts and
// src/_transfer/budget.ts.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { type Download, RetriesExhaustedError } from "../mod.ts";
import {
  deferred,
  patternBytes,
  type Route,
  startServer,
  statusRoute,
} from "./_helpers/server.ts";
import { tempDir } from "./_helpers/temp_dir.ts";

const SIZE = 64 * 1024;

/** The body being sent, held half way. */
interface Stream {
  path: string;
  /** The client has its body flowing (a progress event of its download). */
  seen: ReturnType<typeof deferred<void>>;
  /** Sends the rest. */
  gate: ReturnType<typeof deferred<void>>;
  /** The files refused while it was sent, the refusal heard. */
  refused: Set<string>;
}

/**
 * Routes /0../n-1 of one connection per client: a request while a body is
 * being sent is answered 503, once the client has that body flowing. Each
 * body is held half way until the client has heard a refusal of every
 * other file not yet sent, so that each refusal is heard while another
 * download transfers.
 */
function onePerClient(n: number): {
  routes: Record<string, Route>;
  bodies: Uint8Array[];
  /** The client's download of `path` has its body flowing. */
  flowing: (path: string) => void;
  /** The body being sent, if any. */
  streaming: () => Stream | undefined;
  refusals: () => number;
  mostAtOnce: () => number;
} {
  const bodies = Array.from({ length: n }, (_, i) => patternBytes(SIZE, i));
  const sent = new Set<string>();
  let streaming: Stream | undefined;
  let refusals = 0;
  let atOnce = 0;
  let most = 0;
  const releaseIfAllRefused = (stream: Stream): void => {
    if (stream.refused.size >= n - sent.size - 1) stream.gate.resolve();
  };
  const routes: Record<string, Route> = {};
  bodies.forEach((body, i) => {
    const path = `/${i}`;
    routes[path] = async (_request, response) => {
      const current = streaming;
      if (current !== undefined) {
        await current.seen.promise;
        refusals++;
        // A page that never comes: the client closes the connection when
        // it has heard the refusal, and only then is it counted (the
        // body held is let go by then, not before).
        response.writeHead(503, { "content-length": 16 });
        response.flushHeaders();
        response.on("close", () => {
          current.refused.add(path);
          releaseIfAllRefused(current);
        });
        return;
      }
      const stream: Stream = {
        path,
        seen: deferred(),
        gate: deferred(),
        refused: new Set(),
      };
      streaming = stream;
      most = Math.max(most, ++atOnce);
      response.writeHead(200, { "content-length": SIZE });
      response.write(body.subarray(0, SIZE / 2));
      releaseIfAllRefused(stream);
      await stream.gate.promise;
      // Before the rest goes out: the client cannot have seen the end yet.
      streaming = undefined;
      sent.add(path);
      atOnce--;
      response.end(body.subarray(SIZE / 2));
    };
  });
  return {
    routes,
    bodies,
    flowing: (path) => {
      if (streaming?.path === path) streaming.seen.resolve();
    },
    streaming: () => streaming,
    refusals: () => refusals,
    mostAtOnce: () => most,
  };
}

test("DownloadManager: a download refused (503) while another transfers from the host waits for it, spending no retry", async () => {
  const server = onePerClient(3);
  await using http = await startServer(server.routes);
  await using dir = await tempDir();
  // One retry each: two refusals of one download would use it up.
  const manager = dir.manager({ concurrency: 3, retries: 1, backoffBase: 1 });
  const downloads = [0, 1, 2].map((i) => {
    const download = manager.download(http.url(`/${i}`)) as Download;
    download.addEventListener("progress", () => server.flowing(`/${i}`));
    return download;
  });
  await manager.wait({ raiseIfError: false });
  assert.deepEqual(
    downloads.map((download) => [download.state, download.error()]),
    [["done", undefined], ["done", undefined], ["done", undefined]],
  );
  for (const [i, body] of server.bodies.entries()) {
    assert.deepEqual(new Uint8Array(await readFile(dir.join(`${i}`))), body);
  }
  assert.equal(server.mostAtOnce(), 1);
  // Each heard once: 2 while /0 was sent, and 1 while the next one was.
  assert.equal(server.refusals(), 3);
});

test("DownloadManager: a 503 while the host's other downloads are refused too (none transfers) spends the retries, and none waits on another", async () => {
  await using http = await startServer({
    "/0": statusRoute(503),
    "/1": statusRoute(503),
  });
  await using dir = await tempDir();
  const manager = dir.manager({ concurrency: 2, retries: 2, backoffBase: 1 });
  const downloads = [0, 1].map((i) =>
    manager.download(http.url(`/${i}`)) as Download
  );
  await manager.wait({ raiseIfError: false });
  for (const download of downloads) {
    assert.equal(download.state, "failed");
    const error = download.error();
    assert.ok(error instanceof RetriesExhaustedError);
    assert.equal(error.errors.length, 3);
  }
  assert.equal(http.requests.length, 6);
});
