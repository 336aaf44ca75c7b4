// A server that allows one connection per client (nginx's `limit_conn perip
// 1` with `limit_conn_status 503`), and a manager that downloads several of
// its files at once: a download refused while another of the manager's
// transfers from the host waits for that one to end, spending no retry.
// The behaviour lives in src/_transfer/attempts.ts and
// src/_transfer/budget.ts.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import {
  type Download,
  type DownloadHostWaitEvent,
  type DownloadManagerOptions,
  HTTPError,
  RetriesExhaustedError,
} from "../mod.ts";
import {
  deferred,
  patternBytes,
  type Route,
  startServer,
  statusRoute,
} from "./_helpers/server.ts";
import { useManualClock } from "./_helpers/manual_clock.ts";
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

/**
 * The host events and retries `download` is told of, as
 * `type host status` (`retry` without the host).
 */
function hostEvents(download: Download): string[] {
  const heard: string[] = [];
  const onWait = ({ type, host, error }: DownloadHostWaitEvent): void => {
    heard.push(
      `${type} ${host} ${error instanceof HTTPError ? error.status : error}`,
    );
  };
  download.addEventListener("hostwait", onWait);
  download.addEventListener("hostwaitend", onWait);
  download.addEventListener("retry", () => heard.push("retry"));
  return heard;
}

test("DownloadManager: a download waiting for its host tells so (hostwait, hostwaitend), and asks again when the host's transfer ends", async () => {
  const server = onePerClient(2);
  await using http = await startServer(server.routes);
  await using dir = await tempDir();
  const manager = dir.manager({ concurrency: 2, retries: 0 });
  const host = new URL(http.url("/")).host;
  const waitedOn: string[] = [];
  const told = [0, 1].map((i) => {
    const download = manager.download(http.url(`/${i}`)) as Download;
    download.addEventListener("progress", () => server.flowing(`/${i}`));
    // The transfer it waited on was flowing when it was told.
    download.addEventListener("hostwait", () => {
      waitedOn.push(server.streaming()?.path ?? "none");
    });
    return { download, heard: hostEvents(download) };
  });
  await manager.wait();
  // Whichever asked second was refused once, and waited.
  const refused = told.filter(({ heard }) => heard.length > 0);
  assert.equal(refused.length, 1);
  assert.deepEqual(refused[0]?.heard, [
    `hostwait ${host} 503`,
    `hostwaitend ${host} 503`,
  ]);
  const first = told.find(({ heard }) => heard.length === 0);
  assert.deepEqual(waitedOn, [
    new URL(first?.download.getUrl() ?? "").pathname,
  ]);
  for (const { download } of told) assert.equal(download.state, "done");
});

/**
 * A manager (of `options`, written as the bytes come) downloading /0, whose
 * body stops half way (held until `release`), and /1, refused (503) once
 * /0's half is on disk.
 */
async function stalledHost(
  options: DownloadManagerOptions,
): Promise<{
  http: Awaited<ReturnType<typeof startServer>>;
  dir: Awaited<ReturnType<typeof tempDir>>;
  stalled: Download;
  refused: Download;
  /** The host and refusals `refused` is told of (see `hostEvents`). */
  heard: string[];
  host: string;
  release: () => void;
}> {
  const half = deferred();
  const release = deferred();
  const body = patternBytes(SIZE, 0);
  const http = await startServer({
    "/0": async (_request, response) => {
      response.writeHead(200, { "content-length": SIZE });
      response.write(body.subarray(0, SIZE / 2));
      await release.promise;
      response.end(body.subarray(SIZE / 2));
    },
    "/1": async (_request, response) => {
      await half.promise;
      response.writeHead(503, { "content-length": 0 }).end();
    },
  });
  const dir = await tempDir();
  // Written (and told) as it comes: /0's half is all in when told.
  const manager = dir.manager({ concurrency: 2, chunkSize: 1024, ...options });
  const stalled = manager.download(http.url("/0")) as Download;
  stalled.addEventListener("progress", ({ current }) => {
    if (current >= SIZE / 2) half.resolve();
  });
  const refused = manager.download(http.url("/1")) as Download;
  return {
    http,
    dir,
    stalled,
    refused,
    heard: hostEvents(refused),
    host: new URL(http.url("/")).host,
    release: () => release.resolve(),
  };
}

test("DownloadManager: a download waiting on its host's stalled transfer (idleTimeout Infinity) waits no longer than retryAfterCap, then counts the refusal", async () => {
  const { http, dir, stalled, refused, heard, host, release } =
    await stalledHost({ retries: 0, idleTimeout: Infinity, retryAfterCap: 20 });
  await using _http = http;
  await using _dir = dir;
  await refused.wait({ raiseIfError: false });
  assert.equal(refused.state, "failed");
  const error = refused.error();
  assert.ok(error instanceof HTTPError && error.status === 503, String(error));
  assert.deepEqual(heard, [`hostwait ${host} 503`, `hostwaitend ${host} 503`]);
  // Stalled, not ended: the wait was bounded by retryAfterCap alone.
  assert.equal(stalled.state, "running");
  release();
  await stalled.wait();
});

test("DownloadManager: a pause or a cancel of a download waiting for its host ends the wait at once, and tells so", async () => {
  const { http, dir, stalled, refused, heard, host, release } =
    await stalledHost({ idleTimeout: Infinity });
  await using _http = http;
  await using _dir = dir;
  const states: string[] = [];
  refused.addEventListener("statechange", ({ state }) => states.push(state));
  const told = (type: "hostwait" | "hostwaitend"): Promise<void> =>
    new Promise((resolve) =>
      refused.addEventListener(type, () => resolve(), { once: true })
    );
  await told("hostwait");
  refused.pause();
  await told("hostwaitend");
  assert.equal(refused.state, "paused");
  const again = told("hostwait");
  refused.resume();
  await again;
  refused.cancel();
  await refused.wait({ raiseIfError: false });
  assert.equal(refused.state, "canceled");
  assert.deepEqual(heard, [
    `hostwait ${host} 503`,
    `hostwaitend ${host} 503`,
    `hostwait ${host} 503`,
    `hostwaitend ${host} 503`,
  ]);
  assert.equal(states.at(-1), "canceled");
  assert.equal(stalled.state, "running");
  release();
  await stalled.wait();
});

test("DownloadManager: a download redirected to a host that refuses it (503) waits for that host's transfer, wherever that one was asked", async () => {
  // Two origins (two ports: the budget counts host and port) that send
  // their files to one server of one connection per client, as github.com
  // and codeload send theirs to objects.githubusercontent.com.
  const server = onePerClient(2);
  await using cdn = await startServer(server.routes);
  const redirect = (path: string): Route => (_request, response) => {
    response.writeHead(302, { location: cdn.url(path) }).end();
  };
  await using a = await startServer({ "/0": redirect("/0") });
  await using b = await startServer({ "/1": redirect("/1") });
  await using dir = await tempDir();
  const manager = dir.manager({ concurrency: 2, retries: 0 });
  const downloads = [a.url("/0"), b.url("/1")].map((url, i) => {
    const download = manager.download(url) as Download;
    download.addEventListener("progress", () => server.flowing(`/${i}`));
    return { download, heard: hostEvents(download) };
  });
  await manager.wait({ raiseIfError: false });
  assert.deepEqual(
    downloads.map(({ download }) => [download.state, download.error()]),
    [["done", undefined], ["done", undefined]],
  );
  const host = new URL(cdn.url("/")).host;
  assert.deepEqual(
    downloads.flatMap(({ heard }) => heard),
    [`hostwait ${host} 503`, `hostwaitend ${host} 503`],
  );
  for (const [i, body] of server.bodies.entries()) {
    assert.deepEqual(new Uint8Array(await readFile(dir.join(`${i}`))), body);
  }
});

test("DownloadManager: a download waiting on its host's transfer that still moves after retryAfterCap asks again, spending no retry", async () => {
  // The library's clock moves only when the test moves it: each wait ends by
  // its bound once the quarter sent as it starts is read, whenever that is.
  // (On the system clock, a process stopped just after the wait began, as a
  // loaded machine stops one for a second or three, found the bound passed
  // before it read the bytes waiting on loopback, and called the host
  // stalled.)
  using clock = useManualClock();
  const quarter = SIZE / 4;
  const body = patternBytes(SIZE, 0);
  const rest = patternBytes(SIZE, 1);
  const first = deferred();
  let sent = 1;
  let more = (): void => {};
  let ended = false;
  await using http = await startServer({
    // A quarter at first, and one more each time the client waits on it:
    // bytes that come while it waits, each wait.
    "/0": (_request, response) => {
      response.writeHead(200, { "content-length": SIZE });
      response.write(body.subarray(0, quarter));
      more = () => {
        const from = sent++ * quarter;
        if (sent < 4) {
          response.write(body.subarray(from, from + quarter));
          return;
        }
        ended = true;
        response.end(body.subarray(from));
      };
    },
    "/1": async (_request, response) => {
      await first.promise;
      if (!ended) {
        response.writeHead(503, { "content-length": 0 }).end();
        return;
      }
      response.writeHead(200, { "content-length": SIZE }).end(rest);
    },
  });
  await using dir = await tempDir();
  const retryAfterCap = 5000;
  const manager = dir.manager({
    concurrency: 2,
    retries: 0,
    retryAfterCap,
    chunkSize: 1024,
  });
  const moving = manager.download(http.url("/0")) as Download;
  let current = 0;
  const reached: { bytes: number; resolve: () => void }[] = [];
  moving.addEventListener("progress", (event) => {
    current = event.current;
    if (current >= quarter) first.resolve();
    for (const waiter of reached.splice(0)) {
      if (current >= waiter.bytes) waiter.resolve();
      else reached.push(waiter);
    }
  });
  /** Resolves once /0's download has written `bytes`. */
  const written = (bytes: number): Promise<void> =>
    current >= bytes
      ? Promise.resolve()
      : new Promise((resolve) => reached.push({ bytes, resolve }));
  const refused = manager.download(http.url("/1")) as Download;
  const heard = hostEvents(refused);
  refused.addEventListener("hostwait", async () => {
    more();
    if (ended) return; // /0's end ends the wait
    // The bytes sent are in and the wait is armed: its bound passes, /0
    // having moved.
    await Promise.all([written(sent * quarter), clock.armed(retryAfterCap)]);
    clock.advance(retryAfterCap);
  });
  // Failed (it spent a retry it did not have), it leaves /0 to end.
  refused.addEventListener("error", () => {
    while (!ended) more();
  });
  await manager.wait();
  const host = new URL(http.url("/")).host;
  assert.deepEqual(
    heard,
    Array.from(
      { length: 3 },
      () => [`hostwait ${host} 503`, `hostwaitend ${host} 503`],
    ).flat(),
  );
  assert.deepEqual(new Uint8Array(await readFile(dir.join("0"))), body);
  assert.deepEqual(new Uint8Array(await readFile(dir.join("1"))), rest);
});
