// Bandwidth limits, against a local server: a download never runs ahead of
// its limit (by more than the credit and one read per connection, each a
// tenth of a second at the limit), and its bytes reach the file, and are
// reported, a read at a time,
// alone, over several connections, or sharing a manager's limit; a limit set
// on a download the runtime's pipe writes takes over from the bytes on disk
// (not from a server without ranges, which would send them again);
// a limit lifted mid-run lets waiting reads go; time held back is not
// counted by `minSpeed`. Only bounds that hold however loaded the machine
// are asserted (a limit can only slow a download down); how close to the
// limit a download runs is the bench's to measure. The behaviour lives in
// src/_transfer/rate_limiter.ts and src/_transfer/connection.ts.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  Download,
  DownloadManager,
  type DownloadOptions,
  type DownloadProgressEvent,
} from "../mod.ts";
import { creditOf, pacedReadOf } from "../src/_transfer/rate_limiter.ts";
import {
  deferred,
  type FileRouteOptions,
  patternBytes,
  type ServedFile,
  serveFile,
} from "./_helpers/server.ts";
import { tempDir } from "./_helpers/temp_dir.ts";
import { assertFileHolds } from "./_helpers/file_bytes.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const FAST: DownloadOptions = { backoffBase: 1, backoffCap: 5 };

/**
 * The most bytes on disk not yet paid for under `rate`: the credit, and a
 * read of each of `connections`.
 */
function unpaid(rate: number, connections: number): number {
  return creditOf(rate) + connections * pacedReadOf(rate);
}

function serve(
  body: Uint8Array,
  options: Partial<FileRouteOptions> = {},
): Promise<ServedFile> {
  return serveFile({ body, etag: '"r"', ...options }, ["/a", "/b", "/c", "/d"]);
}

/**
 * Follows the bytes on disk of `downloads` over time: at each report,
 * whether together they are further ahead of `rate` (bytes per second,
 * since `start`, beyond the `already` on disk then) than the credit and
 * one read per connection. `check()` asserts they never were, and were
 * looked at more than twice.
 */
function watchPace(
  downloads: Download[],
  rate: number,
  connections: number,
  already = 0,
): { start: number; check: () => void } {
  const start = performance.now();
  const current = new Map<Download, number>();
  const ahead: string[] = [];
  let looks = 0;
  for (const download of downloads) {
    download.addEventListener("progress", (event: DownloadProgressEvent) => {
      current.set(download, event.current);
      const bytes = [...current.values()].reduce((sum, n) => sum + n, 0) -
        already;
      const allowed = rate * (performance.now() - start) / 1000 +
        unpaid(rate, connections);
      looks++;
      if (bytes > allowed) ahead.push(`${bytes} on disk, ${allowed} allowed`);
    });
  }
  return {
    start,
    check: () => {
      assert.deepEqual(ahead, []);
      assert.ok(looks > 2, `${looks} reports`);
    },
  };
}

test("Download with rateLimit never runs ahead of its limit, and its bytes are whole", async () => {
  const body = patternBytes(3 * MiB, 1);
  await using server = await serve(body);
  await using dir = await tempDir();
  const rate = 2 * MiB;
  const download = new Download(server.url(), dir.join("f"), {
    ...FAST,
    rateLimit: rate,
  });
  const pace = watchPace([download], rate, 1);
  download.start();
  await download.wait();
  const elapsed = performance.now() - pace.start;
  pace.check();
  // What the limit made it wait, at least: all but the credit and a read.
  assert.ok(
    elapsed >= (body.byteLength - unpaid(rate, 1)) * 1000 / rate,
    `${elapsed} ms`,
  );
  await assertFileHolds(dir.join("f"), body);
});

test("Download with a low rateLimit writes and reports its bytes a tenth of a second's worth at a time", async () => {
  // Less than a chunk of 256 KiB more than the credit: gathered into
  // chunks, it came in two reports, the first after a second.
  const body = patternBytes(300 * KiB, 9);
  await using server = await serve(body);
  await using dir = await tempDir();
  const rate = 200 * KiB;
  const download = new Download(server.url(), dir.join("f"), {
    ...FAST,
    rateLimit: rate,
  });
  const steps: number[] = [];
  let last = 0;
  download.addEventListener("progress", ({ current }) => {
    if (current > last) steps.push(current - last);
    last = current;
  });
  download.start();
  await download.wait();
  // Each report a read of 20 KiB at most: 15 of them at least.
  const read = pacedReadOf(rate);
  assert.equal(read, 20 * KiB);
  assert.deepEqual(steps.filter((step) => step > read), []);
  assert.ok(steps.length >= body.byteLength / read, `${steps.length}`);
  await assertFileHolds(dir.join("f"), body);
});

test("Download with a low rateLimit and 8 connections starts with no more than the credit and a read of each", async () => {
  const body = patternBytes(4 * MiB, 10);
  await using server = await serve(body);
  await using dir = await tempDir();
  const rate = 64 * KiB;
  const download = new Download(server.url(), dir.join("f"), {
    ...FAST,
    rateLimit: rate,
    connections: 8,
  });
  // The bound over the first second: 64 KiB, and 6.4 KiB for the credit
  // and each connection's read (each of one chunk, it was 2.3 MiB).
  const pace = watchPace([download], rate, 8);
  download.addEventListener("progress", ({ current }) => {
    if (current >= 128 * KiB) download.cancel();
  });
  download.start();
  await assert.rejects(download.wait());
  assert.equal(download.state, "canceled");
  pace.check();
  // It did go over several connections.
  const parts = server.log.ranges.filter((r) =>
    /^bytes=\d+-\d+$/.test(r ?? "")
  );
  assert.ok(parts.length > 1, `${parts.length} parts`);
});

test("Download with rateLimit and 4 connections holds all of them under the one limit", async () => {
  const body = patternBytes(4 * MiB, 2);
  await using server = await serve(body);
  await using dir = await tempDir();
  const rate = 2 * MiB;
  const download = new Download(server.url(), dir.join("f"), {
    ...FAST,
    rateLimit: rate,
    connections: 4,
  });
  const pace = watchPace([download], rate, 4);
  download.start();
  await download.wait();
  const elapsed = performance.now() - pace.start;
  pace.check();
  assert.ok(elapsed >= (body.byteLength - unpaid(rate, 4)) * 1000 / rate);
  // The parts came over four connections.
  const parts = server.log.ranges.filter((r) =>
    /^bytes=\d+-\d+$/.test(r ?? "")
  );
  assert.equal(parts.length, 4);
  await assertFileHolds(dir.join("f"), body);
});

test("DownloadManager's rateLimit is one limit shared by its downloads, not each one's", async () => {
  const body = patternBytes(1 * MiB, 3);
  await using server = await serve(body);
  await using dir = await tempDir();
  const rate = 2 * MiB;
  const manager = dir.manager({ ...FAST, rateLimit: rate });
  const downloads = ["/a", "/b", "/c", "/d"].map((path) =>
    manager.download(server.url(path)) as Download
  );
  const pace = watchPace(downloads, rate, 4);
  await manager.wait();
  const elapsed = performance.now() - pace.start;
  pace.check();
  // Four files of 1 MiB at 2 MiB/s together: about 2 s, not 0.5 s.
  assert.ok(elapsed >= (4 * MiB - unpaid(rate, 4)) * 1000 / rate);
  for (const name of ["a", "b", "c", "d"]) {
    await assertFileHolds(dir.join(name), body);
  }
});

test("DownloadManager.setRateLimit() on a download the runtime's pipe writes asks again from the bytes on disk, paced", async () => {
  const body = patternBytes(3 * MiB, 4);
  const release = deferred();
  await using server = await serve(body, {
    // The first answer stalls after 1 MiB: the pipe is still writing.
    faults: [{ stallAfter: MiB, release: release.promise }],
  });
  await using dir = await tempDir();
  const manager = dir.manager(FAST);
  const download = manager.download(server.url()) as Download;
  await new Promise<void>((resolve) =>
    download.addEventListener("progress", ({ current }) => {
      if (current >= MiB) resolve();
    })
  );
  const rate = 2 * MiB;
  manager.setRateLimit(rate);
  const pace = watchPace([download], rate, 1, MiB);
  await manager.wait();
  release.resolve();
  pace.check();
  assert.deepEqual(server.log.ranges, [null, `bytes=${MiB}-`]);
  // The 2 MiB after the limit took at least what the limit asks.
  const elapsed = performance.now() - pace.start;
  assert.ok(elapsed >= (2 * MiB - unpaid(rate, 1)) * 1000 / rate);
  await assertFileHolds(dir.join("a"), body);
});

test("DownloadManager.setRateLimit() on a download the runtime's pipe writes from a server without ranges keeps its bytes", async () => {
  const body = patternBytes(3 * MiB, 8);
  // An ETag and a length, but no ranges: asked again from 1 MiB, it would
  // send the whole file, and the MiB on disk would be thrown away. Sent
  // slowly: the pipe is still writing when the limit comes.
  await using server = await serve(body, {
    ranges: false,
    faults: [{ pace: 2 * MiB }],
  });
  await using dir = await tempDir();
  const manager = dir.manager(FAST);
  const download = manager.download(server.url()) as Download;
  await new Promise<void>((resolve) =>
    download.addEventListener("progress", ({ current }) => {
      if (current >= MiB) resolve();
    })
  );
  manager.setRateLimit(2 * MiB);
  await manager.wait();
  assert.deepEqual(server.log.ranges, [null]);
  await assertFileHolds(dir.join("a"), body);
});

test("DownloadManager.setRateLimit(undefined) lets the reads waiting for a tiny limit go at once", async () => {
  const body = patternBytes(2 * MiB, 5);
  await using server = await serve(body);
  await using dir = await tempDir();
  // At 1 KiB/s this file would take more than half an hour.
  const manager = dir.manager({ ...FAST, rateLimit: KiB });
  const download = manager.download(server.url()) as Download;
  const start = performance.now();
  download.addEventListener("progress", ({ current }) => {
    if (current > 0) manager.setRateLimit(undefined);
  });
  await manager.wait();
  // Not a measure of speed: still held, the rest would take half an hour
  // (on Bun, a read held back before its first write once took 32 s).
  assert.ok(performance.now() - start < 20_000);
  await assertFileHolds(dir.join("a"), body);
});

test("Download.setRateLimit() changes its own limit while it runs", async () => {
  const body = patternBytes(2 * MiB, 6);
  await using server = await serve(body);
  await using dir = await tempDir();
  const download = new Download(server.url(), dir.join("f"), {
    ...FAST,
    rateLimit: KiB,
  });
  download.addEventListener("progress", ({ current }) => {
    if (current > 0) download.setRateLimit(Infinity);
  });
  download.start();
  await download.wait();
  await assertFileHolds(dir.join("f"), body);
  assert.throws(() => download.setRateLimit(0), RangeError);
});

test("Download held back by rateLimit is not given up as slow by minSpeed", async () => {
  const body = patternBytes(1536 * KiB, 7);
  await using server = await serve(body);
  await using dir = await tempDir();
  // Held to half of what minSpeed asks of the server.
  const download = new Download(server.url(), dir.join("f"), {
    ...FAST,
    rateLimit: 512 * KiB,
    minSpeed: MiB,
    minSpeedWindow: 1000,
  });
  let retries = 0;
  download.addEventListener("retry", () => retries++);
  download.start();
  await download.wait();
  assert.equal(retries, 0);
  assert.deepEqual(server.log.ranges, [null]);
});

test("Download and DownloadManager throw a RangeError for a rateLimit below 1 byte per second, also when set", async () => {
  // A manager makes its directory: a temporary one, not one in the cwd.
  await using dir = await tempDir();
  const manager = dir.manager();
  const download = new Download("http://127.0.0.1:9/f", "f");
  for (const rateLimit of [0, -1, NaN, 0.5, 1e-300, 5e-324]) {
    assert.throws(
      () => new Download("http://127.0.0.1:9/f", "f", { rateLimit }),
      RangeError,
    );
    assert.throws(
      () => new DownloadManager("unused-dir-never-created", { rateLimit }),
      RangeError,
    );
    assert.throws(() => manager.setRateLimit(rateLimit), RangeError);
    assert.throws(() => download.setRateLimit(rateLimit), RangeError);
  }
  // The least limit is taken.
  manager.setRateLimit(1);
  download.setRateLimit(1);
});
