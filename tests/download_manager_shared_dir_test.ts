// Several managers, and several processes, downloading into one directory:
// one request per file, one complete file, no leftovers, and a survivor that
// takes over from a killed process. The behaviour lives in src/_lock.ts,
// src/download.ts and src/download_manager.ts.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { type Download, DownloadManager } from "../mod.ts";
import { startChild } from "./_child.ts";
import {
  bytesRoute,
  deferred,
  fileRoute,
  patternBytes,
  startServer,
} from "./_server.ts";
import { tempDir } from "./_temp_dir.ts";

const BODY = patternBytes(200_000);

test("Two managers downloading one name into one directory make one request", async () => {
  const release = deferred();
  // The body stops after 10,000 bytes until released, then goes on.
  const route = bytesRoute(BODY, { gate: release.promise, gateAt: 10_000 });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const first = new DownloadManager(dir.path, { lockStaleAfter: 60_000 });
  const second = new DownloadManager(dir.path, { lockStaleAfter: 60_000 });
  const a = first.download(server.url("/f")) as Download;
  const b = second.download(server.url("/f")) as Download;
  release.resolve();
  await Promise.all([first.wait(), second.wait()]);
  // One download fetched; the other waited for its lock and found the file.
  assert.equal(server.requests.length, 1);
  assert.deepEqual([a.skipped, b.skipped].sort(), [false, true]);
  assert.deepEqual(new Uint8Array(await readFile(dir.join("f"))), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Two processes downloading one name into one directory make one request", {
  timeout: 60_000,
}, async () => {
  const release = deferred();
  const route = bytesRoute(BODY, { gate: release.promise, gateAt: 10_000 });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const children = [0, 1].map(() =>
    startChild("_manager_child", [server.url("/f"), dir.path])
  );
  // Both have asked for the file before the first answer is let through.
  await Promise.all(
    children.map((child) => child.line((line) => line === "started")),
  );
  release.resolve();
  assert.deepEqual(await Promise.all(children.map((child) => child.exited)), [
    0,
    0,
  ]);
  const outcomes = children.map((child) => child.lines.at(-1)).sort();
  assert.deepEqual(outcomes, ["done", "skipped"]);
  assert.equal(server.requests.length, 1);
  assert.deepEqual(new Uint8Array(await readFile(dir.join("f"))), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("A process takes over and finishes the download of a killed one", {
  timeout: 60_000,
}, async () => {
  const release = deferred();
  const { route, log } = fileRoute({
    body: BODY,
    etag: '"kill"',
    faults: [{ stallAfter: 50_000, release: release.promise }],
  });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const victim = startChild("_manager_child", [server.url("/f"), dir.path]);
  // 49,152 bytes written (12 writes of 4 KiB): all it can of the 50,000 sent.
  await victim.line((line) => line === "progress 49152");
  const survivor = startChild("_manager_child", [server.url("/f"), dir.path]);
  await survivor.line((line) => line === "started");
  victim.process.kill("SIGKILL");
  assert.equal(await victim.exited, "SIGKILL");
  // The victim's pid is gone: its lock is taken over at once, its partial
  // file resumed.
  assert.equal(await survivor.exited, 0);
  assert.equal(survivor.lines.at(-1), "done");
  release.resolve();
  assert.deepEqual(log.ranges, [null, "bytes=49152-"]);
  assert.deepEqual(new Uint8Array(await readFile(dir.join("f"))), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});
