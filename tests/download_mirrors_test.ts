// A file with several sources: each URL after the first is a mirror, tried
// in order when the one before fails (a second failure in a row, or a
// refusal or long Retry-After at once), the earlier ones asked again once
// each has had its turn. The first URL is
// the download's identity. The next source resumes what is on disk only when
// its validator proves it is the same file, starts over when only its length
// agrees, and is refused when it serves a file of another length. The
// behaviour lives in src/_transfer/sources.ts.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import { test } from "node:test";
import {
  Download,
  DownloadInterrupt,
  type DownloadOptions,
  HTTPError,
  IntegrityError,
  NetworkError,
  ProtocolError,
  RetriesExhaustedError,
} from "../mod.ts";
import {
  askedBytes,
  bytesRoute,
  deferred,
  fileRoute,
  patternBytes,
  startServer,
  statusRoute,
  type TestServer,
} from "./_helpers/server.ts";
import { startChild } from "./_helpers/child.ts";
import { tempDir } from "./_helpers/temp_dir.ts";
import { assertFileHolds } from "./_helpers/file_bytes.ts";
import { partialOf } from "./_helpers/partial_file.ts";
import { partialPaths } from "../src/_disk/names.ts";
import { readSidecar } from "../src/_disk/sidecar.ts";

const BODY = patternBytes(600_000, 1);
const OTHER = patternBytes(500_000, 2);
const FAST = { backoffBase: 1, backoffCap: 5, retries: 1, connections: 1 };

/** A URL nothing answers at: a server's, once closed. */
async function deadUrl(): Promise<string> {
  const server = await startServer({});
  const url = server.url("/f");
  await server.close();
  return url;
}

/**
 * Where the first source's bytes ended on disk: the offset its second
 * attempt asked from (a drop may lose what was in flight, so not exactly
 * where the server cut).
 */
function resumedFrom(first: ReturnType<typeof fileRoute>): number {
  const match = /^bytes=(\d+)-$/.exec(first.log.ranges[1] ?? "");
  assert.ok(match !== null, `${first.log.ranges}`);
  const offset = Number(match[1]);
  assert.ok(offset > 0 && offset <= BODY.byteLength / 2, `${offset}`);
  return offset;
}

/**
 * A first source that drops halfway through, then refuses the rest. Where a
 * test resumes what it sent, it holds the drop until `download` has some of
 * it on disk: a runtime's fetch may discard what it had not handed over when
 * the connection breaks (Bun did, once in CI), leaving nothing to resume.
 */
function failingOrigin(etag: string, body: Uint8Array = BODY): FailingOrigin {
  let asked = 0;
  let held: Promise<void> | undefined;
  return {
    ...fileRoute({
      body,
      etag,
      faultFor: () =>
        ++asked === 1
          ? {
            dropAfter: BODY.byteLength / 2,
            ...(held === undefined ? {} : { release: held }),
          }
          : { status: 503 },
    }),
    dropOnceWritten(download): void {
      const written = deferred();
      held = written.promise;
      download.addEventListener("progress", ({ current }) => {
        if (current > 0) written.resolve();
      });
    },
  };
}

/** A {@linkcode failingOrigin}. */
interface FailingOrigin extends ReturnType<typeof fileRoute> {
  /** Holds the drop until `download` has written some of the body. */
  dropOnceWritten(download: Download): void;
}

/**
 * Downloads from `server`'s `paths`, in order, into `dest`, with `options`
 * over FAST; the download.
 */
async function fetchFrom(
  server: TestServer,
  paths: string[],
  dest: string,
  options: DownloadOptions = {},
  first?: FailingOrigin,
): Promise<Download> {
  const download = new Download(
    paths.map((path) => server.url(path)),
    dest,
    { ...FAST, ...options },
  );
  first?.dropOnceWritten(download);
  download.start();
  await download.wait();
  return download;
}

test("Download goes on with the next source when one is down, keeping the first as its identity", async () => {
  const mirror = fileRoute({ body: BODY, etag: '"m"' });
  await using server = await startServer({ "/mirror/f": mirror.route });
  await using dir = await tempDir();
  const down = await deadUrl();
  const download = new Download(
    [down, server.url("/mirror/f")],
    dir.join("f"),
    FAST,
  );
  download.start();
  await download.wait();
  assert.equal(download.getUrl(), down);
  assert.equal(download.getFinalUrl(), server.url("/mirror/f"));
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download resumes on the next source only when its validator proves the same file", async () => {
  const first = failingOrigin('"same"');
  const same = fileRoute({ body: BODY, etag: '"same"' });
  await using server = await startServer({
    "/f": first.route,
    "/same/f": same.route,
  });
  await using dir = await tempDir();
  await fetchFrom(server, ["/f", "/same/f"], dir.join("f"), {}, first);
  // The first asked for the rest once more, and was refused; the mirror
  // proved the same version with If-Range and sent only the rest.
  const offset = resumedFrom(first);
  assert.deepEqual(first.log.ranges, [null, `bytes=${offset}-`]);
  assert.deepEqual(same.log.ranges, [`bytes=${offset}-`]);
  assert.deepEqual(same.log.ifRanges, ['"same"']);
  assert.deepEqual(same.log.sent, [BODY.byteLength - offset]);
  await assertFileHolds(dir.join("f"), BODY);
});

test("Download starts over on a source of the same length whose validator differs, never splicing", async () => {
  const first = failingOrigin('"origin"');
  const mirror = fileRoute({ body: BODY, etag: '"mirror"' });
  await using server = await startServer({
    "/f": first.route,
    "/mirror/f": mirror.route,
  });
  await using dir = await tempDir();
  const download = new Download(
    [server.url("/f"), server.url("/mirror/f")],
    dir.join("f"),
    FAST,
  );
  first.dropOnceWritten(download);
  const progress: number[] = [];
  download.addEventListener("progress", (event) => {
    progress.push(event.current);
  });
  download.start();
  await download.wait();
  // Asked for the rest, If-Range refused it: the whole file, from byte 0.
  assert.deepEqual(mirror.log.ranges, [`bytes=${resumedFrom(first)}-`]);
  assert.deepEqual(mirror.log.sent, [BODY.byteLength]);
  assert.ok(progress.includes(0) && progress.lastIndexOf(0) > 0);
  await assertFileHolds(dir.join("f"), BODY);
});

test("Download refuses a source that serves another file, and takes the next that serves this one", async () => {
  const first = failingOrigin('"origin"');
  const stale = fileRoute({ body: OTHER, etag: '"stale"' });
  const good = fileRoute({ body: BODY, etag: '"origin"' });
  await using server = await startServer({
    "/f": first.route,
    "/stale/f": stale.route,
    "/good/f": good.route,
  });
  await using dir = await tempDir();
  const download = await fetchFrom(
    server,
    ["/f", "/stale/f", "/good/f"],
    dir.join("f"),
    {},
    first,
  );
  // The stale mirror answered once, with another length: not asked again.
  assert.equal(stale.log.ranges.length, 1);
  assert.deepEqual(good.log.ranges, [`bytes=${resumedFrom(first)}-`]);
  assert.equal(download.getFinalUrl(), server.url("/good/f"));
  await assertFileHolds(dir.join("f"), BODY);
});

test("Download takes a source that does not say its length (chunked) once it proves to serve the file's, and refuses one that does not", async () => {
  const first = failingOrigin('"origin"');
  const chunked = { contentLength: false, writeSize: 64 * 1024 };
  let staleAsked = 0;
  const stale = bytesRoute(OTHER, { ...chunked, headers: { etag: '"s"' } });
  await using server = await startServer({
    "/f": first.route,
    "/stale/f": (request, response) => {
      staleAsked++;
      return stale(request, response);
    },
    "/good/f": bytesRoute(BODY, { ...chunked, headers: { etag: '"g"' } }),
  });
  await using dir = await tempDir();
  const download = await fetchFrom(
    server,
    ["/f", "/stale/f", "/good/f"],
    dir.join("f"),
  );
  // The stale one sent another length: refused, not asked again.
  assert.equal(staleAsked, 1);
  assert.equal(download.getFinalUrl(), server.url("/good/f"));
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download stops a source that does not say its length as soon as it sends more than the file's, and tells no progress past it", async () => {
  const first = failingOrigin('"origin"');
  // A stale mirror of a far bigger file, sent chunked: once past the
  // file's length it cannot be this file, and the rest is not waited for
  // (nor written: gigabytes of it would fill the disk).
  const huge = patternBytes(32 * 1024 * 1024, 5);
  const staleClosed = deferred<boolean>();
  const stale = bytesRoute(huge, {
    contentLength: false,
    writeSize: 64 * 1024,
    headers: { etag: '"s"' },
  });
  await using server = await startServer({
    "/f": first.route,
    "/stale/f": (request, response) => {
      response.on("close", () => staleClosed.resolve(response.writableEnded));
      return stale(request, response);
    },
    "/good/f": fileRoute({ body: BODY, etag: '"origin"' }).route,
  });
  await using dir = await tempDir();
  const download = new Download(
    ["/f", "/stale/f", "/good/f"].map((path) => server.url(path)),
    dir.join("f"),
    FAST,
  );
  let most = 0;
  download.addEventListener("progress", (event) => {
    most = Math.max(most, event.current);
  });
  download.start();
  await download.wait();
  assert.equal(await staleClosed.promise, false);
  assert.ok(most <= BODY.byteLength, `${most}`);
  assert.equal(download.getFinalUrl(), server.url("/good/f"));
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download fails naming every source when none can serve the file, and leaves nothing", async () => {
  const first = fileRoute({
    body: BODY,
    etag: '"origin"',
    faults: [{ dropAfter: 1000 }, { status: 503 }],
  });
  const stale = fileRoute({ body: OTHER, etag: '"stale"' });
  await using server = await startServer({
    "/f": first.route,
    "/stale/f": stale.route,
  });
  await using dir = await tempDir();
  const sources = [server.url("/f"), server.url("/stale/f")];
  const download = new Download(sources, dir.join("f"), FAST);
  download.start();
  const error = await download.wait().then(() => undefined, (e) => e);
  assert.ok(error instanceof RetriesExhaustedError, String(error));
  assert.equal(error.errors.length, 2);
  assert.ok(error.errors[1] instanceof ProtocolError);
  assert.match(error.message, new RegExp(`#2 \\(${sources[1]}\\): `));
  assert.match(error.message, /: 2 sources failed \(#1 /);
  // Each source's reasons name no URL again: the head names the download's,
  // each reason its source's.
  assert.equal(error.message.split("Cannot download").length - 1, 1);
  assert.match(
    error.message,
    /serves another file \(500000 bytes, not 600000\)/,
  );
  assert.deepEqual(await dir.list(), []);
});

test("Download's error names each failed source once, with its attempts' reasons", async () => {
  await using server = await startServer({
    "/f": fileRoute({ body: BODY, faults: [{ status: 503 }, { status: 503 }] })
      .route,
    "/m/f":
      fileRoute({ body: BODY, faults: [{ status: 502 }, { status: 502 }] })
        .route,
  });
  await using dir = await tempDir();
  const sources = [server.url("/f"), server.url("/m/f")];
  const download = new Download(sources, dir.join("f"), {
    ...FAST,
    retries: 1,
  });
  download.start();
  const error = await download.wait().then(() => undefined, (e) => e);
  assert.ok(error instanceof RetriesExhaustedError, String(error));
  assert.equal(
    error.message,
    `Cannot download "${sources[0]}": 2 sources failed (` +
      `#1 (${
        sources[0]
      }): 2 attempts failed (#1: server answered 503 Service Unavailable; #2: server answered 503 Service Unavailable); ` +
      `#2 (${
        sources[1]
      }): 2 attempts failed (#1: server answered 502 Bad Gateway; #2: server answered 502 Bad Gateway))`,
  );
  assert.deepEqual(await dir.list(), []);
});

test("Download's error names the host of a mirror whose host name does not exist", async () => {
  await using server = await startServer({ "/f": statusRoute(404) });
  await using dir = await tempDir();
  // .invalid never resolves (RFC 6761).
  const sources = [server.url("/f"), "http://nonexistent.invalid/f"];
  const download = new Download(sources, dir.join("f"), FAST);
  download.start();
  const error = await download.wait().then(() => undefined, (e) => e);
  assert.ok(error instanceof RetriesExhaustedError, String(error));
  const [, missing] = error.errors;
  assert.ok(missing instanceof NetworkError, String(missing));
  assert.equal(missing.code, "ENOTFOUND");
  assert.equal(
    missing.message,
    `Cannot download "${
      sources[0]
    }": host name not found (nonexistent.invalid)`,
  );
  assert.match(
    error.message,
    /#2 \(http:\/\/nonexistent\.invalid\/f\): host name not found \(nonexistent\.invalid\)\)$/,
  );
  assert.deepEqual(await dir.list(), []);
});

test("Download with a digest goes on with the next source when one serves other bytes of the same length", async () => {
  const corrupt = patternBytes(BODY.byteLength, 3);
  const bad = fileRoute({ body: corrupt, etag: '"bad"' });
  const good = fileRoute({ body: BODY, etag: '"good"' });
  await using server = await startServer({
    "/bad/f": bad.route,
    "/good/f": good.route,
  });
  await using dir = await tempDir();
  const sha256 = createHash("sha256").update(BODY).digest("hex");
  const download = await fetchFrom(
    server,
    ["/bad/f", "/good/f"],
    dir.join("f"),
    { sha256 },
  );
  // The bad bytes were dropped: the good source sent the whole file.
  assert.deepEqual(good.log.ranges, [null]);
  assert.equal(download.getFinalUrl(), server.url("/good/f"));
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
  // When no source has the right bytes, each source's mismatch is named.
  const none = new Download(
    [server.url("/bad/f"), server.url("/bad/f?again")],
    dir.join("g"),
    { ...FAST, sha256 },
  );
  none.start();
  const error = await none.wait().then(() => undefined, (e) => e);
  assert.ok(error instanceof RetriesExhaustedError, String(error));
  assert.ok(error.errors.every((each) => each instanceof IntegrityError));
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download with a digest takes a source of another length than a failed one's once no other serves the file, starting over from the bytes that one left: the digest names the file", async () => {
  // The first source is the stale one (another version, another length),
  // and drops once some of its bytes are on disk; the digest names the
  // mirror's file. Asked for the rest of those bytes, the mirror is refused
  // for its length; asked again once no other source is left, its file
  // starts the file over, rather than being refused for that length again.
  const stale = failingOrigin('"stale"', OTHER);
  const good = fileRoute({ body: BODY, etag: '"good"' });
  await using server = await startServer({
    "/stale/f": stale.route,
    "/good/f": good.route,
  });
  await using dir = await tempDir();
  const sha256 = createHash("sha256").update(BODY).digest("hex");
  const download = await fetchFrom(
    server,
    ["/stale/f", "/good/f"],
    dir.join("f"),
    { sha256 },
    stale,
  );
  const offset = resumedFrom(stale);
  assert.deepEqual(good.log.ranges, [
    `bytes=${offset}-`,
    `bytes=${offset}-`,
    null,
  ]);
  assert.deepEqual(good.log.statuses, [206, 206, 200]);
  assert.equal(good.log.sent.at(-1), BODY.byteLength);
  assert.equal(download.getFinalUrl(), server.url("/good/f"));
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
  // A source of another length is still asked after the others: the next
  // resumes what the first source wrote.
  const first = failingOrigin('"good"');
  const other = fileRoute({ body: OTHER, etag: '"other"' });
  const mirror = fileRoute({ body: BODY, etag: '"good"' });
  await using second = await startServer({
    "/f": first.route,
    "/other/f": other.route,
    "/mirror/f": mirror.route,
  });
  await fetchFrom(
    second,
    ["/f", "/other/f", "/mirror/f"],
    dir.join("g"),
    { sha256 },
    first,
  );
  assert.equal(other.log.ranges.length, 1);
  assert.deepEqual(mirror.log.ranges, [`bytes=${resumedFrom(first)}-`]);
  await assertFileHolds(dir.join("g"), BODY);
});

test("Download in parts resumed on a mirror tells that mirror as its final URL", async () => {
  const big = patternBytes(3 * 1024 * 1024, 4);
  // The first source answers the whole file, then refuses every part.
  const first = fileRoute({
    body: big,
    etag: '"same"',
    faultFor: ({ range }) => range === null ? undefined : { status: 500 },
  });
  const mirror = fileRoute({ body: big, etag: '"same"' });
  await using server = await startServer({
    "/f": first.route,
    "/mirror/f": mirror.route,
  });
  await using dir = await tempDir();
  const download = await fetchFrom(
    server,
    ["/f", "/mirror/f"],
    dir.join("f"),
    { connections: 4 },
  );
  // Every part came from the mirror, resumed with the first's validator.
  assert.ok(mirror.log.ranges.length > 0);
  assert.ok(mirror.log.statuses.every((status) => status === 206));
  assert.ok(mirror.log.ifRanges.every((ifRange) => ifRange === '"same"'));
  assert.equal(download.getFinalUrl(), server.url("/mirror/f"));
  await assertFileHolds(dir.join("f"), big);
});

test("Download in parts gone on to a mirror resumes from every byte on disk: progress never goes back", async () => {
  const big = patternBytes(8 * 1024 * 1024, 4);
  // The first source serves parts slowly, and refuses the last once some
  // bytes of the others are on disk (less than a part: no part has ended).
  const someOnDisk = deferred();
  const first = fileRoute({
    body: big,
    etag: '"same"',
    faultFor: ({ range }) =>
      range === null
        ? undefined
        : range.startsWith(`bytes=${6 * 1024 * 1024}-`)
        ? { status: 404, answerAfter: someOnDisk.promise }
        : { pace: 4_000_000 },
  });
  const mirror = fileRoute({ body: big, etag: '"same"' });
  await using server = await startServer({
    "/f": first.route,
    "/mirror/f": mirror.route,
  });
  await using dir = await tempDir();
  const download = new Download(
    [server.url("/f"), server.url("/mirror/f")],
    dir.join("f"),
    { ...FAST, connections: 4 },
  );
  const progress: number[] = [];
  download.addEventListener("progress", (event) => {
    progress.push(event.current);
    if (event.current >= 1024 * 1024) someOnDisk.resolve();
  });
  download.start();
  await download.wait();
  assert.deepEqual(progress, progress.toSorted((a, b) => a - b));
  // The mirror was asked only for what was not on disk. (What it sent may
  // be more: a request whose part another connection took half of runs to
  // its old end, and the server fills the socket past where the client
  // stops reading, as a loaded run on Bun showed.)
  const asked = askedBytes(mirror.log.ranges, big.byteLength)
    .reduce((sum, [start, end]) => sum + end - start, 0);
  assert.ok(asked <= big.byteLength - 1024 * 1024, `${mirror.log.ranges}`);
  await assertFileHolds(dir.join("f"), big);
});

test("Download in parts keeps what is on disk past a mirror of another file, for the next source to resume", async () => {
  const big = patternBytes(8 * 1024 * 1024, 4);
  const someOnDisk = deferred();
  const first = fileRoute({
    body: big,
    etag: '"same"',
    faultFor: ({ range }) =>
      range === null
        ? undefined
        : range.startsWith(`bytes=${6 * 1024 * 1024}-`)
        ? { status: 404, answerAfter: someOnDisk.promise }
        : { pace: 4_000_000 },
  });
  const stale = fileRoute({ body: patternBytes(5 * 1024 * 1024, 9) });
  const good = fileRoute({ body: big, etag: '"same"' });
  await using server = await startServer({
    "/f": first.route,
    "/stale/f": stale.route,
    "/good/f": good.route,
  });
  await using dir = await tempDir();
  const download = new Download(
    ["/f", "/stale/f", "/good/f"].map((path) => server.url(path)),
    dir.join("f"),
    { ...FAST, connections: 4 },
  );
  const progress: number[] = [];
  download.addEventListener("progress", (event) => {
    progress.push(event.current);
    if (event.current >= 1024 * 1024) someOnDisk.resolve();
  });
  download.start();
  await download.wait();
  // The stale mirror was refused at its first answer, not started over
  // from; the good one resumed the parts.
  assert.ok(stale.log.ranges.every((range) => range !== null));
  assert.ok(good.log.ranges.every((range) => range !== null));
  assert.deepEqual(progress, progress.toSorted((a, b) => a - b));
  assert.equal(download.getFinalUrl(), server.url("/good/f"));
  await assertFileHolds(dir.join("f"), big);
});

test("Download fails on a full disk as it does without mirrors, asking no other source", async () => {
  const first = fileRoute({ body: BODY, etag: '"same"' });
  const mirror = fileRoute({ body: BODY, etag: '"same"' });
  await using server = await startServer({
    "/f": first.route,
    "/mirror/f": mirror.route,
  });
  await using dir = await tempDir();
  // A file-size limit of 40 blocks (20 KiB or more) fails every write past
  // it with EFBIG, as a full disk fails with ENOSPC; the signal it would
  // send is ignored. No other source of the file would mend that.
  const child = startChild(
    "crash_child",
    [
      JSON.stringify([server.url("/f"), server.url("/mirror/f")]),
      dir.join("f"),
    ],
    ["sh", "-c", 'trap "" XFSZ; ulimit -f 40; exec "$@"', "sh"],
  );
  const line = await child.line((line) => !/^\d+$/.test(line));
  assert.equal(line, "failed FileSystemError EFBIG");
  await child.exited;
  assert.equal(first.log.statuses.length, 1);
  assert.deepEqual(mirror.log.statuses, []);
  assert.deepEqual(await dir.list(), []);
});

test("Download sends no credentials to a mirror on another origin", async () => {
  await using origin = await startServer({
    "/f": fileRoute({ body: BODY, faults: [{ status: 404 }] }).route,
  });
  // Another port: another origin.
  await using mirror = await startServer({
    "/f": fileRoute({ body: BODY, etag: '"m"' }).route,
  });
  await using dir = await tempDir();
  const download = new Download(
    [origin.url("/f"), mirror.url("/f")],
    dir.join("f"),
    { ...FAST, headers: { authorization: "Bearer secret", "x-keep": "1" } },
  );
  download.start();
  await download.wait();
  assert.equal(origin.requests[0]?.headers.authorization, "Bearer secret");
  const mirrored = mirror.requests[0];
  assert.equal(mirrored?.headers.authorization, undefined);
  assert.equal(mirrored?.headers["x-keep"], "1");
  await assertFileHolds(dir.join("f"), BODY);
});

test("DownloadManager.download() takes mirrors, named after the first URL", async () => {
  const mirror = fileRoute({ body: BODY, etag: '"m"' });
  await using server = await startServer({ "/pub/f.bin": mirror.route });
  await using dir = await tempDir();
  const manager = dir.manager(FAST);
  const first = (await deadUrl()).replace(/\/f$/, "/a.bin");
  const download = manager.download([first, server.url("/pub/f.bin")]);
  await manager.wait();
  assert.equal(download?.getUrl(), first);
  await assertFileHolds(dir.join("a.bin"), BODY);
  assert.throws(() => manager.download([]), TypeError);
  assert.throws(
    () => manager.download([server.url("/pub/f.bin"), "ftp://x/f.bin"]),
    TypeError,
  );
});

/**
 * Options with no waits, with `retries`: every source left is ready again at
 * once, so which goes next depends on the turns alone, never on how long a
 * turn took (with waits of a few milliseconds, a fast runtime can finish a
 * turn before another source's wait has passed, and ask a ready one again).
 */
function quick(retries: number): DownloadOptions {
  return {
    retries,
    backoffBase: 0,
    backoffCap: 0,
    retryAfterCap: 0,
    connections: 1,
  };
}

test("Download goes on to the next source at once when one asks for a long Retry-After, rather than wait it out", async () => {
  const busy = fileRoute({
    body: BODY,
    etag: '"v"',
    faults: [{ status: 503, retryAfter: "3600" }],
  });
  const mirror = fileRoute({ body: BODY, etag: '"v"' });
  await using server = await startServer({
    "/f": busy.route,
    "/mirror/f": mirror.route,
  });
  await using dir = await tempDir();
  const retried: unknown[] = [];
  const download = new Download(
    [server.url("/f"), server.url("/mirror/f")],
    dir.join("f"),
    quick(3),
  );
  download.addEventListener("retry", ({ error }) => retried.push(error));
  download.start();
  await download.wait();
  assert.deepEqual(busy.log.statuses, [503]);
  assert.deepEqual(mirror.log.statuses, [200]);
  assert.deepEqual(retried, []);
  assert.equal(download.getFinalUrl(), server.url("/mirror/f"));
  await assertFileHolds(dir.join("f"), BODY);
});

test("Download goes on to the next source after a second failure in a row, not after every retry", async () => {
  const failing = fileRoute({
    body: BODY,
    etag: '"v"',
    faults: [{ status: 500 }, { status: 500 }],
  });
  const mirror = fileRoute({ body: BODY, etag: '"v"' });
  await using server = await startServer({
    "/f": failing.route,
    "/mirror/f": mirror.route,
  });
  await using dir = await tempDir();
  await fetchFrom(server, ["/f", "/mirror/f"], dir.join("f"), quick(3));
  assert.deepEqual(failing.log.statuses, [500, 500]);
  assert.deepEqual(mirror.log.statuses, [200]);
  await assertFileHolds(dir.join("f"), BODY);
});

test("Download comes back to a source it left once every other failed, after its Retry-After, and tells the retry", async () => {
  const busy = fileRoute({
    body: BODY,
    etag: '"v"',
    faults: [{ status: 503, retryAfter: "3600" }],
  });
  const down = fileRoute({
    body: BODY,
    etag: '"v"',
    faultFor: () => ({ status: 502 }),
  });
  await using server = await startServer({
    "/f": busy.route,
    "/down/f": down.route,
  });
  await using dir = await tempDir();
  const download = new Download(
    [server.url("/f"), server.url("/down/f")],
    dir.join("f"),
    quick(3),
  );
  const retries: [number, unknown][] = [];
  download.addEventListener("retry", ({ attempt, error }) => {
    retries.push([attempt, error instanceof HTTPError && error.status]);
  });
  download.start();
  await download.wait();
  // The busy source once, the other twice (its turn), then the busy one
  // again: its Retry-After (capped by retryAfterCap, to none) had passed.
  assert.deepEqual(
    server.requests.map(({ path }) => path),
    ["/f", "/down/f", "/down/f", "/f"],
  );
  assert.deepEqual(busy.log.statuses, [503, 200]);
  // The second source's retry in its turn, then the first's, coming back.
  assert.deepEqual(retries, [[1, 502], [1, 503]]);
  assert.equal(download.getFinalUrl(), server.url("/f"));
  await assertFileHolds(dir.join("f"), BODY);
});

test("Download with mirrors asks each source at most retries + 1 times in all, and names each source's every attempt when all fail", async () => {
  const first = fileRoute({ body: BODY, faultFor: () => ({ status: 503 }) });
  const second = fileRoute({ body: BODY, faultFor: () => ({ status: 502 }) });
  await using server = await startServer({
    "/f": first.route,
    "/m/f": second.route,
  });
  await using dir = await tempDir();
  const sources = [server.url("/f"), server.url("/m/f")];
  const download = new Download(sources, dir.join("f"), quick(2));
  download.start();
  const error = await download.wait().then(() => undefined, (e) => e);
  assert.ok(error instanceof RetriesExhaustedError, String(error));
  // Two turns each: two attempts, then the last one left.
  assert.deepEqual(
    server.requests.map(({ path }) => path),
    ["/f", "/f", "/m/f", "/m/f", "/f", "/m/f"],
  );
  const [a, b] = error.errors;
  assert.ok(a instanceof RetriesExhaustedError && a.attempts === 3, `${a}`);
  assert.ok(b instanceof RetriesExhaustedError && b.attempts === 3, `${b}`);
  assert.ok(a.errors.every((each) => (each as HTTPError).status === 503));
  assert.ok(b.errors.every((each) => (each as HTTPError).status === 502));
  assert.match(
    error.message,
    /^Cannot download "[^"]+": 2 sources failed \(#1 /,
  );
  assert.match(
    error.message,
    /#2 \([^)]+\): 3 attempts failed \(#1: server answered 502/,
  );
  assert.deepEqual(await dir.list(), []);
});

for (const digest of [false, true]) {
  test(
    `Download resumes on the next source the bytes a source left before it went down, when that source serves the same version${
      digest ? ", and checks them with the digest" : ""
    }`,
    async () => {
      // The drop waits until some bytes are on disk: a runtime's fetch may
      // discard what it had not handed over when the connection breaks (Bun
      // did, once in CI), and then there is nothing to resume.
      const onDisk = deferred();
      const dropping = fileRoute({
        body: BODY,
        etag: '"same"',
        faults: [{ dropAfter: BODY.byteLength / 2, release: onDisk.promise }],
      });
      // Down after its first answer broke: every next connection is refused.
      const origin: TestServer = await startServer({
        "/f": async (request, response) => {
          await dropping.route(request, response);
          await origin.close();
        },
      });
      await using _origin = origin;
      const same = fileRoute({ body: BODY, etag: '"same"' });
      await using server = await startServer({ "/same/f": same.route });
      await using dir = await tempDir();
      const sha256 = createHash("sha256").update(BODY).digest("hex");
      const download = new Download(
        [origin.url("/f"), server.url("/same/f")],
        dir.join("f"),
        { ...quick(3), ...(digest ? { sha256 } : {}) },
      );
      const retried: unknown[] = [];
      download.addEventListener("retry", ({ error }) => retried.push(error));
      download.addEventListener("progress", ({ current }) => {
        if (current > 0) onDisk.resolve();
      });
      download.start();
      await download.wait();
      // The drop was retried; the refused connection was not: the mirror at
      // once, asked for the rest with the first source's validator (with a
      // digest, without one: its answer names the same, proving it so).
      assert.equal(retried.length, 1);
      assert.equal(origin.requests.length, 1);
      const match = /^bytes=(\d+)-$/.exec(same.log.ranges[0] ?? "");
      assert.ok(match !== null, `${same.log.ranges}`);
      const offset = Number(match[1]);
      assert.ok(offset > 0 && offset <= BODY.byteLength / 2, `${offset}`);
      assert.deepEqual(same.log.ifRanges, [digest ? null : '"same"']);
      assert.deepEqual(same.log.sent, [BODY.byteLength - offset]);
      await assertFileHolds(dir.join("f"), BODY);
      assert.deepEqual(await dir.list(), ["f"]);
    },
  );
}

test("Download with mirrors fails with an error whose sources name the source of each of its errors, and whose attempts count every source's", async () => {
  const busy = fileRoute({ body: BODY, faultFor: () => ({ status: 503 }) });
  await using server = await startServer({
    "/f": busy.route,
    "/gone/f": statusRoute(404),
  });
  await using dir = await tempDir();
  const sources = [server.url("/f"), server.url("/gone/f")];
  const download = new Download(sources, dir.join("f"), quick(2));
  download.start();
  const error = await download.wait().then(() => undefined, (e) => e);
  assert.ok(error instanceof RetriesExhaustedError, String(error));
  assert.deepEqual(error.sources, sources);
  const [busyError, goneError] = error.errors;
  assert.ok(busyError instanceof RetriesExhaustedError, String(busyError));
  assert.equal(busyError.attempts, 3);
  assert.equal(busyError.sources, undefined);
  assert.ok(goneError instanceof HTTPError && goneError.status === 404);
  // The busy source three times, the gone one once.
  assert.equal(server.requests.length, 4);
  assert.equal(error.attempts, 4);
  assert.equal(error.cause, goneError);
});

test("Download paused while it waits to ask a source again stops waiting: its manager's slot goes to another, and the resume asks once the source's Retry-After is up", async () => {
  // When the first source's 503 was sent, and when it was last asked
  // (performance.now()).
  let refused = 0;
  let asked = 0;
  const busy = fileRoute({
    body: BODY,
    etag: '"v"',
    faults: [{ status: 503, retryAfter: "3" }],
  });
  const down = fileRoute({ body: BODY, faultFor: () => ({ status: 502 }) });
  await using server = await startServer({
    "/f": (request, response) => {
      asked = performance.now();
      if (refused === 0) {
        response.on("finish", () => refused = performance.now());
      }
      return busy.route(request, response);
    },
    "/down/f": down.route,
    "/g": fileRoute({ body: OTHER }).route,
  });
  await using dir = await tempDir();
  const manager = dir.manager({
    ...quick(3),
    retryAfterCap: 60_000,
    concurrency: 1,
  });
  const first = manager.download([server.url("/f"), server.url("/down/f")]);
  assert.ok(first !== null);
  const paused = deferred();
  first.addEventListener("retry", ({ error }) => {
    if (error instanceof HTTPError && error.status === 503) {
      void first.pause().then(paused.resolve);
    }
  });
  await paused.promise;
  const second = manager.download(server.url("/g"));
  await second?.wait();
  first.resume();
  await first.wait();
  // The other source is asked meanwhile, its retries all used (ready
  // before the first: unless the 3 s are up first, on a slow machine, after
  // its first turn of two), then the first, and only after the pause.
  const paths = server.requests.map(({ path }) => path);
  const others = paths.length - 3;
  assert.ok(others === 4 || others === 2, paths.join());
  assert.deepEqual(paths, ["/f", ...Array(others).fill("/down/f"), "/g", "/f"]);
  // Not before the 3 s it asked for, though resumed sooner.
  assert.ok(asked - refused >= 2950, `asked again after ${asked - refused} ms`);
  await assertFileHolds(dir.join("f"), BODY);
  await assertFileHolds(dir.join("g"), OTHER);
});

test("Download in parts goes on to the next source at once when its last connection is told to come back much later", async () => {
  const big = patternBytes(3 * 1024 * 1024, 4);
  // The first source answers the whole file, then is busy for every part.
  const busy = fileRoute({
    body: big,
    etag: '"same"',
    faultFor: ({ range }) =>
      range === null ? undefined : { status: 503, retryAfter: "3600" },
  });
  const mirror = fileRoute({ body: big, etag: '"same"' });
  await using server = await startServer({
    "/f": busy.route,
    "/mirror/f": mirror.route,
  });
  await using dir = await tempDir();
  const download = new Download(
    [server.url("/f"), server.url("/mirror/f")],
    dir.join("f"),
    { ...quick(3), connections: 4 },
  );
  const retried: unknown[] = [];
  download.addEventListener("retry", ({ error }) => retried.push(error));
  download.start();
  await download.wait();
  // No connection waited for the busy source: each left it at its 503.
  assert.deepEqual(retried, []);
  assert.ok(busy.log.statuses.slice(1).every((status) => status === 503));
  assert.ok(mirror.log.statuses.every((status) => status === 206));
  assert.equal(download.getFinalUrl(), server.url("/mirror/f"));
  await assertFileHolds(dir.join("f"), big);
});

test("Download asking a source again after a later one failed takes that source's file, not the later one's length", async () => {
  // The first source is busy for a while; the second, a stale mirror (a
  // file of another length), drops it halfway and then fails. Asked again,
  // the first serves its own file: listed first, it is not refused for the
  // stale mirror's length, and the file starts over from it.
  const origin = fileRoute({
    body: BODY,
    etag: '"origin"',
    faults: [{ status: 503, retryAfter: "3600" }],
  });
  const stale = fileRoute({
    body: OTHER,
    etag: '"stale"',
    faults: [{ dropAfter: OTHER.byteLength / 2 }],
    faultFor: () => ({ status: 502 }),
  });
  await using server = await startServer({
    "/f": origin.route,
    "/stale/f": stale.route,
  });
  await using dir = await tempDir();
  const download = await fetchFrom(
    server,
    ["/f", "/stale/f"],
    dir.join("f"),
    quick(3),
  );
  assert.deepEqual(
    server.requests.map(({ path }) => path),
    ["/f", "/stale/f", "/stale/f", "/f"],
  );
  assert.deepEqual(origin.log.statuses, [503, 200]);
  assert.equal(download.getFinalUrl(), server.url("/f"));
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download canceled while it waits to ask a source again ends at once, leaving nothing", async () => {
  const busy = fileRoute({
    body: BODY,
    etag: '"v"',
    faults: [{ status: 503, retryAfter: "3600" }],
  });
  const down = fileRoute({
    body: BODY,
    etag: '"v"',
    faults: [{ dropAfter: BODY.byteLength / 2 }],
    faultFor: () => ({ status: 502 }),
  });
  await using server = await startServer({
    "/f": busy.route,
    "/down/f": down.route,
  });
  await using dir = await tempDir();
  // An hour's Retry-After is honoured: only the cancel ends the wait.
  const download = new Download(
    [server.url("/f"), server.url("/down/f")],
    dir.join("f"),
    { ...quick(1), retryAfterCap: 3_600_000 },
  );
  download.addEventListener("retry", ({ error }) => {
    if (error instanceof HTTPError && error.status === 503) download.cancel();
  });
  download.start();
  await assert.rejects(download.wait(), DownloadInterrupt);
  assert.equal(download.state, "canceled");
  assert.deepEqual(
    server.requests.map(({ path }) => path),
    ["/f", "/down/f", "/down/f"],
  );
  assert.deepEqual(await dir.list(), []);
});

test("Download resumes what a canceled download of the same file kept, though its mirrors are listed in another order", async () => {
  // "a" stalls after 300,000 bytes; the user lists "b" first the next time
  // (the first source was slow): the bytes kept are the same file's.
  const release = deferred();
  const a = fileRoute({
    body: BODY,
    etag: '"v"',
    faults: [{ stallAfter: 300_000, release: release.promise }],
  });
  const b = fileRoute({ body: BODY, etag: '"v"' });
  await using server = await startServer({ "/a/f": a.route, "/b/f": b.route });
  await using dir = await tempDir();
  try {
    const sources = [server.url("/a/f"), server.url("/b/f")];
    const first = new Download(sources, dir.join("f"), FAST);
    first.addEventListener("progress", ({ current }) => {
      if (current >= 300_000) first.cancel({ keepPartial: true });
    });
    first.start();
    await assert.rejects(first.wait(), DownloadInterrupt);
    assert.equal(first.partialKept, true);
    const kept = (await stat(await partialOf(dir))).size;
    assert.ok(kept >= 300_000, `${kept}`);
    const again = await fetchFrom(server, ["/b/f", "/a/f"], dir.join("f"));
    assert.deepEqual(b.log.ranges, [`bytes=${kept}-`]);
    assert.equal(again.getUrl(), server.url("/b/f"));
  } finally {
    release.resolve();
  }
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

/**
 * A download of `sources` canceled with `keepPartial` once it has a write
 * (256 KiB) on disk (its first source stalls at 300,000 bytes until
 * `release`: a digest's writes reach the file in whole writes only); the
 * size of the partial file it kept.
 */
async function keptFrom(
  sources: string[],
  dest: string,
  dir: Awaited<ReturnType<typeof tempDir>>,
  options: DownloadOptions = {},
): Promise<number> {
  const first = new Download(sources, dest, { ...FAST, ...options });
  first.addEventListener("progress", ({ current }) => {
    if (current >= 256 * 1024) first.cancel({ keepPartial: true });
  });
  first.start();
  await assert.rejects(first.wait(), DownloadInterrupt);
  assert.equal(first.partialKept, true);
  const kept = (await stat(await partialOf(dir))).size;
  assert.ok(kept >= 256 * 1024 && kept <= 300_000, `${kept}`);
  return kept;
}

/**
 * Two servers of BODY at "/f": "a" (ETag `etagA`) stalls after 300,000 bytes
 * until `release` resolves, so that a download of it can be canceled with
 * its bytes kept ({@linkcode keptFrom}); "b" (ETag `etagB`) serves it all.
 * On dispose, the stall ends and both close.
 */
async function stalledAndMirror(
  etagA: string,
  etagB: string,
): Promise<
  AsyncDisposable & {
    release: ReturnType<typeof deferred<void>>;
    a: ReturnType<typeof fileRoute>;
    b: ReturnType<typeof fileRoute>;
    serverA: TestServer;
    serverB: TestServer;
  }
> {
  const release = deferred();
  const a = fileRoute({
    body: BODY,
    etag: etagA,
    faults: [{ stallAfter: 300_000, release: release.promise }],
  });
  const b = fileRoute({ body: BODY, etag: etagB });
  const serverA = await startServer({ "/f": a.route });
  const serverB = await startServer({ "/f": b.route });
  return {
    release,
    a,
    b,
    serverA,
    serverB,
    async [Symbol.asyncDispose](): Promise<void> {
      release.resolve();
      await serverB.close();
      await serverA.close();
    },
  };
}

/** Downloads `sources` into `dest` with FAST and `options`; the download. */
async function fetchAll(
  sources: string[],
  dest: string,
  options: DownloadOptions = {},
  first?: FailingOrigin,
): Promise<Download> {
  const download = new Download(sources, dest, { ...FAST, ...options });
  first?.dropOnceWritten(download);
  download.start();
  await download.wait();
  return download;
}

test("Download resumes what a canceled download of the same file kept when only a mirror of it is listed, the first dropped", async () => {
  // Two servers: "a" stalls after 300,000 bytes, and the user drops it.
  await using pair = await stalledAndMirror('"v"', '"v"');
  const { release, a, b, serverA, serverB } = pair;
  await using dir = await tempDir();
  try {
    const kept = await keptFrom(
      [serverA.url("/f"), serverB.url("/f")],
      dir.join("f"),
      dir,
    );
    const again = await fetchAll([serverB.url("/f")], dir.join("f"));
    // Only the missing bytes, from the mirror, proven the same version.
    assert.deepEqual(b.log.ranges, [`bytes=${kept}-`]);
    assert.deepEqual(b.log.ifRanges, ['"v"']);
    assert.deepEqual(b.log.statuses, [206]);
    assert.deepEqual(b.log.sent, [BODY.byteLength - kept]);
    assert.equal(a.log.ranges.length, 1);
    assert.equal(again.getUrl(), serverB.url("/f"));
  } finally {
    release.resolve();
  }
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download resumes what a canceled download of the same file kept when a new first source is listed before one of its mirrors", async () => {
  await using pair = await stalledAndMirror('"v"', '"v"');
  const { release, b, serverA, serverB } = pair;
  const c = fileRoute({ body: BODY, etag: '"v"' });
  await using serverC = await startServer({ "/f": c.route });
  await using dir = await tempDir();
  try {
    const kept = await keptFrom(
      [serverA.url("/f"), serverB.url("/f")],
      dir.join("f"),
      dir,
    );
    // "c" is new, and asked first: it resumes with the validator kept.
    await fetchAll([serverC.url("/f"), serverB.url("/f")], dir.join("f"));
    assert.deepEqual(c.log.ranges, [`bytes=${kept}-`]);
    assert.deepEqual(c.log.ifRanges, ['"v"']);
    assert.deepEqual(c.log.sent, [BODY.byteLength - kept]);
    assert.deepEqual(b.log.ranges, []);
  } finally {
    release.resolve();
  }
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download starts over, removing what a canceled download kept, when none of its sources is one that download listed", async () => {
  await using pair = await stalledAndMirror('"v"', '"v"');
  const { release, serverA, serverB } = pair;
  const c = fileRoute({ body: BODY, etag: '"v"' });
  await using serverC = await startServer({ "/f": c.route });
  await using dir = await tempDir();
  try {
    await keptFrom([serverA.url("/f"), serverB.url("/f")], dir.join("f"), dir);
    await fetchAll([serverC.url("/f")], dir.join("f"));
    assert.deepEqual(c.log.ranges, [null]);
    assert.deepEqual(c.log.sent, [BODY.byteLength]);
  } finally {
    release.resolve();
  }
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download resumes a kept partial file whose sidecar names its first URL only (as one written before sidecars listed every source), from a mirror list that holds it", async () => {
  await using pair = await stalledAndMirror('"v"', '"v"');
  const { release, b, serverA, serverB } = pair;
  await using dir = await tempDir();
  try {
    const kept = await keptFrom(
      [serverA.url("/f"), serverB.url("/f")],
      dir.join("f"),
      dir,
    );
    const { sidecar } = partialPaths(dir.join("f"));
    const written = JSON.parse(await readFile(sidecar, "utf8"));
    assert.deepEqual(written.sources, [serverA.url("/f"), serverB.url("/f")]);
    delete written.sources;
    await writeFile(sidecar, JSON.stringify(written));
    // "a" is still listed, after "b": the sidecar's URL is one of them.
    await fetchAll([serverB.url("/f"), serverA.url("/f")], dir.join("f"));
    assert.deepEqual(b.log.ranges, [`bytes=${kept}-`]);
    assert.deepEqual(b.log.sent, [BODY.byteLength - kept]);
  } finally {
    release.resolve();
  }
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test(
  "Download resumes the partial file of a killed process's download when only a mirror of it is listed",
  { timeout: 60_000 },
  async () => {
    const release = deferred();
    const a = fileRoute({
      body: BODY,
      etag: '"v"',
      faults: [{ stallAfter: 50_000, release: release.promise }],
    });
    const b = fileRoute({ body: BODY, etag: '"v"' });
    await using serverA = await startServer({ "/f": a.route });
    await using serverB = await startServer({ "/f": b.route });
    await using dir = await tempDir();
    try {
      const child = startChild("crash_child", [
        JSON.stringify([serverA.url("/f"), serverB.url("/f")]),
        dir.join("f"),
      ]);
      // Killed once it has written 48 KiB (all it can of 50,000 bytes in
      // writes of 4 KiB).
      await Promise.race([
        child.line((line) => line === "49152"),
        child.exited,
      ]);
      child.process.kill("SIGKILL");
      assert.equal(await child.exited, "SIGKILL");
      await fetchAll([serverB.url("/f")], dir.join("f"));
      assert.deepEqual(b.log.ranges, ["bytes=49152-"]);
      assert.deepEqual(b.log.sent, [BODY.byteLength - 49_152]);
      assert.equal(a.log.ranges.length, 1);
    } finally {
      release.resolve();
    }
    await assertFileHolds(dir.join("f"), BODY);
    assert.deepEqual(await dir.list(), ["f"]);
  },
);

test("Download with a digest resumes on a mirror whose validator differs, asking only for the rest, and the digest proves the file joined", async () => {
  // Two servers of one file, each with its own ETag (as servers that make
  // them of an inode or a modification time do).
  const first = failingOrigin('"origin"');
  const mirror = fileRoute({ body: BODY, etag: '"mirror"' });
  await using origin = await startServer({ "/f": first.route });
  await using server = await startServer({ "/f": mirror.route });
  await using dir = await tempDir();
  const sha256 = createHash("sha256").update(BODY).digest("hex");
  const download = await fetchAll(
    [origin.url("/f"), server.url("/f")],
    dir.join("f"),
    { sha256 },
    first,
  );
  // Asked without If-Range (the mirror's validator was not known): its 206
  // sent only the rest.
  const offset = resumedFrom(first);
  assert.deepEqual(mirror.log.ranges, [`bytes=${offset}-`]);
  assert.deepEqual(mirror.log.ifRanges, [null]);
  assert.deepEqual(mirror.log.statuses, [206]);
  assert.deepEqual(mirror.log.sent, [BODY.byteLength - offset]);
  assert.equal(download.getFinalUrl(), server.url("/f"));
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download with a digest whose file joined from two sources does not match asks the last source for the bytes the first sent, and takes its file when it matches", async () => {
  // The first source is stale (bytes of another version, of the same
  // length) and drops; the mirror's rest is joined to its bytes, which the
  // digest refuses: the mirror is not blamed, but asked for the bytes it
  // did not send, of its own version, and judged by its own file.
  const stale = patternBytes(BODY.byteLength, 3);
  const first = failingOrigin('"stale"', stale);
  const mirror = fileRoute({ body: BODY, etag: '"mirror"' });
  await using origin = await startServer({ "/f": first.route });
  await using server = await startServer({ "/f": mirror.route });
  await using dir = await tempDir();
  const sha256 = createHash("sha256").update(BODY).digest("hex");
  await fetchAll(
    [origin.url("/f"), server.url("/f")],
    dir.join("f"),
    { sha256 },
    first,
  );
  const offset = resumedFrom(first);
  assert.deepEqual(mirror.log.ranges, [
    `bytes=${offset}-`,
    `bytes=0-${offset - 1}`,
  ]);
  assert.deepEqual(mirror.log.ifRanges, [null, '"mirror"']);
  assert.deepEqual(mirror.log.sent, [BODY.byteLength - offset, offset]);
  assert.equal(first.log.ranges.length, 2);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download with a digest whose file joined from two sources under the same validator does not match asks the last source for the bytes the first sent, rather than blame it", async () => {
  // Two servers give the same ETag (nginx's is the file's date and size,
  // which mirrors synced keeping dates share), but the first's bytes are
  // bad, and it drops. The mirror, whose own validator is not known, is
  // asked for the rest without If-Range: its ETag reads as the file's, yet
  // proves nothing of the first server's bytes. The digest refuses the
  // file joined: the mirror is asked for the bytes it did not send, and
  // judged by its own file, as when the validators differ.
  const bad = patternBytes(BODY.byteLength, 3);
  const etag = '"65a1b2c3-927c0"';
  const first = failingOrigin(etag, bad);
  const mirror = fileRoute({ body: BODY, etag });
  await using origin = await startServer({ "/f": first.route });
  await using server = await startServer({ "/f": mirror.route });
  await using dir = await tempDir();
  const sha256 = createHash("sha256").update(BODY).digest("hex");
  await fetchAll(
    [origin.url("/f"), server.url("/f")],
    dir.join("f"),
    { sha256 },
    first,
  );
  const offset = resumedFrom(first);
  assert.deepEqual(mirror.log.ranges, [
    `bytes=${offset}-`,
    `bytes=0-${offset - 1}`,
  ]);
  assert.deepEqual(mirror.log.ifRanges, [null, etag]);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download with a digest that finds whole on disk the file a canceled download kept from another source, which does not match, asks the source it resumed on for its whole file, rather than blame it", async () => {
  // A download of [a, b] without a digest gets a's whole file (stale, of
  // the same length), paused as its last bytes land, and is canceled
  // keeping it. A download of [b, a] with the digest of b's file resumes
  // it on b, asked without If-Range (its own validator is not known): b
  // answers 416, the file is whole, and the digest refuses a's bytes. b
  // sent none of them: it is asked for its file, not dropped for a's bytes
  // (a, asked next, would serve its stale file again).
  const stale = patternBytes(BODY.byteLength, 3);
  const a = fileRoute({ body: stale, etag: '"a"' });
  const b = fileRoute({ body: BODY, etag: '"b"' });
  await using serverA = await startServer({ "/f": a.route });
  await using serverB = await startServer({ "/f": b.route });
  await using dir = await tempDir();
  const first = new Download(
    [serverA.url("/f"), serverB.url("/f")],
    dir.join("f"),
    FAST,
  );
  const paused = deferred();
  first.addEventListener("progress", ({ current }) => {
    if (current === stale.byteLength) {
      void first.pause().then(paused.resolve);
    }
  });
  first.start();
  await paused.promise;
  first.cancel({ keepPartial: true });
  await assert.rejects(first.wait(), DownloadInterrupt);
  assert.equal(first.partialKept, true);
  assert.equal((await stat(await partialOf(dir))).size, stale.byteLength);
  const sha256 = createHash("sha256").update(BODY).digest("hex");
  await fetchAll([serverB.url("/f"), serverA.url("/f")], dir.join("f"), {
    sha256,
  });
  assert.deepEqual(b.log.ranges, [`bytes=${BODY.byteLength}-`, null]);
  assert.equal(a.log.ranges.length, 1);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download with a digest resumes what a canceled download kept on a mirror whose validator differs, listed alone", async () => {
  await using pair = await stalledAndMirror('"a"', '"b"');
  const { release, b, serverA, serverB } = pair;
  await using dir = await tempDir();
  const sha256 = createHash("sha256").update(BODY).digest("hex");
  try {
    const kept = await keptFrom(
      [serverA.url("/f"), serverB.url("/f")],
      dir.join("f"),
      dir,
      { sha256 },
    );
    // The sidecar knows "a"'s validator, and that "b" is the same file's.
    const sidecar = JSON.parse(
      await readFile(partialPaths(dir.join("f")).sidecar, "utf8"),
    );
    assert.equal(sidecar.version, 2);
    assert.deepEqual(sidecar.validators, { [serverA.url("/f")]: '"a"' });
    await fetchAll([serverB.url("/f")], dir.join("f"), { sha256 });
    assert.deepEqual(b.log.ranges, [`bytes=${kept}-`]);
    assert.deepEqual(b.log.ifRanges, [null]);
    assert.deepEqual(b.log.sent, [BODY.byteLength - kept]);
  } finally {
    release.resolve();
  }
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

/**
 * A download of two servers' file (each with its own ETag) with `sha256`,
 * whose first drops halfway: canceled with `keepPartial` once the second's
 * rest, joined to the first's bytes, is being written (it stalls there
 * until `release`). The sidecar it kept, and the partial file's size.
 */
async function splicedKept(
  a: TestServer,
  aRoute: FailingOrigin,
  b: TestServer,
  bRoute: ReturnType<typeof fileRoute>,
  dir: Awaited<ReturnType<typeof tempDir>>,
  sha256: string,
): Promise<{ sidecar: Record<string, unknown>; kept: number }> {
  const download = new Download([a.url("/f"), b.url("/f")], dir.join("f"), {
    ...FAST,
    sha256,
  });
  aRoute.dropOnceWritten(download);
  download.addEventListener("progress", ({ current }) => {
    const match = /^bytes=(\d+)-$/.exec(bRoute.log.ranges[0] ?? "");
    if (match !== null && current > Number(match[1])) {
      download.cancel({ keepPartial: true });
    }
  });
  download.start();
  await assert.rejects(download.wait(), DownloadInterrupt);
  assert.equal(download.partialKept, true);
  const sidecar = JSON.parse(
    await readFile(partialPaths(dir.join("f")).sidecar, "utf8"),
  );
  return { sidecar, kept: (await stat(await partialOf(dir))).size };
}

for (const digest of [true, false]) {
  test(
    `Download ${
      digest ? "with" : "without"
    } the digest of a partial file joined from sources whose validators differ ${
      digest ? "resumes it from a source with its own validator" : "starts over"
    }: its sidecar (version 4) names the digest`,
    async () => {
      const release = deferred();
      const a = failingOrigin('"a"');
      const b = fileRoute({
        body: BODY,
        etag: '"b"',
        // Past one write (256 KiB) of its rest: some of it reaches the file.
        faults: [{ stallAfter: 300_000, release: release.promise }],
      });
      await using serverA = await startServer({ "/f": a.route });
      await using serverB = await startServer({ "/f": b.route });
      await using dir = await tempDir();
      const sha256 = createHash("sha256").update(BODY).digest("hex");
      try {
        const { sidecar, kept } = await splicedKept(
          serverA,
          a,
          serverB,
          b,
          dir,
          sha256,
        );
        assert.equal(sidecar.version, 4);
        assert.equal(
          sidecar.digest,
          `sha256-${createHash("sha256").update(BODY).digest("base64")}`,
        );
        assert.equal(sidecar.validator, '"b"');
        assert.deepEqual(sidecar.validators, {
          [serverA.url("/f")]: '"a"',
          [serverB.url("/f")]: '"b"',
        });
        await fetchAll(
          [serverB.url("/f")],
          dir.join("f"),
          digest ? { sha256 } : {},
        );
        if (digest) {
          // Only the rest, proven "b"'s version by its own validator.
          assert.deepEqual(b.log.ranges.slice(1), [`bytes=${kept}-`]);
          assert.deepEqual(b.log.ifRanges.slice(1), ['"b"']);
          assert.deepEqual(b.log.sent.slice(1), [BODY.byteLength - kept]);
        } else {
          // Bytes no validator proves one file: never resumed without the
          // digest, but removed, and the file fetched whole.
          assert.deepEqual(b.log.ranges.slice(1), [null]);
          assert.deepEqual(b.log.sent.slice(1), [BODY.byteLength]);
        }
      } finally {
        release.resolve();
      }
      await assertFileHolds(dir.join("f"), BODY);
      assert.deepEqual(await dir.list(), ["f"]);
    },
  );
}

test("Download with a digest starts over on a mirror whose rest names no version, rather than join bytes it could not resume again", async () => {
  const first = failingOrigin('"origin"');
  // No ETag, no Last-Modified: its 206 names no version.
  const mirror = fileRoute({ body: BODY });
  await using origin = await startServer({ "/f": first.route });
  await using server = await startServer({ "/f": mirror.route });
  await using dir = await tempDir();
  const sha256 = createHash("sha256").update(BODY).digest("hex");
  await fetchAll(
    [origin.url("/f"), server.url("/f")],
    dir.join("f"),
    { sha256 },
    first,
  );
  assert.deepEqual(mirror.log.ranges, [`bytes=${resumedFrom(first)}-`, null]);
  assert.deepEqual(mirror.log.statuses, [206, 200]);
  assert.equal(mirror.log.sent[1], BODY.byteLength);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download without a digest resumes a kept partial file with the file's validator, not one a sidecar gives a source", async () => {
  await using pair = await stalledAndMirror('"v"', '"v"');
  const { release, b, serverA, serverB } = pair;
  await using dir = await tempDir();
  try {
    const kept = await keptFrom(
      [serverA.url("/f"), serverB.url("/f")],
      dir.join("f"),
      dir,
    );
    // A sidecar (hand-made, or another version's) that says "b" is of
    // another version than the bytes: only a digest could vouch for a join.
    const { sidecar } = partialPaths(dir.join("f"));
    const written = JSON.parse(await readFile(sidecar, "utf8"));
    written.validators = { [serverB.url("/f")]: '"other"' };
    await writeFile(sidecar, JSON.stringify(written));
    await fetchAll([serverB.url("/f")], dir.join("f"));
    assert.deepEqual(b.log.ranges, [`bytes=${kept}-`]);
    assert.deepEqual(b.log.ifRanges, ['"v"']);
    assert.deepEqual(b.log.sent, [BODY.byteLength - kept]);
  } finally {
    release.resolve();
  }
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

// A download in parts (several connections, bytes at their offsets) whose
// source goes away, with a digest: the parts on disk are kept, and a mirror
// whose validator differs is asked only for the missing ranges.
const SEG = patternBytes(8 * 1024 * 1024, 5);
/** Each of the 4 parts of SEG a download over 4 connections asks for. */
const PART = SEG.byteLength / 4;
/** The bytes of each part a {@linkcode goneWithParts} source sends. */
const HEAD = 200_000;

/** The 4 parts' ranges `bytes=a-b`, each from `skip` bytes in, through `to`. */
function partRanges(skip: number, to = PART): string[] {
  return [0, 1, 2, 3].map((i) =>
    `bytes=${i * PART + skip}-${i * PART + to - 1}`
  );
}

/**
 * A source of `body` (ETag `etag`) for a download over 4 connections: its
 * answer to the whole file sends nothing (the parts take over), each part
 * sends its first HEAD bytes and drops once the download has them all on
 * disk (`watch`); from then on the source is gone (404).
 */
function goneWithParts(body: Uint8Array, etag: string): GoneWithParts {
  const onDisk = deferred();
  let gone = false;
  return {
    ...fileRoute({
      body,
      etag,
      faultFor: ({ range }) =>
        range === null
          ? { stallAfter: 0, release: onDisk.promise }
          : gone
          ? { status: 404 }
          : { dropAfter: HEAD, release: onDisk.promise },
    }),
    watch(download): void {
      download.addEventListener("progress", ({ current }) => {
        if (current < 4 * HEAD) return;
        gone = true;
        onDisk.resolve();
      });
    },
    release: () => onDisk.resolve(),
  };
}

/** A {@linkcode goneWithParts} source. */
interface GoneWithParts extends ReturnType<typeof fileRoute> {
  /** Drops the parts once `download` has HEAD bytes of each on disk. */
  watch(download: Download): void;
  /** Ends the stall of the answer to the whole file. */
  release(): void;
}

/**
 * Downloads SEG from `a`'s "/f", then `b`'s, over 4 connections, with
 * SEG's digest unless `digest` is false: the download, which has ended (or
 * failed).
 */
async function partsFrom(
  a: GoneWithParts,
  b: ReturnType<typeof fileRoute>,
  dir: Awaited<ReturnType<typeof tempDir>>,
  digest = true,
): Promise<{ download: Download; progress: number[]; urlB: string }> {
  await using serverA = await startServer({ "/f": a.route });
  await using serverB = await startServer({ "/f": b.route });
  const download = new Download(
    [serverA.url("/f"), serverB.url("/f")],
    dir.join("f"),
    {
      ...FAST,
      connections: 4,
      ...digest && {
        sha256: createHash("sha256").update(SEG).digest("hex"),
      },
    },
  );
  a.watch(download);
  const progress: number[] = [];
  download.addEventListener("progress", ({ current }) => {
    progress.push(current);
  });
  try {
    download.start();
    await download.wait({ raiseIfError: false });
  } finally {
    a.release();
  }
  return { download, progress, urlB: serverB.url("/f") };
}

/** The bytes a route sent, in all. */
function sentIn(log: { sent: number[] }): number {
  return log.sent.reduce((sum, bytes) => sum + bytes, 0);
}

test("Download in parts with a digest goes on to a mirror whose validator differs keeping every part on disk, asking it only for the missing ranges", async () => {
  const a = goneWithParts(SEG, '"a"');
  const b = fileRoute({ body: SEG, etag: '"b"' });
  await using dir = await tempDir();
  const { download, progress, urlB } = await partsFrom(a, b, dir);
  assert.equal(download.error(), undefined);
  // "a" sent the head of each part, then was gone.
  assert.deepEqual(
    a.log.ranges.slice(0, 5).toSorted(),
    [
      null,
      ...partRanges(0),
    ].toSorted(),
  );
  assert.equal(sentIn(a.log), 4 * HEAD);
  // "b" was asked for the rest of each part, whatever its version (no
  // If-Range: its validator was not known), and sent only that.
  assert.deepEqual(b.log.ranges.toSorted(), partRanges(HEAD).toSorted());
  assert.deepEqual(b.log.ifRanges, [null, null, null, null]);
  assert.deepEqual(b.log.statuses, [206, 206, 206, 206]);
  assert.equal(sentIn(b.log), SEG.byteLength - 4 * HEAD);
  assert.deepEqual(progress, progress.toSorted((x, y) => x - y));
  assert.equal(download.getFinalUrl(), urlB);
  await assertFileHolds(dir.join("f"), SEG);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download in parts without a digest starts over on a mirror whose validator differs, never splicing its parts to the first source's", async () => {
  const a = goneWithParts(SEG, '"a"');
  const b = fileRoute({ body: SEG, etag: '"b"' });
  await using dir = await tempDir();
  const { download } = await partsFrom(a, b, dir, false);
  assert.equal(download.error(), undefined);
  // Its first part asked with "a"'s validator; its 200 (another version)
  // started the file over, on one connection, whole.
  assert.ok(partRanges(HEAD).includes(b.log.ranges[0] as string));
  assert.equal(b.log.ifRanges[0], '"a"');
  assert.equal(b.log.statuses[0], 200);
  assert.deepEqual(b.log.ranges.slice(-1), [null]);
  assert.equal(b.log.sent.at(-1), SEG.byteLength);
  await assertFileHolds(dir.join("f"), SEG);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download in parts with a digest whose parts joined from two sources do not match asks the last source again for the other's ranges only, and takes its file when it matches", async () => {
  // "a" is stale: another version of the file, of the same length.
  const a = goneWithParts(patternBytes(SEG.byteLength, 6), '"a"');
  const b = fileRoute({ body: SEG, etag: '"b"' });
  await using dir = await tempDir();
  const { download } = await partsFrom(a, b, dir);
  assert.equal(download.error(), undefined);
  // The rest of each part, then, once the digest refused the file joined,
  // the heads "a" had sent, proven "b"'s version by its own validator.
  assert.deepEqual(b.log.ranges.slice(0, 4).toSorted(), partRanges(HEAD));
  assert.deepEqual(b.log.ranges.slice(4).toSorted(), partRanges(0, HEAD));
  assert.deepEqual(b.log.ifRanges, [
    ...[null, null, null, null],
    ...['"b"', '"b"', '"b"', '"b"'],
  ]);
  assert.deepEqual(b.log.statuses, Array(8).fill(206));
  assert.equal(sentIn(b.log), SEG.byteLength);
  await assertFileHolds(dir.join("f"), SEG);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download in parts with a digest fails with the integrity error when the mirror its parts went on to is stale, having asked it for one file's bytes in all, and leaves nothing", async () => {
  const a = goneWithParts(SEG, '"a"');
  // The mirror is stale: another version, of the same length.
  const stale = patternBytes(SEG.byteLength, 6);
  const b = fileRoute({ body: stale, etag: '"b"' });
  await using dir = await tempDir();
  const { download } = await partsFrom(a, b, dir);
  const error = download.error();
  assert.ok(error instanceof RetriesExhaustedError, `${error}`);
  assert.ok(
    error.errors.some((each) => each instanceof IntegrityError),
    `${error.errors}`,
  );
  // Its rest, then what "a" had sent: one file, which the digest refused
  // as "b"'s own. Never a spliced file delivered.
  assert.deepEqual(
    b.log.ranges.toSorted(),
    [
      ...partRanges(HEAD),
      ...partRanges(0, HEAD),
    ].toSorted(),
  );
  assert.equal(sentIn(b.log), SEG.byteLength);
  assert.deepEqual(await dir.list(), []);
});

test(
  "Download in parts with a digest, killed with parts in flight on one source, is resumed by another process given only a mirror whose validator differs, which sends only the missing ranges",
  { timeout: 60_000 },
  async () => {
    const release = deferred();
    // Every answer of "a" stalls: the whole file's at once (the parts take
    // over), each part's after HEAD bytes.
    const a = fileRoute({
      body: SEG,
      etag: '"a"',
      faultFor: ({ range }) => ({
        stallAfter: range === null ? 0 : HEAD,
        release: release.promise,
      }),
    });
    const b = fileRoute({ body: SEG, etag: '"b"' });
    await using serverA = await startServer({ "/f": a.route });
    await using serverB = await startServer({ "/f": b.route });
    await using dir = await tempDir();
    const sha256 = createHash("sha256").update(SEG).digest("hex");
    const child = startChild("crash_child", [
      JSON.stringify([serverA.url("/f"), serverB.url("/f")]),
      dir.join("f"),
      JSON.stringify({ connections: 4, sha256 }),
    ]);
    try {
      await child.line((line) => Number(line) >= 4 * HEAD);
      // The sidecar records the parts on disk (at least every second).
      const { sidecar } = partialPaths(dir.join("f"));
      for (;;) {
        const ranges = readSidecar(sidecar)?.ranges ?? [];
        if (ranges.reduce((sum, [s, e]) => sum + e - s, 0) >= 4 * HEAD) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      child.process.kill("SIGKILL");
      assert.equal(await child.exited, "SIGKILL");
      await fetchAll([serverB.url("/f")], dir.join("f"), {
        connections: 4,
        sha256,
      });
      // Only the rest of each part, asked whatever "b"'s version is (its
      // validator was not known): the digest proved the file joined.
      assert.deepEqual(b.log.ranges.toSorted(), partRanges(HEAD).toSorted());
      assert.deepEqual(b.log.ifRanges, [null, null, null, null]);
      assert.deepEqual(b.log.statuses, [206, 206, 206, 206]);
      assert.equal(sentIn(b.log), SEG.byteLength - 4 * HEAD);
      assert.deepEqual(
        a.log.ranges.toSorted(),
        [
          null,
          ...partRanges(0),
        ].toSorted(),
      );
    } finally {
      release.resolve();
      child.process.kill("SIGKILL");
    }
    await assertFileHolds(dir.join("f"), SEG);
    assert.deepEqual(await dir.list(), ["f"]);
  },
);

test("Download in parts with a digest, whose parts are of a stale first source of another length, takes a mirror's file once no other serves it, starting over", async () => {
  // "a" is stale: another version, 6 MiB long.
  const a = goneWithParts(patternBytes(6 * 1024 * 1024, 7), '"a"');
  const b = fileRoute({ body: SEG, etag: '"b"' });
  await using dir = await tempDir();
  const { download, urlB } = await partsFrom(a, b, dir);
  assert.equal(download.error(), undefined);
  // Asked for the missing ranges of "a"'s parts, "b" was refused for its
  // length; asked again once "a" was gone, its answer of another length
  // started the file over with its own, on one connection, whole.
  const asked = b.log.ranges.slice(0, -1);
  assert.ok(asked.length >= 2, `${b.log.ranges}`);
  assert.ok(asked.every((range) => range?.startsWith("bytes=")), `${asked}`);
  assert.ok(b.log.ifRanges.every((ifRange) => ifRange === null));
  assert.equal(b.log.ranges.at(-1), null);
  assert.equal(b.log.statuses.at(-1), 200);
  assert.equal(b.log.sent.at(-1), SEG.byteLength);
  assert.equal(download.getFinalUrl(), urlB);
  await assertFileHolds(dir.join("f"), SEG);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download in parts with a digest starts over on a mirror whose parts name no version, rather than join parts it could not resume again", async () => {
  const a = goneWithParts(SEG, '"a"');
  // No ETag, no Last-Modified: its 206s name no version.
  const b = fileRoute({ body: SEG });
  await using dir = await tempDir();
  const { download } = await partsFrom(a, b, dir);
  assert.equal(download.error(), undefined);
  // Asked for the rest of a part, whatever its version; the first 206
  // named none: the file started over, on one connection, whole. How many
  // parts asked "b" before that 206 came back depends on the machine's
  // load, so each asked is one of the parts' rests, asked once.
  const whole = b.log.ranges.indexOf(null);
  assert.ok(whole >= 1, `${b.log.ranges}`);
  assert.equal(b.log.ranges.lastIndexOf(null), whole, `${b.log.ranges}`);
  const parts = b.log.ranges.filter((range) => range !== null);
  assert.equal(new Set(parts).size, parts.length, `${parts}`);
  assert.ok(
    parts.every((range) => partRanges(HEAD).includes(range)),
    `${parts}`,
  );
  assert.ok(b.log.ifRanges.every((ifRange) => ifRange === null));
  assert.equal(b.log.statuses[whole], 200);
  assert.equal(b.log.sent[whole], SEG.byteLength);
  await assertFileHolds(dir.join("f"), SEG);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download in parts with mirrors and keepPartialOnError keeps every part a source wrote before its connections dropped though the other source answered 404, and the next download fetches only the rest", async () => {
  const onDisk = deferred();
  let flaky = true;
  const a = fileRoute({
    body: SEG,
    etag: '"a"',
    faultFor: ({ range }) =>
      !flaky
        ? undefined
        : range === null
        ? { stallAfter: 0, release: onDisk.promise }
        : { dropAfter: HEAD, release: onDisk.promise },
  });
  await using serverA = await startServer({ "/f": a.route });
  await using serverB = await startServer({ "/f": statusRoute(404) });
  await using dir = await tempDir();
  const sources = [serverA.url("/f"), serverB.url("/f")];
  const options = { ...FAST, connections: 4 };
  const download = new Download(sources, dir.join("f"), {
    ...options,
    retries: 0,
    keepPartialOnError: true,
  });
  download.addEventListener("progress", ({ current }) => {
    if (current >= 4 * HEAD) onDisk.resolve();
  });
  download.start();
  await download.wait({ raiseIfError: false });
  onDisk.resolve();
  const error = download.error();
  assert.ok(error instanceof RetriesExhaustedError, String(error));
  assert.ok(error.errors[0] instanceof NetworkError, String(error));
  assert.ok(error.errors[1] instanceof HTTPError, String(error));
  assert.equal(download.partialKept, true);
  const sidecar = readSidecar(partialPaths(dir.join("f")).sidecar);
  assert.equal(sidecar?.released, true);
  assert.deepEqual(
    sidecar?.ranges,
    [0, 1, 2, 3].map((i) => [i * PART, i * PART + HEAD]),
  );
  flaky = false;
  const sent = sentIn(a.log);
  const again = new Download(sources, dir.join("f"), options);
  again.start();
  await again.wait();
  assert.equal(sentIn(a.log) - sent, SEG.byteLength - 4 * HEAD);
  await assertFileHolds(dir.join("f"), SEG);
  assert.deepEqual(await dir.list(), ["f"]);
});
