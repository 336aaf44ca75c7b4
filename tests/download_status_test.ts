import assert from "node:assert/strict";
import { test } from "node:test";
import { Download, DownloadInterrupt, DownloadStatus } from "../mod.ts";
import { FileLock } from "../src/_disk/lock.ts";
import { partialPaths } from "../src/_disk/names.ts";
import {
  bytesRoute,
  deferred,
  patternBytes,
  type Route,
  startServer,
} from "./_helpers/server.ts";
import { tempDir } from "./_helpers/temp_dir.ts";

test("Download.getUrl() and getDest() return what it was created with", () => {
  const download = new Download(new URL("http://127.0.0.1/a b"), "dir/a");
  assert.equal(download.getUrl(), "http://127.0.0.1/a%20b");
  assert.equal(download.getDest(), "dir/a");
  assert.equal(download.isRunning(), false);
  assert.equal(download.isCanceled(), false);
  assert.equal(download.error(), undefined);
});

test("A download is a DownloadStatus that tells nothing before it starts", () => {
  const download = new Download("http://127.0.0.1/f", "f");
  assert.ok(download instanceof DownloadStatus);
  assert.equal(download.state, "idle");
  assert.equal(download.bytesWritten, 0);
  assert.equal(download.total, undefined);
  assert.equal(download.skipped, false);
  assert.equal(download.revalidation, undefined);
  assert.equal(download.lockHolder, undefined);
  assert.deepEqual(download.connections, []);
  assert.equal(download.partialKept, false);
  assert.equal(download.getFinalUrl(), "http://127.0.0.1/f");
  download.raiseIfError();
});

test("A finished download's status: done, every byte, the URL it came from", async () => {
  const body = patternBytes(1000);
  const redirect: Route = (_request, response) => {
    response.writeHead(302, { location: "/to" });
    response.end();
  };
  await using server = await startServer({
    "/from": redirect,
    "/to": bytesRoute(body),
  });
  await using dir = await tempDir();
  const download = new Download(server.url("/from"), dir.join("f"));
  download.start();
  assert.equal(download.isRunning(), true);
  await download.wait();
  assert.equal(download.state, "done");
  assert.equal(download.isRunning(), false);
  assert.equal(download.bytesWritten, body.byteLength);
  assert.equal(download.total, body.byteLength);
  assert.equal(download.getUrl(), server.url("/from"));
  assert.equal(download.getFinalUrl(), server.url("/to"));
  assert.deepEqual(download.connections, []);
  download.raiseIfError();
});

test("A canceled download's status: canceled, and raiseIfError() says which", async () => {
  const download = new Download("http://127.0.0.1/f", "f");
  download.cancel();
  assert.equal(download.state, "canceled");
  assert.equal(download.isCanceled(), true);
  assert.equal(download.error(), undefined);
  assert.throws(
    () => download.raiseIfError(),
    (error) =>
      error instanceof DownloadInterrupt &&
      error.message === 'Download of "http://127.0.0.1/f" was canceled',
  );
  await download.wait({ raiseIfError: false });
  assert.equal(download.state, "canceled");
});

test("A download canceled while paused, or waiting for a lock, tells that state until it ends canceled, as its events do", async () => {
  const body = patternBytes(300_000);
  const gate = deferred();
  await using server = await startServer({
    "/f": bytesRoute(body, { gate: gate.promise, gateAt: 100_000 }),
  });
  await using dir = await tempDir();
  // Paused: no connection is open, and the cancel opens none.
  const paused = new Download(server.url("/f"), dir.join("f"), {
    chunkSize: 50_000,
  });
  const states: string[] = [];
  paused.addEventListener("statechange", ({ state }) => states.push(state));
  const written = new Promise<void>((resolve) =>
    paused.addEventListener("progress", ({ current }) => {
      if (current === 100_000) resolve();
    })
  );
  paused.start();
  await written;
  await paused.pause();
  paused.cancel();
  assert.equal(paused.state, "paused");
  await paused.wait({ raiseIfError: false });
  gate.resolve();
  assert.deepEqual(states, ["running", "paused", "canceled"]);
  assert.equal(paused.state, "canceled");
  // Waiting for the lock another download of the file holds.
  const held = await FileLock.acquire(
    partialPaths(dir.join("g")).lock,
    { staleAfter: 60_000, heartbeat: 1000, poll: 5 },
    { signal: new AbortController().signal },
  );
  try {
    const waiting = new Download(server.url("/f"), dir.join("g"));
    const told = new Promise<void>((resolve) =>
      waiting.addEventListener("statechange", ({ state }) => {
        if (state === "waiting") resolve();
      })
    );
    waiting.start();
    await told;
    waiting.cancel();
    assert.equal(waiting.state, "waiting");
    await waiting.wait({ raiseIfError: false });
    assert.equal(waiting.state, "canceled");
  } finally {
    held.release();
  }
});
