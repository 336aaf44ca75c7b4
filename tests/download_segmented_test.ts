// Download over several connections (`connections`), against a local
// server that serves bounded ranges and misbehaves on some: every byte at
// its offset, every 206 checked, a server that refuses more connections or
// changes the file, a crash with parts in flight. The behaviour lives in
// src/_transfer/segmented.ts, workers.ts and pieces.ts.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import {
  Download,
  DownloadInterrupt,
  type DownloadManager,
  type DownloadOptions,
  FileSystemError,
  HTTPError,
  TimeoutError,
} from "../mod.ts";
import {
  deferred,
  type Fault,
  fileRoute,
  type FileRouteLog,
  type FileRouteOptions,
  patternBytes,
  type RequestInfo,
  type Route,
  startServer,
  type TestServer,
} from "./_helpers/server.ts";
import { type TempDir, tempDir } from "./_helpers/temp_dir.ts";
import { recordWarnings } from "./_helpers/warnings.ts";
import { startChild } from "./_helpers/child.ts";
import { mount } from "./_helpers/mount.ts";
import { partialPaths } from "../src/_disk/names.ts";
import { readSidecar } from "../src/_disk/sidecar.ts";
import { mergeRanges } from "../src/_transfer/pieces.ts";
import { EARLY_BYTES } from "../src/_transfer/ramp.ts";
import { assertFileHolds } from "./_helpers/file_bytes.ts";
import { whenRecorded } from "./_helpers/partial_file.ts";

const MiB = 1024 * 1024;
const BODY = patternBytes(8 * MiB + 12_345, 7);
const ETAG = '"seg-1"';
const FAST: DownloadOptions = { backoffBase: 1, backoffCap: 5 };

/** The bounded `bytes=a-b` ranges asked for, as [a, b + 1). */
function bounded(ranges: (string | null)[]): [number, number][] {
  return ranges.flatMap((range) => {
    const match = /^bytes=(\d+)-(\d+)$/.exec(range ?? "");
    return match === null ? [] : [[Number(match[1]), Number(match[2]) + 1]];
  });
}

async function serve(
  options: Partial<FileRouteOptions> = {},
): Promise<{
  url: string;
  log: ReturnType<typeof fileRoute>["log"];
  close: () => Promise<void>;
}> {
  const { route, log } = fileRoute({ body: BODY, etag: ETAG, ...options });
  const server = await startServer({ "/f": route });
  return { url: server.url("/f"), log, close: () => server.close() };
}

async function run(
  url: string,
  dir: TempDir,
  options: DownloadOptions,
): Promise<{ download: Download; reports: number[] }> {
  const reports: number[] = [];
  const download = new Download(url, dir.join("f"), {
    ...FAST,
    progress: (_d, current) => reports.push(current),
    ...options,
  });
  download.start();
  await download.wait({ raiseIfError: false });
  return { download, reports };
}

/**
 * Downloads `url` over 4 connections, each stalled after 200,000 bytes (by
 * the test's server), and cancels with `keepPartial` once they all have
 * them: returns the parts the sidecar records.
 */
async function stopWithParts(
  url: string,
  dir: TempDir,
  options: DownloadOptions = {},
): Promise<[number, number][]> {
  const first = new Download(url, dir.join("f"), {
    ...FAST,
    ...options,
    connections: 4,
    progress: (_d, current) => {
      if (current >= 4 * 200_000) first.cancel({ keepPartial: true });
    },
  });
  first.start();
  await assert.rejects(first.wait(), DownloadInterrupt);
  const recorded = readSidecar(partialPaths(dir.join("f")).sidecar)?.ranges;
  assert.ok(recorded !== undefined && recorded.length > 1, `${recorded}`);
  return recorded;
}

/** Progress only rises (each value told once) and ends at `total`. */
function assertProgress(reports: number[], total: number): void {
  for (let i = 1; i < reports.length; i++) {
    assert.ok(
      (reports[i] as number) > (reports[i - 1] as number),
      `progress went back or repeated at ${i}: ${reports.slice(0, i + 1)}`,
    );
  }
  assert.ok(Math.max(...reports) <= total, "progress passed the total");
  assert.equal(reports.at(-1), total);
}

test("Download with connections: 4 fetches the parts over 4 connections, each byte at its offset", async () => {
  // The first part is answered only once a second is asked for, so the
  // parts are in flight at once however fast each is served (if they are
  // not, it is answered after 60 s, and the test fails). Parts of 1.5 MiB:
  // half of one is less than the least a connection takes from another's
  // (MIN_PIECE), so a part slowed by the machine's load is never split, and
  // exactly four ranges are asked for (with 2 MiB parts a loaded run once
  // asked five).
  const body = patternBytes(6 * MiB + 12_345, 7);
  const second = deferred<void>();
  const deadline = setTimeout(() => second.resolve(), 60_000);
  let parts = 0;
  const { url, log, close } = await serve({
    body,
    faultFor: ({ range }) => {
      if (!/^bytes=\d+-\d+$/.test(range ?? "")) return undefined;
      if (++parts === 1) {
        return { answerAfter: second.promise };
      }
      second.resolve();
      return undefined;
    },
  });
  await using dir = await tempDir();
  try {
    const { download, reports } = await run(url, dir, { connections: 4 });
    assert.equal(download.error(), undefined);
    await assertFileHolds(dir.join("f"), body);
    // The first request, then one bounded range per part, each asked with
    // If-Range, which together cover the file.
    assert.equal(log.ranges[0], null);
    const asked = bounded(log.ranges);
    assert.equal(asked.length, 4);
    assert.deepEqual(
      asked.sort((a, b) => a[0] - b[0]).reduce<[number, number][]>(
        (merged, [s, e]) => {
          const last = merged.at(-1);
          if (last !== undefined && last[1] === s) last[1] = e;
          else merged.push([s, e]);
          return merged;
        },
        [],
      ),
      [[0, body.byteLength]],
    );
    assert.ok(log.ifRanges.slice(1).every((value) => value === ETAG));
    assert.ok(log.mostActive >= 2, `at most ${log.mostActive} at once`);
    assertProgress(reports, body.byteLength);
    assert.deepEqual(await dir.list(), ["f"]);
  } finally {
    clearTimeout(deadline);
    await close();
  }
});

test("Download with connections resumes a part whose connection dropped, from its last write", async () => {
  const drops = new Set<number>();
  // The drop waits until the part has bytes on disk: a runtime's fetch may
  // discard what it had not handed over when the connection breaks.
  const written = deferred();
  const { url, log, close } = await serve({
    // The first part's first answer drops after 300,000 bytes.
    faultFor: ({ range }) => {
      if (range === null || !/^bytes=0-\d+$/.test(range) || drops.has(0)) {
        return undefined;
      }
      drops.add(0);
      return { dropAfter: 300_000, release: written.promise };
    },
  });
  await using dir = await tempDir();
  try {
    const reports: number[] = [];
    const { download } = await run(url, dir, {
      connections: 3,
      progress: (download, current) => {
        reports.push(current);
        const first = download.connections.find(({ start }) => start === 0);
        if (first !== undefined && first.written > 0) written.resolve();
      },
    });
    assert.equal(download.error(), undefined);
    await assertFileHolds(dir.join("f"), BODY);
    const starts = bounded(log.ranges).map(([start]) => start);
    // Asked again from where its writes ended, not from 0.
    assert.ok(
      starts.some((start) => start > 0 && start <= 300_000),
      `ranges: ${log.ranges}`,
    );
    assertProgress(reports, BODY.byteLength);
  } finally {
    await close();
  }
});

/**
 * Downloads over 4 connections while the `part`th part asked for is
 * answered with `fault` (a refusal, whatever it names): the download goes
 * on with fewer, keeping the parts on disk, and the whole file is asked for
 * once, by the first connection. Returns what the server sent.
 */
async function assertPartRefusedOnly(
  fault: Fault,
  part = 2,
): Promise<FileRouteLog> {
  let parts = 0;
  const { url, log, close } = await serve({
    faultFor: ({ range }) =>
      /^bytes=\d+-\d+$/.test(range ?? "") && ++parts === part
        ? fault
        : undefined,
  });
  await using dir = await tempDir();
  try {
    const { download, reports } = await run(url, dir, { connections: 4 });
    assert.equal(download.error(), undefined);
    await assertFileHolds(dir.join("f"), BODY);
    assertProgress(reports, BODY.byteLength);
    assert.deepEqual(log.ranges.filter((range) => range === null), [null]);
    return log;
  } finally {
    await close();
  }
}

test("Download with connections goes on with fewer when a server ignores the range on one, writing nothing of that answer", async () => {
  const log = await assertPartRefusedOnly({ ignoreRange: true }, 3);
  assert.ok(bounded(log.ranges).length >= 4);
});

test("Download with connections goes on with fewer when a part is answered 416 without another length, keeping every part on disk", async () => {
  // No Content-Range: the file's length and version are those every other
  // answer names.
  const log = await assertPartRefusedOnly({ status: 416 });
  assert.ok(log.statuses.includes(416));
});

test("Download with connections takes a part's 503 that names a version of its own as a refusal, not a change of the file", async () => {
  // The error page, served as a file, has an ETag and a Last-Modified of
  // its own.
  const log = await assertPartRefusedOnly({
    status: 503,
    retryAfter: "0",
    statusHeaders: {
      etag: '"error-page"',
      "last-modified": "Sun, 06 Nov 1994 08:49:37 GMT",
    },
  });
  assert.ok(log.statuses.includes(503));
});

test("Download with connections starts over on one connection when a server that offers ranges ignores them on every connection", async () => {
  // Every part is answered 200 with the whole file, and only once all four
  // are asked for: the refusals come together.
  const all = deferred<void>();
  let parts = 0;
  const { url, log, close } = await serve({
    faultFor: ({ range }) => {
      if (!/^bytes=\d+-\d+$/.test(range ?? "")) return undefined;
      if (++parts === 4) all.resolve();
      return { ignoreRange: true, answerAfter: all.promise };
    },
  });
  await using dir = await tempDir();
  try {
    const { download, reports } = await run(url, dir, { connections: 4 });
    assert.equal(download.error(), undefined);
    await assertFileHolds(dir.join("f"), BODY);
    assert.equal(bounded(log.ranges).length, 4);
    assert.equal(reports.at(-1), BODY.byteLength);
    assert.deepEqual(await dir.list(), ["f"]);
  } finally {
    await close();
  }
});

test("Download with connections starts over on one connection when the file changes between parts, never splicing two versions", async () => {
  const changed = patternBytes(BODY.byteLength + 5000, 99);
  // The first answer and two parts are of the old file; from the fourth
  // request on, the server has the new one (a 200 to an old If-Range).
  const { url, close } = await serve({
    change: 3,
    changed,
    changedEtag: '"seg-2"',
  });
  await using dir = await tempDir();
  try {
    const { download, reports } = await run(url, dir, { connections: 4 });
    assert.equal(download.error(), undefined);
    await assertFileHolds(dir.join("f"), changed);
    // Progress went back once, to start over, and ended at the new total.
    assert.equal(reports.at(-1), changed.byteLength);
    assert.ok(Math.max(...reports) <= changed.byteLength);
    assert.deepEqual(await dir.list(), ["f"]);
  } finally {
    await close();
  }
});

test("Download with connections starts over at once when the file changes while another connection waits to retry", async () => {
  const changed = patternBytes(BODY.byteLength, 99);
  // The first answer hands over at once; the first part is told to come
  // back in an hour; the second part finds the file changed.
  const { url, log, close } = await serve({
    change: 2,
    changed,
    changedEtag: '"seg-2"',
    faultFor: ({ index }) =>
      index === 0
        ? { stallAfter: 0, release: new Promise<void>(() => {}) }
        : index === 1
        ? { status: 500, retryAfter: "3600" }
        : undefined,
  });
  await using dir = await tempDir();
  try {
    // Before, the download waited out the hour before starting over.
    const { download } = await run(url, dir, {
      connections: 2,
      retryAfterCap: 3_600_000,
    });
    assert.equal(download.error(), undefined);
    await assertFileHolds(dir.join("f"), changed);
    // The waiting connection asked nothing more: the start over did.
    assert.deepEqual(log.ranges.slice(3), [null]);
  } finally {
    await close();
  }
});

test("Download with connections writes no byte of a part past its Content-Range's end", async () => {
  // A part's 206 names fewer bytes than its body holds (its Content-Length
  // counting them): the bytes past the range are no byte the server named.
  let ranged = 0;
  const { url, close } = await serve({
    faultFor: ({ range }) =>
      range !== null && ranged++ === 1
        ? { cap: 65_536, overlong: 65_536 }
        : undefined,
  });
  await using dir = await tempDir();
  try {
    const { download, reports } = await run(url, dir, { connections: 3 });
    assert.equal(download.error(), undefined);
    await assertFileHolds(dir.join("f"), BODY);
    assertProgress(reports, BODY.byteLength);
  } finally {
    await close();
  }
});

test("Download with connections refuses a part whose Content-Range is not the one asked for: its bytes are asked for again", async () => {
  let ranged = 0;
  let refused: [number, number] | undefined;
  const { url, log, close } = await serve({
    faultFor: ({ range }) => {
      if (range === null || ranged++ !== 1) return undefined;
      [refused] = bounded([range]);
      return { wrongRange: true };
    },
  });
  await using dir = await tempDir();
  try {
    const { download, reports } = await run(url, dir, { connections: 3 });
    assert.equal(download.error(), undefined);
    await assertFileHolds(dir.join("f"), BODY);
    // Every byte of the refused part was asked for again, by later requests.
    // Not each byte once: a connection that ends its part may take the far
    // half of the one asking for those bytes (whose request still runs to
    // the old end), as a loaded run did.
    assert.ok(refused !== undefined);
    const [start, end] = refused;
    const later = mergeRanges(
      bounded(log.ranges).slice(2).map(([s, e]): [number, number] => [
        Math.max(s, start),
        Math.min(e, end),
      ]),
    );
    assert.deepEqual(later, [[start, end]], `ranges: ${log.ranges}`);
    assertProgress(reports, BODY.byteLength);
  } finally {
    await close();
  }
});

/**
 * Downloads BODY over 4 connections from a server of `options`, each part
 * answered with `fault`, and checks the file whole, fetched in parts and
 * never started over on one.
 */
async function assertPartsTaken(
  fault: Fault,
  options: Partial<FileRouteOptions> = {},
  downloadOptions: DownloadOptions = {},
): Promise<void> {
  const { url, log, close } = await serve({
    faultFor: ({ range }) =>
      /^bytes=\d+-\d+$/.test(range ?? "") ? fault : undefined,
    ...options,
  });
  await using dir = await tempDir();
  try {
    const { download, reports } = await run(url, dir, {
      connections: 4,
      ...downloadOptions,
    });
    assert.equal(download.error(), undefined);
    await assertFileHolds(dir.join("f"), BODY);
    assert.equal(log.ranges.filter((range) => range === null).length, 1);
    assert.ok(bounded(log.ranges).length >= 3, `ranges: ${log.ranges}`);
    assertProgress(reports, BODY.byteLength);
  } finally {
    await close();
  }
}

test("Download with connections takes parts whose Content-Range is written bytes=, as curl and aria2 do", async () => {
  await assertPartsTaken({}, {
    contentRange: (first, last, total) => `bytes=${first}-${last}/${total}`,
  });
});

test("Download with connections takes parts answered from the start of their block (a cache's aligned 206), writing only the part", async () => {
  await assertPartsTaken({ alignTo: 1024 * 1024 });
});

test("Download with connections takes parts the server sends in pieces of its own size (a 206 short of the part), spending no retry", async () => {
  await assertPartsTaken({ cap: 700_000 }, {}, { retries: 0 });
});

test("Download with connections takes a part answered to the end of the file (an open-ended 206), writing only the part", async () => {
  await assertPartsTaken({ openEnded: true });
});

test("Download with connections saves the file's bytes on every runtime when a server compresses its parts anyway", async () => {
  // Bytes gzip cannot shrink: written as they came (Deno's `fetch` does not
  // decode them), the compressed parts would fill the file, wrong.
  const body = new Uint8Array(randomBytes(3 * MiB));
  const ranges: (string | null)[] = [];
  await using server = await startServer({
    "/f": (request, response) => {
      const range = request.headers.range ?? null;
      ranges.push(range);
      const headers = { etag: ETAG, "accept-ranges": "bytes" };
      const match = /^bytes=(\d+)-(\d+)$/.exec(range ?? "");
      if (match === null) {
        response.writeHead(200, {
          ...headers,
          "content-length": body.byteLength,
        }).end(body);
        return;
      }
      const [start, end] = [Number(match[1]), Number(match[2])];
      const part = gzipSync(body.subarray(start, end + 1));
      response.writeHead(206, {
        ...headers,
        "content-encoding": "gzip",
        "content-range": `bytes ${start}-${end}/${body.byteLength}`,
        "content-length": part.byteLength,
      }).end(part);
    },
  });
  await using dir = await tempDir();
  const { download } = await run(server.url("/f"), dir, { connections: 4 });
  assert.equal(download.error(), undefined);
  assert.equal(download.state, "done");
  // By digest: a diff of 3 MiB of random bytes would take minutes to print.
  const digest = (bytes: Uint8Array): string =>
    createHash("sha256").update(bytes).digest("hex");
  assert.equal(digest(await readFile(dir.join("f"))), digest(body));
  // In parts, never started over on one.
  assert.ok(bounded(ranges).length >= 2, `ranges: ${ranges}`);
  assert.equal(ranges.filter((range) => range === null).length, 1);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download with connections backs off to what the server allows (503 beyond 2), and succeeds", async () => {
  const { url, log, close } = await serve({ maxActive: 2 });
  await using dir = await tempDir();
  try {
    const { download, reports } = await run(url, dir, { connections: 4 });
    assert.equal(download.error(), undefined);
    await assertFileHolds(dir.join("f"), BODY);
    assert.ok(log.mostActive <= 2);
    assertProgress(reports, BODY.byteLength);
  } finally {
    await close();
  }
});

/**
 * Downloads over 4 connections from a server that answers the 4 parts'
 * requests with `refusal`, all 4 once all have come, so that the refusals
 * reach the download together, and serves every request after them:
 * asserts the download succeeds.
 */
async function refusedAtOnce(refusal: Fault): Promise<void> {
  const all = deferred();
  let parts = 0;
  const { url, log, close } = await serve({
    faultFor: ({ range }) => {
      if (!/^bytes=\d+-\d+$/.test(range ?? "")) return undefined;
      if (++parts > 4) return undefined;
      if (parts === 4) all.resolve();
      return { ...refusal, answerAfter: all.promise };
    },
  });
  await using dir = await tempDir();
  try {
    const { download, reports } = await run(url, dir, { connections: 4 });
    assert.equal(download.error(), undefined);
    await assertFileHolds(dir.join("f"), BODY);
    assert.equal(
      log.statuses.filter((status) => status === refusal.status).length,
      4,
    );
    assertProgress(reports, BODY.byteLength);
  } finally {
    await close();
  }
}

test("Download with connections goes on with one when the server refuses every part at once (503), never failing while retries are left", async () => {
  // One connection must stay, and retry.
  await refusedAtOnce({ status: 503, retryAfter: "0" });
});

test("Download with connections goes on with one when a proxy's connection limit refuses every part at once (squid's maxconn 403)", async () => {
  // Squid 5.7 with `acl maxc maxconn 2` and `http_access deny maxc`, seen
  // with 4 connections: each part's request (a CONNECT, for an https URL),
  // sent while the 4 were open, was answered this 403, the 4 together; one
  // sent alone once the others had closed got its answer.
  await refusedAtOnce({
    status: 403,
    statusHeaders: {
      "x-squid-error": "ERR_ACCESS_DENIED 0",
      "x-cache": "MISS from proxy",
      via: "1.1 proxy (squid/5.7)",
      connection: "keep-alive",
    },
  });
});

test("Download with connections fails with the 403 when a part asked alone is refused so too", async () => {
  const { url, log, close } = await serve({
    faultFor: ({ range }) =>
      /^bytes=\d+-\d+$/.test(range ?? "") ? { status: 403 } : undefined,
  });
  await using dir = await tempDir();
  try {
    const { download } = await run(url, dir, { connections: 4 });
    const error = download.error();
    assert.ok(error instanceof HTTPError, `${error}`);
    assert.equal(error.status, 403);
    // The 4 parts asked together, then one asked alone: no more.
    assert.equal(log.statuses.filter((status) => status === 403).length, 5);
  } finally {
    await close();
  }
});

test("Download with connections meets minSpeed by all its connections together, each slower than it", async () => {
  // Each answer comes at 1 MiB/s (a server's cap per connection), four at
  // once at 4 MiB/s: a minimum of 1.25 MiB/s is the download's, met, with
  // room for a loaded machine. Each connection alone, held to the minimum,
  // would be given up in its first window, twice, before its 2 MiB part is
  // in. One retry: the last part to end may run alone long enough for the
  // download to fall short (a server's cap, as on one connection).
  const { url, log, close } = await serve({
    faultFor: () => ({ pace: MiB }),
  });
  await using dir = await tempDir();
  try {
    const { download, reports } = await run(url, dir, {
      connections: 4,
      minSpeed: 1.25 * MiB,
      minSpeedWindow: 600,
      retries: 1,
    });
    assert.equal(download.error(), undefined);
    await assertFileHolds(dir.join("f"), BODY);
    assert.ok(log.mostActive >= 2, `${log.mostActive} at once`);
    assertProgress(reports, BODY.byteLength);
  } finally {
    await close();
  }
});

test("Download with connections gives up, on minSpeed, a crawling connection once it holds the download back, and fetches its rest again", async () => {
  // The first bounded part's first answer crawls at 64 KiB/s; every other
  // answer comes at once.
  let crawler: string | undefined;
  const { url, log, close } = await serve({
    faultFor: ({ range }) => {
      if (!/^bytes=\d+-\d+$/.test(range ?? "")) return undefined;
      if (crawler !== undefined) return undefined;
      crawler = range ?? "";
      return { pace: 64 * 1024 };
    },
  });
  await using dir = await tempDir();
  try {
    const reports: number[] = [];
    const retries: unknown[] = [];
    const download = new Download(url, dir.join("f"), {
      ...FAST,
      connections: 4,
      minSpeed: MiB,
      minSpeedWindow: 300,
      // More than one: a loaded machine may starve a fast one too.
      retries: 3,
      progress: (_d, current) => reports.push(current),
    });
    download.addEventListener("retry", ({ error }) => retries.push(error));
    download.start();
    await download.wait();
    await assertFileHolds(dir.join("f"), BODY);
    assert.ok(retries.length >= 1);
    for (const slow of retries) {
      assert.ok(
        slow instanceof TimeoutError && slow.phase === "slow",
        `${slow}`,
      );
    }
    // The crawler's answer was given up before its end.
    const crawled = log.ranges.indexOf(crawler ?? "");
    assert.ok(
      (log.sent[crawled] as number) < 2 * MiB,
      `${log.sent[crawled]} bytes`,
    );
    assertProgress(reports, BODY.byteLength);
  } finally {
    await close();
  }
});

test("Download with connections gives up on minSpeed when all its connections together come slower", async () => {
  const { url, close } = await serve({ faultFor: () => ({ pace: 2 * MiB }) });
  await using dir = await tempDir();
  try {
    const { download } = await run(url, dir, {
      connections: 4,
      minSpeed: 64 * MiB,
      minSpeedWindow: 300,
      retries: 0,
    });
    const error = download.error();
    assert.ok(error instanceof TimeoutError, `${error}`);
    assert.equal(error.phase, "slow");
    assert.equal(error.minSpeed, 64 * MiB);
    // The download's speed, not one connection's.
    assert.ok((error.speed ?? Infinity) < 64 * MiB);
    assert.deepEqual(await readdir(dir.path), []);
  } finally {
    await close();
  }
});

test("Download with connections does not use up a part's retries while each of its attempts moves it on by a MiB or more", async () => {
  // Every part's answer is dropped 1.5 MiB in, once the download's parts
  // show that it has those bytes; an answer with less left ends well.
  const DROP = 1.5 * MiB;
  const holds: { from: number; release: () => void }[] = [];
  const { url, log, close } = await serve({
    faultFor: ({ range }) => {
      const match = /^bytes=(\d+)-(\d+)$/.exec(range ?? "");
      if (match === null) return undefined;
      const from = Number(match[1]);
      if (Number(match[2]) + 1 - from <= DROP) return undefined;
      const release = deferred();
      holds.push({ from, release: release.resolve });
      return { dropAfter: DROP, release: release.promise };
    },
  });
  await using dir = await tempDir();
  try {
    const attempts: number[] = [];
    const download = new Download(url, dir.join("f"), {
      ...FAST,
      connections: 2,
      retries: 1,
      progress: (d) => {
        for (const { start, end, written } of d.connections) {
          for (const hold of holds) {
            if (
              hold.from >= start && hold.from < end &&
              start + written >= hold.from + DROP
            ) hold.release();
          }
        }
      },
    });
    download.addEventListener("retry", ({ attempt }) => attempts.push(attempt));
    download.start();
    await download.wait();
    await assertFileHolds(dir.join("f"), BODY);
    assert.ok(attempts.length >= 2, `${attempts}`);
    assert.ok(attempts.every((attempt) => attempt === 1), `${attempts}`);
    assert.ok(bounded(log.ranges).length > 2, `${log.ranges}`);
  } finally {
    await close();
  }
});

test("Download with connections fails with the error of a progress callback that throws, stopping every connection", async () => {
  // Every part stalls after its first bytes, and only a stop ends it: the
  // callback throws once they are all on disk (told at once, or by the
  // timer that reports a burst's last write). No timeout would end it: if
  // the throw stopped nothing, the test's deadline does, and says so.
  const release = deferred();
  const { url, close } = await serve({
    faultFor: ({ range }) => ({
      stallAfter: range === null ? 0 : 200_000,
      release: release.promise,
    }),
  });
  await using dir = await tempDir();
  let deadline: ReturnType<typeof setTimeout> | undefined;
  try {
    const boom = new Error("boom");
    const download = new Download(url, dir.join("f"), {
      ...FAST,
      connections: 4,
      idleTimeout: 600_000,
      progress: (_d, current) => {
        if (current >= 4 * 200_000) throw boom;
      },
    });
    let stuck = false;
    deadline = setTimeout(() => {
      stuck = true;
      download.cancel();
    }, 30_000);
    download.start();
    await download.wait({ raiseIfError: false });
    assert.equal(stuck, false, "the connections went on after the throw");
    assert.equal(download.error(), boom);
    assert.deepEqual(await dir.list(), []);
  } finally {
    clearTimeout(deadline);
    release.resolve();
    await close();
  }
});

test("Download with connections checks a digest over the whole file", async () => {
  const { url, close } = await serve();
  await using dir = await tempDir();
  try {
    const sha256 = createHash("sha256").update(BODY).digest("hex");
    const good = await run(url, dir, { connections: 4, sha256 });
    assert.equal(good.download.error(), undefined);
    await using other = await tempDir();
    const bad = await run(url, other, {
      connections: 4,
      sha256: "0".repeat(64),
    });
    assert.equal(bad.download.error()?.constructor.name, "IntegrityError");
    assert.deepEqual(await other.list(), []);
  } finally {
    await close();
  }
});

test("Download with connections stops every connection at once on cancel, leaving nothing", async () => {
  const release = deferred();
  const { url, log, close } = await serve({
    faultFor: ({ range }) =>
      range === null
        ? undefined
        : { stallAfter: 100_000, release: release.promise },
  });
  await using dir = await tempDir();
  try {
    const download = new Download(url, dir.join("f"), {
      ...FAST,
      connections: 4,
      progress: (_d, current) => {
        // Every part has sent what it sends before its stall.
        if (current >= 4 * 100_000) download.cancel();
      },
    });
    download.start();
    await assert.rejects(download.wait(), DownloadInterrupt);
    // Every part's connection was closed by the client, not left to drain.
    const parts = log.ranges.flatMap((range, i) =>
      range === null ? [] : [log.abandoned[i]]
    );
    await Promise.all(parts);
    assert.deepEqual(await dir.list(), []);
  } finally {
    release.resolve();
    await close();
  }
});

test("Download with connections fails with one FileSystemError ENOSPC on a full disk, asking no mirror, retrying nothing, and leaves nothing", async (t) => {
  const { url, log, close } = await serve();
  const mirror = fileRoute({ body: BODY, etag: ETAG });
  await using other = await startServer({ "/f": mirror.route });
  await using dir = await tempDir();
  await mkdir(dir.join("m"));
  // Half the file's room: the parts fill it as they land.
  await using disk = mount(
    ["-t", "tmpfs", "-o", "size=4m", "tmpfs"],
    dir.join("m"),
  );
  if (disk === undefined) {
    t.skip("needs root, to mount a tmpfs");
    await close();
    return;
  }
  try {
    const download = new Download([url, other.url("/f")], dir.join("m", "f"), {
      ...FAST,
      connections: 4,
    });
    const retries: unknown[] = [];
    download.addEventListener("retry", (event) => retries.push(event.error));
    download.start();
    await download.wait({ raiseIfError: false });
    const error = download.error();
    assert.ok(error instanceof FileSystemError, String(error));
    assert.equal(error.code, "ENOSPC");
    assert.equal(error.path, dir.join("m", "f"));
    assert.deepEqual(retries, []);
    // The first connection, then at most one request per part (a part not
    // asked yet when the disk filled is not asked at all): none again.
    assert.ok(log.ranges.length <= 5, `${log.ranges}`);
    assert.equal(new Set(log.ranges).size, log.ranges.length);
    assert.deepEqual(mirror.log.ranges, []);
    assert.deepEqual(await dir.list("m"), []);
  } finally {
    await close();
  }
});

// Another program takes the partial file away while every part stalls:
// each connection's writer, open on the file, would write on into it
// without an error until the whole file was fetched in vain. (A removed
// directory failed the sidecar's next checkpoint already; the others did
// not fail until the idle timeout, and then retried.)
for (
  const [what, takeAway] of [
    ["its partial file is removed", async (dir: TempDir) => {
      for (const name of await dir.list("d")) {
        if (/\.dlpart\.[0-9a-f]{16}-/.test(name)) await rm(dir.join("d", name));
      }
    }],
    ["its directory is removed", async (dir: TempDir) => {
      await rm(dir.join("d"), { recursive: true });
    }],
    ["its directory is replaced", async (dir: TempDir) => {
      await rm(dir.join("d"), { recursive: true });
      await mkdir(dir.join("d"));
    }],
  ] as const
) {
  test(`Download with connections fails with FileSystemError ENOENT, at once, stopping every connection, when ${what}`, async () => {
    const release = deferred();
    const { url, log, close } = await serve({
      faultFor: ({ range }) =>
        range === null
          ? undefined
          : { stallAfter: 100_000, release: release.promise },
    });
    await using dir = await tempDir();
    await mkdir(dir.join("d"));
    try {
      // No retry would mend it, and the idle timeout is far off.
      const download = new Download(url, dir.join("d", "f"), {
        ...FAST,
        connections: 4,
        idleTimeout: 10_000,
      });
      const retries: unknown[] = [];
      download.addEventListener("retry", (event) => retries.push(event.error));
      const stalled = deferred();
      download.addEventListener("progress", (event) => {
        // Every part has sent what it sends before its stall.
        if (event.current >= 4 * 100_000) stalled.resolve();
      });
      download.start();
      await stalled.promise;
      await takeAway(dir);
      await download.wait({ raiseIfError: false });
      const error = download.error();
      assert.ok(error instanceof FileSystemError, String(error));
      assert.equal(error.code, "ENOENT");
      assert.equal(error.path, dir.join("d", "f"));
      assert.deepEqual(retries, []);
      // Every part's connection was closed by the client.
      await Promise.all(
        log.ranges.flatMap((range, i) =>
          range === null ? [] : [log.abandoned[i]]
        ),
      );
      // Nothing under the final name, nothing left behind.
      const gone = what === "its directory is removed";
      assert.deepEqual(await dir.list(), gone ? [] : ["d"]);
      if (!gone) assert.deepEqual(await dir.list("d"), []);
    } finally {
      release.resolve();
      await close();
    }
  });
}

test('Download on connections "auto", resumed from parts from a distant server, opens more connections at its first answer', async () => {
  // More than a ramp's early step asks for (EARLY_BYTES) is left after the
  // first run, and the server is 15 ms away by a name not this machine's
  // (mapped to 127.0.0.1 by the fetch): the first answer after the resume
  // makes it 16 connections. The first part after the resume stalls until
  // a second is asked for (or 60 s, and the test fails).
  const big = patternBytes(EARLY_BYTES + 8 * MiB, 5);
  const release = deferred();
  const second = deferred<number>();
  const deadline = setTimeout(() => second.resolve(0), 60_000);
  let resumed = false;
  let parts = 0;
  const { route, log } = fileRoute({
    body: big,
    etag: ETAG,
    faultFor: ({ range, active }) => {
      if (!resumed) {
        return {
          stallAfter: range === null ? 0 : 200_000,
          release: release.promise,
        };
      }
      const late = new Promise<void>((resolve) => setTimeout(resolve, 15));
      if (++parts === 1) {
        return {
          answerAfter: late,
          stallAfter: 1,
          release: second.promise.then(() => {}),
        };
      }
      second.resolve(active);
      return { answerAfter: late };
    },
  });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const { port } = new URL(server.url("/f"));
  const url = `http://distant.test:${port}/f`;
  const mapped: typeof fetch = (input, init) =>
    fetch(String(input).replace("//distant.test:", "//127.0.0.1:"), init);
  const recorded = await stopWithParts(url, dir, { fetch: mapped });
  release.resolve();
  resumed = true;
  const before = log.ranges.length;
  try {
    const { download, reports } = await run(url, dir, { fetch: mapped });
    assert.equal(download.error(), undefined);
    // The second part was asked for while the first was still open.
    assert.ok(
      (await second.promise) >= 2,
      "a single connection after the resume",
    );
    await assertFileHolds(dir.join("f"), big);
    assertProgress(reports, big.byteLength);
    // No recorded byte was asked for again.
    const asked = log.ranges.slice(before);
    assert.equal(bounded(asked).length, asked.length, `${asked}`);
    for (const [start, end] of bounded(asked)) {
      assert.ok(
        recorded.every(([s, e]) => end <= s || start >= e),
        `asked again for recorded bytes: ${start}-${end - 1}`,
      );
    }
    assert.deepEqual(await dir.list(), ["f"]);
  } finally {
    clearTimeout(deadline);
  }
});

test("Download with connections: 16 keeps every connection's listener off Node's leak warning", async () => {
  // 16 parts of about 1.25 MiB, all asked for at once: a listener on the
  // download's signals from each.
  const body = patternBytes(20 * MiB, 9);
  const { route, log } = fileRoute({ body, etag: ETAG });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  using warnings = recordWarnings();
  const download = new Download(server.url("/f"), dir.join("f"), {
    ...FAST,
    connections: 16,
  });
  download.start();
  await download.wait();
  await assertFileHolds(dir.join("f"), body);
  assert.equal(bounded(log.ranges).length, 16);
  await warnings.settled();
  assert.deepEqual(warnings.names, []);
});

test("DownloadManager's maxConnectionsPerHost bounds the connections of all its downloads to one host", async () => {
  const { route, log } = fileRoute({ body: BODY, etag: ETAG });
  const { route: route2, log: log2 } = fileRoute({ body: BODY, etag: ETAG });
  await using server = await startServer({ "/a": route, "/b": route2 });
  await using dir = await tempDir();
  const manager = dir.manager({
    ...FAST,
    connections: 4,
    maxConnectionsPerHost: 3,
  });
  manager.download(server.url("/a"));
  manager.download(server.url("/b"));
  await manager.wait();
  await assertFileHolds(dir.join("a"), BODY);
  await assertFileHolds(dir.join("b"), BODY);
  // Each download has its first connection; one more is all the budget
  // leaves, shared.
  assert.ok(log.mostActive + log2.mostActive <= 4);
});

test("DownloadManager's maxConnectionsPerHost: 1 keeps a download with connections on its one request, never split", async () => {
  const { url, log, close } = await serve();
  await using dir = await tempDir();
  try {
    const manager = dir.manager({
      ...FAST,
      connections: 4,
      maxConnectionsPerHost: 1,
    });
    manager.download(url);
    await manager.wait();
    await assertFileHolds(dir.join("f"), BODY);
    assert.deepEqual(log.ranges, [null]);
  } finally {
    await close();
  }
});

test("DownloadManager's download held to fewer connections by maxConnectionsPerHost opens more once another download frees them", async () => {
  // The budget is 2 per host. "a" takes both, its two parts held open;
  // "b" then has its first connection only, its part held open too. Once
  // "a" ends, "b" asks for another part while its first is still open (or
  // the test fails after 60 s).
  const releaseA = deferred();
  const releaseB = deferred();
  const more = deferred<boolean>();
  const deadline = setTimeout(() => more.resolve(false), 60_000);
  let partsOfA = 0;
  let partsOfB = 0;
  const a = fileRoute({
    body: BODY,
    etag: ETAG,
    // Its first two parts are held; the rest of the file comes at once.
    faultFor: ({ range }) =>
      range !== null && ++partsOfA <= 2
        ? { stallAfter: 100_000, release: releaseA.promise }
        : undefined,
  });
  const b = fileRoute({
    body: BODY,
    etag: ETAG,
    faultFor: ({ range, active }) => {
      if (range === null) return undefined;
      if (++partsOfB === 1) {
        return { stallAfter: 100_000, release: releaseB.promise };
      }
      if (active >= 2) more.resolve(true);
      return undefined;
    },
  });
  await using server = await startServer({ "/a": a.route, "/b": b.route });
  await using dir = await tempDir();
  const manager = dir.manager({
    ...FAST,
    connections: 2,
    maxConnectionsPerHost: 2,
  });
  try {
    const aHeld = deferred();
    const first = manager.download(server.url("/a"), {
      progress: (_d, current) => {
        if (current >= 2 * 100_000) aHeld.resolve();
      },
    });
    await aHeld.promise;
    assert.equal(first?.connections.length, 2);
    const bHeld = deferred();
    const second = manager.download(server.url("/b"), {
      progress: (_d, current) => {
        if (current >= 100_000) bHeld.resolve();
      },
    });
    await bHeld.promise;
    assert.equal(second?.connections.length, 1);
    releaseA.resolve();
    await first?.wait();
    assert.equal(await more.promise, true);
  } finally {
    clearTimeout(deadline);
    releaseA.resolve();
    releaseB.resolve();
    await manager.wait();
  }
  await assertFileHolds(dir.join("a"), BODY);
  await assertFileHolds(dir.join("b"), BODY);
});

test("DownloadManager's maxConnectionsPerHost counts a download's connections against the host of the source they go to, not its first URL's", async () => {
  // The budget is 2 per host. "held" takes both on the server's host, its
  // parts held open; then "x", whose first URL is on a host that is down,
  // goes on to its mirror on the server's host: its first connection is
  // always counted, but no other may open there.
  const release = deferred();
  let released = false;
  const held = fileRoute({
    body: BODY,
    etag: ETAG,
    faultFor: ({ range }) =>
      range === null || released
        ? undefined
        : { stallAfter: 100_000, release: release.promise },
  });
  const mirror = fileRoute({ body: BODY, etag: ETAG });
  await using server = await startServer({
    "/held": held.route,
    "/x": mirror.route,
  });
  const down = await startServer({});
  const downUrl = down.url("/x");
  await down.close();
  await using dir = await tempDir();
  const manager = dir.manager({
    ...FAST,
    connections: 4,
    maxConnectionsPerHost: 2,
  });
  try {
    const stalled = deferred();
    const first = manager.download(server.url("/held"), {
      progress: (_d, current) => {
        if (current >= 2 * 100_000) stalled.resolve();
      },
    });
    await stalled.promise;
    assert.equal(first?.connections.length, 2);
    let most = 0;
    const x = manager.download([downUrl, server.url("/x")], {
      progress: (download) => {
        most = Math.max(most, download.connections.length);
      },
    });
    await x?.wait();
    assert.equal(x?.getFinalUrl(), server.url("/x"));
    await assertFileHolds(dir.join("x"), BODY);
    assert.equal(most, 1);
  } finally {
    released = true;
    release.resolve();
    await manager.wait();
  }
  await assertFileHolds(dir.join("held"), BODY);
});

/**
 * The budget's tests of redirects: "/x" and "/y" served by `storage`, whose
 * parts (Range requests) are held after 100,000 bytes until `release()`,
 * and counted while they are answered; host `a` sends "/x" there (302), as
 * github.com sends its files to objects.githubusercontent.com, and host `b`
 * "/y". `more` adds routes to `storage`.
 */
async function sentToOneServer(
  more: Record<string, Route> = {},
): Promise<
  {
    storage: TestServer;
    a: TestServer;
    b: TestServer;
    /** The parts being answered now. */
    parts: () => number;
    /** The most parts answered at once. */
    mostParts: () => number;
    release: () => void;
  } & AsyncDisposable
> {
  const gate = deferred();
  let released = false;
  let parts = 0;
  let mostParts = 0;
  const routes: Record<string, Route> = { ...more };
  for (const file of ["x", "y"]) {
    const { route } = fileRoute({
      body: BODY,
      etag: ETAG,
      faultFor: ({ range }: RequestInfo): Fault | undefined =>
        range === null || released
          ? undefined
          : { holdAfter: 100_000, release: gate.promise },
    });
    routes[`/${file}`] = (request, response) => {
      if (request.headers.range !== undefined) {
        mostParts = Math.max(mostParts, ++parts);
        response.on("close", () => parts--);
      }
      return route(request, response);
    };
  }
  const storage = await startServer(routes);
  const redirect = (path: string): Route => (_request, response) => {
    response.writeHead(302, { location: storage.url(path) }).end();
  };
  const a = await startServer({ "/x": redirect("/x") });
  const b = await startServer({ "/y": redirect("/y") });
  const release = (): void => {
    released = true;
    gate.resolve();
  };
  return {
    storage,
    a,
    b,
    parts: () => parts,
    mostParts: () => mostParts,
    release,
    async [Symbol.asyncDispose](): Promise<void> {
      release();
      await Promise.all([storage.close(), a.close(), b.close()]);
    },
  };
}

/** A manager's download of `url`, its progress watched. */
function watched(manager: DownloadManager, url: string): {
  download: Download;
  /**
   * Resolves once `bytes` are on disk; {@linkcode most} counts from now.
   */
  reaches(bytes: number): Promise<void>;
  /** The most connections it had at a progress report. */
  most(): number;
} {
  let most = 0;
  let waiting: { bytes: number; done: () => void } | undefined;
  const download = manager.download(url, {
    progress: (download, current) => {
      most = Math.max(most, download.connections.length);
      if (waiting !== undefined && current >= waiting.bytes) waiting.done();
    },
  });
  assert.ok(download !== null);
  return {
    download,
    reaches(bytes): Promise<void> {
      most = 0;
      const done = deferred();
      waiting = { bytes, done: done.resolve };
      return done.promise;
    },
    most: () => most,
  };
}

/** The manager of the budget's tests of redirects: `perHost` per host. */
function managerFor(dir: TempDir, perHost: number): DownloadManager {
  return dir.manager({
    ...FAST,
    connections: 4,
    maxConnectionsPerHost: perHost,
  });
}

/** Downloads "/x" (host `a`'s) until its three parts are held. */
async function xHoldsThree(
  manager: DownloadManager,
  a: TestServer,
): Promise<void> {
  const x = watched(manager, a.url("/x"));
  await x.reaches(3 * 100_000);
  assert.equal(x.download.connections.length, 3);
}

/** Asserts `y` kept to one connection: its parts claimed, and those open. */
function assertOneConnection(y: ReturnType<typeof watched>): void {
  assert.equal(y.most(), 1);
  assert.equal(y.download.connections.length, 1);
}

/** Asserts "x" and "y" both hold the whole body, once both have ended. */
async function assertBothWhole(dir: TempDir): Promise<void> {
  await assertFileHolds(dir.join("x"), BODY);
  await assertFileHolds(dir.join("y"), BODY);
}

test("DownloadManager's maxConnectionsPerHost counts a download's connections against the host its redirects lead to: two hosts sent to one server open no more than its budget there", async () => {
  // The budget is 3 per host. "x", asked of one host, and "y", of another,
  // are both sent to one server (as github.com and codeload.github.com send
  // theirs to objects.githubusercontent.com). "x" takes the server's three
  // connections, its parts held open; "y" then has its first connection
  // only: the host it asked has room, the server its bytes come from none.
  await using servers = await sentToOneServer();
  await using dir = await tempDir();
  const manager = managerFor(dir, 3);
  try {
    await xHoldsThree(manager, servers.a);
    const y = watched(manager, servers.b.url("/y"));
    await y.reaches(100_000);
    // Its parts were claimed as its connections opened: one.
    assertOneConnection(y);
    // At the server: x's three, and y's first connection (counted whatever
    // the count, as a download's first always is).
    assert.equal(servers.parts(), 4);
    assert.equal(servers.mostParts(), 4);
  } finally {
    servers.release();
    await manager.wait();
  }
  await assertBothWhole(dir);
});

test("DownloadManager's download resumed in parts through a redirect opens its other connections only once an answer tells the host they are counted against", async () => {
  // The budget is 3 per host. "y", asked of one host and sent to the
  // server, was left in parts; "x", sent there from another host, holds the
  // server's three connections. Resumed, "y" asks one part first: only its
  // answer tells where the bytes come from, and there is no room there.
  await using servers = await sentToOneServer();
  await using dir = await tempDir();
  const stopped = new Download(servers.b.url("/y"), dir.join("y"), {
    ...FAST,
    connections: 3,
    progress: (_d, current) => {
      if (current >= 3 * 100_000) stopped.cancel({ keepPartial: true });
    },
  });
  stopped.start();
  await assert.rejects(stopped.wait(), DownloadInterrupt);
  const onDisk = readSidecar(partialPaths(dir.join("y")).sidecar)?.ranges;
  assert.ok(onDisk !== undefined && onDisk.length > 1, `${onDisk}`);
  const manager = managerFor(dir, 3);
  try {
    await xHoldsThree(manager, servers.a);
    const y = watched(manager, servers.b.url("/y"));
    // What was on disk, and a part held.
    await y.reaches(4 * 100_000);
    assertOneConnection(y);
  } finally {
    servers.release();
    await manager.wait();
  }
  await assertBothWhole(dir);
});

test("DownloadManager's download paused after a redirect is counted again, resumed, against the host its bytes came from", async () => {
  // The budget is 3 per host. "y", asked of one host and sent to the
  // server, is paused with its parts on disk; "x", sent there from another
  // host, then holds the server's three connections. Resumed, "y" is
  // counted against the server at once: no room for another connection.
  await using servers = await sentToOneServer();
  await using dir = await tempDir();
  const manager = managerFor(dir, 3);
  try {
    const y = watched(manager, servers.b.url("/y"));
    await y.reaches(3 * 100_000);
    await y.download.pause();
    await xHoldsThree(manager, servers.a);
    // What was on disk, and a part held.
    const held = y.reaches(4 * 100_000);
    y.download.resume();
    await held;
    assertOneConnection(y);
  } finally {
    servers.release();
    await manager.wait();
  }
  await assertBothWhole(dir);
});

test("DownloadManager's maxConnectionsPerHost does not hold a download back by the host it asks when its redirects lead elsewhere, and two downloads sent into each other's hosts both end", async () => {
  // The budget is 2 per host, on two servers. "x" is served by the first,
  // and holds both of its connections there. "v", asked of the second, is
  // sent to the first: its first connection only. "w", asked of the first,
  // is sent to the second, which has room: two connections, though the
  // host it asked has none to spare.
  const sentTo = (url: () => string): Route => (_request, response) => {
    response.writeHead(302, { location: url() }).end();
  };
  await using second = await sentToOneServer({
    "/v": sentTo(() => first.storage.url("/y")),
  });
  await using first = await sentToOneServer({
    "/w": sentTo(() => second.storage.url("/x")),
  });
  await using dir = await tempDir();
  const manager = managerFor(dir, 2);
  try {
    const x = watched(manager, first.storage.url("/x"));
    await x.reaches(2 * 100_000);
    assert.equal(x.download.connections.length, 2);
    const v = watched(manager, second.storage.url("/v"));
    await v.reaches(100_000);
    assert.equal(v.most(), 1);
    const w = watched(manager, first.storage.url("/w"));
    await w.reaches(100_000);
    assert.equal(w.download.connections.length, 2);
    assert.equal(first.mostParts(), 3);
    assert.equal(second.mostParts(), 2);
  } finally {
    first.release();
    second.release();
    await manager.wait();
  }
  for (const name of ["x", "v", "w"]) {
    await assertFileHolds(dir.join(name), BODY);
  }
});

test(
  "Download with connections, killed with 4 parts in flight, is resumed by another process that fetches only what is missing",
  {
    timeout: 60_000,
  },
  async () => {
    const release = deferred();
    let inFirstRun = true;
    const { route, log } = fileRoute({
      body: BODY,
      etag: ETAG,
      // In the first run, every part stalls after 600,000 bytes.
      faultFor: ({ range }) =>
        inFirstRun && range !== null
          ? { stallAfter: 600_000, release: release.promise }
          : undefined,
    });
    await using server = await startServer({ "/f": route });
    await using dir = await tempDir();
    const paths = partialPaths(dir.join("f"));
    const child = startChild("crash_child", [
      server.url("/f"),
      dir.join("f"),
      JSON.stringify({ connections: 4 }),
    ]);
    try {
      await child.line((line) => Number(line) >= 4 * 600_000);
      // The sidecar records the parts on disk (at least every second).
      const recorded = await whenRecorded(paths.sidecar, 4 * 600_000);
      child.process.kill("SIGKILL");
      assert.equal(await child.exited, "SIGKILL");
      inFirstRun = false;
      const before = log.sent.length;
      const { download } = await run(server.url("/f"), dir, { connections: 4 });
      assert.equal(download.error(), undefined);
      await assertFileHolds(dir.join("f"), BODY);
      // Only the missing bytes were sent again: nothing of what was recorded.
      const sent = log.sent.slice(before).reduce(
        (sum, bytes) => sum + bytes,
        0,
      );
      const recordedBytes = size(recorded);
      const sidecar = readSidecar(paths.sidecar);
      assert.equal(sidecar, undefined);
      assert.ok(recordedBytes >= 4 * 600_000);
      assert.ok(
        sent <= BODY.byteLength - recordedBytes,
        `sent ${sent}, missing ${BODY.byteLength - recordedBytes}`,
      );
      for (const [start, end] of bounded(log.ranges.slice(before))) {
        assert.ok(
          recorded.every(([s, e]) => end <= s || start >= e),
          `asked again for recorded bytes ${start}-${end}`,
        );
      }
      assert.deepEqual(await dir.list(), ["f"]);
    } finally {
      release.resolve();
      child.process.kill("SIGKILL");
    }
  },
);

function size(ranges: [number, number][]): number {
  return ranges.reduce((sum, [start, end]) => sum + end - start, 0);
}

test("Download with connections, resumed from parts by its next source, tells that source as the one the bytes came from", async () => {
  // Both sources serve the file, of one ETag. The first run stops with
  // parts from the first; in the second, the first is gone (404), and the
  // second source fetches what is missing.
  const release = deferred();
  let resumed = false;
  const first = fileRoute({
    body: BODY,
    etag: ETAG,
    faultFor: ({ range }) =>
      resumed ? { status: 404 } : {
        stallAfter: range === null ? 0 : 200_000,
        release: release.promise,
      },
  });
  const second = fileRoute({ body: BODY, etag: ETAG });
  await using server = await startServer({
    "/first/f": first.route,
    "/second/f": second.route,
  });
  await using dir = await tempDir();
  const urls = [server.url("/first/f"), server.url("/second/f")];
  try {
    const stopped = new Download(urls, dir.join("f"), {
      ...FAST,
      connections: 4,
      progress: (_d, current) => {
        if (current >= 4 * 200_000) stopped.cancel({ keepPartial: true });
      },
    });
    stopped.start();
    await assert.rejects(stopped.wait(), DownloadInterrupt);
    assert.equal(stopped.partialKept, true);
    release.resolve();
    resumed = true;
    const download = new Download(urls, dir.join("f"), {
      ...FAST,
      connections: 4,
    });
    download.start();
    await download.wait();
    await assertFileHolds(dir.join("f"), BODY);
    // Only parts were asked of the second source: it resumed them.
    assert.ok(second.log.ranges.length > 0);
    assert.equal(bounded(second.log.ranges).length, second.log.ranges.length);
    assert.equal(download.getFinalUrl(), server.url("/second/f"));
  } finally {
    release.resolve();
  }
});

// The command line counts the bytes a run fetched from the first progress
// report: a resumed download's must be what was on disk, before any new part.
test("Download with connections, resumed from parts, reports the bytes on disk first", async () => {
  const release = deferred();
  let resumed = false;
  const { url, close } = await serve({
    faultFor: ({ range }) =>
      resumed ? undefined : {
        stallAfter: range === null ? 0 : 200_000,
        release: release.promise,
      },
  });
  await using dir = await tempDir();
  try {
    const recorded = await stopWithParts(url, dir);
    release.resolve();
    resumed = true;
    const { download, reports } = await run(url, dir, { connections: 4 });
    assert.equal(download.error(), undefined);
    assert.equal(
      reports[0],
      recorded.reduce((sum, [start, end]) => sum + end - start, 0),
    );
    assertProgress(reports, BODY.byteLength);
  } finally {
    release.resolve();
    await close();
  }
});
