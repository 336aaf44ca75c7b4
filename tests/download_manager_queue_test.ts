// DownloadManager's concurrency bound and queue, and Download's state as the
// manager drives it. The behaviour lives in src/download_manager.ts and
// src/download.ts.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type Download,
  DownloadInterrupt,
  DownloadManager,
  type DownloadState,
} from "../mod.ts";
import {
  deferred,
  patternBytes,
  type Route,
  startServer,
} from "./_helpers/server.ts";
import { type TempDir, tempDir } from "./_helpers/temp_dir.ts";

const BODY = patternBytes(1000);

/** Routes /0../n-1 that count requests in flight and hold each until `gate`. */
function gatedRoutes(n: number, gate: Promise<void>): {
  routes: Record<string, Route>;
  order: string[];
  maxInFlight: () => number;
  arrived: (count: number) => Promise<void>;
} {
  let inFlight = 0;
  let max = 0;
  const order: string[] = [];
  const waits: { count: number; resolve: () => void }[] = [];
  const routes: Record<string, Route> = {};
  for (let i = 0; i < n; i++) {
    routes[`/${i}`] = async (_request, response) => {
      inFlight++;
      max = Math.max(max, inFlight);
      order.push(`/${i}`);
      for (const wait of waits) if (order.length >= wait.count) wait.resolve();
      await gate;
      response.writeHead(200, { "content-length": BODY.byteLength });
      response.end(BODY, () => inFlight--);
    };
  }
  return {
    routes,
    order,
    maxInFlight: () => max,
    arrived: (count) =>
      order.length >= count
        ? Promise.resolve()
        : new Promise((resolve) => waits.push({ count, resolve })),
  };
}

/**
 * A manager of `concurrency` slots in a temporary directory, and the `n`
 * gated routes of {@linkcode gatedRoutes} it downloads from (`url`), held
 * until `gate` resolves; disposing of it closes both.
 */
async function gatedManager(n: number, concurrency = 1): Promise<
  {
    gate: ReturnType<typeof deferred<void>>;
    server: ReturnType<typeof gatedRoutes>;
    url: (path: string) => string;
    dir: TempDir;
    manager: DownloadManager;
  } & AsyncDisposable
> {
  const gate = deferred();
  const server = gatedRoutes(n, gate.promise);
  const http = await startServer(server.routes);
  const dir = await tempDir();
  return {
    gate,
    server,
    url: (path) => http.url(path),
    dir,
    manager: dir.manager({ concurrency }),
    async [Symbol.asyncDispose](): Promise<void> {
      await dir[Symbol.asyncDispose]();
      await http[Symbol.asyncDispose]();
    },
  };
}

test("DownloadManager runs at most concurrency downloads and starts the queued ones in order", async () => {
  await using setup = await gatedManager(5, 2);
  const { gate, server, dir, manager } = setup;
  const started: number[] = [];
  const downloads = [0, 1, 2, 3, 4].map((i) =>
    manager.download(setup.url(`/${i}`), {
      onStateChange: (_d, state) => {
        if (state === "running") started.push(i);
      },
    }) as Download
  );
  assert.deepEqual(downloads.map((d) => d.state), [
    "running",
    "running",
    "queued",
    "queued",
    "queued",
  ]);
  assert.deepEqual(downloads.map((d) => d.isRunning()), [
    true,
    true,
    false,
    false,
    false,
  ]);
  await server.arrived(2);
  gate.resolve();
  await manager.wait();
  assert.equal(server.maxInFlight(), 2);
  // Started first in, first out (requests of two freed slots may race).
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.deepEqual(server.order.slice(0, 2).sort(), ["/0", "/1"]);
  assert.deepEqual(downloads.map((d) => d.state), [
    "done",
    "done",
    "done",
    "done",
    "done",
  ]);
  assert.deepEqual(await dir.list(), ["0", "1", "2", "3", "4"]);
});

test("Download.start() of a queued download throws: the manager runs it when a slot is free, never more than concurrency at once", async () => {
  await using setup = await gatedManager(3, 1);
  const { gate, server, manager } = setup;
  const downloads = [0, 1, 2].map((i) =>
    manager.download(setup.url(`/${i}`)) as Download
  );
  const queued = downloads[2] as Download;
  assert.equal(queued.state, "queued");
  assert.throws(() => queued.start(), {
    message: `Cannot start download of "${
      setup.url("/2")
    }": it was already started by its manager, which runs it when a slot is free`,
  });
  assert.equal(queued.state, "queued");
  await server.arrived(1);
  gate.resolve();
  await manager.wait();
  assert.equal(server.maxInFlight(), 1);
  assert.deepEqual(downloads.map((d) => d.state), ["done", "done", "done"]);
});

test("DownloadManager with concurrency Infinity starts everything at once", async () => {
  await using setup = await gatedManager(4, Infinity);
  const { gate, server, manager } = setup;
  for (let i = 0; i < 4; i++) manager.download(setup.url(`/${i}`));
  await server.arrived(4);
  gate.resolve();
  await manager.wait();
  assert.equal(server.maxInFlight(), 4);
});

test("Download.cancel() of a queued download: it never starts, and wait() covers it", async () => {
  await using setup = await gatedManager(3);
  const { gate, server, dir, manager } = setup;
  const first = manager.download(setup.url("/0")) as Download;
  const queued = manager.download(setup.url("/1")) as Download;
  const last = manager.download(setup.url("/2")) as Download;
  queued.cancel();
  assert.equal(queued.state, "canceled");
  await assert.rejects(queued.wait(), DownloadInterrupt);
  const waiting = manager.wait({ raiseIfError: false });
  gate.resolve();
  await waiting;
  assert.deepEqual([first.state, queued.state, last.state], [
    "done",
    "canceled",
    "done",
  ]);
  assert.deepEqual(server.order, ["/0", "/2"]);
  assert.deepEqual(await dir.list(), ["0", "2"]);
});

test("A queued download's signal cancels it in the queue, as cancel() does", async () => {
  await using setup = await gatedManager(3);
  const { gate, server, dir, manager } = setup;
  const first = manager.download(setup.url("/0")) as Download;
  const stop = new AbortController();
  const queued = manager.download(setup.url("/1"), {
    signal: stop.signal,
  }) as Download;
  const states: string[] = [];
  queued.addEventListener("statechange", ({ state }) => states.push(state));
  // Aborted before it is given: it is never queued.
  const aborted = manager.download(setup.url("/2"), {
    signal: AbortSignal.abort(),
  }) as Download;
  assert.equal(aborted.state, "canceled");
  stop.abort();
  assert.equal(queued.state, "canceled");
  // Ended while the first still runs.
  await assert.rejects(queued.wait(), DownloadInterrupt);
  assert.equal(first.state, "running");
  gate.resolve();
  await manager.wait({ raiseIfError: false });
  assert.deepEqual(states, ["canceled"]);
  assert.deepEqual(server.order, ["/0"]);
  assert.deepEqual(await dir.list(), ["0"]);
});

test("A queued download whose onStateChange throws ends failed in the queue, never running", async () => {
  await using setup = await gatedManager(2);
  const { gate, server, dir, manager } = setup;
  const states: string[] = [];
  manager.addEventListener("statechange", ({ download, state }) => {
    if (download.getDest().endsWith("1")) states.push(state);
  });
  const first = manager.download(setup.url("/0")) as Download;
  const queued = manager.download(setup.url("/1"), {
    onStateChange: (_download, state) => {
      if (state === "queued") throw new Error("the callback failed");
    },
  }) as Download;
  assert.equal(queued.state, "failed");
  // Ended while the first still runs.
  await assert.rejects(queued.wait(), /the callback failed/);
  assert.equal(first.state, "running");
  gate.resolve();
  await manager.wait({ raiseIfError: false });
  assert.deepEqual(states, ["failed"]);
  assert.deepEqual(server.order, ["/0"]);
  assert.deepEqual(await dir.list(), ["0"]);
});

test("DownloadManager.cancel(cancelIf) cancels queued downloads too", async () => {
  await using setup = await gatedManager(3);
  const { gate, server, manager } = setup;
  const downloads = [0, 1, 2].map((i) =>
    manager.download(setup.url(`/${i}`)) as Download
  );
  await server.arrived(1);
  // wait() covers the downloads not ended when it is called.
  const waiting = manager.wait();
  manager.cancel((download) => download.state === "queued");
  gate.resolve();
  await assert.rejects(waiting, DownloadInterrupt);
  assert.deepEqual(downloads.map((d) => d.state), [
    "done",
    "canceled",
    "canceled",
  ]);
  assert.deepEqual(server.order, ["/0"]);
});

test("DownloadManager.download() returns the queued download for a name already queued", async () => {
  await using setup = await gatedManager(2);
  const { gate, server, manager } = setup;
  manager.download(setup.url("/0"));
  const queued = manager.download(setup.url("/1"));
  assert.equal(manager.download(setup.url("/1")), queued);
  gate.resolve();
  await manager.wait();
  assert.deepEqual(server.order, ["/0", "/1"]);
});

test("Download reports state changes: queued, running, then done", async () => {
  await using setup = await gatedManager(2);
  const { gate, manager } = setup;
  const states: Record<string, DownloadState[]> = { "0": [], "1": [] };
  for (const name of ["0", "1"]) {
    manager.download(setup.url(`/${name}`), {
      onStateChange: (_download, state) => states[name]?.push(state),
    });
  }
  gate.resolve();
  await manager.wait();
  assert.deepEqual(states, {
    "0": ["running", "done"],
    "1": ["queued", "running", "done"],
  });
});

test("Download tells bytesWritten and total as it goes, and its final state", async () => {
  await using setup = await gatedManager(1);
  const { gate, manager } = setup;
  const seen: [number, number | undefined][] = [];
  const download = manager.download(setup.url("/0"), {
    progress: (d) => seen.push([d.bytesWritten, d.total]),
  }) as Download;
  assert.equal(download.bytesWritten, 0);
  assert.equal(download.total, undefined);
  gate.resolve();
  await manager.wait();
  assert.deepEqual(seen, [[0, 1000], [1000, 1000]]);
  assert.equal(download.state, "done");
});

test("DownloadManager refuses a concurrency that is not a positive integer or Infinity", async () => {
  await using dir = await tempDir();
  for (const concurrency of [0, -1, 1.5, Number.NaN]) {
    assert.throws(
      () => new DownloadManager(dir.path, { concurrency }),
      RangeError,
    );
  }
});
