// Download against a server that misbehaves: dropped connections, stalls,
// 503s, ignored or wrong ranges, a file that changes, redirect loops, gzip.
// The behaviour lives in src/_transfer/, src/_http/ and src/_body/; these are
// its network-fault tests, through the public API.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, rm, truncate, writeFile } from "node:fs/promises";
import { test } from "node:test";
import {
  brotliCompressSync,
  createGzip,
  deflateRawSync,
  deflateSync,
  gzipSync,
} from "node:zlib";
import {
  Download,
  DownloadInterrupt,
  type DownloadOptions,
  FileSystemError,
  HTTPError,
  IntegrityError,
  NetworkError,
  ProtocolError,
  RedirectError,
  RetriesExhaustedError,
  TimeoutError,
} from "../mod.ts";
import {
  bytesRoute,
  closedPort,
  deferred,
  type Fault,
  fileRoute,
  type FileRouteLog,
  type FileRouteOptions,
  patternBytes,
  rawServer,
  type Route,
  startServer,
  type TestServer,
} from "./_helpers/server.ts";
import { startChild } from "./_helpers/child.ts";
import { type TempDir, tempDir } from "./_helpers/temp_dir.ts";
import { skipBackoffs, useManualClock } from "./_helpers/manual_clock.ts";
import { recordWarnings } from "./_helpers/warnings.ts";
import { SELF_SIGNED_CERT, SELF_SIGNED_KEY } from "./_helpers/tls.ts";
import { assertFileHolds } from "./_helpers/file_bytes.ts";
import { partialOf } from "./_helpers/partial_file.ts";
import { countedHttpsServer } from "./_helpers/https_server.ts";

const FAST: DownloadOptions = { backoffBase: 1, backoffCap: 5 };
const BODY = patternBytes(100_000);
const ETAG = '"v1"';

interface Run {
  download: Download;
  reports: number[];
  totals: (number | undefined)[];
}

/** Downloads `/f` from a fileRoute into dir/f and waits (without raising). */
async function run(
  url: string,
  dir: TempDir,
  options: DownloadOptions = {},
  drops: Drop[] = [],
): Promise<Run> {
  const reports: number[] = [];
  const totals: (number | undefined)[] = [];
  const download = new Download(url, dir.join("f"), {
    ...FAST,
    chunkSize: 4096,
    progress: (_d, current, total) => {
      reports.push(current);
      totals.push(total);
      for (const drop of drops) drop.reached(current);
    },
    ...options,
  });
  download.start();
  await download.wait({ raiseIfError: false });
  return { download, reports, totals };
}

/**
 * A dropped connection at `bytes` (a multiple of the 4 KiB chunk size) that
 * the server holds until the client has written them: what it had is then
 * exactly known on every runtime.
 */
interface Drop {
  fault: Fault;
  reached(current: number): void;
}

function dropAt(bytes: number, after = 0): Drop {
  const written = deferred();
  return {
    fault: { dropAfter: bytes - after, release: written.promise },
    reached: (current) => {
      if (current >= bytes) written.resolve();
    },
  };
}

async function serve(
  options: FileRouteOptions,
  faults: Fault[] = [],
): Promise<{ server: TestServer; log: FileRouteLog; url: string }> {
  const { route, log } = fileRoute({ ...options, faults });
  const server = await startServer({ "/f": route });
  return { server, log, url: server.url("/f") };
}

/**
 * Downloads BODY, dropped at `at` bytes (a multiple of 4 KiB), its resume
 * answered with `fault`: that answer is written from byte 0, in the
 * request that brought it (no third request), progress going back to 0
 * exactly once, at the restart. Returns the server's log.
 */
async function assertStartsOverAt(
  at: number,
  fault: Fault,
  options: DownloadOptions = {},
): Promise<FileRouteLog> {
  const drop = dropAt(at);
  const { server, log, url } = await serve({ body: BODY, etag: ETAG }, [
    drop.fault,
    fault,
  ]);
  await using _server = server;
  await using dir = await tempDir();
  const { download, reports } = await run(url, dir, options, [drop]);
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(log.ranges, [null, `bytes=${at}-`]);
  const restarts = reports.filter((current, i) =>
    i > 0 && current < (reports[i - 1] as number)
  );
  assert.deepEqual(restarts, [0]);
  assert.equal(reports.at(-1), BODY.byteLength);
  assert.deepEqual(await dir.list(), ["f"]);
  return log;
}

/**
 * Downloads BODY, dropped at 28,672 bytes, from a server whose file then
 * changes (to 80,000 other bytes, ETag "v2"), its resume answered with
 * `fault`: the changed file is taken from that answer, without asking
 * again. Returns the server's log.
 */
async function assertChangedFileTaken(fault: Fault): Promise<FileRouteLog> {
  const changed = patternBytes(80_000, 7);
  const drop = dropAt(28_672);
  const { server, log, url } = await serve({
    body: BODY,
    etag: ETAG,
    change: 1,
    changed,
    changedEtag: '"v2"',
  }, [drop.fault, fault]);
  await using _server = server;
  await using dir = await tempDir();
  const { download } = await run(url, dir, {}, [drop]);
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), changed);
  assert.deepEqual(log.ranges, [null, "bytes=28672-"]);
  assert.deepEqual(log.ifRanges, [null, ETAG]);
  assert.deepEqual(await dir.list(), ["f"]);
  return log;
}

/** A download of `url` into dir/f, canceled keeping its partial file. */
async function keptAt(url: string, dir: TempDir): Promise<Download> {
  const first = new Download(url, dir.join("f"), {
    ...FAST,
    chunkSize: 4096,
    progress: (download, current) => {
      if (current >= 28_672) download.cancel({ keepPartial: true });
    },
  });
  first.start();
  await first.wait({ raiseIfError: false });
  return first;
}

function assertMonotonic(reports: number[], total: number): void {
  for (let i = 1; i < reports.length; i++) {
    assert.ok(
      (reports[i] as number) >= (reports[i - 1] as number),
      `progress went back at ${i}: ${reports.slice(0, i + 1).join(",")}`,
    );
  }
  assert.ok(Math.max(...reports) <= total, "progress exceeded the total");
  assert.equal(reports.at(-1), total);
}

/**
 * A fetch whose first `padded` answers carry 10 bytes more than their
 * Content-Length says (the rest are passed through).
 */
function paddingFetch(padded = Infinity): typeof fetch {
  let answers = 0;
  return async (input, init) => {
    const response = await fetch(input, init);
    if (answers++ >= padded) return response;
    const bytes = new Uint8Array(await response.arrayBuffer());
    const longer = new Uint8Array(bytes.byteLength + 10);
    longer.set(bytes);
    return new Response(longer, {
      status: response.status,
      headers: response.headers,
    });
  };
}

test("Download resumes after a dropped connection, fetching only the missing bytes", async () => {
  const drop = dropAt(28_672);
  const { server, log, url } = await serve({ body: BODY, etag: ETAG }, [
    drop.fault,
  ]);
  await using _server = server;
  await using dir = await tempDir();
  const { download, reports, totals } = await run(url, dir, {}, [drop]);
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(log.ranges, [null, "bytes=28672-"]);
  assert.deepEqual(log.ifRanges, [null, ETAG]);
  assert.deepEqual(log.sent, [28_672, 71_328]);
  assertMonotonic(reports, BODY.byteLength);
  assert.ok(totals.every((total) => total === BODY.byteLength));
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download resumes when the server writes Content-Range in a form other than RFC 9110's (bytes=, bytes:, no unit), as curl and aria2 do", async () => {
  for (const unit of ["bytes=", "bytes: ", "", "Bytes  "]) {
    const drop = dropAt(28_672);
    const { server, log, url } = await serve({
      body: BODY,
      etag: ETAG,
      contentRange: (first, last, total) => `${unit}${first}-${last}/${total}`,
    }, [drop.fault]);
    await using _server = server;
    await using dir = await tempDir();
    const { download } = await run(url, dir, {}, [drop]);
    assert.equal(download.error(), undefined, unit);
    await assertFileHolds(dir.join("f"), BODY);
    // The rest only: not started over.
    assert.deepEqual(log.ranges, [null, "bytes=28672-"], unit);
    assert.deepEqual(log.sent, [28_672, 71_328], unit);
  }
});

test("Download resumes from a write it made, or starts over, when the server closes right after sending", async () => {
  // Not held (see dropAt): the server sends 20,000 bytes and closes at once,
  // so what the client gets of them is the runtime's. Deno hands over every
  // byte: 4 writes of 4 KiB, a resume from 16,384 (the 3,616 staged bytes go
  // with the failed read). Node's fetch errors the body when the connection
  // closes, which empties the bytes queued but not yet read (as erroring a
  // Web stream does): usually all of them, then nothing was written and the
  // retry starts over. Bun's fetch (1.4.5) drops bytes it had received even
  // when read at once (a runtime bug: most plain fetches of such an answer
  // read 0 of the bytes sent). On every runtime: never a resume past what was
  // written, and the right file.
  const { server, log, url } = await serve({ body: BODY, etag: ETAG }, [
    { dropAfter: 20_000 },
  ]);
  await using _server = server;
  await using dir = await tempDir();
  const { download, reports } = await run(url, dir);
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), BODY);
  assertMonotonic(reports.slice(reports.lastIndexOf(0)), BODY.byteLength);
  assert.equal(log.ranges.length, 2);
  assert.equal(log.ranges[0], null);
  const resumed = /^bytes=(\d+)-$/.exec(log.ranges[1] ?? "");
  if (resumed === null) assert.equal(log.ranges[1], null);
  else {
    const from = Number(resumed[1]);
    assert.ok(from % 4096 === 0 && from > 0 && from <= 16_384, `from ${from}`);
    assert.equal(log.ifRanges[1], ETAG);
  }
});

test("Download's progress tells the bytes on disk when a drop ends an attempt the runtime's pipe wrote", async () => {
  // No chunkSize, no digest, 2 MiB: the runtime's pipe writes, and progress
  // is the file's size read every 100 ms, which a drop within that time on
  // loopback falls between. The resume is refused, so no answer reports
  // what is on disk for it: the drop's end must.
  const body = patternBytes(2 * 1024 * 1024, 3);
  const { server, log, url } = await serve({ body, etag: ETAG }, [
    { dropAfter: 512 * 1024 },
    { status: 503 },
  ]);
  await using _server = server;
  await using dir = await tempDir();
  const { download, reports } = await run(url, dir, {
    chunkSize: undefined,
    retries: 1,
  });
  assert.ok(
    download.error() instanceof RetriesExhaustedError,
    `${download.error()}`,
  );
  // What the first attempt left on disk: where the retry asked from (a
  // runtime may lose what it had not read when the connection closed).
  const resumed = /^bytes=(\d+)-$/.exec(log.ranges[1] ?? "");
  const onDisk = resumed === null ? 0 : Number(resumed[1]);
  assert.equal(reports.at(-1), onDisk, `${reports}`);
});

test("Download resumes with Last-Modified as If-Range when there is no strong ETag", async () => {
  const lastModified = "Tue, 03 Nov 2026 10:00:00 GMT";
  const drops = [dropAt(49_152), dropAt(57_344, 49_152)];
  const { server, log, url } = await serve(
    { body: BODY, lastModified },
    drops.map((drop) => drop.fault),
  );
  await using _server = server;
  await using dir = await tempDir();
  const { download } = await run(url, dir, {}, drops);
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(log.ranges, [null, "bytes=49152-", "bytes=57344-"]);
  assert.deepEqual(log.ifRanges, [null, lastModified, lastModified]);
  assert.deepEqual(log.sent, [49_152, 8_192, 42_656]);
});

test("Download starts over, rather than resume with If-Range, when Last-Modified is within a second of Date: the file may have changed again in that second", async () => {
  // A file written while it is served: its two versions share one
  // Last-Modified second, which is the answers' Date too (RFC 9110
  // §8.8.2.2: such a date is a weak validator).
  const lastModified = new Date().toUTCString();
  const changed = patternBytes(BODY.byteLength, 7);
  const drop = dropAt(49_152);
  const { route, log } = fileRoute({
    body: BODY,
    lastModified,
    change: 1,
    changed,
    changedLastModified: lastModified,
    faults: [drop.fault],
  });
  await using server = await startServer({
    "/f": (request, response) => {
      response.setHeader("date", lastModified);
      return route(request, response);
    },
  });
  await using dir = await tempDir();
  const { download } = await run(server.url("/f"), dir, {}, [drop]);
  assert.equal(download.error(), undefined);
  // Not the first 49,152 bytes of one version and the rest of the other.
  assert.deepEqual(log.ranges, [null, null]);
  await assertFileHolds(dir.join("f"), changed);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download starts over, rather than resume with If-Range, when the ETag is marked weak with a lowercase w/", async () => {
  // `w/` is no weak indicator to RFC 9110 (§8.8.3: `W/`), but servers that
  // send it mean one: two bodies may share the ETag, and a server that
  // compares If-Range as text would send the rest of the other.
  const changed = patternBytes(BODY.byteLength, 7);
  const drop = dropAt(49_152);
  const { server, log, url } = await serve({
    body: BODY,
    etag: 'w/"v1"',
    change: 1,
    changed,
    changedEtag: 'w/"v1"',
  }, [drop.fault]);
  await using _server = server;
  await using dir = await tempDir();
  const { download } = await run(url, dir, {}, [drop]);
  assert.equal(download.error(), undefined);
  assert.deepEqual(log.ranges, [null, null]);
  assert.deepEqual(log.ifRanges, [null, null]);
  await assertFileHolds(dir.join("f"), changed);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download starts over when the server ignores Range and answers 200", async () => {
  const log = await assertStartsOverAt(40_960, { ignoreRange: true });
  assert.deepEqual(log.sent, [40_960, 100_000]);
});

test("Download starts over when the file changed between attempts (new ETag)", async () => {
  const log = await assertChangedFileTaken({});
  assert.deepEqual(log.sent, [28_672, 80_000]);
});

test("Download takes a 206 of every byte, answered to a resume, as the whole file, without asking again", async () => {
  // The server ignored where the range starts, but sent a valid range: the
  // whole file, of the version asked for. It is written from byte 0 (the
  // bytes on disk dropped, the digest started over), not asked for again.
  const sha256 = createHash("sha256").update(BODY).digest("hex");
  const log = await assertStartsOverAt(
    28_672,
    { rangeAsWhole206: true },
    { sha256 },
  );
  assert.deepEqual(log.statuses, [200, 206]);
});

test("Download takes a 206 of every byte of a changed file, answered to a resume, as that file", async () => {
  const log = await assertChangedFileTaken({ rangeAsWhole206: true });
  assert.deepEqual(log.statuses, [200, 206]);
});

test("Download writes no byte of a rest past its Content-Range's end", async () => {
  // A 206 of bytes 28672-36863 whose body goes on (its Content-Length
  // counting more): the bytes past 36863 are no byte the server named.
  const drop = dropAt(28_672);
  const { server, log, url } = await serve({ body: BODY, etag: ETAG }, [
    drop.fault,
    { cap: 8192, overlong: 8192 },
  ]);
  await using _server = server;
  await using dir = await tempDir();
  const { download } = await run(url, dir, {}, [drop]);
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(log.ranges.slice(0, 2), [null, "bytes=28672-"]);
  const next = /^bytes=(\d+)-$/.exec(log.ranges[2] ?? "");
  assert.ok(next !== null && Number(next[1]) <= 36_864, `${log.ranges}`);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download refuses a Content-Range other than the one asked for and starts over", async () => {
  const drop = dropAt(28_672);
  const { server, log, url } = await serve({ body: BODY, etag: ETAG }, [
    drop.fault,
    { wrongRange: true },
  ]);
  await using _server = server;
  await using dir = await tempDir();
  const { download } = await run(url, dir, {}, [drop]);
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), BODY);
  // The third attempt asks for the whole file again.
  assert.deepEqual(log.ranges, [null, "bytes=28672-", null]);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download starts over without spending a retry when a resume is answered with another range", async () => {
  // The bytes on disk cannot be resumed from this server; a request for the
  // whole file can still be answered, so even `retries: 0` gets the file.
  const { server, log, url } = await serve({ body: BODY, etag: ETAG }, [
    {},
    { wrongRange: true },
  ]);
  await using _server = server;
  await using dir = await tempDir();
  assert.ok((await keptAt(url, dir)).isCanceled());
  const download = new Download(url, dir.join("f"), { ...FAST, retries: 0 });
  const retried: unknown[] = [];
  download.addEventListener("retry", ({ reason }) => retried.push(reason));
  download.start();
  await download.wait({ raiseIfError: false });
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), BODY);
  assert.equal(log.ranges.length, 3);
  assert.match(log.ranges[1] ?? "", /^bytes=[1-9]\d*-$/);
  assert.equal(log.ranges[2], null);
  assert.deepEqual(retried, []);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download that finds the file there leaves a partial file kept for resume to the next download, which resumes it", async () => {
  // A cancel keeps the bytes; a download then finds the file there (put by
  // another program) and skips; the file goes (evicted), and the next
  // download resumes the bytes kept: none is left beside the file.
  const { server, log, url } = await serve({ body: BODY, etag: ETAG });
  await using _server = server;
  await using dir = await tempDir();
  assert.ok((await keptAt(url, dir)).partialKept);
  await writeFile(dir.join("f"), BODY);
  const skipping = new Download(url, dir.join("f"), {
    ...FAST,
    skipIfExists: true,
  });
  skipping.start();
  await skipping.wait();
  assert.ok(skipping.skipped);
  await rm(dir.join("f"));
  const last = new Download(url, dir.join("f"), FAST);
  last.start();
  await last.wait();
  await assertFileHolds(dir.join("f"), BODY);
  assert.match(log.ranges.at(-1) ?? "", /^bytes=[1-9]\d*-$/);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download started beside another of its file adopts the partial file kept for resume, whichever takes the lock", async () => {
  // Both find the lock left for resume: one moves it away to take it over,
  // and the other, in this process, must not take the name as free then.
  const { server, log, url } = await serve({ body: BODY, etag: ETAG });
  await using _server = server;
  await using dir = await tempDir();
  assert.ok((await keptAt(url, dir)).partialKept);
  const both = [0, 1].map(() =>
    new Download(url, dir.join("f"), { ...FAST, skipIfExists: true })
  );
  for (const download of both) download.start();
  await Promise.all(both.map((download) => download.wait()));
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(log.ranges.slice(1).filter((range) => range === null), []);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download takes a 206 of the whole file, answered to a request for the whole file, as the file", async () => {
  // Some servers answer every GET so, Range or not.
  const statuses: number[] = [];
  await using server = await startServer({
    "/f": (_request, response) => {
      statuses.push(206);
      response.writeHead(206, {
        etag: ETAG,
        "content-range": `bytes 0-${BODY.byteLength - 1}/${BODY.byteLength}`,
        "content-length": BODY.byteLength,
      }).end(BODY);
    },
  });
  await using dir = await tempDir();
  const { download, reports, totals } = await run(
    server.url("/f"),
    dir,
    { connections: 1 },
  );
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(statuses, [206]);
  assertMonotonic(reports, BODY.byteLength);
  assert.deepEqual(new Set(totals), new Set([BODY.byteLength]));
  assert.deepEqual(await dir.list(), ["f"]);
});

/**
 * Downloads `body` into dir/f from a server whose first answer is a 200
 * (with its length, unless `chunked`) cut after `cutAt` bytes once they are
 * written; `later` answers every request after it, told the start of its
 * `Range: bytes=<start>-` (`undefined` for none).
 */
async function resumeAfterCut(
  dir: TempDir,
  body: Uint8Array,
  cutAt: number,
  later: (response: Parameters<Route>[1], start: number | undefined) => void,
  { chunked = false, ...options }: DownloadOptions & { chunked?: boolean } = {},
): Promise<Run & { ranges: (string | null)[] }> {
  const written = deferred();
  const ranges: (string | null)[] = [];
  await using server = await startServer({
    "/f": async (request, response) => {
      const range = request.headers.range ?? null;
      ranges.push(range);
      if (ranges.length > 1) {
        const match = /^bytes=(\d+)-$/.exec(range ?? "");
        later(response, match === null ? undefined : Number(match[1]));
        return;
      }
      response.writeHead(
        200,
        chunked
          ? { etag: ETAG }
          : { etag: ETAG, "content-length": body.byteLength },
      );
      response.write(body.subarray(0, cutAt));
      await written.promise;
      response.destroy();
    },
  });
  const result = await run(server.url("/f"), dir, options, [{
    fault: {},
    reached: (current) => {
      if (current >= cutAt) written.resolve();
    },
  }]);
  return { ...result, ranges };
}

test("Download starts over when a resume is answered 416 for a file that is shorter now", async () => {
  // A server that judges the Range before the If-Range: the file changed,
  // and the bytes on disk reach past its end.
  const shorter = patternBytes(30_000, 3);
  await using dir = await tempDir();
  const { download, ranges } = await resumeAfterCut(
    dir,
    BODY,
    40_960,
    (response, start) => {
      if (start !== undefined) {
        response.writeHead(416, {
          etag: '"v2"',
          "content-range": `bytes */${shorter.byteLength}`,
        }).end();
        return;
      }
      response.writeHead(200, {
        etag: '"v2"',
        "content-length": shorter.byteLength,
      }).end(shorter);
    },
  );
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), shorter);
  assert.deepEqual(ranges, [null, "bytes=40960-", null]);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download starts over at once, on every runtime, when a resume is answered with a range of a compressed stream", async () => {
  // The rest as RFC 9110 says a 206 of a gzip representation is: bytes of
  // its compressed stream, from an offset no decoder can start at. They
  // can never be spliced to the bytes on disk; the whole file can be had.
  // Random bytes: gzip does not shrink them, so the stream reaches past
  // the bytes on disk.
  const body = new Uint8Array(randomBytes(100_000));
  const gzipped = gzipSync(body);
  await using dir = await tempDir();
  // No Content-Length (chunked): the 206's total is not checked.
  const { download, ranges } = await resumeAfterCut(
    dir,
    body,
    40_960,
    (response, start) => {
      if (start === undefined) {
        response.writeHead(200, {
          etag: ETAG,
          "content-length": body.byteLength,
        }).end(body);
        return;
      }
      response.writeHead(206, {
        etag: ETAG,
        "content-encoding": "gzip",
        "content-range": `bytes ${start}-${
          gzipped.byteLength - 1
        }/${gzipped.byteLength}`,
        "content-length": gzipped.byteLength - start,
      }).end(gzipped.subarray(start));
    },
    { chunked: true, retries: 3 },
  );
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), body);
  assert.deepEqual(ranges, [null, "bytes=40960-", null]);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download takes a rest the server sends in pieces of its own size (a 206 ending before the file does) without spending a retry", async () => {
  await using dir = await tempDir();
  const { download, reports, ranges } = await resumeAfterCut(
    dir,
    BODY,
    28_672,
    (response, start = 0) => {
      // At most 30,000 bytes an answer, each as its Content-Range says.
      const end = Math.min(BODY.byteLength, start + 30_000);
      response.writeHead(206, {
        etag: ETAG,
        "content-range": `bytes ${start}-${end - 1}/${BODY.byteLength}`,
        "content-length": end - start,
      }).end(BODY.subarray(start, end));
    },
    { retries: 1 },
  );
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(ranges, [
    null,
    "bytes=28672-",
    "bytes=58672-",
    "bytes=88672-",
  ]);
  assertMonotonic(reports, BODY.byteLength);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download resumes a body sent without a length, learning the total from the 206", async () => {
  await using dir = await tempDir();
  // No Content-Length: chunked.
  const { download, reports, totals, ranges } = await resumeAfterCut(
    dir,
    BODY,
    40_960,
    (response, start = 0) => {
      response.writeHead(206, {
        etag: ETAG,
        "content-range": `bytes ${start}-${
          BODY.byteLength - 1
        }/${BODY.byteLength}`,
        "content-length": BODY.byteLength - start,
      }).end(BODY.subarray(start));
    },
    { chunked: true, retries: 1 },
  );
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(ranges, [null, "bytes=40960-"]);
  assertMonotonic(reports, BODY.byteLength);
  assert.equal(totals[0], undefined);
  assert.equal(totals.at(-1), BODY.byteLength);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download closes the connection of a refused answer before it retries", {
  timeout: 60_000,
}, async () => {
  const drop = dropAt(28_672);
  const never = deferred();
  const { server, log, url } = await serve({ body: BODY, etag: ETAG }, [
    drop.fault,
    // A wrong Content-Range whose body never comes: only closing ends it.
    { wrongRange: true, stallAfter: 0, release: never.promise },
  ]);
  await using _server = server;
  await using dir = await tempDir();
  const { download } = await run(url, dir, {}, [drop]);
  assert.equal(download.error(), undefined);
  assert.equal(log.ranges.length, 3);
  await log.abandoned[1];
  never.resolve();
});

test("Download honours Retry-After on 503, then succeeds", async () => {
  const { server, log, url } = await serve({ body: BODY, etag: ETAG }, [
    { status: 503, retryAfter: "0" },
    { status: 503, retryAfter: new Date(0).toUTCString() },
  ]);
  await using _server = server;
  await using dir = await tempDir();
  // A backoff this long would time the test out: only Retry-After can be used.
  const { download } = await run(url, dir, {
    backoffBase: 600_000,
    backoffCap: 600_000,
  });
  assert.equal(download.error(), undefined);
  assert.equal(log.ranges.length, 3);
  await assertFileHolds(dir.join("f"), BODY);
});

test("Download backs off, rather than retry at once, when Retry-After is text that is no HTTP date", async () => {
  const { server, log, url } = await serve({ body: BODY, etag: ETAG }, [
    { status: 503, retryAfter: "in 5" },
  ]);
  await using _server = server;
  await using dir = await tempDir();
  const retries: unknown[] = [];
  const download = new Download(url, dir.join("f"), FAST);
  download.addEventListener("retry", ({ error }) => retries.push(error));
  download.start();
  await download.wait();
  assert.equal(log.ranges.length, 2);
  assert.equal(retries.length, 1);
  const refused = retries[0];
  assert.ok(refused instanceof HTTPError);
  assert.equal(refused.status, 503);
  // V8's Date.parse() read it as a day of 2001: a Retry-After of 0.
  assert.equal(refused.retryAfter, undefined);
});

test("Download gives up after retries, saying how many attempts and why each failed", async () => {
  const { server, log, url } = await serve({ body: BODY, etag: ETAG }, [
    { status: 503 },
    { dropAfter: 10 },
    { status: 502 },
  ]);
  await using _server = server;
  await using dir = await tempDir();
  const { download } = await run(url, dir, { retries: 2 });
  const error = download.error();
  assert.ok(error instanceof RetriesExhaustedError);
  assert.equal(error.attempts, 3);
  assert.equal(log.ranges.length, 3);
  assert.ok(error.errors[0] instanceof HTTPError);
  assert.equal((error.errors[0] as HTTPError).status, 503);
  assert.ok(error.errors[2] instanceof HTTPError);
  assert.equal(error.cause, error.errors[2]);
  assert.match(
    error.message,
    /3 attempts failed \(#1: server answered 503.*; #2: connection reset or closed by the server; #3: server answered 502/,
  );
  assert.deepEqual(await dir.list(), []);
});

test("Download fails at once on a 4xx other than 408 and 429", async () => {
  const { server, log, url } = await serve({ body: BODY }, [{ status: 403 }]);
  await using _server = server;
  await using dir = await tempDir();
  const { download } = await run(url, dir);
  assert.ok(download.error() instanceof HTTPError);
  assert.equal((download.error() as HTTPError).status, 403);
  assert.equal(log.ranges.length, 1);
  assert.deepEqual(await dir.list(), []);
});

test("Download times out a stalled body, then resumes", async () => {
  // The library's clock moves only when the test moves it: the body stalls
  // for as long as the test says, and for no longer, however the machine
  // schedules the process.
  using clock = useManualClock();
  const release = deferred();
  const { server, log, url } = await serve({ body: BODY, etag: ETAG }, [
    { stallAfter: 20_000, release: release.promise },
  ]);
  await using _server = server;
  await using dir = await tempDir();
  const reports: number[] = [];
  const download = new Download(url, dir.join("f"), {
    ...FAST,
    chunkSize: 4096,
    idleTimeout: 100,
    progress: (_d, current) => {
      reports.push(current);
      // At the stall, 4 writes of 4 KiB are written (the 3,616 bytes
      // received after them are staged, not written): the body is idle
      // from now on, for its whole idleTimeout.
      if (current === 16_384 && log.ranges.length === 1) clock.advance(100);
    },
  });
  skipBackoffs(clock, download);
  download.start();
  await download.wait({ raiseIfError: false });
  release.resolve();
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), BODY);
  // It resumes from what was written (the timed-out read dropped the staged
  // bytes, with a BYOB reader (Deno, Node) or without (Bun)), once.
  assert.deepEqual(log.ranges, [null, "bytes=16384-"]);
  const stalled = reports.indexOf(16_384 + 4096) - 1;
  assert.equal(reports[stalled], 16_384, `${reports}`);
});

test("Download gives up a body slower than minSpeed over minSpeedWindow, then resumes", async () => {
  // On a clock of the test's: the window is judged once the test moves the
  // time on, with the body stalled (a loaded machine's pause of the process
  // while the body flows is no slow server).
  using clock = useManualClock();
  const release = deferred();
  const { server, log, url } = await serve({ body: BODY, etag: ETAG }, [
    { stallAfter: 20_000, release: release.promise },
  ]);
  await using _server = server;
  await using dir = await tempDir();
  const retries: unknown[] = [];
  const download = new Download(url, dir.join("f"), {
    ...FAST,
    minSpeed: 50_000,
    minSpeedWindow: 200,
  });
  download.addEventListener("retry", ({ error }) => retries.push(error));
  skipBackoffs(clock, download);
  download.start();
  // The speed check samples five times a window, from the first answer.
  await clock.armed(200 / 5);
  // Two windows: the first may hold all the bytes that came (they come at
  // once, on this clock), the second none. Then the idle timeout, so that
  // a speed check that never judges fails this test instead of hanging it.
  clock.advance(2 * 200);
  clock.advance(60_000);
  await download.wait();
  release.resolve();
  assert.equal(retries.length, 1);
  const slow = retries[0];
  assert.ok(slow instanceof TimeoutError);
  assert.equal(slow.phase, "slow");
  assert.equal(slow.minSpeed, 50_000);
  assert.ok((slow.speed ?? Infinity) < 50_000);
  assert.match(
    slow.message,
    /bytes\/s over 200 ms, under the minimum of 50000 bytes\/s$/,
  );
  assert.equal(log.ranges.length, 2);
  await assertFileHolds(dir.join("f"), BODY);
});

test("Download times a stalled body by idleTimeout when connectTimeout is shorter", async () => {
  // On a clock of the test's: the server answers at once, and the body
  // stalls; the time passes when the test says, so the connect timeout
  // cannot run out before the answer is read (a loaded machine stops a
  // process for a second or three).
  using clock = useManualClock();
  const connectTimeout = 5000;
  const idleTimeout = 6000;
  /** Downloads BODY, held after 20,000 bytes while the clock moves `ms`. */
  async function stalledFor(ms: number): Promise<Download> {
    const release = deferred();
    const { server, url } = await serve({ body: BODY, etag: ETAG }, [
      { holdAfter: 20_000, release: release.promise },
    ]);
    await using _server = server;
    await using dir = await tempDir();
    const download = new Download(url, dir.join("f"), {
      ...FAST,
      chunkSize: 4096,
      connectTimeout,
      idleTimeout,
      retries: 0,
      progress: (_d, current) => {
        // The stall: 4 writes of 4 KiB. The rest comes after the pause.
        if (current === 16_384) {
          clock.advance(ms);
          release.resolve();
        }
      },
    });
    download.start();
    await download.wait({ raiseIfError: false });
    if (download.state === "done") await assertFileHolds(dir.join("f"), BODY);
    else assert.deepEqual(await dir.list(), []);
    return download;
  }
  // A millisecond short of the idle timeout, past the connect timeout: the
  // body goes on when the server sends the rest.
  const within = await stalledFor(idleTimeout - 1);
  assert.equal(within.error(), undefined);
  assert.equal(within.state, "done");
  // The idle timeout: given up, by it.
  const past = await stalledFor(idleTimeout);
  const error = past.error();
  assert.ok(error instanceof TimeoutError, `${error}`);
  assert.equal(error.phase, "idle");
  assert.equal(error.timeout, idleTimeout);
});

test("Download times out a server that never answers, with a TimeoutError", {
  timeout: 60_000,
}, async () => {
  const release = deferred();
  const { server, log, url } = await serve({ body: BODY }, [
    { stallHeaders: true, release: release.promise },
  ]);
  await using _server = server;
  await using dir = await tempDir();
  // 5 s, not 100 ms: the log must hold the one request asked, and a loaded
  // machine stopped the process before it was sent (Node, 100 ms: none seen).
  const { download } = await run(url, dir, {
    connectTimeout: 5_000,
    retries: 0,
  });
  release.resolve();
  const error = download.error();
  assert.ok(error instanceof TimeoutError);
  assert.equal(error.phase, "connect");
  assert.equal(log.ranges.length, 1);
  assert.deepEqual(await dir.list(), []);
});

test("Download fails with ProtocolError when a body ends early without a network error", async () => {
  const { server, url } = await serve({ body: BODY, etag: ETAG });
  await using _server = server;
  await using dir = await tempDir();
  // A fetch whose body stream just stops after 1,000 bytes.
  const truncating: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const reader = response.body?.getReader();
    const first = await reader?.read();
    await reader?.cancel();
    const stream = new ReadableStream<Uint8Array>({
      start(controller): void {
        if (first?.value) controller.enqueue(first.value.subarray(0, 1000));
        controller.close();
      },
    });
    return new Response(stream, {
      status: response.status,
      headers: response.headers,
    });
  };
  const { download } = await run(url, dir, { fetch: truncating, retries: 0 });
  assert.ok(download.error() instanceof ProtocolError);
  assert.match(String(download.error()), /ended after 1000 of 100000 bytes/);
  assert.deepEqual(await dir.list(), []);
});

test("Download fails with ProtocolError when a body is longer than announced", async () => {
  const { server, url } = await serve({ body: BODY, etag: ETAG });
  await using _server = server;
  await using dir = await tempDir();
  const { download, reports } = await run(url, dir, {
    fetch: paddingFetch(),
    retries: 0,
  });
  assert.ok(download.error() instanceof ProtocolError);
  assert.ok(Math.max(...reports) <= BODY.byteLength);
  assert.deepEqual(await dir.list(), []);
});

test("Download fails with a FileSystemError on a full disk, naming it the same on every runtime, and leaves nothing behind", async () => {
  const { route } = fileRoute({ body: BODY, etag: '"a"' });
  await using server = await startServer({ "/f": route });
  const limits: [number, string][] = [[0, "creating its lock"], [
    40,
    "mid-body",
  ]];
  for (const [blocks, after] of limits) {
    await using dir = await tempDir();
    // A file-size limit (in blocks of 512 bytes or more) fails every write
    // past it with EFBIG, as a full disk fails with ENOSPC; the signal it
    // would send is ignored.
    const limited = [
      "sh",
      "-c",
      `trap "" XFSZ; ulimit -f ${blocks}; exec "$@"`,
      "sh",
    ];
    const child = startChild(
      "crash_child",
      [server.url("/f"), dir.join("f")],
      limited,
    );
    const line = await child.line((line) => !/^\d+$/.test(line));
    assert.equal(line, "failed FileSystemError EFBIG", after);
    await child.exited;
    assert.deepEqual(await dir.list(), [], after);
  }
});

test("Download fails with FileSystemError ENOENT, at once, when its directory is removed while the runtime's pipe writes the body", async () => {
  // Half the body, then nothing until the test ends: only a look at the
  // partial file can tell that it is gone.
  const body = patternBytes(600_000);
  const gate = deferred();
  await using server = await startServer({
    "/f": bytesRoute(body, {
      gate: gate.promise,
      gateAt: 300_000,
      headers: { etag: ETAG },
    }),
  });
  await using dir = await tempDir();
  await mkdir(dir.join("d"));
  // The pipe (no chunkSize, no digest) writes the body; no retry would mend
  // a missing directory, and the idle timeout is far off.
  const download = new Download(server.url("/f"), dir.join("d", "f"), {
    ...FAST,
    idleTimeout: 10_000,
  });
  const retries: unknown[] = [];
  download.addEventListener("retry", (event) => retries.push(event.error));
  const seen = deferred();
  download.addEventListener("progress", (event) => {
    if (event.current > 0) seen.resolve();
  });
  try {
    download.start();
    await seen.promise; // the partial file seen on disk, growing
    await rm(dir.join("d"), { recursive: true });
    await download.wait({ raiseIfError: false });
  } finally {
    gate.resolve();
  }
  const error = download.error();
  assert.ok(error instanceof FileSystemError, String(error));
  assert.equal(error.code, "ENOENT");
  assert.equal(error.path, dir.join("d", "f"));
  assert.deepEqual(retries, []);
  assert.deepEqual(await dir.list(), []);
});

test("Download follows redirects and tells the final URL", async () => {
  const { route } = fileRoute({ body: BODY });
  const hop: Route = (_request, response) => {
    response.writeHead(302, { location: "/f" }).end();
  };
  await using server = await startServer({ "/f": route, "/old": hop });
  await using dir = await tempDir();
  const { download } = await run(server.url("/old"), dir);
  assert.equal(download.error(), undefined);
  assert.equal(download.getUrl(), server.url("/old"));
  assert.equal(download.getFinalUrl(), server.url("/f"));
  await assertFileHolds(dir.join("f"), BODY);
});

test("Download stops a redirect loop with RedirectError, without retrying", async () => {
  const loop: Route = (_request, response) => {
    response.writeHead(302, { location: "/loop" }).end();
  };
  await using server = await startServer({ "/loop": loop });
  await using dir = await tempDir();
  const { download } = await run(server.url("/loop"), dir, { maxRedirects: 5 });
  assert.ok(download.error() instanceof RedirectError);
  assert.match(String(download.error()), /more than 5 redirects/);
  assert.equal(server.requests.length, 6);
  assert.deepEqual(await dir.list(), []);
});

// Only http: and https: are ever fetched: on Deno, fetch reads file: URLs,
// and every runtime's fetch reads data: URLs.
for (
  const location of [
    "file:///etc/passwd",
    "data:text/plain,not%20the%20file",
    "ftp://127.0.0.1/f",
  ]
) {
  test(
    `Download fails with RedirectError, without retrying or writing, when redirected to ${
      location.slice(0, location.indexOf(":") + 1)
    }`,
    async () => {
      const away: Route = (_request, response) => {
        response.writeHead(302, { location }).end();
      };
      await using server = await startServer({ "/f": away });
      await using dir = await tempDir();
      const { download, reports } = await run(server.url("/f"), dir, {
        retries: 3,
      });
      const error = download.error();
      assert.ok(error instanceof RedirectError, String(error));
      assert.equal(
        error.message,
        `Cannot download "${
          server.url("/f")
        }": redirected to "${location}", which is not http: or https:`,
      );
      assert.equal(server.requests.length, 1);
      assert.deepEqual(reports, []);
      assert.deepEqual(await dir.list(), []);
    },
  );
}

test("Download fails with RedirectError when the Location is not a URL", async () => {
  const away: Route = (_request, response) => {
    response.writeHead(302, { location: "http://[::1" }).end();
  };
  await using server = await startServer({ "/f": away });
  await using dir = await tempDir();
  const { download } = await run(server.url("/f"), dir, { retries: 3 });
  assert.ok(download.error() instanceof RedirectError);
  assert.match(String(download.error()), /redirected to an invalid URL/);
  assert.equal(server.requests.length, 1);
  assert.deepEqual(await dir.list(), []);
});

test("Download tells a final URL without a fragment, as fetch's response.url does, since no server sees one", async () => {
  const { route } = fileRoute({ body: BODY });
  const hop: Route = (_request, response) => {
    response.writeHead(302, { location: "/f#there" }).end();
  };
  await using server = await startServer({ "/f": route, "/old": hop });
  await using dir = await tempDir();
  const direct = await run(server.url("/f#here"), dir);
  assert.equal(direct.download.error(), undefined);
  assert.equal(direct.download.getUrl(), server.url("/f#here"));
  assert.equal(direct.download.getFinalUrl(), server.url("/f"));
  await using away = await tempDir();
  const redirected = await run(server.url("/old#here"), away);
  assert.equal(redirected.download.error(), undefined);
  assert.equal(redirected.download.getFinalUrl(), server.url("/f"));
  await assertFileHolds(away.join("f"), BODY);
  assert.deepEqual(server.requests.map(({ path }) => path), [
    "/f",
    "/old",
    "/f",
  ]);
});

test("Download drops Authorization, Proxy-Authorization and Cookie on a redirect to another origin", async () => {
  const { route } = fileRoute({ body: BODY });
  await using other = await startServer({ "/f": route });
  const hop: Route = (_request, response) => {
    response.writeHead(307, { location: other.url("/f") }).end();
  };
  await using server = await startServer({ "/f": hop });
  await using dir = await tempDir();
  const { download } = await run(server.url("/f"), dir, {
    headers: {
      authorization: "Bearer secret",
      "proxy-authorization": "Basic cHJveHk6cGFzcw==",
      cookie: "session=1",
      "x-trace": "1",
    },
  });
  assert.equal(download.error(), undefined);
  assert.equal(server.requests[0]?.headers.authorization, "Bearer secret");
  assert.equal(server.requests[0]?.headers.cookie, "session=1");
  const headers = other.requests[0]?.headers ?? {};
  assert.equal(headers.authorization, undefined);
  assert.equal(headers["proxy-authorization"], undefined);
  assert.equal(headers.cookie, undefined);
  assert.equal(headers["x-trace"], "1");
});

test("Download sends a URL's credentials as Basic authorization on every runtime, to that origin only", async () => {
  const { route } = fileRoute({ body: BODY });
  await using other = await startServer({ "/f": route });
  // The password percent-encoded in the URL ("p@ss:w/rd"), as curl takes it.
  const basic = `Basic ${btoa("us er:p@ss:w/rd")}`;
  const guarded: Route = (request, response) => {
    if (request.headers.authorization !== basic) {
      response.writeHead(401).end();
    } else if (request.url === "/away") {
      response.writeHead(302, { location: other.url("/f") }).end();
    } else {
      route(request, response);
    }
  };
  await using server = await startServer({
    "/f": guarded,
    "/away": guarded,
    "/here": (request, response) => {
      if (request.headers.authorization !== basic) {
        response.writeHead(401).end();
      } else {
        response.writeHead(302, { location: "/f" }).end();
      }
    },
  });
  await using dir = await tempDir();
  const withCredentials = (path: string): string =>
    server.url(path).replace("http://", "http://us%20er:p%40ss%3Aw%2Frd@");
  const { download } = await run(withCredentials("/f"), dir);
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), BODY);
  assert.equal(server.requests[0]?.headers.authorization, basic);
  // A redirect to another origin takes them no further.
  await using away = await tempDir();
  const redirected = await run(withCredentials("/away"), away);
  assert.equal(redirected.download.error(), undefined);
  assert.equal(server.requests[1]?.headers.authorization, basic);
  assert.equal(other.requests[0]?.headers.authorization, undefined);
  // A redirect on the same origin takes them along.
  await using here = await tempDir();
  const local = await run(withCredentials("/here"), here);
  assert.equal(local.download.error(), undefined);
  await assertFileHolds(here.join("f"), BODY);
  assert.equal(local.download.getFinalUrl(), server.url("/f"));
});

test("Download names a URL without its password in its error", async () => {
  await using server = await startServer({
    "/f": (_request, response) => {
      response.writeHead(404).end();
    },
  });
  await using dir = await tempDir();
  const url = server.url("/f");
  const { download } = await run(
    url.replace("http://", "http://user:secret@"),
    dir,
  );
  const error = download.error();
  assert.ok(error instanceof HTTPError, String(error));
  assert.equal(error.url, url);
  assert.equal(error.message.includes("secret"), false, error.message);
  assert.equal(download.getUrl(), url);
  assert.equal(
    server.requests[0]?.headers.authorization,
    `Basic ${btoa("user:secret")}`,
  );
});

test("Download saves the decoded bytes on every runtime, never reporting progress over a total, when the server sends gzip anyway", async () => {
  const plain = new TextEncoder().encode("dlmanager ".repeat(5000));
  const gzipped = gzipSync(plain);
  const route: Route = (_request, response) => {
    response.writeHead(200, {
      "content-encoding": "gzip",
      "content-length": gzipped.byteLength,
    }).end(gzipped);
  };
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const { download, totals } = await run(server.url("/f"), dir);
  assert.equal(download.error(), undefined);
  // Node's and Bun's fetch decode it; Deno's hands over the bytes as sent,
  // and the library decodes them: one file on every runtime.
  await assertFileHolds(dir.join("f"), plain);
  assert.ok(totals.every((total) => total === undefined));
});

test("Download writes a body the server compresses anyway as it comes, on every runtime (no idle timeout while it flows)", async () => {
  // Random bytes: they do not compress, so the first part's bytes decode to
  // as many. The server sends the rest only once the download has reported
  // some: on Deno, whose fetch leaves the decoding to the library, the
  // decoded bytes sat in Deno's file sink (it holds 64 KiB) unwritten and
  // unreported, and the idle timeout ended a download whose bytes came.
  const plain = new Uint8Array(40_000);
  let x = 2463534242;
  for (let i = 0; i < plain.byteLength; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    plain[i] = x & 255;
  }
  const reported = deferred();
  const route: Route = (_request, response) => {
    response.writeHead(200, { "content-encoding": "gzip" });
    const gzip = createGzip();
    gzip.pipe(response);
    gzip.write(plain.subarray(0, 20_000));
    gzip.flush();
    reported.promise.then(() => gzip.end(plain.subarray(20_000)));
  };
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  // No chunkSize: the body goes through the runtime's pipe.
  const download = new Download(server.url("/f"), dir.join("f"), {
    ...FAST,
    retries: 0,
    idleTimeout: 10_000,
    progress: (_download, current) => {
      if (current > 0) reported.resolve();
    },
  });
  download.start();
  await download.wait({ raiseIfError: false });
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), plain);
});

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

test("Download checks sha256 while streaming, across a resume", async () => {
  const drop = dropAt(32_768);
  const { server, log, url } = await serve({ body: BODY, etag: ETAG }, [
    drop.fault,
  ]);
  await using _server = server;
  await using dir = await tempDir();
  const { download } = await run(url, dir, { sha256: sha256Hex(BODY) }, [drop]);
  assert.equal(download.error(), undefined);
  assert.deepEqual(log.ranges, [null, "bytes=32768-"]);
  await assertFileHolds(dir.join("f"), BODY);
});

test("Download checks an SRI integrity string", async () => {
  const { server, url } = await serve({ body: BODY });
  await using _server = server;
  await using dir = await tempDir();
  const digest = createHash("sha512").update(BODY).digest("base64");
  const { download } = await run(url, dir, {
    integrity: `sha256-AAAA sha512-${digest}`,
  });
  assert.equal(download.error(), undefined);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download takes the file when it matches any of an SRI string's digests of the strongest algorithm", async () => {
  const { server, url } = await serve({ body: BODY });
  await using _server = server;
  await using dir = await tempDir();
  const mine = createHash("sha512").update(BODY).digest("base64");
  const other = createHash("sha512").update("another build").digest("base64");
  const { download } = await run(url, dir, {
    integrity: `sha512-${other} sha512-${mine}`,
  });
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download removes the file and fails with IntegrityError on a digest mismatch", async () => {
  const { server, log, url } = await serve({ body: BODY });
  await using _server = server;
  await using dir = await tempDir();
  const wrong = "0".repeat(64);
  const { download } = await run(url, dir, { sha256: wrong });
  const error = download.error();
  assert.ok(error instanceof IntegrityError);
  assert.equal(error.expected, wrong);
  assert.equal(error.actual, sha256Hex(BODY));
  assert.equal(log.ranges.length, 1);
  assert.deepEqual(await dir.list(), []);
});

test("Download sends the headers it is given", async () => {
  const { server, url } = await serve({ body: BODY });
  await using _server = server;
  await using dir = await tempDir();
  await run(url, dir, { headers: { authorization: "Basic abc" } });
  assert.equal(server.requests[0]?.headers.authorization, "Basic abc");
  assert.equal(server.requests[0]?.headers["accept-encoding"], "identity");
});

test("Download is canceled by its signal", { timeout: 60_000 }, async () => {
  const release = deferred();
  const { server, url } = await serve({ body: BODY, etag: ETAG }, [
    { stallAfter: 20_000, release: release.promise },
  ]);
  await using _server = server;
  await using dir = await tempDir();
  const controller = new AbortController();
  const { download } = await run(url, dir, {
    signal: controller.signal,
    progress: (_d, current) => {
      if (current >= 16_384) controller.abort(new Error("the user left"));
    },
  });
  release.resolve();
  assert.equal(download.isCanceled(), true);
  assert.equal(download.error(), undefined);
  // The interrupt says why: the signal's reason (a timeout's, say).
  await assert.rejects(
    download.wait(),
    (error) =>
      error instanceof DownloadInterrupt &&
      (error.cause as Error).message === "the user left",
  );
  assert.deepEqual(await dir.list(), []);
});

test("Download: one signal given to 11 downloads cancels them all, with no leak warning from Node", async () => {
  const { server, url } = await serve({ body: BODY, etag: ETAG });
  await using _server = server;
  await using dir = await tempDir();
  using warnings = recordWarnings();
  const controller = new AbortController();
  const downloads = Array.from(
    { length: 11 },
    (_, i) =>
      new Download(url, dir.join(`f${i}`), {
        ...FAST,
        signal: controller.signal,
      }),
  );
  for (const download of downloads) download.start();
  controller.abort();
  await Promise.all(downloads.map((d) => d.wait({ raiseIfError: false })));
  assert.ok(downloads.every((download) => download.isCanceled()));
  assert.deepEqual(await dir.list(), []);
  await warnings.settled();
  assert.deepEqual(warnings.names, []);
});

// With the library's own write size (no chunkSize given) and no digest, a
// body longer than one write goes through the runtime's pipe (Deno's native
// one; on Node, a WriteStream), whose progress is read from the file's size.
// The same faults must end the same way on both.

const PIPED: DownloadOptions = { chunkSize: undefined };
const LARGE = patternBytes(1_000_000);
/** Where faults cut or stall the body: three of the default 256 KiB writes. */
const CUT = 3 * 262_144;

test(
  "Download resumes a large body after a dropped connection, fetching only the missing bytes",
  { timeout: 60_000 },
  async () => {
    const drop = dropAt(CUT);
    const { server, log, url } = await serve({ body: LARGE, etag: ETAG }, [
      drop.fault,
    ]);
    await using _server = server;
    await using dir = await tempDir();
    const { download, reports } = await run(url, dir, PIPED, [drop]);
    assert.equal(download.error(), undefined);
    await assertFileHolds(dir.join("f"), LARGE);
    assert.deepEqual(log.ranges, [null, `bytes=${CUT}-`]);
    assert.deepEqual(log.sent, [CUT, LARGE.byteLength - CUT]);
    assertMonotonic(reports, LARGE.byteLength);
    assert.deepEqual(await dir.list(), ["f"]);
  },
);

// Another program cut the partial file short while the body came: the rest,
// appended at the file's new end, must not be committed at the wrong place.
for (
  const [how, options] of [
    ["through the runtime's pipe", PIPED],
    ["in writes of its own", { chunkSize: 65_536 }],
  ] as const
) {
  test(
    `Download whose partial file is cut short while it runs starts over (${how})`,
    {
      timeout: 60_000,
    },
    async () => {
      const cut = deferred();
      let cutting = false;
      await using server = await startServer({
        "/f": bytesRoute(LARGE, {
          headers: { etag: ETAG },
          gate: cut.promise,
          gateAt: CUT,
        }),
      });
      await using dir = await tempDir();
      const { download } = await run(server.url("/f"), dir, {
        ...options,
        connections: 1,
        progress: (_download, current) => {
          if (current < CUT || cutting) return;
          cutting = true;
          partialOf(dir).then((path) => truncate(path, 1000)).then(() =>
            cut.resolve()
          );
        },
      });
      assert.equal(download.error(), undefined);
      await assertFileHolds(dir.join("f"), LARGE);
      assert.equal(server.requests.length, 2);
      assert.deepEqual(await dir.list(), ["f"]);
    },
  );
}

test("Download reports a large body's progress while it streams", {
  timeout: 60_000,
}, async () => {
  // The server sends the rest only once progress has shown the first part:
  // without reports during the body, this would never end.
  const shown = deferred();
  await using server = await startServer({
    "/f": bytesRoute(LARGE, { gate: shown.promise, gateAt: CUT }),
  });
  await using dir = await tempDir();
  const reports: number[] = [];
  const totals: (number | undefined)[] = [];
  const { download } = await run(
    server.url("/f"),
    dir,
    {
      ...PIPED,
      progress: (_d, current, total) => {
        reports.push(current);
        totals.push(total);
        if (current >= CUT) shown.resolve();
      },
    },
  );
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), LARGE);
  assert.ok(reports.includes(CUT), `no report at ${CUT}: ${reports}`);
  assertMonotonic(reports, LARGE.byteLength);
  assert.ok(totals.every((total) => total === LARGE.byteLength));
});

test(
  "Download times out a stalled large body, then resumes from every byte written",
  { timeout: 60_000 },
  async () => {
    const release = deferred();
    const { server, log, url } = await serve({ body: LARGE, etag: ETAG }, [
      { stallAfter: CUT, release: release.promise },
    ]);
    await using _server = server;
    await using dir = await tempDir();
    // On a clock of the test's, moved once the bytes before the stall are
    // on disk (the file's growth is seen every 100 ms): only the stall, not
    // a loaded machine's pause, goes the idle timeout without growth.
    using clock = useManualClock();
    const idleTimeout = 1000;
    const { download } = await run(url, dir, {
      ...PIPED,
      idleTimeout,
      // The retry at once: a backoff of 0 needs no clock moved.
      backoffBase: 0,
      backoffCap: 0,
      progress: (_d, current) => {
        if (current === CUT && log.ranges.length === 1) {
          clock.advance(idleTimeout);
        }
      },
    });
    release.resolve();
    assert.equal(download.error(), undefined);
    await assertFileHolds(dir.join("f"), LARGE);
    assert.deepEqual(log.ranges, [null, `bytes=${CUT}-`]);
  },
);

test("Download fails with ProtocolError when a large body ends early", async () => {
  const { server, url } = await serve({ body: LARGE, etag: ETAG });
  await using _server = server;
  await using dir = await tempDir();
  const truncating: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    await response.body?.cancel();
    return new Response(LARGE.slice(0, 300_000), {
      status: response.status,
      headers: response.headers,
    });
  };
  const { download } = await run(url, dir, {
    ...PIPED,
    fetch: truncating,
    retries: 0,
  });
  assert.ok(download.error() instanceof ProtocolError);
  assert.match(String(download.error()), /ended after 300000 of 1000000 bytes/);
  assert.deepEqual(await dir.list(), []);
});

test("Download fails with ProtocolError when a large body is longer than announced, and starts over on retry", async () => {
  const { server, log, url } = await serve({ body: LARGE, etag: ETAG });
  await using _server = server;
  await using dir = await tempDir();
  const failed = await run(url, dir, {
    ...PIPED,
    fetch: paddingFetch(),
    retries: 0,
  });
  assert.ok(failed.download.error() instanceof ProtocolError);
  assert.match(String(failed.download.error()), /longer than the 1000000/);
  assert.ok(Math.max(...failed.reports) <= LARGE.byteLength);
  assert.deepEqual(await dir.list(), []);
  // With a retry, the attempt after the refusal completes the file. The
  // pipe wrote the extra bytes too, so it starts over.
  const retried = await run(url, dir, { ...PIPED, fetch: paddingFetch(1) });
  assert.equal(retried.download.error(), undefined);
  await assertFileHolds(dir.join("f"), LARGE);
  assert.deepEqual(log.ranges.slice(1), [null, null]);
});

test("Download of a large body is canceled by its signal, leaving nothing", {
  timeout: 60_000,
}, async () => {
  const release = deferred();
  const { server, url } = await serve({ body: LARGE, etag: ETAG }, [
    { stallAfter: CUT, release: release.promise },
  ]);
  await using _server = server;
  await using dir = await tempDir();
  const controller = new AbortController();
  const reports: number[] = [];
  const { download } = await run(url, dir, {
    ...PIPED,
    signal: controller.signal,
    progress: (_d, current) => {
      reports.push(current);
      if (current >= CUT) controller.abort();
    },
  });
  release.resolve();
  assert.equal(download.isCanceled(), true);
  assert.equal(download.error(), undefined);
  assert.equal(reports.at(-1), CUT);
  assert.deepEqual(await dir.list(), []);
});

test("DownloadManager passes its retry defaults to every download", async () => {
  const { server, log, url } = await serve({ body: BODY }, [{ status: 503 }]);
  await using _server = server;
  await using dir = await tempDir();
  const manager = dir.manager({ retries: 0 });
  manager.download(url);
  await assert.rejects(manager.wait(), HTTPError);
  assert.equal(log.ranges.length, 1);
});

// Connection failures: named in plain words and by a code that is the same
// on every runtime; retried unless no retry can mend them.

test("Download names a refused connection (ECONNREFUSED) and retries it", async () => {
  await using dir = await tempDir();
  const url = `http://127.0.0.1:${await closedPort()}/f`;
  const { download } = await run(url, dir, { retries: 1 });
  const error = download.error();
  assert.ok(error instanceof RetriesExhaustedError, String(error));
  assert.equal(error.attempts, 2);
  for (const attempt of error.errors) {
    assert.ok(attempt instanceof NetworkError);
    assert.equal(attempt.code, "ECONNREFUSED");
    assert.equal(
      attempt.message,
      `Cannot download "${url}": connection refused`,
    );
  }
  assert.deepEqual(await dir.list(), []);
});

// Deno's and Node's fetch refuse the Fetch standard's "bad ports" (1, 6000,
// 6665 to 6669, 10080...) before any connection; Bun's refuses none, and
// connects (to port 1, where nothing listens: refused, and retried).
const badPortSkip = "Bun" in globalThis && "Bun's fetch refuses no port";

/**
 * Asserts that the download of `url` failed at once (no retry) because the
 * runtime's fetch refused port 1, naming it.
 */
function assertBadPort(download: Download, url: string): void {
  const error = download.error();
  assert.ok(error instanceof NetworkError, String(error));
  assert.equal(error.code, "BAD_PORT");
  assert.equal(
    error.message,
    `Cannot download "${url}": port 1 is blocked by the runtime's fetch (one of the Fetch standard's "bad ports", which browsers refuse too): serve the file on another port`,
  );
}

test(
  "Download does not retry a port the runtime's fetch refuses (BAD_PORT), and names it",
  {
    skip: badPortSkip,
  },
  async () => {
    await using dir = await tempDir();
    const url = "http://127.0.0.1:1/f";
    const { download } = await run(url, dir, { retries: 3 });
    assertBadPort(download, url);
    assert.deepEqual(await dir.list(), []);
  },
);

test(
  "Download names the port a redirect led to when the runtime's fetch refuses it",
  {
    skip: badPortSkip,
  },
  async () => {
    await using server = await startServer({
      "/old": (_request, response) => {
        response.writeHead(302, { location: "http://127.0.0.1:1/f" }).end();
      },
    });
    await using dir = await tempDir();
    const url = server.url("/old");
    const { download } = await run(url, dir, { retries: 3 });
    assertBadPort(download, url);
    assert.equal(server.requests.length, 1);
    assert.deepEqual(await dir.list(), []);
  },
);

/**
 * Asserts that the download of `url` failed at once (no retry) because the
 * host `nonexistent.invalid` was not found, naming that host.
 */
function assertHostNotFound(download: Download, url: string): void {
  const error = download.error();
  assert.ok(error instanceof NetworkError, String(error));
  assert.equal(error.code, "ENOTFOUND");
  assert.equal(
    error.message,
    `Cannot download "${url}": host name not found (nonexistent.invalid)`,
  );
}

test("Download does not retry a host name that does not exist (ENOTFOUND), and names it", async () => {
  await using dir = await tempDir();
  // .invalid never resolves (RFC 6761).
  const url = "http://nonexistent.invalid/f";
  const { download } = await run(url, dir, { retries: 3 });
  assertHostNotFound(download, url);
  assert.deepEqual(await dir.list(), []);
});

test("Download names the host a redirect led to when that host name does not exist", async () => {
  const hop: Route = (_request, response) => {
    response.writeHead(302, { location: "http://nonexistent.invalid/f" })
      .end();
  };
  await using server = await startServer({ "/old": hop });
  await using dir = await tempDir();
  const url = server.url("/old");
  const { download } = await run(url, dir, { retries: 3 });
  // Not the host of the URL asked for, which answered.
  assertHostNotFound(download, url);
  assert.equal(server.requests.length, 1);
  assert.deepEqual(await dir.list(), []);
});

test("Download does not retry a rejected certificate (CERT), and says why and how to trust its authority", async () => {
  await using server = await countedHttpsServer(
    { cert: SELF_SIGNED_CERT, key: SELF_SIGNED_KEY },
    (_request, response) => response.end("never served"),
  );
  await using dir = await tempDir();
  const url = server.url("/f");
  const { download } = await run(url, dir, { retries: 3 });
  const error = download.error();
  assert.ok(error instanceof NetworkError, String(error));
  assert.equal(error.code, "CERT");
  assert.ok(
    error.message.startsWith(
      `Cannot download "${url}": certificate rejected: `,
    ),
    error.message,
  );
  // What to do, in the runtime's own terms; the URL is said once.
  const variable = "Deno" in globalThis ? "DENO_CERT" : "NODE_EXTRA_CA_CERTS";
  assert.ok(
    error.message.endsWith(
      ` (to trust the authority that signed it, name its PEM file in ${variable})`,
    ),
    error.message,
  );
  assert.equal(error.message.split(url).length, 2, error.message);
  assert.equal(server.connections, 1);
  assert.deepEqual(await dir.list(), []);
});

test("Download names the server whose certificate it rejected after a redirect to another", async () => {
  await using tls = await countedHttpsServer(
    { cert: SELF_SIGNED_CERT, key: SELF_SIGNED_KEY },
    (_request, response) => response.end("never served"),
  );
  const hop: Route = (_request, response) => {
    response.writeHead(302, { location: tls.url("/f") }).end();
  };
  await using server = await startServer({ "/old": hop });
  await using dir = await tempDir();
  const url = server.url("/old");
  const { download } = await run(url, dir, { retries: 3 });
  const error = download.error();
  assert.ok(error instanceof NetworkError, String(error));
  assert.equal(error.code, "CERT");
  // Not the server of the URL asked for, whose answer was a redirect.
  assert.ok(
    error.message.startsWith(
      `Cannot download "${url}": certificate rejected (127.0.0.1:${tls.port}): `,
    ),
    error.message,
  );
  assert.equal(server.requests.length, 1);
  assert.deepEqual(await dir.list(), []);
});

/** A raw server answering every request with `head` (its headers) and `body`. */
function rawAnswer(
  head: string,
  body: string,
): ReturnType<typeof rawServer> {
  return rawServer((socket) =>
    socket.once("data", () => {
      socket.end(`HTTP/1.1 200 OK\r\nconnection: close\r\n${head}\r\n${body}`);
    })
  );
}

// Node's fetch refuses these answers itself; Deno's and Bun's hand over the
// second (and Deno the first), whose body was framed one way of two.
for (
  const [what, head, body] of [
    [
      "two Content-Lengths that differ",
      "content-length: 10\r\ncontent-length: 20\r\n",
      "0123456789",
    ],
    [
      "a Content-Length with Transfer-Encoding: chunked",
      "content-length: 50\r\ntransfer-encoding: chunked\r\n",
      "a\r\n0123456789\r\n0\r\n\r\n",
    ],
  ] as const
) {
  test(`Download refuses an answer of ${what} as not valid HTTP, at once, on every runtime`, async () => {
    await using server = await rawAnswer(head, body);
    await using dir = await tempDir();
    const url = `http://127.0.0.1:${server.port}/f`;
    const { download, reports } = await run(url, dir, { retries: 3 });
    const error = download.error();
    // Not retried: the server would answer so again.
    assert.ok(error instanceof ProtocolError, String(error));
    assert.ok(
      error.message.startsWith(
        `Cannot download "${url}": the server's answer is not valid HTTP: `,
      ),
      error.message,
    );
    assert.equal(server.connections, 1);
    assert.deepEqual(reports, []);
    assert.deepEqual(await dir.list(), []);
  });
}

test("Download takes a Content-Length sent twice with one value as the file's length where fetch takes it (Deno, Bun), and refuses it as not valid HTTP where fetch does (Node)", async () => {
  await using server = await rawAnswer(
    "content-length: 10\r\ncontent-length: 10\r\n",
    "0123456789",
  );
  await using dir = await tempDir();
  const url = `http://127.0.0.1:${server.port}/f`;
  const { download, reports, totals } = await run(url, dir, { retries: 3 });
  if ("Deno" in globalThis || "Bun" in globalThis) {
    assert.equal(download.error(), undefined);
    assert.deepEqual(reports, [0, 10]);
    assert.deepEqual(totals, [10, 10]);
    await assertFileHolds(
      dir.join("f"),
      new TextEncoder().encode("0123456789"),
    );
  } else {
    assert.ok(download.error() instanceof ProtocolError);
    assert.equal(server.connections, 1);
    assert.deepEqual(await dir.list(), []);
  }
});

test("Download names a connection reset before the answer (ECONNRESET) and retries it", async () => {
  await using server = await rawServer((socket) => socket.resetAndDestroy());
  await using dir = await tempDir();
  const url = `http://127.0.0.1:${server.port}/f`;
  const { download } = await run(url, dir, { retries: 1 });
  const error = download.error();
  assert.ok(error instanceof RetriesExhaustedError, String(error));
  for (const attempt of error.errors) {
    assert.ok(attempt instanceof NetworkError);
    assert.equal(attempt.code, "ECONNRESET");
    assert.equal(
      attempt.message,
      `Cannot download "${url}": connection reset or closed by the server`,
    );
  }
  assert.equal(server.connections, 2);
  assert.deepEqual(await dir.list(), []);
});

test("Download names an https URL whose server does not speak TLS (TLS) and retries it", async () => {
  // `https://` to a plain HTTP port: the answer is no TLS record.
  await using server = await rawServer((socket) =>
    socket.once("data", () => {
      socket.end("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
    })
  );
  await using dir = await tempDir();
  const url = `https://127.0.0.1:${server.port}/f`;
  const { download } = await run(url, dir, { retries: 1 });
  const error = download.error();
  assert.ok(error instanceof RetriesExhaustedError, String(error));
  for (const attempt of error.errors) {
    assert.ok(attempt instanceof NetworkError, String(attempt));
    assert.equal(attempt.code, "TLS", attempt.message);
    assert.ok(
      attempt.message.startsWith(
        `Cannot download "${url}": secure connection (TLS) failed: `,
      ),
      attempt.message,
    );
  }
  assert.equal(server.connections, 2);
  assert.deepEqual(await dir.list(), []);
});

test("Download names an https connection the server closes before the TLS handshake ends (ECONNRESET)", async () => {
  await using server = await rawServer((socket) => socket.destroy());
  await using dir = await tempDir();
  const url = `https://127.0.0.1:${server.port}/f`;
  const { download } = await run(url, dir, { retries: 0 });
  const error = download.error();
  assert.ok(error instanceof NetworkError, String(error));
  assert.equal(error.code, "ECONNRESET", error.message);
  assert.equal(
    error.message,
    `Cannot download "${url}": connection reset or closed by the server`,
  );
  assert.equal(server.connections, 1);
  assert.deepEqual(await dir.list(), []);
});

test("Download fails a body the server cut short as a NetworkError (ECONNRESET), not a ProtocolError", async () => {
  const { server, url } = await serve({ body: BODY, etag: ETAG }, [
    { dropAfter: 10_000 },
  ]);
  await using _server = server;
  await using dir = await tempDir();
  const { download } = await run(url, dir, { retries: 0 });
  const error = download.error();
  assert.ok(error instanceof NetworkError, String(error));
  assert.equal(error.code, "ECONNRESET");
  assert.deepEqual(await dir.list(), []);
});

// A body compressed although the request said Accept-Encoding: identity is
// saved decoded on every runtime (Node's and Bun's fetch decode it, Deno's
// does not: the library then does).
// "deflate" is a zlib stream, or, from some servers, raw deflate data, which
// browsers and Node's fetch take too.
for (
  const [encoding, compress, form] of [
    ["deflate", deflateSync, ""],
    ["deflate", deflateRawSync, " (raw deflate data)"],
    ["br", brotliCompressSync, ""],
    ["x-gzip", gzipSync, ""],
  ] as const
) {
  test(`Download saves the decoded bytes on every runtime when the server sends ${encoding}${form} anyway`, async () => {
    const plain = patternBytes(300_000);
    const encoded = compress(plain);
    const route: Route = (_request, response) => {
      response.writeHead(200, {
        "content-encoding": encoding,
        "content-length": encoded.byteLength,
        etag: ETAG,
      }).end(encoded);
    };
    await using server = await startServer({ "/f": route });
    await using dir = await tempDir();
    const { download, reports } = await run(server.url("/f"), dir, {
      chunkSize: undefined,
    });
    assert.equal(download.error(), undefined);
    await assertFileHolds(dir.join("f"), plain);
    assert.equal(reports.at(-1), plain.byteLength);
    assert.deepEqual(await dir.list(), ["f"]);
  });
}

// A caller that asks for compression itself (`accept-encoding: gzip, br`,
// to spare a text file's bytes) is answered as nginx's `gzip on` answers it:
// compressed, chunked, with a weak ETag and no Accept-Ranges, a Range
// ignored. Deno's `fetch` decodes gzip and br itself unless the request says
// `identity`: the library, taking it to hand them over as sent, decoded them
// again, and every attempt failed with "does not decode".
for (
  const [encoding, compress] of [
    ["gzip", gzipSync],
    ["br", brotliCompressSync],
    ["deflate", deflateSync],
  ] as const
) {
  for (const connections of [1, 4]) {
    test(`Download saves the decoded bytes on every runtime when the caller asks for ${encoding} and the server sends it (connections: ${connections})`, async () => {
      const plain = new TextEncoder().encode(
        "alpha beta gamma\n".repeat(40_000),
      );
      const encoded = compress(plain);
      const route: Route = (request, response) => {
        const accepted = String(request.headers["accept-encoding"] ?? "");
        if (!accepted.includes(encoding)) {
          response.writeHead(200, {
            "accept-ranges": "bytes",
            "content-length": plain.byteLength,
            etag: ETAG,
          }).end(plain);
          return;
        }
        response.writeHead(200, {
          "content-encoding": encoding,
          etag: `W/${ETAG}`,
        }).end(encoded);
      };
      await using server = await startServer({ "/f": route });
      await using dir = await tempDir();
      const { download } = await run(server.url("/f"), dir, {
        headers: { "accept-encoding": `${encoding}, identity;q=0.5` },
        connections,
        retries: 0,
      });
      assert.equal(download.error(), undefined);
      await assertFileHolds(dir.join("f"), plain);
      assert.deepEqual(await dir.list(), ["f"]);
      assert.equal(
        server.requests[0]?.headers["accept-encoding"],
        `${encoding}, identity;q=0.5`,
      );
    });
  }
}

test("Download saves an empty file on every runtime when the server marks an empty body gzip, deflate or br", async () => {
  // Some servers mark every answer of a type compressed, an empty file too.
  // Node's and Bun's fetch take no bytes as no bytes; zlib's gunzip fails on
  // them, which failed the download on Deno alone.
  for (const encoding of ["gzip", "x-gzip", "deflate", "br"]) {
    const route: Route = (_request, response) => {
      response.writeHead(200, {
        "content-encoding": encoding,
        "content-length": 0,
      }).end();
    };
    await using server = await startServer({ "/f": route });
    await using dir = await tempDir();
    const { download } = await run(server.url("/f"), dir, { retries: 0 });
    assert.equal(download.error(), undefined, encoding);
    await assertFileHolds(dir.join("f"), new Uint8Array(0));
    assert.deepEqual(await dir.list(), ["f"], encoding);
  }
});

test("Download fails with ProtocolError on every runtime when a gzip body does not decode", async () => {
  const route: Route = (_request, response) => {
    response.writeHead(200, { "content-encoding": "gzip" })
      .end("this is not gzip");
  };
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const { download } = await run(server.url("/f"), dir, { retries: 0 });
  const error = download.error();
  assert.ok(error instanceof ProtocolError, String(error));
  assert.match(error.message, /does not decode as its Content-Encoding says/);
  assert.deepEqual(await dir.list(), []);
});

test("Download of a gzip body corrupted midway ends with a typed error on every runtime, through the pipe or in chunks, and leaves nothing", async () => {
  const plain = patternBytes(400_000, 3);
  // Random bytes do not compress: the corrupted middle is read well after
  // the first chunks.
  let x = 2463534242;
  for (let i = 0; i < plain.byteLength; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    plain[i] = x & 255;
  }
  const gzipped = gzipSync(plain);
  const middle = gzipped.byteLength >> 1;
  gzipped.fill(0x55, middle, middle + 64);
  const route: Route = (_request, response) => {
    response.writeHead(200, { "content-encoding": "gzip" }).end(gzipped);
  };
  await using server = await startServer({ "/f": route });
  for (const chunkSize of [undefined, 4096]) {
    await using dir = await tempDir();
    // Node's fetch leaves the read after the bad bytes pending for good:
    // the idle timeout ends it there (it must, as a cancel would).
    const { download } = await run(server.url("/f"), dir, {
      retries: 0,
      idleTimeout: 500,
      chunkSize,
    });
    const error = download.error();
    assert.ok(
      error instanceof ProtocolError || error instanceof TimeoutError,
      `chunkSize ${chunkSize}: ${error}`,
    );
    assert.deepEqual(await dir.list(), [], `chunkSize ${chunkSize}`);
  }
});

test("Download refuses, on every runtime and without retrying, a body in a coding other than gzip, deflate and br", async () => {
  for (const encoding of ["zstd", "gzip, br", "compress"]) {
    const route: Route = (_request, response) => {
      response.writeHead(200, { "content-encoding": encoding }).end("bytes");
    };
    await using server = await startServer({ "/f": route });
    await using dir = await tempDir();
    const { download } = await run(server.url("/f"), dir, {
      retries: 3,
      backoffBase: 1,
    });
    const error = download.error();
    assert.ok(error instanceof ProtocolError, String(error));
    // The answer would be the same: asked once.
    assert.equal(server.requests.length, 1);
    assert.equal(
      error.message,
      `Cannot download "${
        server.url("/f")
      }": the server sent the body encoded as "${encoding}", which cannot be decoded here`,
    );
    assert.deepEqual(await dir.list(), []);
  }
});

const MiB = 1024 * 1024;
const SIX_MIB = patternBytes(6 * MiB, 3);

/**
 * Serves `SIX_MIB`, every answer dropped `drop` bytes in (held until the
 * download's progress shows it has them, so that no runtime loses them to
 * the broken connection); the last answer, with less left, ends well.
 */
async function serveDropping(
  drop: number,
  etag: string | undefined,
): Promise<{
  server: TestServer;
  log: FileRouteLog;
  url: string;
  progress: (current: number) => void;
}> {
  let release = deferred();
  let until = Infinity;
  const { route, log } = fileRoute({
    body: SIX_MIB,
    etag,
    faultFor: ({ range }) => {
      const from = Number(/^bytes=(\d+)-/.exec(range ?? "")?.[1] ?? 0);
      if (from + drop >= SIX_MIB.byteLength) return undefined;
      release = deferred();
      until = from + drop;
      return { dropAfter: drop, release: release.promise };
    },
  });
  const server = await startServer({ "/f": route });
  return {
    server,
    log,
    url: server.url("/f"),
    progress: (current) => {
      if (current >= until) release.resolve();
    },
  };
}

test("Download does not use up its retries while each attempt moves the file on by a MiB or more", async () => {
  const { server, log, url, progress } = await serveDropping(
    1.5 * MiB,
    ETAG,
  );
  await using _server = server;
  await using dir = await tempDir();
  const attempts: number[] = [];
  const download = new Download(url, dir.join("f"), {
    ...FAST,
    retries: 1,
    progress: (_d, current) => progress(current),
  });
  download.addEventListener("retry", ({ attempt }) => attempts.push(attempt));
  download.start();
  await download.wait();
  await assertFileHolds(dir.join("f"), SIX_MIB);
  // Four answers dropped, each resumed where it ended: every retry the
  // first of its count.
  assert.deepEqual(attempts, [1, 1, 1]);
  assert.deepEqual(log.ranges, [
    null,
    `bytes=${1.5 * MiB}-`,
    `bytes=${3 * MiB}-`,
    `bytes=${4.5 * MiB}-`,
  ]);
});

/**
 * Downloads from {@linkcode serveDropping} with `retries: 2`: returns the
 * error it ended with (a RetriesExhaustedError of three attempts is
 * asserted) and what the server saw.
 */
async function exhaustRetries(
  drop: number,
  etag: string | undefined,
): Promise<{ log: FileRouteLog; left: string[] }> {
  const { server, log, url, progress } = await serveDropping(drop, etag);
  await using _server = server;
  await using dir = await tempDir();
  const download = new Download(url, dir.join("f"), {
    ...FAST,
    retries: 2,
    progress: (_d, current) => progress(current),
  });
  download.start();
  await download.wait({ raiseIfError: false });
  const error = download.error();
  assert.ok(error instanceof RetriesExhaustedError, String(error));
  assert.equal(error.errors.length, 3);
  return { log, left: await readdir(dir.path) };
}

test("Download uses up its retries when attempts move the file on by less than a MiB each", async () => {
  const { log, left } = await exhaustRetries(256 * 1024, ETAG);
  assert.equal(log.ranges.length, 3);
  assert.deepEqual(left, []);
});

test("Download without a validator uses up its retries though each attempt gets as far: it starts over each time", async () => {
  const { log } = await exhaustRetries(1.5 * MiB, undefined);
  assert.deepEqual(log.ranges, [null, null, null]);
});
