// `keepPartialOnError`: a download that fails for the network, its retries
// spent, leaves its bytes for the next download of the file to resume (as
// a cancel with `keepPartial` does); one that fails for what makes the
// bytes worthless (a digest mismatch, a 404) or cannot be resumed (no
// validator) leaves nothing, and without the option nothing is left either.

import assert from "node:assert/strict";
import { readFile, utimes } from "node:fs/promises";
import { test } from "node:test";
import {
  Download,
  DownloadManager,
  type DownloadOptions,
  HTTPError,
  IntegrityError,
  NetworkError,
  PersistLimit,
  ProtocolError,
  RetriesExhaustedError,
  TimeoutError,
} from "../mod.ts";
import { partialPaths } from "../src/_disk/names.ts";
import { readSidecar } from "../src/_disk/sidecar.ts";
import {
  deferred,
  type Fault,
  fileRoute,
  type FileRouteLog,
  patternBytes,
  rawServer,
  startServer,
  statusRoute,
  type TestServer,
} from "./_helpers/server.ts";
import { assertFileHolds } from "./_helpers/file_bytes.ts";
import { useManualClock } from "./_helpers/manual_clock.ts";
import { type TempDir, tempDir } from "./_helpers/temp_dir.ts";

const FAST: DownloadOptions = {
  backoffBase: 1,
  backoffCap: 5,
  chunkSize: 4096,
};
const BODY = patternBytes(64 * 1024);
const CUT = 16 * 1024;

/**
 * A server of BODY whose first answer is dropped `CUT` bytes in (held
 * until the download has them), and which then closes every connection
 * before it answers (a proxy restarting, a server going down) until `up()`,
 * or answers each as `then` says.
 */
interface Flaky extends AsyncDisposable {
  url: string;
  log: FileRouteLog;
  /** The download's progress, which lets the first answer drop. */
  progress: (download: Download, current: number) => void;
  /** From now on, answers well. */
  up(): void;
}

async function flakyServer(
  options: { etag?: string | undefined; then?: Fault } = {},
): Promise<Flaky> {
  const written = deferred();
  let down = true;
  const { route, log } = fileRoute({
    body: BODY,
    etag: "etag" in options ? options.etag : '"v1"',
    faults: [{ dropAfter: CUT, release: written.promise }],
    faultFor: () =>
      down
        ? options.then ?? { stallHeaders: true, release: Promise.resolve() }
        : undefined,
  });
  const server: TestServer = await startServer({ "/f": route });
  return {
    url: server.url("/f"),
    log,
    progress: cutReached(written),
    up: () => down = false,
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/** A progress callback that resolves `written` once `CUT` bytes are in. */
function cutReached(
  written: { resolve: () => void },
): (download: Download, current: number) => void {
  return (_download, current) => {
    if (current >= CUT) written.resolve();
  };
}

/**
 * Downloads the file at `from.url` (a flaky server's) into dir/f, with
 * `from.progress`, and waits, not raising.
 */
async function failed(
  from: Pick<Flaky, "url" | "progress">,
  dir: TempDir,
  options: DownloadOptions,
): Promise<Download> {
  const download = new Download(from.url, dir.join("f"), {
    ...FAST,
    progress: from.progress,
    ...options,
  });
  download.start();
  await download.wait({ raiseIfError: false });
  return download;
}

/**
 * Downloads the flaky server's file with a manager of dir (with
 * keepPartialOnError and `retries`), waits, not raising, and disposes of
 * the manager.
 */
async function managerFailed(
  flaky: Flaky,
  dir: TempDir,
  retries: number,
): Promise<Download> {
  await using manager = new DownloadManager(dir.path, {
    ...FAST,
    retries,
    keepPartialOnError: true,
  });
  const download = manager.download(flaky.url, { progress: flaky.progress });
  assert.ok(download !== null);
  await download.wait({ raiseIfError: false });
  return download;
}

/**
 * Asserts that dir holds the partial file of "f" with its first `CUT`
 * bytes, its sidecar and the lock, both marked released.
 */
async function assertKept(dir: TempDir): Promise<void> {
  const paths = partialPaths(dir.join("f"));
  const names = await dir.list();
  assert.equal(names.length, 3, `${names}`);
  const lock = JSON.parse(await readFile(paths.lock, "utf8"));
  assert.equal(lock.released, true);
  const sidecar = readSidecar(paths.sidecar);
  assert.equal(sidecar?.released, true);
  const partial = names.find((name) => !/\.(json|lock)$/.test(name));
  assert.ok(partial !== undefined, `${names}`);
  await assertFileHolds(dir.join(partial), BODY.subarray(0, CUT));
}

test("DownloadManager with keepPartialOnError keeps the bytes of a download whose retries a dropped connection used up, and a new manager resumes them with a Range for the rest", async () => {
  await using flaky = await flakyServer();
  await using dir = await tempDir();
  const download = await managerFailed(flaky, dir, 2);
  // Failed as without the option: the connection's errors, every attempt.
  const error = download.error();
  assert.ok(error instanceof RetriesExhaustedError, String(error));
  assert.equal(error.errors.length, 3);
  for (const each of error.errors) {
    assert.ok(each instanceof NetworkError, String(each));
  }
  assert.equal(download.state, "failed");
  assert.equal(download.partialKept, true);
  await assertKept(dir);
  assert.deepEqual(flaky.log.ranges, [
    null,
    `bytes=${CUT}-`,
    `bytes=${CUT}-`,
  ]);
  flaky.up();
  await using second = new DownloadManager(dir.path, FAST);
  second.download(flaky.url);
  await second.wait();
  assert.deepEqual(flaky.log.ranges.slice(3), [`bytes=${CUT}-`]);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download with keepPartialOnError keeps the bytes of a body that stalled past its idleTimeout, and the next download resumes them", async () => {
  // On a clock of the test's, moved once the bytes before the cut are
  // written: a loaded machine's pause before the cut is no stall.
  using clock = useManualClock();
  const idleTimeout = 1000;
  const stalled = deferred();
  const { route, log } = fileRoute({
    body: BODY,
    etag: '"v1"',
    faults: [{ stallAfter: CUT, release: stalled.promise }],
  });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const download = new Download(server.url("/f"), dir.join("f"), {
    ...FAST,
    retries: 0,
    idleTimeout,
    keepPartialOnError: true,
    progress: (_d, current) => {
      if (current === CUT) clock.advance(idleTimeout);
    },
  });
  download.start();
  await download.wait({ raiseIfError: false });
  stalled.resolve();
  const error = download.error();
  assert.ok(error instanceof TimeoutError, String(error));
  assert.equal(error.phase, "idle");
  assert.equal(download.partialKept, true);
  await assertKept(dir);
  const again = new Download(server.url("/f"), dir.join("f"), FAST);
  again.start();
  await again.wait();
  assert.deepEqual(log.ranges, [null, `bytes=${CUT}-`]);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download without keepPartialOnError removes its bytes when its retries are used up", async () => {
  await using flaky = await flakyServer();
  await using dir = await tempDir();
  const download = await failed(flaky, dir, { retries: 1 });
  assert.ok(download.error() instanceof RetriesExhaustedError);
  assert.equal(download.partialKept, false);
  assert.deepEqual(await dir.list(), []);
});

test("Download with keepPartialOnError keeps nothing when the file is gone on resume (a 404 or a 410)", async () => {
  for (const status of [404, 410]) {
    await using flaky = await flakyServer({ then: { status } });
    await using dir = await tempDir();
    const download = await failed(flaky, dir, { keepPartialOnError: true });
    // The dropped attempt's error, then the answer that ended it.
    const error = download.error();
    assert.ok(error instanceof RetriesExhaustedError, String(error));
    const last = error.errors.at(-1);
    assert.ok(last instanceof HTTPError, String(last));
    assert.equal(last.status, status);
    assert.equal(download.partialKept, false);
    assert.deepEqual(await dir.list(), []);
  }
});

test("Download with keepPartialOnError keeps nothing of bytes that do not match the digest", async () => {
  await using flaky = await flakyServer();
  flaky.up();
  await using dir = await tempDir();
  const download = await failed(flaky, dir, {
    keepPartialOnError: true,
    sha256: "0".repeat(64),
  });
  const error = download.error();
  assert.ok(error instanceof IntegrityError, String(error));
  assert.equal(download.partialKept, false);
  assert.deepEqual(await dir.list(), []);
});

test("Download with keepPartialOnError keeps nothing of a file without a validator: it could not be resumed", async () => {
  await using flaky = await flakyServer({ etag: undefined });
  await using dir = await tempDir();
  const download = await failed(flaky, dir, {
    retries: 1,
    keepPartialOnError: true,
  });
  assert.ok(download.error() instanceof RetriesExhaustedError);
  assert.equal(download.partialKept, false);
  assert.deepEqual(await dir.list(), []);
});

/**
 * Keeps the first `CUT` bytes of the file `route` serves first (its first
 * answer dropped there, the retries none), then downloads it again.
 */
async function keptThenAgain(
  options: { faults: Fault[]; change?: number; changed?: Uint8Array },
): Promise<{ dir: TempDir; log: FileRouteLog; again: Download }> {
  const written = deferred();
  const { route, log } = fileRoute({
    body: BODY,
    etag: '"v1"',
    changedEtag: '"v2"',
    ...options,
    faults: [{ dropAfter: CUT, release: written.promise }, ...options.faults],
  });
  await using server = await startServer({ "/f": route });
  const dir = await tempDir();
  const first = await failed(
    { url: server.url("/f"), progress: cutReached(written) },
    dir,
    { retries: 0, keepPartialOnError: true },
  );
  assert.equal(first.partialKept, true, String(first.error()));
  await assertKept(dir);
  const again = new Download(server.url("/f"), dir.join("f"), FAST);
  again.start();
  await again.wait({ raiseIfError: false });
  return { dir, log, again };
}

test("Download resuming bytes kept by keepPartialOnError replaces them when the file changed on the server (If-Range not met: a 200 of another ETag)", async () => {
  const changed = patternBytes(BODY.byteLength + 1000, 9);
  const { dir, log, again } = await keptThenAgain({
    faults: [],
    change: 1,
    changed,
  });
  await using _dir = dir;
  assert.equal(again.error(), undefined);
  assert.deepEqual(log.ranges, [null, `bytes=${CUT}-`]);
  assert.deepEqual(log.ifRanges, [null, '"v1"']);
  assert.deepEqual(log.statuses, [200, 200]);
  await assertFileHolds(dir.join("f"), changed);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download resuming bytes kept by keepPartialOnError replaces them when the server now ignores the Range (a 200 of every byte)", async () => {
  const { dir, log, again } = await keptThenAgain({
    faults: [{ ignoreRange: true }],
  });
  await using _dir = dir;
  assert.equal(again.error(), undefined);
  assert.deepEqual(log.ranges, [null, `bytes=${CUT}-`]);
  assert.deepEqual(log.statuses, [200, 200]);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download with keepPartialOnError keeps the bytes of a body whose connection closed early with no length to tell it from an end (a ProtocolError a retry resumes past), and the next download resumes them", async () => {
  // Each answer is close-delimited where it can be (HTTP/1.0 servers, some
  // proxies): the first says its length, and its drop is a NetworkError; the
  // second, a 206 without Content-Length, ends "cleanly" CUT bytes in, which
  // only the file's length tells from an end. The third sends the rest.
  const written = deferred();
  const ranges: (string | null)[] = [];
  const head = (status: string, fields: string): string =>
    `HTTP/1.1 ${status}\r\netag: "v1"\r\naccept-ranges: bytes\r\n${fields}connection: close\r\n\r\n`;
  const total = BODY.byteLength;
  await using server = await rawServer((socket) =>
    socket.once("data", (data) => {
      const range = /^range: bytes=(\d+)-/im.exec(String(data));
      ranges.push(range === null ? null : `bytes=${range[1]}-`);
      if (range === null) {
        socket.write(head("200 OK", `content-length: ${total}\r\n`));
        socket.write(BODY.subarray(0, CUT));
        written.promise.then(() => socket.destroy());
        return;
      }
      const from = Number(range[1]);
      const fields = `content-range: bytes ${from}-${total - 1}/${total}\r\n`;
      socket.write(head("206 Partial Content", fields));
      // The second answer ends CUT bytes in; the third sends every byte.
      const to = ranges.length === 2 ? from + CUT : total;
      socket.end(BODY.subarray(from, to));
    })
  );
  await using dir = await tempDir();
  const url = `http://127.0.0.1:${server.port}/f`;
  const download = await failed({ url, progress: cutReached(written) }, dir, {
    retries: 1,
    keepPartialOnError: true,
  });
  const error = download.error();
  assert.ok(error instanceof RetriesExhaustedError, String(error));
  const [dropped, ended] = error.errors;
  assert.ok(dropped instanceof NetworkError, String(dropped));
  assert.ok(ended instanceof ProtocolError, String(ended));
  assert.equal(
    ended.message,
    `Cannot download "${url}": the body ended after ${
      2 * CUT
    } of ${total} bytes`,
  );
  assert.equal(download.partialKept, true);
  assert.equal((await dir.list()).length, 3, `${await dir.list()}`);
  const again = new Download(url, dir.join("f"), FAST);
  again.start();
  await again.wait();
  assert.deepEqual(ranges, [null, `bytes=${CUT}-`, `bytes=${2 * CUT}-`]);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download with keepPartialOnError over several connections keeps every byte a part wrote before its connection dropped, in the sidecar's ranges, and the next download asks only for the rest", async () => {
  const body = patternBytes(4 * 1024 * 1024, 3);
  const written = deferred();
  const stalled = deferred();
  // Where the first part's bytes are all on disk.
  let through = Infinity;
  const ranged: string[] = [];
  let faulty = true;
  const { route, log } = fileRoute({
    body,
    etag: '"v1"',
    faultFor: ({ range }) => {
      if (range === null || !faulty) return undefined;
      ranged.push(range);
      // The first part: CUT bytes, then its connection drops; the
      // others' answers wait until the download has ended.
      if (ranged.length > 1) {
        return { stallHeaders: true, release: stalled.promise };
      }
      through = Number(/^bytes=(\d+)-/.exec(range)?.[1]) + CUT;
      return { dropAfter: CUT, release: written.promise };
    },
  });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const download = new Download(server.url("/f"), dir.join("f"), {
    ...FAST,
    retries: 0,
    connections: 2,
    keepPartialOnError: true,
    progress: (_download, current) => {
      if (current >= through) written.resolve();
    },
  });
  download.start();
  await download.wait({ raiseIfError: false });
  faulty = false;
  stalled.resolve();
  assert.ok(download.error() instanceof NetworkError, String(download.error()));
  assert.equal(download.partialKept, true);
  const sidecar = readSidecar(partialPaths(dir.join("f")).sidecar);
  assert.equal(sidecar?.released, true);
  assert.deepEqual(sidecar?.ranges, [[0, through]]);
  const asked = log.ranges.length;
  const again = new Download(server.url("/f"), dir.join("f"), {
    ...FAST,
    connections: 1,
  });
  again.start();
  await again.wait();
  assert.deepEqual(log.ranges.slice(asked), [`bytes=${through}-`]);
  await assertFileHolds(dir.join("f"), body);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("DownloadManager's leftover cleanup leaves bytes kept by keepPartialOnError, older than leftoverMaxAge, that a download of its own queued meanwhile resumes", async () => {
  await using flaky = await flakyServer();
  await using dir = await tempDir();
  const failed = await managerFailed(flaky, dir, 0);
  assert.equal(failed.partialKept, true);
  await assertKept(dir);
  // Kept two days ago (the command line's "run the same command again").
  const old = new Date(Date.now() - 2 * 86_400_000);
  for (const name of await dir.list()) {
    await utimes(dir.join(name), old, old);
  }
  flaky.up();
  // The cleanup of leftovers runs first of the manager's bookkeeping, its
  // limit's registration of the directory after it: the first download,
  // which holds the manager's one slot, is answered once both are done.
  const swept = deferred();
  class Observed extends PersistLimit {
    override async registerDirContent(
      directory: string,
      pattern?: string,
    ): Promise<void> {
      await super.registerDirContent(directory, pattern);
      swept.resolve();
    }
  }
  const other = patternBytes(1000, 4);
  const { route: held } = fileRoute({
    body: other,
    faults: [{ answerAfter: swept.promise }],
  });
  await using server = await startServer({ "/held": held });
  await using second = new DownloadManager(dir.path, {
    ...FAST,
    concurrency: 1,
    persistLimit: new Observed(0),
  });
  second.download(server.url("/held"));
  second.download(flaky.url);
  await second.wait();
  assert.deepEqual(flaky.log.ranges.slice(1), [`bytes=${CUT}-`]);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f", "held"]);
});

/**
 * Starts the flaky server's file in a new manager of dir (keepPartialOnError,
 * 2 retries) and calls `during` at its first retry, while it waits its
 * backoff; waits for the download, not raising.
 */
async function whileRetrying(
  flaky: Flaky,
  dir: TempDir,
  during: (manager: DownloadManager, download: Download) => void,
): Promise<{ manager: DownloadManager; download: Download }> {
  const manager = new DownloadManager(dir.path, {
    ...FAST,
    retries: 2,
    keepPartialOnError: true,
  });
  const download = manager.download(flaky.url, { progress: flaky.progress });
  assert.ok(download !== null);
  let retries = 0;
  download.addEventListener("retry", () => {
    if (++retries === 1) during(manager, download);
  });
  await download.wait({ raiseIfError: false });
  return { manager, download };
}

test("DownloadManager with keepPartialOnError disposed of while a failing download waits to retry leaves nothing, as a cancel does, and manager.cancel() with keepPartial keeps the bytes", async () => {
  for (const keepPartial of [false, true]) {
    await using flaky = await flakyServer();
    await using dir = await tempDir();
    let closing: Promise<void> | undefined;
    const { manager, download } = await whileRetrying(
      flaky,
      dir,
      (manager) => {
        if (keepPartial) manager.cancel(undefined, { keepPartial });
        closing = manager[Symbol.asyncDispose]();
      },
    );
    await closing;
    await manager[Symbol.asyncDispose]();
    assert.equal(download.state, "canceled");
    assert.equal(download.partialKept, keepPartial);
    if (keepPartial) await assertKept(dir);
    else assert.deepEqual(await dir.list(), []);
  }
});

test("Download with keepPartialOnError paused while it waits to retry, resumed, then failing for the network keeps its bytes", async () => {
  await using flaky = await flakyServer();
  await using dir = await tempDir();
  const { manager, download } = await whileRetrying(
    flaky,
    dir,
    (_manager, download) => {
      download.pause().then(() => download.resume());
    },
  );
  await using _manager = manager;
  const error = download.error();
  assert.ok(error instanceof RetriesExhaustedError, String(error));
  assert.equal(download.state, "failed");
  assert.equal(download.partialKept, true);
  await assertKept(dir);
});

/**
 * Downloads `sources` into dir/f with keepPartialOnError, no retries and
 * `flaky.progress`, and waits, not raising.
 */
async function failedFromSources(
  sources: string[],
  flaky: Flaky,
  dir: TempDir,
): Promise<Download> {
  const download = new Download(sources, dir.join("f"), {
    ...FAST,
    retries: 0,
    connections: 1,
    keepPartialOnError: true,
    progress: flaky.progress,
  });
  download.start();
  await download.wait({ raiseIfError: false });
  return download;
}

test("Download with mirrors and keepPartialOnError keeps the bytes a source wrote before its connection dropped though another source answered 404, whichever is listed first, and the next download resumes them from that source", async () => {
  for (const goneFirst of [true, false]) {
    await using flaky = await flakyServer();
    await using server = await startServer({ "/gone/f": statusRoute(404) });
    await using dir = await tempDir();
    const gone = server.url("/gone/f");
    const sources = goneFirst ? [gone, flaky.url] : [flaky.url, gone];
    const download = await failedFromSources(sources, flaky, dir);
    const error = download.error();
    assert.ok(error instanceof RetriesExhaustedError, String(error));
    assert.deepEqual(error.sources, sources);
    const reasons = new Map(
      error.errors.map((each, index) => [sources[index], each]),
    );
    assert.ok(reasons.get(gone) instanceof HTTPError, String(error));
    assert.ok(reasons.get(flaky.url) instanceof NetworkError, String(error));
    assert.equal(download.partialKept, true, `goneFirst: ${goneFirst}`);
    await assertKept(dir);
    flaky.up();
    const again = new Download(sources, dir.join("f"), FAST);
    again.start();
    await again.wait();
    assert.deepEqual(flaky.log.ranges, [null, `bytes=${CUT}-`]);
    await assertFileHolds(dir.join("f"), BODY);
    assert.deepEqual(await dir.list(), ["f"]);
  }
});

test("Download with mirrors and keepPartialOnError keeps nothing when no source can serve the rest: the one that wrote the bytes answered 404 when asked again, the other serves another file", async () => {
  const written = deferred();
  const { route } = fileRoute({
    body: BODY,
    etag: '"v1"',
    faults: [{ dropAfter: CUT, release: written.promise }, { status: 404 }],
  });
  const other = fileRoute({ body: patternBytes(1000, 5), etag: '"o"' });
  await using server = await startServer({ "/f": route, "/o/f": other.route });
  await using dir = await tempDir();
  const sources = [server.url("/f"), server.url("/o/f")];
  const download = new Download(sources, dir.join("f"), {
    ...FAST,
    retries: 1,
    connections: 1,
    keepPartialOnError: true,
    progress: cutReached(written),
  });
  download.start();
  await download.wait({ raiseIfError: false });
  const error = download.error();
  assert.ok(error instanceof RetriesExhaustedError, String(error));
  const [first, second] = error.errors;
  assert.ok(first instanceof RetriesExhaustedError, String(first));
  assert.ok(first.errors[0] instanceof NetworkError, String(first));
  assert.ok(first.errors[1] instanceof HTTPError, String(first));
  assert.ok(second instanceof ProtocolError, String(second));
  assert.match(second.message, /serves another file/);
  assert.equal(download.partialKept, false);
  assert.deepEqual(await dir.list(), []);
});
