import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  lstat,
  mkdir,
  readdir,
  readFile,
  stat,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { rmSync } from "node:fs";
import { basename } from "node:path";
import { test } from "node:test";
import {
  Download,
  DownloadInterrupt,
  DownloadManager,
  type DownloadManagerOptions,
  FileSystemError,
  HTTPError,
  ManagerClosedError,
  type ManagerDownloadOptions,
  PersistLimit,
  type RemoveOldFilesOptions,
} from "../mod.ts";
import {
  bytesRoute,
  deferred,
  patternBytes,
  type ServedFile,
  serveFile,
  startServer,
  statusRoute,
} from "./_helpers/server.ts";
import { partialFile, partialPaths } from "../src/_disk/names.ts";
import { PROC } from "./_helpers/identity.ts";
import { mount, remountReadOnly, tmpfs } from "./_helpers/mount.ts";
import { type TempDir, tempDir } from "./_helpers/temp_dir.ts";
import { assertFileHolds } from "./_helpers/file_bytes.ts";
import { partialOf } from "./_helpers/partial_file.ts";

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function sri(bytes: Uint8Array): string {
  return `sha256-${createHash("sha256").update(bytes).digest("base64")}`;
}

test("DownloadManager creates destdir and its parents", async () => {
  await using dir = await tempDir();
  const manager = dir.manager({}, "a", "b");
  assert.equal(manager.destdir, dir.join("a", "b"));
  assert.ok((await stat(dir.join("a", "b"))).isDirectory());
});

test("DownloadManager throws a FileSystemError when destdir cannot be made (a file in the way)", async () => {
  await using dir = await tempDir();
  await writeFile(dir.join("file"), "");
  const destdir = dir.join("file", "sub");
  assert.throws(() => new DownloadManager(destdir), {
    name: "FileSystemError",
    code: "ENOTDIR",
    path: destdir,
    message:
      `Cannot create DownloadManager in "${destdir}": a part of the path is not a directory (ENOTDIR)`,
  });
});

test("DownloadManager throws, creating nothing, when a default of its downloads is out of range or a bad header", async () => {
  await using dir = await tempDir();
  const destdir = dir.join("cache");
  const cases: [DownloadManagerOptions, typeof RangeError, string][] = [
    [{ retries: -1 }, RangeError, "retries must be a whole number"],
    [{ connectTimeout: -1 }, RangeError, "connectTimeout must be 0 or more"],
    [{ maxRedirects: 1.5 }, RangeError, "maxRedirects must be a whole number"],
    [{ lockStaleAfter: Number.NaN }, RangeError, "lockStaleAfter must be 0"],
    [{ chunkSize: 0 }, RangeError, "chunkSize must be a positive integer"],
    [{ headers: { range: "bytes=0-" } }, TypeError, "the range header"],
    [{ headers: { "x y": "v" } }, TypeError, 'invalid header name "x y"'],
  ];
  for (const [options, type, message] of cases) {
    assert.throws(
      () => new DownloadManager(destdir, options),
      (error: unknown) =>
        error instanceof type &&
        error.message.startsWith(
          `Cannot create DownloadManager: ${message}`,
        ),
      JSON.stringify(options),
    );
  }
  assert.deepEqual(await dir.list(), []);
});

test(
  "DownloadManager throws a FileSystemError when the system refuses destdir though its parent exists (/proc)",
  {
    // Deno refuses /proc to all but --allow-all, before any file system call.
    skip: !PROC && "needs write access to /proc (Deno: --allow-all)",
  },
  () => {
    // Node's own recursive mkdir (20 to 24) looped for good on this one.
    const destdir = "/proc/dlmanager-test/sub";
    assert.throws(() => new DownloadManager(destdir), {
      name: "FileSystemError",
      code: "ENOENT",
      path: destdir,
    });
  },
);

test("DownloadManager.download() names the file after the URL's last segment, decoded", async () => {
  const body = patternBytes(100);
  await using server = await startServer({
    "/files/a%20b.bin": bytesRoute(body),
  });
  await using dir = await tempDir();
  const manager = dir.manager();
  const download = manager.download(server.url("/files/a%20b.bin?x=1#frag"));
  assert.ok(download instanceof Download);
  assert.equal(download.getDest(), dir.join("a b.bin"));
  await manager.wait();
  await assertFileHolds(dir.join("a b.bin"), body);
  assert.deepEqual(await dir.list(), ["a b.bin"]);
});

test("DownloadManager.download() refuses a name given where its options go, as the Python seed takes it, before any request", async () => {
  await using server = await startServer({
    "/get": bytesRoute(patternBytes(3)),
  });
  await using dir = await tempDir();
  const manager = dir.manager();
  const url = server.url("/get?id=7");
  assert.throws(() => manager.download(url, "data.csv" as never), {
    name: "TypeError",
    message:
      `Cannot download "${url}": options must be an object, such as { fname: "data.csv" }, got "data.csv"`,
  });
  assert.throws(
    () => new DownloadManager(dir.path, (() => {}) as never),
    {
      name: "TypeError",
      message:
        "Cannot create DownloadManager: options must be an object, such as { persistLimit }, got a function",
    },
  );
  await manager.wait();
  assert.equal(server.requests.length, 0);
  assert.deepEqual(await dir.list(), []);
});

test("DownloadManager.download() uses fname when given", async () => {
  await using server = await startServer({
    "/get": bytesRoute(patternBytes(3)),
  });
  await using dir = await tempDir();
  const manager = dir.manager();
  manager.download(server.url("/get?id=1"), { fname: "one.bin" });
  await manager.wait();
  assert.deepEqual(await dir.list(), ["one.bin"]);
});

for (
  const fname of [
    "",
    ".",
    "..",
    "../x",
    "a/b",
    "a\\b",
    "a\0b",
    // Control characters would reach terminals and logs as they are.
    "a\nb",
    "\x1b[2Jcleared",
    "tab\there",
    "del\x7f",
    // Longer than file systems take: it would fail only at the rename.
    "n".repeat(256),
    "\u00e9".repeat(128),
  ]
) {
  test(`DownloadManager.download() rejects the name ${JSON.stringify(fname)} without a request`, async () => {
    await using server = await startServer({
      "/f": bytesRoute(patternBytes(3)),
    });
    await using dir = await tempDir();
    const manager = dir.manager({}, "d");
    assert.throws(
      () => manager.download(server.url("/f"), { fname }),
      (error) =>
        error instanceof TypeError &&
        error.message.startsWith("Cannot download"),
    );
    assert.equal(server.requests.length, 0);
    assert.deepEqual(await dir.list(), ["d"]);
    assert.deepEqual(await dir.list("d"), []);
  });
}

test("DownloadManager.download() rejects a URL without a file name, or a percent-encoded separator", async () => {
  await using dir = await tempDir();
  const manager = dir.manager();
  assert.throws(() => manager.download("http://127.0.0.1/dir/"), /fname/);
  assert.throws(
    () => manager.download("http://127.0.0.1/..%2Fescape"),
    /path separator/,
  );
  assert.throws(() => manager.download("not a url"), TypeError);
  assert.deepEqual(await dir.list(), []);
});

test("DownloadManager.download() names a header it refuses, in the same words on every runtime", async () => {
  await using dir = await tempDir();
  const manager = dir.manager();
  assert.throws(
    () =>
      manager.download("http://127.0.0.1/f", {
        headers: [["authorization", "Bearer a\nb"]],
      }),
    {
      name: "TypeError",
      message:
        'Cannot download "http://127.0.0.1/f": the authorization header\'s value must not contain a line break, a NUL or a character beyond U+00FF',
    },
  );
  assert.deepEqual(await dir.list(), []);
});

test("DownloadManager.download() shows a refused name's control characters as escapes", async () => {
  await using dir = await tempDir();
  const manager = dir.manager();
  assert.throws(() => manager.download("http://127.0.0.1/a%0Ab%1B%5B2J"), {
    name: "TypeError",
    message:
      'Cannot download "http://127.0.0.1/a%0Ab%1B%5B2J" as "a\\nb\\x1b[2J": name must not contain a control character (such as a newline or an escape)',
  });
  // C1 too: U+009B is a CSI, which terminals that take C1 controls obey.
  assert.throws(() => manager.download("http://127.0.0.1/a%C2%9B2Jb%C2%85"), {
    name: "TypeError",
    message:
      'Cannot download "http://127.0.0.1/a%C2%9B2Jb%C2%85" as "a\\x9b2Jb\\x85": name must not contain a control character (such as a newline or an escape)',
  });
  assert.deepEqual(await dir.list(), []);
});

test("DownloadManager.download() refuses, before any request, a name with a bidirectional control that would show it reordered", async () => {
  await using server = await startServer({ "/f": bytesRoute(patternBytes(3)) });
  await using dir = await tempDir();
  // Closed before its directory goes: none of its work still runs there.
  await using manager = dir.manager();
  // "photo<U+202E>gpj.exe" shows as "photoexe.jpg" in terminals and file
  // managers: an executable passed off as a picture.
  assert.throws(
    () => manager.download(server.url("/photo%E2%80%AEgpj.exe")),
    {
      name: "TypeError",
      message: `Cannot download "${
        server.url("/photo%E2%80%AEgpj.exe")
      }" as "photo\\u202egpj.exe": name must not contain a bidirectional control character (it would show the name reordered)`,
    },
  );
  // An isolate too, and a name given as fname.
  assert.throws(
    () => manager.download(server.url("/f"), { fname: "a\u2067b.txt" }),
    /bidirectional control character/,
  );
  // Right-to-left text needs no control: it is a name like any other.
  const hebrew = manager.download(server.url("/f"), { fname: "קובץ.txt" });
  await hebrew?.wait();
  assert.equal(server.requests.length, 1);
  assert.deepEqual(await dir.list(), ["קובץ.txt"]);
});

test("DownloadManager.download() accepts a name of 255 bytes", async () => {
  await using server = await startServer({ "/f": bytesRoute(patternBytes(3)) });
  await using dir = await tempDir();
  const manager = dir.manager();
  const name = "\u00e9".repeat(127) + "x"; // 255 bytes
  manager.download(server.url("/f"), { fname: name });
  await manager.wait();
  assert.deepEqual(await dir.list(), [name]);
});

test("DownloadManager.download() refuses a URL that is not http: or https:, even when its name is present", async () => {
  await using dir = await tempDir();
  await writeFile(dir.join("passwd"), "cached");
  const manager = dir.manager();
  for (const url of ["file:///etc/passwd", "data:,passwd", "ftp://h/passwd"]) {
    assert.throws(() => manager.download(url, { fname: "passwd" }), {
      name: "TypeError",
      message:
        `Cannot download "${url}": only http: and https: URLs are supported`,
    });
  }
  assert.deepEqual(await dir.list(), ["passwd"]);
});

test("DownloadManager.download() refuses a malformed integrity or sha256, even when the file is present", async () => {
  await using dir = await tempDir();
  await writeFile(dir.join("f"), "cached");
  const manager = dir.manager();
  const url = "http://127.0.0.1:9/f";
  for (
    const [options, message] of [
      [
        { integrity: "garbage" },
        `Cannot download "${url}": integrity must be "sha256-<base64>", "sha384-..." or "sha512-...", got "garbage"`,
      ],
      [
        { integrity: "sha256-AAAA" },
        `Cannot download "${url}": integrity: a sha256 digest is 44 base64 characters, got 4 in "sha256-AAAA"`,
      ],
      [
        { sha256: "abc" },
        `Cannot download "${url}": sha256 must be 64 hex digits, got "abc"`,
      ],
    ] as const
  ) {
    assert.throws(() => manager.download(url, options), {
      name: "TypeError",
      message,
    });
  }
  assert.deepEqual(await dir.list(), ["f"]);
});

test("DownloadManager.download() throws a TypeError, without a request, when a directory has the file's name", async () => {
  await using server = await startServer({ "/f": bytesRoute(patternBytes(3)) });
  await using dir = await tempDir();
  await mkdir(dir.join("f"));
  const manager = dir.manager();
  assert.throws(() => manager.download(server.url("/f")), {
    name: "TypeError",
    message: `Cannot download "${server.url("/f")}" to "${
      dir.join("f")
    }": a directory is in the way`,
  });
  await manager.wait();
  assert.equal(server.requests.length, 0);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("DownloadManager.download() returns the running download for the same name and attaches the new progress", async () => {
  const gate = deferred();
  await using server = await startServer({
    "/f": bytesRoute(patternBytes(8), { gate: gate.promise, gateAt: 4 }),
  });
  await using dir = await tempDir();
  const manager = dir.manager();
  const firstReports: number[] = [];
  const secondReports: number[] = [];
  const first = manager.download(server.url("/f"), {
    progress: (_d, current) => firstReports.push(current),
  });
  const second = manager.download(server.url("/f"), {
    progress: (_d, current) => secondReports.push(current),
  });
  assert.equal(second, first);
  gate.resolve();
  await manager.wait();
  assert.equal(server.requests.length, 1);
  // The server had not answered yet: every report goes to the new callback.
  assert.deepEqual(firstReports, []);
  assert.deepEqual(secondReports, [0, 8]);
});

test("DownloadManager.download() after cancel() starts a new download of the name, not the canceled one", async () => {
  const gate = deferred();
  const started = deferred();
  const body = patternBytes(10);
  await using server = await startServer({
    "/f": bytesRoute(body, { gate: gate.promise, gateAt: 5 }),
  });
  await using dir = await tempDir();
  const manager = dir.manager();
  const first = manager.download(server.url("/f"), {
    progress: () => started.resolve(),
  });
  await started.promise;
  manager.cancel();
  const second = manager.download(server.url("/f"));
  assert.ok(second instanceof Download);
  assert.notEqual(second, first);
  assert.equal(second.isCanceled(), false);
  // Asked again while the second is there: the second.
  assert.equal(manager.download(server.url("/f")), second);
  gate.resolve();
  // wait() covers the canceled one too, which was running when it was called.
  await assert.rejects(manager.wait(), DownloadInterrupt);
  assert.equal(first?.state, "canceled");
  assert.equal(second.state, "done");
  await assertFileHolds(dir.join("f"), body);
  assert.deepEqual(await dir.list(), ["f"]);
  assert.equal(manager.download(server.url("/f")), null);
});

/** What {@linkcode stalledDownload} made. */
interface Stalled extends AsyncDisposable {
  body: Uint8Array;
  file: ServedFile;
  manager: DownloadManager;
  download: Download | null;
  /** Lets the server send the rest. */
  release: () => void;
}

/**
 * A server of a 64 KiB file (with an ETag: resumable) whose first answer
 * stalls after 16 KiB, and a manager in `destdir` whose download of it has
 * those 16 KiB. Disposing of it closes the manager, then stops the server.
 */
async function stalledDownload(destdir: string): Promise<Stalled> {
  const release = deferred();
  const body = patternBytes(64 * 1024);
  const file = await serveFile({
    body,
    etag: '"v1"',
    faults: [{ stallAfter: 16 * 1024, release: release.promise }],
  });
  const manager = new DownloadManager(destdir, { chunkSize: 4096 });
  const stalled = deferred();
  const download = manager.download(file.url(), {
    progress: (_d, current) => {
      if (current === 16 * 1024) stalled.resolve();
    },
  });
  await stalled.promise;
  return {
    body,
    file,
    manager,
    download,
    release: () => release.resolve(),
    [Symbol.asyncDispose]: async () => {
      await manager[Symbol.asyncDispose]();
      await file[Symbol.asyncDispose]();
    },
  };
}

test("DownloadManager.download() after cancel(undefined, { keepPartial: true }) resumes the kept partial file in a new download", async () => {
  await using dir = await tempDir();
  await using stalled = await stalledDownload(dir.path);
  const { body, file, manager, download: first } = stalled;
  manager.cancel(undefined, { keepPartial: true });
  const second = manager.download(file.url());
  assert.notEqual(second, first);
  stalled.release();
  await assert.rejects(manager.wait(), DownloadInterrupt);
  assert.equal(first?.partialKept, true);
  assert.equal(second?.state, "done");
  assert.deepEqual(file.log.ranges, [null, `bytes=${16 * 1024}-`]);
  await assertFileHolds(dir.join("f"), body);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("DownloadManager.download() throws a ManagerClosedError from a listener of a download its disposal canceled, and nothing outlives the disposal", async () => {
  await using dir = await tempDir();
  await using stalled = await stalledDownload(dir.path);
  const { file, manager } = stalled;
  const thrown: unknown[] = [];
  // Restarting what was canceled, as a retrying program would.
  manager.addEventListener("statechange", (event) => {
    if (event.state !== "canceled") return;
    try {
      manager.download(event.download.getUrl());
    } catch (error) {
      thrown.push(error);
    }
  });
  await manager[Symbol.asyncDispose]();
  assert.equal(thrown.length, 1);
  assert.ok(thrown[0] instanceof ManagerClosedError, String(thrown[0]));
  assert.equal(thrown[0].destdir, dir.path);
  assert.equal(
    thrown[0].message,
    `Cannot download "${file.url()}": the manager of "${dir.path}" is closed`,
  );
  // No partial file, sidecar, lock or owner file; one request only.
  assert.deepEqual(await dir.list(), []);
  assert.deepEqual(file.log.ranges, [null]);
});

test("DownloadManager.download() throws a ManagerClosedError after disposal, also for a file there, without a request; cancel() does not close it", async () => {
  await using server = await startServer({ "/f": bytesRoute(patternBytes(3)) });
  await using dir = await tempDir();
  await writeFile(dir.join("f"), "old");
  const manager = dir.manager();
  manager.cancel();
  assert.equal(manager.download(server.url("/f")), null);
  await manager[Symbol.asyncDispose]();
  for (const path of ["/f", "/g"]) {
    assert.throws(() => manager.download(server.url(path)), ManagerClosedError);
  }
  // Disposed of again: it waits again, for nothing.
  await manager[Symbol.asyncDispose]();
  assert.equal(server.requests.length, 0);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("DownloadManager.events() waiting for downloads to come ends when the manager is disposed of, and one started after ends at once", async () => {
  await using dir = await tempDir();
  const manager = dir.manager();
  // Nothing given to the manager yet: it waits for what comes.
  const waiting = manager.events().next();
  await manager[Symbol.asyncDispose]();
  assert.deepEqual(await waiting, { done: true, value: undefined });
  const after: unknown[] = [];
  for await (const event of manager.events()) after.push(event);
  assert.deepEqual(after, []);
});

test("DownloadManager.download() returns null for a file already there and marks it used", async () => {
  await using server = await startServer({ "/f": bytesRoute(patternBytes(3)) });
  await using dir = await tempDir();
  await writeFile(dir.join("f"), "old");
  await utimes(dir.join("f"), 1_000_000, 1_000_000);
  const manager = dir.manager();
  const before = Date.now();
  assert.equal(manager.download(server.url("/f")), null);
  const info = await stat(dir.join("f"));
  assert.ok(info.atimeMs >= before - 1000, `atime ${info.atimeMs} not updated`);
  assert.equal(info.mtimeMs, 1_000_000_000);
  assert.equal(await readFile(dir.join("f"), "utf8"), "old");
  assert.equal(server.requests.length, 0);
});

test("DownloadManager.download() with a digest keeps a file there that holds it: a download that ends skipped, without a request", async () => {
  const bytes = patternBytes(3000);
  await using server = await startServer({ "/f": bytesRoute(bytes) });
  await using dir = await tempDir();
  await writeFile(dir.join("f"), bytes);
  await utimes(dir.join("f"), 1_000_000, 1_000_000);
  const manager = dir.manager({ revalidate: "always" });
  const before = Date.now();
  for (
    const digest of [{ sha256: sha256Hex(bytes) }, { integrity: sri(bytes) }]
  ) {
    const download = manager.download(server.url("/f"), digest);
    assert.notEqual(download, null);
    await download?.wait();
    assert.equal(download?.skipped, true);
  }
  const info = await stat(dir.join("f"));
  assert.ok(info.atimeMs >= before - 1000, `atime ${info.atimeMs} not updated`);
  assert.equal(info.mtimeMs, 1_000_000_000);
  assert.equal(server.requests.length, 0);
});

test("DownloadManager.download() with a digest downloads again, over it, a file there that does not hold it", async () => {
  const bytes = patternBytes(3000);
  await using server = await startServer({ "/f": bytesRoute(bytes) });
  await using dir = await tempDir();
  await writeFile(dir.join("f"), "corrupt");
  const manager = dir.manager();
  const download = manager.download(server.url("/f"), {
    sha256: sha256Hex(bytes),
  });
  assert.notEqual(download, null);
  await download?.wait();
  assert.equal(download?.skipped, false);
  await assertFileHolds(dir.join("f"), bytes);
  assert.equal(server.requests.length, 1);
  assert.deepEqual(await readdir(dir.path), ["f"]);
});

test("DownloadManager.download() with a digest that the server's file does not hold either fails, and leaves the file there as it was", async () => {
  await using server = await startServer({
    "/f": bytesRoute(patternBytes(3000)),
  });
  await using dir = await tempDir();
  await writeFile(dir.join("f"), "old");
  const manager = dir.manager();
  const download = manager.download(server.url("/f"), {
    sha256: sha256Hex(new TextEncoder().encode("wanted")),
  });
  assert.notEqual(download, null);
  await assert.rejects(async () => await download?.wait(), {
    name: "IntegrityError",
  });
  assert.equal(await readFile(dir.join("f"), "utf8"), "old");
  assert.deepEqual(await readdir(dir.path), ["f"]);
});

test("DownloadManager forgets a finished download: the next download() of it returns null", async () => {
  await using server = await startServer({ "/f": bytesRoute(patternBytes(3)) });
  await using dir = await tempDir();
  const manager = dir.manager();
  const download = manager.download(server.url("/f"));
  assert.notEqual(download, null);
  await manager.wait();
  assert.equal(manager.download(server.url("/f")), null);
  assert.equal(server.requests.length, 1);
});

test("DownloadManager.wait() waits for all, then rejects with the first error", async () => {
  const gate = deferred();
  await using server = await startServer({
    "/missing": statusRoute(404),
    "/slow": bytesRoute(patternBytes(10), { gate: gate.promise, gateAt: 2 }),
  });
  await using dir = await tempDir();
  const manager = dir.manager();
  const failing = manager.download(server.url("/missing"));
  const slow = manager.download(server.url("/slow"));
  const waiting = manager.wait();
  // The slow download can only end after the failing one has.
  await failing?.wait({ raiseIfError: false });
  assert.equal(slow?.isRunning(), true);
  gate.resolve();
  await assert.rejects(waiting, HTTPError);
  assert.equal(slow?.isRunning(), false);
  assert.deepEqual(await dir.list(), ["slow"]);
});

test("DownloadManager.wait() rejects with the error of a download that failed before it was called, once", async () => {
  await using server = await startServer({
    "/missing": statusRoute(404),
    "/f": bytesRoute(patternBytes(10)),
  });
  await using dir = await tempDir();
  const manager = dir.manager();
  const failing = manager.download(server.url("/missing"));
  await failing?.wait({ raiseIfError: false });
  manager.download(server.url("/f"));
  await assert.rejects(manager.wait(), {
    name: "HTTPError",
    message: /404/,
  });
  // Reported: the next wait() has nothing to say.
  await manager.wait();
  assert.deepEqual(await dir.list(), ["f"]);
});

test("DownloadManager.wait() rejects with the error an onStateChange threw at the end of a download that ended before it was called", async () => {
  await using server = await startServer({
    "/f": bytesRoute(patternBytes(10)),
  });
  await using dir = await tempDir();
  const manager = dir.manager();
  const download = manager.download(server.url("/f"), {
    onStateChange: (_download, state) => {
      if (state === "done") throw new Error("the callback failed");
    },
  });
  await download?.wait({ raiseIfError: false });
  assert.equal(download?.state, "failed");
  await assert.rejects(manager.wait(), { message: "the callback failed" });
  // Reported: the next wait() has nothing to say.
  await manager.wait();
  // The file stays in place, as the callback's documentation says.
  assert.deepEqual(await dir.list(), ["f"]);
});

test("DownloadManager.wait({ raiseIfError: false }) resolves despite errors", async () => {
  await using server = await startServer({ "/missing": statusRoute(404) });
  await using dir = await tempDir();
  const manager = dir.manager();
  const download = manager.download(server.url("/missing"));
  await manager.wait({ raiseIfError: false });
  assert.ok(download?.error() instanceof HTTPError);
});

test("DownloadManager.cancel(cancelIf) cancels only the chosen downloads", async () => {
  const gate = deferred();
  await using server = await startServer({
    "/keep": bytesRoute(patternBytes(10), { gate: gate.promise, gateAt: 5 }),
    "/drop": bytesRoute(patternBytes(10), { gate: gate.promise, gateAt: 5 }),
  });
  await using dir = await tempDir();
  const manager = dir.manager();
  const keep = manager.download(server.url("/keep"));
  const drop = manager.download(server.url("/drop"));
  manager.cancel((download) => download.getDest().endsWith("drop"));
  gate.resolve();
  await assert.rejects(manager.wait(), DownloadInterrupt);
  assert.equal(keep?.isCanceled(), false);
  assert.equal(drop?.isCanceled(), true);
  assert.deepEqual(await dir.list(), ["keep"]);
});

test(
  "DownloadManager.cancel() cancels every running download and leaves no temp file",
  {
    timeout: 60_000,
  },
  async () => {
    const gate = deferred();
    const started = [deferred(), deferred()];
    await using server = await startServer({
      "/a": bytesRoute(patternBytes(10), { gate: gate.promise, gateAt: 5 }),
      "/b": bytesRoute(patternBytes(10), { gate: gate.promise, gateAt: 5 }),
    });
    await using dir = await tempDir();
    const manager = dir.manager();
    const downloads = ["/a", "/b"].map((path, index) =>
      manager.download(server.url(path), {
        progress: (_d, current) => {
          if (current === 0) started[index]?.resolve();
        },
      })
    );
    await Promise.all(started.map((s) => s.promise));
    manager.cancel();
    await assert.rejects(manager.wait(), DownloadInterrupt);
    assert.deepEqual(downloads.map((d) => d?.isCanceled()), [true, true]);
    assert.deepEqual(await dir.list(), []);
    gate.resolve();
  },
);

test(
  "DownloadManager with await using cancels what is left when the scope ends",
  {
    timeout: 60_000,
  },
  async () => {
    const gate = deferred();
    const started = deferred();
    await using server = await startServer({
      "/a": bytesRoute(patternBytes(10), { gate: gate.promise, gateAt: 5 }),
    });
    await using dir = await tempDir();
    let download: Download | null;
    {
      await using manager = dir.manager();
      download = manager.download(server.url("/a"), {
        progress: () => started.resolve(),
      });
      await started.promise;
    }
    assert.equal(download?.isCanceled(), true);
    assert.equal(download?.isRunning(), false);
    assert.deepEqual(await dir.list(), []);
    gate.resolve();
  },
);

test("DownloadManager uses its fetch option for every download", async () => {
  await using server = await startServer({
    "/a": bytesRoute(patternBytes(1)),
    "/b": bytesRoute(patternBytes(1)),
  });
  await using dir = await tempDir();
  const seen: string[] = [];
  const manager = dir.manager({
    fetch: (input, init) => {
      seen.push(String(input));
      return fetch(input, init);
    },
  });
  manager.download(server.url("/a"));
  manager.download(server.url("/b"));
  await manager.wait();
  assert.deepEqual(seen.sort(), [server.url("/a"), server.url("/b")]);
});

test("DownloadManager with a PersistLimit counts the files already there and evicts after each download", async () => {
  await using server = await startServer({
    "/new": bytesRoute(patternBytes(10)),
  });
  await using dir = await tempDir();
  for (const [index, name] of ["old1", "old2", "old3"].entries()) {
    await writeFile(dir.join(name), new Uint8Array(10));
    await utimes(dir.join(name), 1_000_000 + index, 1_000_000 + index);
  }
  const persistLimit = new PersistLimit(35, { fileLimit: 1 });
  const manager = dir.manager({ persistLimit });
  manager.download(server.url("/new"));
  await manager.wait();
  // 40 bytes: the least recently used old1 goes, 30 remain.
  assert.deepEqual(await dir.list(), ["new", "old2", "old3"]);
  assert.equal(persistLimit.files().length, 3);
});

test("DownloadManager in a directory that is a symbolic link downloads, hits and evicts as in any, never counting nor removing a link in it", async () => {
  await using server = await startServer({
    "/new": bytesRoute(patternBytes(10)),
  });
  await using dir = await tempDir();
  await using elsewhere = await tempDir();
  for (const [index, name] of ["old1", "old2", "old3"].entries()) {
    await writeFile(dir.join(name), new Uint8Array(10));
    await utimes(dir.join(name), 1_000_000 + index, 1_000_000 + index);
  }
  // A link among them to a big file elsewhere, the least recently accessed.
  await writeFile(elsewhere.join("big"), new Uint8Array(100_000));
  await utimes(elsewhere.join("big"), 1_000, 1_000);
  await symlink(elsewhere.join("big"), dir.join("outside"));
  // The manager's directory is a link to `dir` (~/.cache -> /data/cache).
  await symlink(dir.path, elsewhere.join("cache"));
  const persistLimit = new PersistLimit(35, { fileLimit: 1 });
  const manager = elsewhere.manager({
    persistLimit,
    leftoverMaxAge: 0,
  }, "cache");
  manager.download(server.url("/new"));
  await manager.wait();
  // 40 bytes of files (the link's target counts for nothing): old1 goes.
  assert.deepEqual(await dir.list(), ["new", "old2", "old3", "outside"]);
  assert.equal(manager.download(server.url("/new")), null);
  // A hit through the link: its target is used, not dated.
  assert.equal(
    manager.download(server.url("/new"), { fname: "outside" }),
    null,
  );
  assert.equal((await lstat(dir.join("outside"))).isSymbolicLink(), true);
  const big = await stat(elsewhere.join("big"));
  assert.equal(big.size, 100_000);
  assert.equal(big.atimeMs, 1_000_000);
  assert.deepEqual(await elsewhere.list(), ["big", "cache"]);
});

/** A limit that counts its evictions, the first held until `gate` resolves. */
class GatedLimit extends PersistLimit {
  calls = 0;
  entered = deferred();
  gate = deferred();
  override async removeOldFiles(
    options?: RemoveOldFilesOptions,
  ): Promise<void> {
    this.calls++;
    this.entered.resolve();
    await this.gate.promise;
    await super.removeOldFiles(options);
  }
}

test("DownloadManager with a PersistLimit under its limit registers each download without reading every file again", async () => {
  await using server = await startServer({
    "/a": bytesRoute(patternBytes(10)),
    "/b": bytesRoute(patternBytes(10)),
    "/c": bytesRoute(patternBytes(10)),
  });
  await using dir = await tempDir();
  await writeFile(dir.join("old"), new Uint8Array(10));
  const persistLimit = new GatedLimit(1000, { fileLimit: 1 });
  persistLimit.gate.resolve();
  const manager = dir.manager({ persistLimit });
  for (const name of ["a", "b", "c"]) manager.download(server.url(`/${name}`));
  await manager.wait();
  // 40 bytes of 1000: no eviction could remove a file, and none read them.
  assert.equal(persistLimit.calls, 0);
  assert.deepEqual(
    persistLimit.files().map((path) => basename(path)).sort(),
    ["a", "b", "c", "old"],
  );
  // Over the limit, the next download's eviction runs.
  await writeFile(dir.join("big"), new Uint8Array(1000));
  await persistLimit.registerFile(dir.join("big"));
  manager.download(server.url("/a"), { fname: "d" });
  await manager.wait();
  assert.equal(persistLimit.calls, 1);
  assert.deepEqual(await dir.list(), ["a", "b", "c", "d"]);
});

test("DownloadManager with a PersistLimit evicts once for the downloads that end while an eviction runs", async () => {
  const routes: Record<string, ReturnType<typeof bytesRoute>> = {};
  for (const name of ["a", "b", "c", "d"]) {
    routes[`/${name}`] = bytesRoute(patternBytes(10));
  }
  await using server = await startServer(routes);
  await using dir = await tempDir();
  await writeFile(dir.join("old"), new Uint8Array(10));
  // Over the limit from the first download: each one's eviction is due.
  const persistLimit = new GatedLimit(1, { fileLimit: 1 });
  const manager = dir.manager({
    persistLimit,
    concurrency: 4,
  });
  manager.download(server.url("/a"));
  await persistLimit.entered.promise;
  const rest = ["b", "c", "d"].map((name) =>
    manager.download(server.url(`/${name}`))
  );
  for (const download of rest) await download?.wait();
  persistLimit.gate.resolve();
  await manager.wait();
  // The held one (which removed "old"), and one for the three that ended
  // meanwhile.
  assert.equal(persistLimit.calls, 2);
  // All in use by the manager: counted, none removed.
  assert.equal(persistLimit.files().length, 4);
  assert.deepEqual(await dir.list(), ["a", "b", "c", "d"]);
});

test("DownloadManager with a PersistLimit does not register a failed download", async () => {
  await using server = await startServer({ "/missing": statusRoute(404) });
  await using dir = await tempDir();
  const persistLimit = new PersistLimit(1, { fileLimit: 1 });
  const manager = dir.manager({ persistLimit });
  manager.download(server.url("/missing"));
  await manager.wait({ raiseIfError: false });
  assert.deepEqual(persistLimit.files(), []);
  assert.deepEqual(await dir.list(), []);
});

/**
 * Makes the partial file of "f" in `dir` two hours old, and writes a file
 * of the cache, "old", last read an hour ago.
 */
async function madeBeforeOld(dir: TempDir): Promise<void> {
  const now = Date.now() / 1000;
  await utimes(await partialOf(dir), now - 7200, now - 7200);
  await writeFile(dir.join("old"), new Uint8Array(10));
  await utimes(dir.join("old"), now - 3600, now - 3600);
}

/**
 * Asserts that a `PersistLimit` with room for one of "f" (holding `body`)
 * and "old" in `dir` keeps "f": it was accessed last.
 */
async function assertOutlivesOld(
  dir: TempDir,
  body: Uint8Array,
): Promise<void> {
  const limit = new PersistLimit(body.byteLength + 1, { fileLimit: 1 });
  await limit.registerDirContent(dir.path);
  await limit.removeOldFiles();
  assert.deepEqual(await dir.list(), ["f"]);
  await assertFileHolds(dir.join("f"), body);
}

test("DownloadManager: a file just downloaded from a partial file kept since yesterday counts as just accessed, and outlives older files in a PersistLimit", async () => {
  await using dir = await tempDir();
  await using stalled = await stalledDownload(dir.path);
  const { body, file, manager: first } = stalled;
  first.cancel(undefined, { keepPartial: true });
  stalled.release();
  await assert.rejects(first.wait(), DownloadInterrupt);
  // The kept partial file was made by yesterday's run.
  await madeBeforeOld(dir);
  const second = dir.manager({ chunkSize: 4096 });
  second.download(file.url());
  await second.wait();
  assert.deepEqual(file.log.ranges, [null, `bytes=${16 * 1024}-`]);
  // The next run's limit.
  await assertOutlivesOld(dir, body);
});

test("DownloadManager: a file whose download began long ago counts as accessed when it ends, and outlives a file read while it ran in another process's PersistLimit", async () => {
  await using dir = await tempDir();
  await using stalled = await stalledDownload(dir.path);
  const { body, file, manager } = stalled;
  // The download began then (its partial file was made then): "old" was
  // read while it ran.
  await madeBeforeOld(dir);
  stalled.release();
  await manager.wait();
  assert.deepEqual(file.log.ranges, [null, `bytes=${16 * 1024}-`]);
  // Another process's limit.
  await assertOutlivesOld(dir, body);
});

test("DownloadManager's PersistLimit evicts only files the manager has not used, under concurrent downloads", async () => {
  const routes: Record<string, ReturnType<typeof bytesRoute>> = {};
  for (const name of ["n0", "n1", "n2"]) {
    routes[`/${name}`] = bytesRoute(patternBytes(10));
  }
  await using server = await startServer(routes);
  await using dir = await tempDir();
  for (const [index, name] of ["old1", "old2", "hit"].entries()) {
    await writeFile(dir.join(name), new Uint8Array(10));
    await utimes(dir.join(name), 1_000_000 + index, 1_000_000 + index);
  }
  const persistLimit = new PersistLimit(25, { fileLimit: 1 });
  const manager = dir.manager({
    persistLimit,
    concurrency: 2,
  });
  // A cache hit: in use from now on, though its access time was the oldest.
  await utimes(dir.join("hit"), 999_000, 999_000);
  assert.equal(manager.download(server.url("/hit"), { fname: "hit" }), null);
  for (const name of ["n0", "n1", "n2"]) {
    manager.download(server.url(`/${name}`));
  }
  await manager.wait();
  // 60 bytes against 25: only the two unused old files may go.
  assert.deepEqual(await dir.list(), ["hit", "n0", "n1", "n2"]);
});

test("DownloadManagers sharing a PersistLimit never evict a file another of them uses", async () => {
  await using server = await startServer({
    "/a": bytesRoute(patternBytes(10)),
    "/b": bytesRoute(patternBytes(10)),
  });
  await using dir = await tempDir();
  await mkdir(dir.join("one"));
  await mkdir(dir.join("two"));
  // One limit for two directories, each with its own manager.
  const persistLimit = new PersistLimit(15, { fileLimit: 1 });
  const one = dir.manager({ persistLimit }, "one");
  const two = dir.manager({ persistLimit }, "two");
  one.download(server.url("/a"));
  await one.wait();
  // "a" is one's: its program uses it. Two's download puts the limit over,
  // and "a", the oldest, is no one's to remove.
  two.download(server.url("/b"));
  await two.wait();
  assert.deepEqual(await dir.list("one"), ["a"]);
  assert.deepEqual(await dir.list("two"), ["b"]);
});

test("DownloadManager removes dead processes' leftovers older than leftoverMaxAge when it starts", async () => {
  await using dir = await tempDir();
  const old = partialPaths(dir.join("old.bin"));
  const young = partialPaths(dir.join("young.bin"));
  const oldPartial = partialFile(old, "0123456789abcdef-1");
  const youngPartial = partialFile(young, "0123456789abcdef-2");
  for (const path of [oldPartial, old.sidecar, youngPartial, young.sidecar]) {
    await writeFile(path, "x");
  }
  const hourAgo = Date.now() / 1000 - 3600;
  await utimes(oldPartial, hourAgo, hourAgo);
  await utimes(old.sidecar, hourAgo, hourAgo);
  const manager = dir.manager({ leftoverMaxAge: 60_000 });
  await manager.wait();
  assert.deepEqual(
    await dir.list(),
    [basename(youngPartial), basename(young.sidecar)].sort(),
  );
});

test("DownloadManager.wait() resolves when the directory is removed before its cleanup of leftovers looks at it", async () => {
  await using dir = await tempDir();
  const manager = dir.manager({
    leftoverMaxAge: 60_000,
  }, "m");
  // Removed before the cleanup (which starts once this code yields) lists
  // it: there is nothing left to clean up.
  rmSync(dir.join("m"), { recursive: true });
  await manager.wait();
  assert.deepEqual(await dir.list(), []);
});

test("DownloadManager on a read-only mount finds its files, and wait() resolves though the leftovers there cannot be removed", async (t) => {
  await using dir = await tempDir();
  await using cache = await tmpfs(dir.join("m"));
  if (cache === undefined) {
    t.skip("needs root, to mount a tmpfs");
    return;
  }
  // A cache shipped read-only, with what a killed process left in it.
  await writeFile(dir.join("m", "a"), "a");
  const left = partialFile(
    partialPaths(dir.join("m", "a")),
    "0123456789abcdef-1",
  );
  await writeFile(left, "x");
  const dayAgo = Date.now() / 1000 - 86_400;
  await utimes(left, dayAgo, dayAgo);
  assert.ok(remountReadOnly(cache.path), "remount,ro failed");
  await using manager = new DownloadManager(cache.path, {
    leftoverMaxAge: 60_000,
    persistLimit: new PersistLimit(1, { fileLimit: 1 }),
  });
  assert.equal(manager.download("http://127.0.0.1:1/a"), null);
  await manager.wait();
  assert.deepEqual(await dir.list("m"), [basename(left), "a"].sort());
});

test("DownloadManager.wait() rejects with a FileSystemError about the directory when its cleanup of leftovers fails", async (t) => {
  await using dir = await tempDir();
  const left = partialFile(partialPaths(dir.join("a")), "0123456789abcdef-1");
  await writeFile(left, "x");
  await writeFile(dir.join("other"), "y");
  // A leftover that is a mount point: removing it fails with EBUSY.
  await using busy = mount(["--bind", dir.join("other")], left);
  if (busy === undefined) {
    t.skip("needs root, to bind-mount a file");
    return;
  }
  const dayAgo = Date.now() / 1000 - 86_400;
  await utimes(left, dayAgo, dayAgo);
  const manager = dir.manager({ leftoverMaxAge: 60_000 });
  await assert.rejects(manager.wait(), (error) => {
    assert.ok(error instanceof FileSystemError, String(error));
    assert.equal(error.code, "EBUSY");
    assert.equal(error.path, dir.path);
    assert.match(
      error.message,
      /^Cannot remove what dead processes left in ".+": the file is busy \(in use, or a mount point\) \(EBUSY\)$/,
    );
    return true;
  });
});

test("DownloadManager.download() refuses bad connections, rateLimit or headers when the file is there, or downloading already, as when it is not", async () => {
  const release = deferred();
  await using server = await startServer({
    "/busy": bytesRoute(patternBytes(100_000), {
      gate: release.promise,
      gateAt: 1,
    }),
  });
  await using dir = await tempDir();
  await writeFile(dir.join("f"), "cached");
  const manager = dir.manager();
  const busy = manager.download(server.url("/busy"));
  assert.ok(busy !== null);
  try {
    for (const url of ["http://127.0.0.1:9/f", server.url("/busy")]) {
      const cases = [
        [{ connections: 99 }, RangeError, /connections/],
        [{ rateLimit: 0 }, RangeError, /rateLimit|rate limit/],
        [{ rateLimit: "5M" }, TypeError, /./],
        [{ headers: { "x y": "1" } }, TypeError, /invalid header name "x y"/],
        [{ headers: { range: "bytes=0-" } }, TypeError, /range/i],
      ] as const;
      for (const [options, type, message] of cases) {
        assert.throws(
          () => manager.download(url, options as ManagerDownloadOptions),
          (error) =>
            error instanceof type &&
            error.message.startsWith(`Cannot download "${url}"`) &&
            message.test(error.message),
          `${url} ${JSON.stringify(options)}`,
        );
      }
    }
    // The running download is as it was: the bad calls changed nothing.
    assert.equal(busy.state, "running");
  } finally {
    release.resolve();
  }
  await manager.wait();
  await assertFileHolds(dir.join("f"), new TextEncoder().encode("cached"));
});
