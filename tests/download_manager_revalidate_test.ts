// A cache that stays fresh: `revalidate` asks the server again about a file
// already in the manager's directory, with the validator it gave (kept in a
// record beside the file). A 304 keeps the file as it is; a 200 replaces it
// atomically, once complete; a file without a record is unknown; two
// processes revalidating one file send one request; eviction removes the
// record with the file. The behaviour lives in src/_revalidation.ts,
// src/_disk/record.ts and src/_job.ts.

import assert from "node:assert/strict";
import {
  lstat,
  mkdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import {
  type Download,
  DownloadManager,
  type DownloadManagerOptions,
  PersistLimit,
  RetriesExhaustedError,
  type Revalidate,
} from "../mod.ts";
import { isReservedName } from "../src/_disk/names.ts";
import { recordPath } from "../src/_disk/record.ts";
import { startChild } from "./_helpers/child.ts";
import {
  bytesRoute,
  deferred,
  type Fault,
  fileRoute,
  type FileRouteOptions,
  patternBytes,
  type ServedFile,
  serveFile,
  startServer,
} from "./_helpers/server.ts";
import { type TempDir, tempDir, withRecords } from "./_helpers/temp_dir.ts";
import { assertFileHolds } from "./_helpers/file_bytes.ts";

const OLD = patternBytes(300_000, 1);
const NEW = patternBytes(310_000, 2);
const FAST = { backoffBase: 1, backoffCap: 5 };
const HOUR = 60 * 60 * 1000;

function serve(options: Partial<FileRouteOptions>): Promise<ServedFile> {
  return serveFile({ body: OLD, ...options });
}

/** Downloads `url` into `dir` with a manager of `revalidate`; the download. */
async function fetchInto(
  dir: string,
  url: string,
  revalidate: Revalidate,
): Promise<Download | null> {
  await using manager = new DownloadManager(dir, { ...FAST, revalidate });
  const download = manager.download(url);
  await manager.wait();
  return download;
}

/** A manager of `dir` that revalidates every file, with `options`. */
function revalidating(
  dir: TempDir,
  options: DownloadManagerOptions = {},
): DownloadManager {
  return dir.manager({
    ...FAST,
    revalidate: "always",
    ...options,
  });
}

/**
 * Serves `OLD` with `validators`, downloads it and asks about it again,
 * asserting the server was asked with `condition` and answered `304`.
 */
async function assertKeptBy304(
  validators: Partial<FileRouteOptions>,
  condition: string,
): Promise<void> {
  await using server = await serve(validators);
  await using dir = await tempDir();
  await fetchInto(dir.path, server.url(), "always");
  assert.deepEqual(await dir.list(), withRecords("f"));
  const download = await fetchInto(dir.path, server.url(), "always");
  assert.equal(download?.revalidation, "fresh");
  assert.deepEqual(server.log.conditions, [null, condition]);
  assert.deepEqual(server.log.statuses, [200, 304]);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}

async function readRecordFile(dest: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(recordPath(dest), "utf8"));
}

test("DownloadManager that revalidates remembers the URL and validator of a file it downloaded, in a record beside it", async () => {
  await using server = await serve({ etag: '"v1"' });
  await using dir = await tempDir();
  // One that never revalidates keeps none: records cost file operations.
  await fetchInto(dir.path, server.url(), "never");
  assert.deepEqual(await dir.list(), ["f"]);
  await rm(dir.join("f"));
  await fetchInto(dir.path, server.url(), "always");
  assert.deepEqual(await dir.list(), withRecords("f"));
  const record = await readRecordFile(dir.join("f"));
  const file = await stat(dir.join("f"));
  assert.equal(record.url, server.url());
  assert.equal(record.validator, '"v1"');
  assert.equal(record.size, OLD.byteLength);
  assert.ok(Math.abs(Number(record.mtime) - file.mtimeMs) <= 1);
});

test("DownloadManager with revalidate: 'always' keeps a file the server answers 304 for, writing nothing", async () => {
  await using server = await serve({ etag: '"v1"' });
  await using dir = await tempDir();
  await fetchInto(dir.path, server.url(), "always");
  const before = await stat(dir.join("f"));
  // An access time in the past, to see the cache hit set it.
  await utimes(dir.join("f"), new Date(Date.now() - HOUR), before.mtime);
  const download = await fetchInto(dir.path, server.url(), "always");
  assert.equal(download?.revalidation, "fresh");
  assert.equal(download?.state, "done");
  assert.deepEqual(server.log.conditions, [null, 'if-none-match: "v1"']);
  assert.deepEqual(server.log.statuses, [200, 304]);
  const after = await stat(dir.join("f"));
  // Unchanged, to the millisecond that setting an access time keeps (Node
  // rounds the modification time it is given back).
  assert.ok(Math.abs(after.mtimeMs - before.mtimeMs) <= 1);
  assert.ok(after.atimeMs > Date.now() - HOUR / 2, "the access time is now");
  await assertFileHolds(dir.join("f"), OLD);
  assert.deepEqual(await dir.list(), withRecords("f"));
});

test("DownloadManager with revalidate: 'always' asks past a caching proxy, whose stale copy would answer 304 for a file the server changed", async () => {
  // Squid 5.7 holding v1, fresh by its heuristics (a tenth of its age since
  // Last-Modified) after the server moved on to v2, answered If-None-Match
  // of v1 with its own 304 (TCP_INM_HIT, `Age`), the server never asked;
  // with `Cache-Control: max-age=0` it asked the server (TCP_REFRESH_MODIFIED)
  // and answered with v2.
  const conditions: string[] = [];
  await using server = await startServer({
    "/f": (request, response) => {
      const asked = request.headers["if-none-match"];
      const control = request.headers["cache-control"] ?? "";
      if (asked === undefined) {
        response.writeHead(200, {
          etag: '"v1"',
          "content-length": OLD.byteLength,
        }).end(OLD);
        return;
      }
      conditions.push(`${asked} ${control}`);
      if (!/\b(max-age=0|no-cache)\b/.test(control)) {
        response.writeHead(304, {
          etag: '"v1"',
          age: "14",
          "x-cache": "HIT from proxy",
          via: "1.1 proxy (squid/5.7)",
        }).end();
        return;
      }
      response.writeHead(200, {
        etag: '"v2"',
        "content-length": NEW.byteLength,
        "x-cache": "MISS from proxy",
        via: "1.1 proxy (squid/5.7)",
      }).end(NEW);
    },
  });
  await using dir = await tempDir();
  const url = server.url("/f");
  await fetchInto(dir.path, url, "always");
  const download = await fetchInto(dir.path, url, "always");
  assert.equal(download?.revalidation, "updated");
  await assertFileHolds(dir.join("f"), NEW);
  assert.deepEqual(conditions, ['"v1" max-age=0']);
});

test("DownloadManager with revalidate: 'always' keeps a file reached through a symbolic link that the server answers 304 for, and never dates the link's target", async () => {
  await using server = await serve({ etag: '"v1"' });
  await using dir = await tempDir();
  await using elsewhere = await tempDir();
  await fetchInto(dir.path, server.url(), "always");
  // The file moved to another directory (a rename keeps its times, so the
  // record still binds it) and linked back under its name.
  const target = elsewhere.join("f");
  await rename(dir.join("f"), target);
  await symlink(target, dir.join("f"));
  const before = await stat(target);
  const old = new Date(Date.now() - HOUR);
  await utimes(target, old, before.mtime);
  const download = await fetchInto(dir.path, server.url(), "always");
  assert.equal(download?.revalidation, "fresh");
  assert.deepEqual(server.log.statuses, [200, 304]);
  const after = await stat(target);
  // Within a millisecond: Node 22 gives a time in ns as a float of ms
  // (1796241143954.999 for ...955).
  assert.ok(Math.abs(after.atimeMs - old.getTime()) <= 1, "target dated");
  assert.ok(Math.abs(after.mtimeMs - before.mtimeMs) <= 1);
  assert.ok((await lstat(dir.join("f"))).isSymbolicLink());
  await assertFileHolds(target, OLD);
  assert.deepEqual(await elsewhere.list(), ["f"]);
});

test("DownloadManager with revalidate replaces a changed file only once complete: a reader never sees a part", async () => {
  const release = deferred();
  await using server = await serve({
    etag: '"v1"',
    change: 1,
    changed: NEW,
    changedEtag: '"v2"',
    // The new version's first answer drops halfway, after the reader has
    // looked; the rest comes with a Range.
    faults: [{}, { dropAfter: NEW.byteLength / 2, release: release.promise }],
  });
  await using dir = await tempDir();
  await fetchInto(dir.path, server.url(), "always");
  const manager = revalidating(dir);
  const download = manager.download(server.url()) as Download;
  // The drop waits for bytes on disk too (Bun's fetch may drop bytes it has
  // not handed over when the connection breaks, and the rest then starts at 0).
  let written = false;
  download.addEventListener("progress", ({ current }) => {
    written ||= current > 0;
  });
  let looks = 0;
  let ended = false;
  const reader = (async () => {
    while (!ended) {
      const bytes = new Uint8Array(await readFile(dir.join("f")));
      const whole = sameBytes(bytes, OLD) || sameBytes(bytes, NEW);
      assert.ok(whole, `a reader saw ${bytes.byteLength} bytes of neither`);
      if (++looks >= 20 && written) release.resolve();
    }
  })();
  await manager.wait();
  ended = true;
  await reader;
  assert.ok(looks >= 20);
  assert.equal(download.revalidation, "updated");
  assert.deepEqual(server.log.conditions.slice(0, 2), [
    null,
    'if-none-match: "v1"',
  ]);
  // The new version's first answer dropped; the rest came with a Range from
  // where its bytes ended on disk.
  const [whole, first, rest] = server.log.ranges;
  assert.deepEqual([whole, first], [null, null]);
  const from = Number(/^bytes=(\d+)-$/.exec(rest ?? "")?.[1]);
  assert.ok(from > 0 && from <= NEW.byteLength / 2, `${rest}`);
  await assertFileHolds(dir.join("f"), NEW);
  assert.equal((await readRecordFile(dir.join("f"))).validator, '"v2"');
  assert.deepEqual(await dir.list(), withRecords("f"));
});

test("DownloadManager revalidates with If-Modified-Since when the server gave only Last-Modified", async () => {
  const lastModified = "Tue, 01 Sep 2026 10:00:00 GMT";
  await assertKeptBy304(
    { lastModified },
    `if-modified-since: ${lastModified}`,
  );
});

test("DownloadManager keeps no record of a file whose only validator is a Last-Modified in the second of its answer, which a change later in that second would keep", async () => {
  const now = "Tue, 01 Sep 2026 10:00:00 GMT";
  await using server = await startServer({
    "/f": bytesRoute(OLD, { headers: { date: now, "last-modified": now } }),
  });
  await using dir = await tempDir();
  await fetchInto(dir.path, server.url("/f"), "always");
  assert.deepEqual(await dir.list(), ["f"]);
  // Unknown: asked for again without a condition, which no 304 could meet.
  const again = await fetchInto(dir.path, server.url("/f"), "always");
  assert.equal(again?.revalidation, "updated");
  assert.deepEqual(
    server.requests.map((request) => request.headers["if-modified-since"]),
    [undefined, undefined],
  );
});

test("DownloadManager revalidates with a weak ETag, which If-None-Match compares weakly", async () => {
  // What Express sends for every body it makes: a weak ETag, no date.
  await assertKeptBy304({ etag: 'W/"v1"' }, 'if-none-match: W/"v1"');
});

test("DownloadManager revalidates with If-None-Match and the ETag as sent when the server sends it unquoted, not with If-Modified-Since", async () => {
  // Servers that send `ETag: abc123` compare If-None-Match with it as it is.
  await assertKeptBy304({ etag: "abc123" }, "if-none-match: abc123");
  // An empty ETag names no version: the Last-Modified date is asked with.
  const lastModified = "Tue, 01 Sep 2026 10:00:00 GMT";
  await assertKeptBy304(
    { etag: "", lastModified },
    `if-modified-since: ${lastModified}`,
  );
});

/**
 * Serves `OLD`, downloads it and asks about it again, each request
 * answered with the whole file as `whole` makes it (`status`), the second
 * ignoring the condition: the file is kept as it is, for each validator.
 */
async function assertKeptByWholeAnswer(
  whole: Fault,
  status: number,
): Promise<void> {
  const lastModified = "Tue, 01 Sep 2026 10:00:00 GMT";
  for (
    const [validators, condition] of [
      [{ etag: '"v1"' }, 'if-none-match: "v1"'],
      // Compared weakly, as If-None-Match is.
      [{ etag: 'W/"v1"' }, 'if-none-match: W/"v1"'],
      [{ lastModified }, `if-modified-since: ${lastModified}`],
    ] as const
  ) {
    await using server = await serve({
      ...validators,
      faults: [whole, { ...whole, ignoreConditions: true }],
    });
    await using dir = await tempDir();
    await fetchInto(dir.path, server.url(), "always");
    const before = await stat(dir.join("f"));
    const download = await fetchInto(dir.path, server.url(), "always");
    assert.equal(download?.revalidation, "fresh", condition);
    assert.deepEqual(server.log.conditions, [null, condition]);
    assert.deepEqual(server.log.statuses, [status, status]);
    const after = await stat(dir.join("f"));
    assert.ok(Math.abs(after.mtimeMs - before.mtimeMs) <= 1, "not rewritten");
    await assertFileHolds(dir.join("f"), OLD);
    assert.deepEqual(await dir.list(), withRecords("f"));
  }
}

test("DownloadManager takes a 200 whose validator names the file's version (a server that ignores the condition) as a 304: the file is kept, not downloaded again", async () => {
  await assertKeptByWholeAnswer({}, 200);
  // One whose validator names another version is one.
  await using server = await serve({
    etag: '"v1"',
    change: 1,
    changed: NEW,
    changedEtag: 'W/"v2"',
  });
  await using dir = await tempDir();
  await fetchInto(dir.path, server.url(), "always");
  const download = await fetchInto(dir.path, server.url(), "always");
  assert.equal(download?.revalidation, "updated");
  await assertFileHolds(dir.join("f"), NEW);
});

test("DownloadManager takes a 206 of every byte whose validator names the file's version (a server that answers every GET so, ignoring the condition) as a 304: the file is kept, not downloaded again", async () => {
  await assertKeptByWholeAnswer({ wholeAs206: true }, 206);
});

for (const connections of [1, 4]) {
  test(`DownloadManager revalidates a file the caller asked compressed (nginx's gzip): a 304 keeps it, a change downloads it again (connections: ${connections})`, async () => {
    // nginx's `gzip on`: asked for gzip, it sends the file compressed and
    // chunked, with its ETag weakened and Last-Modified, and answers 304 to
    // If-None-Match with that weak ETag while the file is unchanged. The file
    // on disk is the decoded bytes, which the validator names as well (a
    // content coding changes the bytes sent, not the file). No record was
    // written for a compressed answer: every revalidation downloaded the file
    // again and called it updated.
    const lastModified = "Tue, 01 Sep 2026 10:00:00 GMT";
    let current = { etag: '"v1"', body: OLD };
    const statuses: number[] = [];
    await using server = await startServer({
      "/f": (request, response) => {
        const etag = `W/${current.etag}`;
        if (request.headers["if-none-match"] === etag) {
          statuses.push(304);
          response.writeHead(304, { etag, "last-modified": lastModified })
            .end();
          return;
        }
        statuses.push(200);
        response.writeHead(200, {
          "content-encoding": "gzip",
          etag,
          "last-modified": lastModified,
        }).end(gzipSync(current.body));
      },
    });
    await using dir = await tempDir();
    const headers = { "accept-encoding": "gzip" };
    const downloadInto = async () => {
      await using manager = revalidating(dir, { connections });
      const download = manager.download(server.url("/f"), { headers });
      await manager.wait();
      return download;
    };
    await downloadInto();
    await assertFileHolds(dir.join("f"), OLD);
    assert.deepEqual(await dir.list(), withRecords("f"));
    assert.equal((await readRecordFile(dir.join("f"))).size, OLD.byteLength);
    const before = await stat(dir.join("f"));
    const fresh = await downloadInto();
    assert.equal(fresh?.revalidation, "fresh");
    await assertFileHolds(dir.join("f"), OLD);
    assert.equal((await stat(dir.join("f"))).ino, before.ino);
    current = { etag: '"v2"', body: NEW };
    const updated = await downloadInto();
    assert.equal(updated?.revalidation, "updated");
    await assertFileHolds(dir.join("f"), NEW);
    assert.equal((await readRecordFile(dir.join("f"))).validator, 'W/"v2"');
    assert.deepEqual(
      server.requests.map(({ headers }) => [
        headers["accept-encoding"],
        headers["if-none-match"] ?? null,
      ]),
      [["gzip", null], ["gzip", 'W/"v1"'], ["gzip", 'W/"v1"']],
    );
    assert.deepEqual(statuses, [200, 304, 200]);
  });
}

test("DownloadManager renews a record with the validators a 304 sends, keeping its ETag when the 304 sends only a date", async () => {
  const lastModified = "Tue, 01 Sep 2026 10:00:00 GMT";
  // A 304 whose headers are not those of the 200: first a weakened ETag
  // (a compressing proxy's), then none at all, only the date.
  const notModified = [{ etag: 'W/"v1"' }, { "last-modified": lastModified }];
  await using server = await startServer({
    "/f": (request, response) => {
      const condition = request.headers["if-none-match"];
      if (condition === undefined) {
        response.writeHead(200, {
          etag: '"v1"',
          "last-modified": lastModified,
          "content-length": OLD.byteLength,
        }).end(OLD);
      } else {
        response.writeHead(304, notModified.shift()).end();
      }
    },
  });
  await using dir = await tempDir();
  await fetchInto(dir.path, server.url("/f"), "always");
  const validators = [];
  for (let i = 0; i < 2; i++) {
    const download = await fetchInto(dir.path, server.url("/f"), "always");
    assert.equal(download?.revalidation, "fresh");
    validators.push((await readRecordFile(dir.join("f"))).validator);
  }
  assert.deepEqual(validators, ['W/"v1"', 'W/"v1"']);
  assert.deepEqual(
    server.requests.map((request) => request.headers["if-none-match"]),
    [undefined, '"v1"', 'W/"v1"'],
  );
});

test("DownloadManager keeps the date of a record asked with If-Modified-Since when a 304 sends only an ETag, rather than take an ETag its file was never given", async () => {
  const lastModified = "Tue, 01 Sep 2026 10:00:00 GMT";
  // A server that gives the file only a date, behind a cache that answers
  // any condition 304 with the ETag of the version it holds now, a newer
  // one: that ETag is not the file's, and asked with again the cache would
  // answer 304 for it as long as it holds that version.
  await using server = await startServer({
    "/f": (request, response) => {
      if (request.headers["if-modified-since"] !== undefined) {
        response.writeHead(304, { etag: '"v2"' }).end();
      } else {
        response.writeHead(200, {
          "last-modified": lastModified,
          "content-length": OLD.byteLength,
        }).end(OLD);
      }
    },
  });
  await using dir = await tempDir();
  await fetchInto(dir.path, server.url("/f"), "always");
  for (let i = 0; i < 2; i++) {
    const download = await fetchInto(dir.path, server.url("/f"), "always");
    assert.equal(download?.revalidation, "fresh");
    const record = await readRecordFile(dir.join("f"));
    assert.equal(record.validator, lastModified);
  }
  assert.deepEqual(
    server.requests.map(({ headers }) =>
      headers["if-none-match"] ?? headers["if-modified-since"] ?? null
    ),
    [null, lastModified, lastModified],
  );
});

test("DownloadManager downloads a file again when a 304 names another version than the one asked about, rather than keep the old file under the new validator", async () => {
  const old = "Tue, 01 Sep 2026 10:00:00 GMT";
  const later = "Wed, 02 Sep 2026 10:00:00 GMT";
  const cases: [Record<string, string>, Record<string, string>][] = [
    [{ etag: '"v1"' }, { etag: '"v2"' }],
    [{ "last-modified": old }, { "last-modified": later }],
  ];
  for (const [first, now] of cases) {
    // A cache before the server that answers any condition 304, with the
    // validators of the version it holds now (RFC 9111 §4.3.4: such a 304
    // updates no stored response).
    let requests = 0;
    await using server = await startServer({
      "/f": (request, response) => {
        const conditional = request.headers["if-none-match"] !== undefined ||
          request.headers["if-modified-since"] !== undefined;
        if (conditional) response.writeHead(304, now).end();
        else {
          const [headers, body] = requests++ === 0 ? [first, OLD] : [now, NEW];
          response.writeHead(200, {
            ...headers,
            "content-length": body.byteLength,
          }).end(body);
        }
      },
    });
    await using dir = await tempDir();
    await fetchInto(dir.path, server.url("/f"), "always");
    const download = await fetchInto(dir.path, server.url("/f"), "always");
    const validator = Object.values(now).join();
    assert.equal(download?.state, "done", validator);
    assert.equal(download?.revalidation, "updated", validator);
    await assertFileHolds(dir.join("f"), NEW);
    assert.equal((await readRecordFile(dir.join("f"))).validator, validator);
    assert.deepEqual(
      server.requests.map(({ headers }) =>
        headers["if-none-match"] ?? headers["if-modified-since"] ?? null
      ),
      [null, Object.values(first).join(), null],
    );
  }
});

test("DownloadManager keeps a file whose kept partial of a newer version the server answers with the file's own version again (rolled back), rather than download it again", async () => {
  const stalled = deferred();
  const v1 = fileRoute({ body: OLD, etag: '"v1"' });
  // The new version, published for a while: its answer stalls after 64 KiB.
  const v2 = fileRoute({
    body: NEW,
    etag: '"v2"',
    faults: [{ stallAfter: 65_536, release: stalled.promise }],
  });
  let serving = v1;
  await using server = await startServer({
    "/f": (request, response) => serving.route(request, response),
  });
  await using dir = await tempDir();
  await fetchInto(dir.path, server.url("/f"), "always");
  serving = v2;
  const manager = revalidating(dir);
  const interrupted = manager.download(server.url("/f"), {
    progress: (download, current) => {
      if (current > 0) download.cancel({ keepPartial: true });
    },
  }) as Download;
  await manager.wait().catch(() => {});
  stalled.resolve();
  assert.equal(interrupted.partialKept, true);
  // Rolled back: the file in place is the server's version again.
  serving = v1;
  const download = await fetchInto(dir.path, server.url("/f"), "always");
  assert.equal(download?.revalidation, "fresh");
  assert.deepEqual(v1.log.ifRanges, [null, '"v2"']);
  assert.deepEqual(v1.log.statuses, [200, 200]);
  await assertFileHolds(dir.join("f"), OLD);
  assert.equal((await readRecordFile(dir.join("f"))).validator, '"v1"');
  assert.deepEqual(await dir.list(), withRecords("f"));
});

test("DownloadManager with a revalidate age asks only about files the server vouched for longer ago", async () => {
  await using server = await serve({ etag: '"v1"' });
  await using dir = await tempDir();
  await fetchInto(dir.path, server.url(), "always");
  // Checked just now: fresh for an hour, no request.
  assert.equal(await fetchInto(dir.path, server.url(), HOUR), null);
  assert.equal(server.log.conditions.length, 1);
  // Checked two hours ago, as far as the record says.
  const record = await readRecordFile(dir.join("f"));
  await writeFile(
    recordPath(dir.join("f")),
    JSON.stringify({ ...record, checked: Date.now() - 2 * HOUR }),
  );
  const download = await fetchInto(dir.path, server.url(), HOUR);
  assert.equal(download?.revalidation, "fresh");
  assert.deepEqual(server.log.conditions, [null, 'if-none-match: "v1"']);
  // The 304 vouched for it again.
  assert.ok(
    Number((await readRecordFile(dir.join("f"))).checked) > Date.now() - HOUR,
  );
  assert.equal(await fetchInto(dir.path, server.url(), HOUR), null);
  assert.equal(server.log.conditions.length, 2);
});

test("DownloadManager treats a file without a record as unknown: downloaded again under 'always', kept by its age under a number", async () => {
  // A server without validators: nothing to remember.
  await using server = await serve({});
  await using dir = await tempDir();
  await fetchInto(dir.path, server.url(), "always");
  assert.deepEqual(await dir.list(), ["f"]);
  // Younger than an hour by its modification time: kept, no request.
  assert.equal(await fetchInto(dir.path, server.url(), HOUR), null);
  assert.equal(server.log.conditions.length, 1);
  const again = await fetchInto(dir.path, server.url(), "always");
  assert.equal(again?.revalidation, "updated");
  // Older than an hour: downloaded again, unconditionally.
  const old = new Date(Date.now() - 2 * HOUR);
  await utimes(dir.join("f"), old, old);
  const aged = await fetchInto(dir.path, server.url(), HOUR);
  assert.equal(aged?.revalidation, "updated");
  assert.deepEqual(server.log.conditions, [null, null, null]);
  await assertFileHolds(dir.join("f"), OLD);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("DownloadManager takes a check or a file dated in the future as no proof of freshness (a clock set back, another machine's clock)", async () => {
  await using server = await serve({ etag: '"v1"' });
  await using dir = await tempDir();
  await fetchInto(dir.path, server.url(), "always");
  // A record written by a clock a day ahead: "always" still asks.
  const record = await readRecordFile(dir.join("f"));
  await writeFile(
    recordPath(dir.join("f")),
    JSON.stringify({ ...record, checked: Date.now() + 24 * HOUR }),
  );
  const download = await fetchInto(dir.path, server.url(), "always");
  assert.equal(download?.revalidation, "fresh");
  assert.deepEqual(server.log.conditions, [null, 'if-none-match: "v1"']);
  // A file without a record, dated a day ahead: its age is unknown, so it
  // is not younger than an hour.
  await rm(recordPath(dir.join("f")));
  const ahead = new Date(Date.now() + 24 * HOUR);
  await utimes(dir.join("f"), ahead, ahead);
  const aged = await fetchInto(dir.path, server.url(), HOUR);
  assert.equal(aged?.revalidation, "updated");
  assert.deepEqual(server.log.conditions, [null, 'if-none-match: "v1"', null]);
});

test("DownloadManager disowns a record when the file was replaced since, or came from another URL", async () => {
  await using server = await serveFile({ body: OLD, etag: '"v1"' }, [
    "/f",
    "/other/f",
  ]);
  await using dir = await tempDir();
  await fetchInto(dir.path, server.url(), "always");
  // The same name from another URL: not the file the record describes.
  const other = await fetchInto(dir.path, server.url("/other/f"), "always");
  assert.equal(other?.revalidation, "updated");
  assert.deepEqual(server.log.conditions, [null, null]);
  // Replaced by hand, same size: its modification time disowns the record.
  // Dated an hour back: the kernel dates a write by its clock tick (several
  // ms), so a write right after the download's could bear the same time.
  await writeFile(dir.join("f"), NEW.subarray(0, OLD.byteLength));
  const before = new Date(Date.now() - HOUR);
  await utimes(dir.join("f"), before, before);
  const replaced = await fetchInto(
    dir.path,
    server.url("/other/f"),
    "always",
  );
  assert.equal(replaced?.revalidation, "updated");
  assert.deepEqual(server.log.conditions, [null, null, null]);
  await assertFileHolds(dir.join("f"), OLD);
});

test("DownloadManager treats a record it cannot read (a directory in its place) as none: download() does not throw, and the file is downloaded again", async () => {
  await using server = await serve({ etag: '"v1"' });
  await using dir = await tempDir();
  await writeFile(dir.join("f"), "old");
  await mkdir(recordPath(dir.join("f")));
  const manager = revalidating(dir);
  // Unknown, as a file without a record is: under "always", fetched again.
  const download = manager.download(server.url());
  assert.notEqual(download, null);
  await manager.wait();
  assert.equal(download?.revalidation, "updated");
  assert.ok(sameBytes(new Uint8Array(await readFile(dir.join("f"))), OLD));
  // No record could be written there: the next revalidation fetches it again.
  assert.ok((await stat(recordPath(dir.join("f")))).isDirectory());
});

test("Two processes revalidating one file at once send one request", {
  timeout: 60_000,
}, async () => {
  const answer = deferred();
  await using server = await serve({
    etag: '"v1"',
    faults: [{}, { answerAfter: answer.promise }],
  });
  await using dir = await tempDir();
  await fetchInto(dir.path, server.url(), "always");
  const children = [0, 1].map(() =>
    startChild("manager_child", [server.url(), dir.path, "60000", "always"])
  );
  // Both have asked before the first conditional request is answered.
  await Promise.all(
    children.map((child) => child.line((line) => line === "started")),
  );
  answer.resolve();
  assert.deepEqual(
    await Promise.all(children.map((child) => child.exited)),
    [0, 0],
  );
  assert.deepEqual(children.map((child) => child.lines.at(-1)), [
    "fresh",
    "fresh",
  ]);
  assert.deepEqual(server.log.conditions, [null, 'if-none-match: "v1"']);
  await assertFileHolds(dir.join("f"), OLD);
  assert.deepEqual(await dir.list(), withRecords("f"));
});

test("DownloadManager with revalidate: 'always' asks again about a file another download got from an answer older than its question, rather than take it as checked when that download ended", async () => {
  const release = deferred();
  const answered = deferred();
  // The first answer ("v1") holds its body after 10,000 bytes until
  // released; by then the server has published "v2", which every later
  // request gets.
  const before = bytesRoute(OLD, {
    headers: { etag: '"v1"' },
    gate: release.promise,
    gateAt: 10_000,
  });
  const { route: after, log } = fileRoute({ body: NEW, etag: '"v2"' });
  let requests = 0;
  await using server = await startServer({
    "/f": (request, response) =>
      requests++ === 0 ? before(request, response) : after(request, response),
  });
  await using dir = await tempDir();
  const first = revalidating(dir);
  const second = revalidating(dir);
  const a = first.download(server.url("/f"), {
    progress: (_download, current) => {
      if (current > 0) answered.resolve();
    },
  }) as Download;
  // The server vouched for "v1" when it answered the first download; the
  // second is asked for after that, and waits for the first's lock.
  await answered.promise;
  const b = second.download(server.url("/f")) as Download;
  release.resolve();
  await Promise.all([first.wait(), second.wait()]);
  assert.equal(a.state, "done");
  // The first's answer is older than the second's question: it asks.
  assert.equal(b.revalidation, "updated");
  assert.deepEqual(log.conditions, ['if-none-match: "v1"']);
  await assertFileHolds(dir.join("f"), NEW);
  assert.equal((await readRecordFile(dir.join("f"))).validator, '"v2"');
  assert.deepEqual(await dir.list(), withRecords("f"));
});

test("DownloadManager downloads a file again that was removed or replaced while it was asked about, rather than call a 304 for it fresh", async () => {
  const changes = {
    // By hand, or by an eviction that looked at its lock just before the
    // download took it: the file and its record.
    removed: async (dest: string) => {
      await rm(dest);
      await rm(recordPath(dest));
    },
    // By a program that takes no lock: the 304 is about the file the record
    // was of, and no record may vouch for this one.
    replaced: (dest: string) => writeFile(dest, "another file"),
  };
  for (const [how, change] of Object.entries(changes)) {
    const asked = deferred();
    const answer = deferred();
    await using server = await serve({
      etag: '"v1"',
      faultFor: ({ index }) => {
        if (index !== 1) return undefined;
        asked.resolve();
        return { answerAfter: answer.promise };
      },
    });
    await using dir = await tempDir();
    await fetchInto(dir.path, server.url(), "always");
    const manager = revalidating(dir);
    const download = manager.download(server.url()) as Download;
    await asked.promise;
    await change(dir.join("f"));
    answer.resolve();
    await manager.wait();
    assert.equal(download.state, "done", how);
    assert.deepEqual(server.log.statuses, [200, 304, 200], how);
    assert.deepEqual(
      server.log.conditions,
      [null, 'if-none-match: "v1"', null],
      how,
    );
    await assertFileHolds(dir.join("f"), OLD);
    assert.deepEqual(await dir.list(), withRecords("f"));
  }
});

test("DownloadManager fails a revalidation that cannot reach the server, keeping the file and its record for the next one", async () => {
  // Every connection dropped before any answer: a network down. (A runtime's
  // fetch may send a request again on its own when that happens.)
  let offline = false;
  const cut = { stallHeaders: true, release: Promise.resolve() };
  await using server = await serve({
    etag: '"v1"',
    faultFor: () => offline ? cut : undefined,
  });
  await using dir = await tempDir();
  await fetchInto(dir.path, server.url(), "always");
  const recorded = await readRecordFile(dir.join("f"));
  offline = true;
  const manager = revalidating(dir, { retries: 1 });
  const download = manager.download(server.url()) as Download;
  const error = await download.wait().then(() => undefined, (error) => error);
  // Told, not hidden behind the stale file, which is still there to use.
  assert.ok(error instanceof RetriesExhaustedError, String(error));
  assert.equal(download.state, "failed");
  assert.equal(download.revalidation, undefined);
  await assertFileHolds(dir.join("f"), OLD);
  assert.deepEqual(await readRecordFile(dir.join("f")), recorded);
  offline = false;
  const again = await fetchInto(dir.path, server.url(), "always");
  assert.equal(again?.revalidation, "fresh");
  assert.equal(server.log.statuses.at(-1), 304);
  assert.deepEqual(
    new Set(server.log.conditions.slice(1)),
    new Set(['if-none-match: "v1"']),
  );
});

test("PersistLimit removes a manager's record with the file it evicts", async () => {
  await using server = await serveFile({ body: OLD, etag: '"v1"' }, [
    "/a",
    "/b",
  ]);
  await using dir = await tempDir();
  const manager = revalidating(dir);
  manager.download(server.url("/a"));
  await manager.wait();
  assert.deepEqual(await dir.list(), withRecords("a"));
  // Another manager, with a limit this one does not share (a manager
  // keeps what it used, and so does any sharing its limit): "a" is no
  // one's in use.
  const persistLimit = new PersistLimit(OLD.byteLength + 1, { fileLimit: 1 });
  const next = revalidating(dir, { persistLimit });
  next.download(server.url("/b"));
  await next.wait();
  assert.deepEqual(await dir.list(), withRecords("b"));
});

test(
  "PersistLimit never evicts a file another process is revalidating: its 304 keeps it, not downloaded again",
  {
    timeout: 60_000,
  },
  async () => {
    const asked = deferred();
    const answer = deferred();
    await using server = await serveFile({
      body: OLD,
      etag: '"v1"',
      faultFor: ({ index }) => {
        if (index !== 1) return undefined;
        asked.resolve();
        return { answerAfter: answer.promise };
      },
    }, ["/f", "/b"]);
    await using dir = await tempDir();
    await fetchInto(dir.path, server.url("/f"), "always");
    // The least recently accessed file, its record still its own.
    const { mtime } = await stat(dir.join("f"));
    await utimes(dir.join("f"), new Date(Date.now() - HOUR), mtime);
    const child = startChild("manager_child", [
      server.url("/f"),
      dir.path,
      "60000",
      "always",
    ]);
    try {
      // The other process holds the lock of "f", and waits for the answer.
      await asked.promise;
      const manager = dir.manager({
        ...FAST,
        persistLimit: new PersistLimit(1, { fileLimit: 1 }),
      });
      manager.download(server.url("/b"));
      await manager.wait();
      // Kept, counted ("b" is in use, so nothing went), beside the other
      // process's lock and partial file.
      assert.deepEqual(
        (await dir.list()).filter((name) => !isReservedName(name)),
        ["b", "f"],
      );
      answer.resolve();
      assert.equal(await child.exited, 0);
      assert.equal(child.lines.at(-1), "fresh");
    } finally {
      answer.resolve();
      child.process.kill("SIGKILL");
    }
    assert.deepEqual(server.log.statuses, [200, 304, 200]);
    assert.deepEqual(server.log.conditions, [
      null,
      'if-none-match: "v1"',
      null,
    ]);
    await assertFileHolds(dir.join("f"), OLD);
    assert.deepEqual(await dir.list(), [...withRecords("f"), "b"].sort());
  },
);

/**
 * Downloads the file of `sources` into `dir` with a manager that revalidates
 * always; the download and the error its manager's `wait()` rejected with.
 */
async function fetchSources(
  dir: string,
  sources: string[],
): Promise<{ download: Download | null; error: unknown }> {
  await using manager = new DownloadManager(dir, {
    ...FAST,
    retries: 0,
    revalidate: "always",
  });
  const download = manager.download(sources);
  try {
    await manager.wait();
    return { download, error: undefined };
  } catch (error) {
    return { download, error };
  }
}

test("DownloadManager revalidating a file of several sources keeps it when the source that vouched for it fails and a later one serves a version of its own (a stale mirror), rather than call its bytes an update", async () => {
  // The origin has the new version, then fails for a while; the mirror is
  // stale: the old version, under an ETag of its own.
  const origin = fileRoute({
    body: NEW,
    etag: '"o2"',
    faults: [{}, { status: 404 }],
  });
  const mirror = fileRoute({ body: OLD, etag: '"m1"' });
  await using server = await startServer({
    "/o/f": origin.route,
    "/m/f": mirror.route,
  });
  await using dir = await tempDir();
  const sources = [server.url("/o/f"), server.url("/m/f")];
  await fetchSources(dir.path, sources);
  const recorded = await readRecordFile(dir.join("f"));
  const { download, error } = await fetchSources(dir.path, sources);
  // The mirror's 200 to the origin's ETag says "another version", not a
  // newer one: it is passed over, and nothing could vouch for the file.
  assert.ok(error instanceof RetriesExhaustedError, String(error));
  assert.match(String(error), /cannot be told newer than the file in place/);
  assert.equal(download?.state, "failed");
  assert.equal(download?.revalidation, undefined);
  assert.deepEqual(mirror.log.conditions, ['if-none-match: "o2"']);
  await assertFileHolds(dir.join("f"), NEW);
  // Not renewed: the next revalidation asks again, and the origin is back.
  assert.deepEqual(await readRecordFile(dir.join("f")), recorded);
  assert.deepEqual(await dir.list(), withRecords("f"));
  const again = await fetchSources(dir.path, sources);
  assert.equal(again.error, undefined);
  assert.equal(again.download?.revalidation, "fresh");
  assert.deepEqual(origin.log.statuses, [200, 404, 304]);
  await assertFileHolds(dir.join("f"), NEW);
});

test("DownloadManager revalidating a file a mirror gave takes the new version from a source listed before it, and a 304 from any source", async () => {
  // The origin fails the first download: the mirror's bytes and ETag are
  // recorded, with the mirror named. Both share ETags (a CDN's copy).
  const origin = fileRoute({
    body: OLD,
    etag: '"v1"',
    faults: [{ status: 404 }, { status: 404 }],
    change: 2,
    changed: NEW,
    changedEtag: '"v2"',
  });
  const mirror = fileRoute({ body: OLD, etag: '"v1"' });
  await using server = await startServer({
    "/o/f": origin.route,
    "/m/f": mirror.route,
  });
  await using dir = await tempDir();
  const sources = [server.url("/o/f"), server.url("/m/f")];
  await fetchSources(dir.path, sources);
  const record = await readRecordFile(dir.join("f"));
  assert.equal(record.url, sources[0]);
  assert.equal(record.source, sources[1]);
  // The origin still fails; the mirror holds the file's version: fresh.
  const fresh = await fetchSources(dir.path, sources);
  assert.equal(fresh.download?.revalidation, "fresh");
  assert.deepEqual(mirror.log.statuses, [200, 304]);
  // The origin is back with a new version: listed first, it is the one a
  // download would take, and its 200 replaces the file.
  const updated = await fetchSources(dir.path, sources);
  assert.equal(updated.error, undefined);
  assert.equal(updated.download?.revalidation, "updated");
  assert.deepEqual(origin.log.conditions, [
    null,
    'if-none-match: "v1"',
    'if-none-match: "v1"',
  ]);
  await assertFileHolds(dir.join("f"), NEW);
  const renewed = await readRecordFile(dir.join("f"));
  assert.equal(renewed.validator, '"v2"');
  assert.equal(renewed.source, undefined);
});

test("DownloadManager revalidating a file comes back for the new version to the source that vouched for it, once busy, past a later source's version of its own", async () => {
  // The origin is busy for an hour at first (a Retry-After): the download
  // goes on to the mirror at once, whose 200 (a stale copy, its own ETag)
  // cannot be told newer; it comes back to the origin, which has the new
  // version by then.
  const origin = fileRoute({
    body: OLD,
    etag: '"o1"',
    faults: [{}, { status: 503, retryAfter: "3600" }],
    change: 2,
    changed: NEW,
    changedEtag: '"o2"',
  });
  const mirror = fileRoute({ body: OLD, etag: '"m1"' });
  await using server = await startServer({
    "/o/f": origin.route,
    "/m/f": mirror.route,
  });
  await using dir = await tempDir();
  const sources = [server.url("/o/f"), server.url("/m/f")];
  const manager = revalidating(dir, {
    retries: 1,
    retryAfterCap: 2,
  });
  manager.download(sources);
  await manager.wait();
  const download = manager.download(sources);
  await manager.wait();
  assert.equal(download?.revalidation, "updated");
  assert.deepEqual(
    server.requests.map(({ path }) => path),
    ["/o/f", "/o/f", "/m/f", "/o/f"],
  );
  assert.deepEqual(mirror.log.conditions, ['if-none-match: "o1"']);
  assert.deepEqual(origin.log.statuses, [200, 503, 200]);
  await assertFileHolds(dir.join("f"), NEW);
  assert.equal((await readRecordFile(dir.join("f"))).validator, '"o2"');
});

test("DownloadManager keeps the record of the source that gave the file's validator when a mirror answers 304 with its own", async () => {
  const lastModified = "Tue, 01 Sep 2026 10:00:00 GMT";
  // The origin gives only a date; the mirror has the same file, dated the
  // same, and an ETag of its own.
  const origin = fileRoute({
    body: OLD,
    lastModified,
    faults: [{}, { status: 404 }],
  });
  const mirror = fileRoute({ body: OLD, etag: '"m1"', lastModified });
  await using server = await startServer({
    "/o/f": origin.route,
    "/m/f": mirror.route,
  });
  await using dir = await tempDir();
  const sources = [server.url("/o/f"), server.url("/m/f")];
  await fetchSources(dir.path, sources);
  const recorded = await readRecordFile(dir.join("f"));
  // The origin fails; the mirror's 304 vouches for the file, now.
  const fresh = await fetchSources(dir.path, sources);
  assert.equal(fresh.download?.revalidation, "fresh");
  assert.deepEqual(mirror.log.statuses, [304]);
  const renewed = await readRecordFile(dir.join("f"));
  assert.ok(Number(renewed.checked) > Number(recorded.checked));
  assert.deepEqual({ ...renewed, checked: recorded.checked }, recorded);
  // So the origin is asked with its own date, not the mirror's ETag (which
  // it would answer with the whole file again).
  const again = await fetchSources(dir.path, sources);
  assert.equal(again.download?.revalidation, "fresh");
  assert.deepEqual(origin.log.conditions, [
    null,
    `if-modified-since: ${lastModified}`,
    `if-modified-since: ${lastModified}`,
  ]);
  assert.deepEqual(origin.log.statuses, [200, 404, 304]);
});

test("DownloadManager throws a RangeError for a revalidate that is not never, always or milliseconds", () => {
  for (const revalidate of [-1, NaN, "sometimes"]) {
    assert.throws(
      () =>
        new DownloadManager("unused-dir-never-created", {
          revalidate: revalidate as number,
        }),
      RangeError,
    );
  }
});
