// A manager whose process runs out of file descriptors (EMFILE) mid-way: at
// unlimited concurrency, or beside a program that holds many, the next
// connection or file opened fails. Each download that fails says EMFILE, as
// a `FileSystemError`, and leaves nothing behind (no lock, no sidecar, no
// partial file, nothing under its name), though its cleanup runs with no
// descriptor to spare; one that ends well is complete.

import assert from "node:assert/strict";
import { rm, utimes, writeFile } from "node:fs/promises";
import process from "node:process";
import { test } from "node:test";
import { startChild } from "./_helpers/child.ts";
import { Download } from "../mod.ts";
import {
  deferred,
  fileRoute,
  patternBytes,
  type Route,
  startServer,
} from "./_helpers/server.ts";
import { assertFileHolds } from "./_helpers/file_bytes.ts";
import { tempDir } from "./_helpers/temp_dir.ts";

const POSIX = process.platform !== "win32";

/** What the child said of each download, by index. */
type Outcomes = Map<number, { ok: true } | { ok: false; line: string }>;

/**
 * Runs `emfile_child` on `count` files of `size` bytes (with `args` after
 * the count) under `ulimit -n <limit>`: every answer is held once 64 KiB
 * are sent, until each download has bytes on disk (holding its connection
 * and file) or has failed; then the rest is sent. Returns what the child
 * said of each download, and the files' bodies.
 */
async function runOutOfDescriptors(
  dir: string,
  limit: number,
  count: number,
  size: number,
  args: string[] = [],
): Promise<{ outcomes: Outcomes; bodies: Uint8Array[] }> {
  const settled = deferred();
  const bodies: Uint8Array[] = [];
  const routes: Record<string, Route> = {};
  for (let i = 0; i < count; i++) {
    const body = patternBytes(size, i);
    bodies.push(body);
    routes[`/f${i}`] = fileRoute({
      body,
      etag: `"f${i}"`,
      faultFor: () => ({ holdAfter: 65_536, release: settled.promise }),
    }).route;
  }
  await using server = await startServer(routes);
  const child = startChild(
    "emfile_child",
    [server.url("").replace(/\/$/, ""), dir, String(count), ...args],
    ["sh", "-c", `ulimit -n ${limit}; exec "$@"`, "sh"],
  );
  await child.line((line) => line === "settled");
  settled.resolve();
  assert.equal(await child.exited, 0);
  assert.deepEqual(
    child.lines.filter((line) => !/^(ok|failed) /.test(line)),
    ["started", "settled", "end"],
  );
  const outcomes: Outcomes = new Map();
  for (const line of child.lines) {
    const [word, index] = line.split(" ");
    if (word === "ok") outcomes.set(Number(index), { ok: true });
    if (word === "failed") outcomes.set(Number(index), { ok: false, line });
  }
  assert.equal(outcomes.size, count);
  return { outcomes, bodies };
}

/**
 * Checks that every failed download said EMFILE and left nothing, and
 * that the others' files are complete.
 */
async function assertNothingLeft(
  dir: Awaited<ReturnType<typeof tempDir>>,
  outcomes: Outcomes,
  bodies: Uint8Array[],
): Promise<void> {
  const failed = [...outcomes].filter(([, outcome]) => !outcome.ok);
  assert.ok(failed.length > 0, "some downloads failed");
  for (const [index, outcome] of failed) {
    assert.match(
      outcome.ok ? "" : outcome.line,
      new RegExp(
        `^failed ${index} EMFILE FileSystemError: .*too many open files \\(EMFILE\\)$`,
      ),
    );
  }
  const names = await dir.list();
  const done = [...outcomes].filter(([, outcome]) => outcome.ok).map((
    [index],
  ) => `f${index}`);
  // No lock, no sidecar, no partial file: only complete files.
  for (const name of names) assert.ok(done.includes(name), name);
  assert.deepEqual(names, done.sort());
  for (const name of names) {
    await assertFileHolds(
      dir.join(name),
      bodies[Number(name.slice(1))] ?? new Uint8Array(),
    );
  }
}

test(
  "DownloadManager out of file descriptors fails downloads with EMFILE and leaves nothing of them",
  {
    skip: !POSIX && "needs sh and ulimit",
  },
  async () => {
    await using dir = await tempDir();
    // 40 downloads, each holding a connection and a file, need more than 60
    // descriptors.
    const { outcomes, bodies } = await runOutOfDescriptors(
      dir.path,
      60,
      40,
      200_000,
    );
    await assertNothingLeft(dir, outcomes, bodies);
  },
);

test(
  "DownloadManager out of file descriptors leaves nothing of a download in parts",
  {
    skip: !POSIX && "needs sh and ulimit",
  },
  async () => {
    await using dir = await tempDir();
    // As many downloads as above, so that some first connections fail
    // whatever the runtime holds itself (extra connections that fail only
    // leave a download fewer).
    const { outcomes, bodies } = await runOutOfDescriptors(
      dir.path,
      60,
      40,
      4 * 1024 * 1024,
      ["4"],
    );
    await assertNothingLeft(dir, outcomes, bodies);
  },
);

/**
 * Runs `no_descriptor_child` on `url` into `dir` under `ulimit -n 64`
 * (with `hold`, a download held by the server until the child has tried,
 * that keeps its lock and this process's owner file in `dir`). Returns its
 * lines but "waiting" and "end".
 */
async function lockWithoutDescriptors(
  dir: string,
  url: string,
  hold?: { url: string; release: () => void },
): Promise<string[]> {
  const child = startChild(
    "no_descriptor_child",
    [url, dir, ...(hold === undefined ? [] : [hold.url])],
    ["sh", "-c", `ulimit -n 64; exec "$@"`, "sh"],
  );
  await child.line((line) => line === "waiting");
  hold?.release();
  assert.equal(await child.exited, 0);
  assert.equal(child.lines.at(-1), "end");
  return child.lines.filter((line) => line !== "waiting" && line !== "end");
}

test(
  "DownloadManager out of file descriptors as it takes a lock fails with EMFILE, leaves no lock or owner file, and downloads the file next time",
  {
    skip: !POSIX && "needs sh and ulimit",
  },
  async () => {
    const body = patternBytes(100_000, 1);
    await using server = await startServer({
      "/f": fileRoute({ body, etag: '"f"' }).route,
    });
    await using dir = await tempDir();
    const lines = await lockWithoutDescriptors(dir.path, server.url("/f"));
    assert.equal(lines.length, 4);
    assert.match(
      lines[0] ?? "",
      /^failed EMFILE FileSystemError: .*too many open files \(EMFILE\)$/,
    );
    // Nothing left of it: no lock, no owner file, no sidecar.
    assert.deepEqual(lines.slice(1), ["names ", "ok", "names f"]);
    await assertFileHolds(dir.join("f"), body);
  },
);

test(
  "DownloadManager out of file descriptors beside a download holding its lock fails the new one with EMFILE, leaving the other's files only",
  {
    skip: !POSIX && "needs sh and ulimit",
  },
  async () => {
    const body = patternBytes(100_000, 1);
    const held = patternBytes(200_000, 2);
    const release = deferred();
    await using server = await startServer({
      "/f": fileRoute({ body, etag: '"f"' }).route,
      "/held": fileRoute({
        body: held,
        etag: '"h"',
        faultFor: () => ({ holdAfter: 65_536, release: release.promise }),
      }).route,
    });
    await using dir = await tempDir();
    // The lock is a link to the owner file there already: no descriptor
    // is needed to take it, and the download fails on its connection or
    // its partial file instead.
    const lines = await lockWithoutDescriptors(dir.path, server.url("/f"), {
      url: server.url("/held"),
      release: () => release.resolve(),
    });
    assert.equal(lines.length, 5);
    assert.match(
      lines[0] ?? "",
      /^failed EMFILE FileSystemError: .*too many open files \(EMFILE\)$/,
    );
    // Only the held download's files (its owner file, lock, partial file
    // and sidecar): none under f's name.
    const names = (lines[1] ?? "").split(" ").slice(1);
    assert.deepEqual(
      names.filter((name) => name === "f" || name.startsWith(".f.")),
      [],
    );
    assert.ok(names.some((name) => name.endsWith(".dlpart.lock")));
    assert.deepEqual(lines.slice(2, 3), ["ok"]);
    assert.ok((lines[3] ?? "").split(" ").includes("f"));
    assert.equal(lines[4], "ok");
    assert.deepEqual(await dir.list(), ["f", "held"]);
    await assertFileHolds(dir.join("f"), body);
    await assertFileHolds(dir.join("held"), held);
  },
);

test(
  "DownloadManager out of file descriptors as it evicts for its PersistLimit removes the oldest files, only those, and fails nothing",
  {
    skip: !POSIX && "needs sh and ulimit",
  },
  async () => {
    const body = patternBytes(100_000, 2);
    await using server = await startServer({
      "/b": fileRoute({ body, etag: '"b"' }).route,
    });
    await using dir = await tempDir();
    // Three files of 100,000 bytes under a limit of 250,000: the oldest
    // goes, then no more.
    for (const [age, name] of ["old", "older"].entries()) {
      await writeFile(dir.join(name), patternBytes(100_000, age));
      const when = new Date(Date.now() - 3_600_000 - age * 1000);
      await utimes(dir.join(name), when, when);
    }
    const child = startChild(
      "evict_child",
      [server.url("/b"), dir.path, "250000"],
      ["sh", "-c", `ulimit -n 64; exec "$@"`, "sh"],
    );
    assert.equal(await child.exited, 0);
    assert.deepEqual(child.lines, [
      "exhausted true",
      "b ok",
      "wait ok",
      "names b old",
      "end",
    ]);
    await assertFileHolds(dir.join("b"), body);
  },
);

test(
  "Download.cancel() with keepPartial out of file descriptors while paused removes its partial file, sidecar and lock, and the file downloads next time in this process and another",
  {
    skip: !POSIX && "needs sh and ulimit",
  },
  async () => {
    const body = patternBytes(300_000, 3);
    const downloaded = deferred();
    const held = deferred();
    // The first answer is held once 64 KiB are sent: the download is
    // paused with bytes on disk, and canceled.
    const { route, log } = fileRoute({
      body,
      etag: '"f"',
      faultFor: ({ index }) =>
        index === 0 ? { holdAfter: 65_536, release: held.promise } : undefined,
    });
    await using server = await startServer({
      "/f": route,
      "/next": async (_request, response) => {
        await downloaded.promise;
        response.end();
      },
    });
    await using dir = await tempDir();
    const child = startChild(
      "no_descriptor_child",
      [server.url("/f"), dir.path, "--keep-paused", server.url("/next")],
      ["sh", "-c", `ulimit -n 64; exec "$@"`, "sh"],
    );
    await child.line((line) => line === "paused");
    // The paused connection's descriptor is free before the child takes
    // every one: closed (on Bun's HTTP thread) after the pause, it was one
    // the cancel's sidecar got, under load.
    await log.abandoned[0];
    // Not `child.process.kill`: Deno's then reports the child killed by the
    // signal, which it handles, whatever its exit.
    process.kill(child.process.pid as number, "SIGUSR2");
    await child.line((line) => line === "waiting");
    // What could not be kept is removed: the cancel says why it was not.
    assert.match(
      child.lines[1] ?? "",
      /^failed EMFILE FileSystemError: .*too many open files \(EMFILE\)$/,
    );
    assert.deepEqual(child.lines.slice(2, 4), ["kept false", "names "]);
    // Another process, while the child lives, downloads it at once.
    const download = new Download(server.url("/f"), dir.join("f"));
    download.start();
    await download.wait();
    assert.deepEqual(await dir.list(), ["f"]);
    // Gone again, for the child to download it in its own process.
    await rm(dir.join("f"));
    downloaded.resolve();
    assert.equal(await child.exited, 0);
    assert.deepEqual(child.lines.slice(5), ["ok", "names f", "end"]);
    await assertFileHolds(dir.join("f"), body);
    held.resolve();
  },
);
