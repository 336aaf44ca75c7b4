// A download killed mid-way (SIGKILL: no cleanup runs) leaves its partial
// file and sidecar; a download of the same destination in another process
// resumes from them. The behaviour lives in src/_disk/partial_file.ts and
// src/_disk/sidecar.ts.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import {
  link,
  lstat,
  readFile,
  rm,
  stat,
  symlink,
  unlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { basename } from "node:path";
import { test } from "node:test";
import { Download, type DownloadOptions } from "../mod.ts";
import {
  partialFile,
  type PartialPaths,
  partialPaths,
} from "../src/_disk/names.ts";
import {
  RANGES_SIDECAR_VERSION,
  SIDECAR_VERSION,
  writeSidecar,
} from "../src/_disk/sidecar.ts";
import { ownerFileName } from "../src/_disk/owner_file.ts";
import {
  type ProcessIdentity,
  thisProcess,
} from "../src/_disk/process_identity.ts";
import {
  deferred,
  fileRoute,
  type FileRouteLog,
  type FileRouteOptions,
  patternBytes,
  startServer,
} from "./_helpers/server.ts";
import { startChild } from "./_helpers/child.ts";
import { tempDir } from "./_helpers/temp_dir.ts";
import { assertFileHolds } from "./_helpers/file_bytes.ts";

const BODY = patternBytes(200_000);
/** A pid no process has here (above Linux's pid_max). */
const DEAD_PID = 4_194_305;

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, "utf8"));
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Who left a partial file, and how. */
interface Writer {
  owner: ProcessIdentity;
  token: string;
  /** Whether it released the file for another to resume (`keepPartial`). */
  released?: true;
  /**
   * The ranges on disk, for a download in parts (a version 3 sidecar);
   * without them, the `size` bytes are a prefix (version 2).
   */
  ranges?: [number, number][];
  /** The version its sidecar names (`"a"`, `BODY`'s, by default). */
  validator?: string;
}

/**
 * What `writer` leaves of a download of `url` stopped mid-body: its lock,
 * its partial file of `size` bytes (of `BODY`, version `"a"`), and the
 * sidecar naming them. Returns the partial file's path.
 */
async function leftovers(
  paths: PartialPaths,
  url: string,
  size: number,
  { owner, token, released, ranges, validator = '"a"' }: Writer,
): Promise<string> {
  await writeFile(
    paths.lock,
    JSON.stringify({ ...owner, token: released ? "left" : token, released }),
  );
  const partial = partialFile(paths, token);
  await writeFile(partial, BODY.subarray(0, size));
  const fields = {
    url,
    validator,
    total: BODY.byteLength,
    partial: basename(partial),
    writer: token,
    owner,
    released,
  };
  await writeSidecar(
    paths.sidecar,
    ranges === undefined
      ? { version: SIDECAR_VERSION, ...fields }
      : { version: RANGES_SIDECAR_VERSION, ...fields, ranges },
  );
  return partial;
}

/**
 * What a process of this machine killed mid-download of `url` leaves: its
 * lock, its partial file of `size` bytes, and the sidecar naming them.
 */
function deadLeftovers(
  paths: PartialPaths,
  url: string,
  size: number,
  ranges?: [number, number][],
): Promise<string> {
  const owner = { ...thisProcess(), pid: DEAD_PID };
  return leftovers(paths, url, size, {
    owner,
    token: "dead00000000dead-0",
    ...ranges && { ranges },
  });
}

/**
 * Puts the lock of `paths` as a process proven dead left it, with no
 * sidecar: one killed in its first chunk, or between two calls.
 */
async function putDeadLock(paths: PartialPaths): Promise<void> {
  const owner = { ...thisProcess(), pid: DEAD_PID };
  await writeFile(
    paths.lock,
    JSON.stringify({ ...owner, token: "dead00000000dead-0" }),
  );
}

test(
  "Download resumes in a new process from the partial file of a killed one",
  { timeout: 60_000 },
  async () => {
    const release = deferred();
    const { route, log } = fileRoute({
      body: BODY,
      etag: '"crash"',
      faults: [{ stallAfter: 50_000, release: release.promise }],
    });
    await using server = await startServer({ "/f": route });
    await using dir = await tempDir();
    const child = startChild("crash_child", [server.url("/f"), dir.join("f")]);
    // Kill it once it has written 48 KiB (12 writes of 4 KiB: all it can of 50,000 bytes).
    await Promise.race([child.line((line) => line === "49152"), child.exited]);
    child.process.kill("SIGKILL");
    assert.equal(await child.exited, "SIGKILL");
    release.resolve();

    const names = await dir.list();
    assert.equal(
      names.length,
      4,
      `expected a partial file, its sidecar, its lock and the owner file it links to, got ${names}`,
    );
    assert.ok(names.some((name) => name.endsWith(".dlpart.owner")));
    const sidecar = names.find((name) => name.endsWith(".dlpart.json"));
    assert.ok(sidecar !== undefined);
    const base = sidecar.slice(0, -".json".length);
    // The dead process's lock is taken over at once (its pid is gone), and
    // its owner file removed.
    assert.ok(names.includes(`${base}.lock`));
    // Its partial file, named after its writer, is the one the sidecar names.
    const partial = String((await readJson(dir.join(sidecar))).partial);
    assert.match(
      partial,
      new RegExp(`^${escape(base)}\\.[0-9a-f]{16}-[0-9a-f]+$`),
    );
    assert.equal((await stat(dir.join(partial))).size, 49_152);

    const download = new Download(server.url("/f"), dir.join("f"));
    download.start();
    await download.wait();
    await assertFileHolds(dir.join("f"), BODY);
    assert.deepEqual(log.ranges, [null, "bytes=49152-"]);
    assert.deepEqual(log.sent, [50_000, 200_000 - 49_152]);
    assert.deepEqual(await dir.list(), ["f"]);
  },
);

test("Download discards a partial file whose sidecar names another URL", async () => {
  const { route, log } = fileRoute({ body: BODY, etag: '"a"' });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  // Leftovers as a killed download of another URL to the same name leaves
  // them: its lock, partial file and sidecar, naming a process that is gone.
  const paths = partialPaths(dir.join("f"));
  await deadLeftovers(paths, server.url("/other"), 10_000);
  const download = new Download(server.url("/f"), dir.join("f"));
  download.start();
  await download.wait();
  assert.deepEqual(log.ranges, [null]);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download never appends through a symbolic link in the place of a dead writer's partial file: it removes the link, leaves its target, and starts over", async () => {
  const { route, log } = fileRoute({ body: BODY, etag: '"a"' });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  await using elsewhere = await tempDir();
  const paths = partialPaths(dir.join("f"));
  const partial = await deadLeftovers(paths, server.url("/f"), 10_000);
  // The partial file the sidecar names is a link to a file elsewhere, of
  // the same bytes (planted, or left by another program).
  const target = elsewhere.join("target");
  await writeFile(target, BODY.subarray(0, 10_000));
  await unlink(partial);
  await symlink(target, partial);
  const download = new Download(server.url("/f"), dir.join("f"));
  download.start();
  await download.wait();
  assert.deepEqual(log.ranges, [null]);
  await assertFileHolds(dir.join("f"), BODY);
  assert.equal((await lstat(dir.join("f"))).isFile(), true);
  assert.deepEqual(await dir.list(), ["f"]);
  assert.deepEqual(
    new Uint8Array(await readFile(target)),
    BODY.subarray(0, 10_000),
  );
});

test("Download keeps a sidecar only for a body longer than one chunk", async () => {
  const { route } = fileRoute({ body: BODY, etag: '"s"' });
  await using server = await startServer({ "/f": route });
  for (const [chunkSize, expected] of [[BODY.byteLength, 0], [4096, 1]]) {
    await using dir = await tempDir();
    let sidecars = -1;
    const download = new Download(server.url("/f"), dir.join("f"), {
      chunkSize,
      progress: (_d, current) => {
        // Seen once the answer is accepted, before any byte is written.
        if (current === 0) {
          sidecars = readdirSync(dir.path).filter((name) =>
            name.endsWith(".json")
          ).length;
        }
      },
    });
    download.start();
    await download.wait();
    assert.equal(sidecars, expected, `chunkSize ${chunkSize}`);
    assert.deepEqual(await dir.list(), ["f"]);
  }
});

test("Download resumes the partial file of a writer proven dead, from the sidecar it left", async () => {
  const { route, log } = fileRoute({ body: BODY, etag: '"a"' });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const paths = partialPaths(dir.join("f"));
  await deadLeftovers(paths, server.url("/f"), 10_000);
  const download = new Download(server.url("/f"), dir.join("f"));
  download.start();
  await download.wait();
  assert.deepEqual(log.ranges, ["bytes=10000-"]);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download that starts over the partial file it adopted from a writer proven dead writes the new bytes under its own name, which a process taking over from it would remove, not under the dead writer's", async () => {
  // Another version: the resume's If-Range gets the whole file, held
  // mid-body while the names are looked at.
  const release = deferred();
  const { route, log } = fileRoute({
    body: CHANGED,
    etag: '"b"',
    faults: [{ holdAfter: 60_000, release: release.promise }],
  });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const paths = partialPaths(dir.join("f"));
  const dead = await deadLeftovers(paths, server.url("/f"), 10_000);
  const written = deferred();
  const download = new Download(server.url("/f"), dir.join("f"), {
    // Written in chunks smaller than what the server sends before it holds.
    chunkSize: 4096,
    // Past the 10 000 bytes adopted: bytes of the new answer, on disk.
    progress: (_download, current) => {
      if (current >= 20_000) written.resolve();
    },
  });
  download.start();
  await written.promise;
  // Partial files only: `<base>.<writer token>`, no sidecar or temporary.
  const writerOf = new RegExp(
    `^${escape(basename(paths.base))}\\.[0-9a-f]{16}-[0-9a-f]+$`,
  );
  const partials = (await dir.list()).filter((name) => writerOf.test(name));
  const own = partials.filter((name) => name !== basename(dead));
  release.resolve();
  await download.wait();
  assert.deepEqual(log.statuses, [200]);
  assert.deepEqual(partials, own);
  assert.equal(own.length, 1);
  await assertFileHolds(dir.join("f"), CHANGED);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download does not resume the partial file of a writer proven dead when its sidecar names an ETag marked weak by w/, which cannot prove one version", async () => {
  // Another body under the same weak ETag, and a server that compares
  // If-Range as text: a resume would join the two.
  const { route, log } = fileRoute({ body: CHANGED, etag: 'w/"a"' });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const paths = partialPaths(dir.join("f"));
  await leftovers(paths, server.url("/f"), 10_000, {
    owner: { ...thisProcess(), pid: DEAD_PID },
    token: "dead00000000dead-0",
    validator: 'w/"a"',
  });
  const download = new Download(server.url("/f"), dir.join("f"));
  download.start();
  await download.wait();
  assert.deepEqual(log.ranges, [null]);
  await assertFileHolds(dir.join("f"), CHANGED);
  // The partial file it named is gone; the sidecar, unread, is left for the
  // manager's leftover cleanup, as one of an older version is.
  assert.deepEqual(await dir.list(), [basename(paths.sidecar), "f"].sort());
});

test("Download removes what a writer proven dead left beside its lock (partial files no sidecar names, the temporaries it was writing), and no one else's", async () => {
  const { route, log } = fileRoute({ body: BODY, etag: '"a"' });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const paths = partialPaths(dir.join("f"));
  await putDeadLock(paths);
  // Two of its downloads' partial files (killed in their first chunk,
  // before a sidecar), and what it was writing when killed: its sidecar,
  // its record, the marker of a lock it was leaving.
  for (const writer of ["dead00000000dead-1", "dead00000000dead-2"]) {
    await writeFile(partialFile(paths, writer), BODY.subarray(0, 1000));
  }
  const record = paths.base.replace(/\.dlpart$/, ".dlpart.record");
  for (
    const temp of [
      `${paths.sidecar}.dead00000000dead-3.tmp`,
      `${record}.dead00000000dead-4.tmp`,
      `${paths.lock}.dead00000000dead-5.tmp`,
    ]
  ) {
    await writeFile(temp, "{");
  }
  // Another process's, which may run.
  const others = [
    partialFile(paths, "0123456789abcdef-1"),
    `${paths.sidecar}.0123456789abcdef-2.tmp`,
  ];
  for (const other of others) await writeFile(other, BODY.subarray(0, 1000));
  const download = new Download(server.url("/f"), dir.join("f"));
  download.start();
  await download.wait();
  assert.deepEqual(log.ranges, [null]);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(
    await dir.list(),
    [...others.map((other) => basename(other)), "f"].sort(),
  );
});

test("Download removes the partial file a dead process left with no sidecar naming it when the process that took its lock over was killed the moment it held it", async () => {
  const { route, log } = fileRoute({ body: BODY, etag: '"a"' });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const paths = partialPaths(dir.join("f"));
  // A process killed in its first chunk: its lock, and its partial file,
  // which no sidecar names yet.
  await putDeadLock(paths);
  await writeFile(
    partialFile(paths, "dead00000000dead-4"),
    BODY.subarray(0, 1000),
  );
  // Another process takes its lock over, and is killed as soon as it holds
  // it (a download would only then open its partial file).
  const taker = startChild("lock_child", [paths.lock, "60000", "30000"]);
  try {
    assert.match(await taker.line(() => true), /^acquired /u);
  } finally {
    taker.process.kill("SIGKILL");
    await taker.exited;
  }
  const download = new Download(server.url("/f"), dir.join("f"));
  download.start();
  await download.wait();
  assert.deepEqual(log.ranges, [null]);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

/** Puts `BODY` at `dest`, and has a download of `url` with skipIfExists skip it. */
async function skipFileThere(url: string, dest: string): Promise<void> {
  await writeFile(dest, BODY);
  const download = new Download(url, dest, { skipIfExists: true });
  download.start();
  await download.wait();
  assert.ok(download.skipped);
}

test("Download that takes over a dead process's lock and finds the file there (skipIfExists) removes the lock and what that process left, when no partial file is there to resume", async () => {
  const { route, log } = fileRoute({ body: BODY, etag: '"a"' });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const paths = partialPaths(dir.join("f"));
  // A process killed as it let go of its download, once it had renamed the
  // file into place: its sidecar, naming the file renamed; its lock, a link
  // to its owner file; and the partial file of another of its downloads of
  // the destination, killed before a sidecar named it.
  await rm(await deadLeftovers(paths, server.url("/f"), 10_000));
  const lock = await readFile(paths.lock);
  const ownerFile = dir.join(ownerFileName("dead00000000dead-0"));
  await writeFile(ownerFile, lock);
  await rm(paths.lock);
  await link(ownerFile, paths.lock);
  await writeFile(
    partialFile(paths, "dead00000000dead-2"),
    BODY.subarray(0, 1000),
  );
  await skipFileThere(server.url("/f"), dir.join("f"));
  assert.deepEqual(log.ranges, []);
  // Not a lock marked released beside no partial file, which every later
  // download of the file there would take over and leave so again.
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download that takes over a dead process's lock and finds the file there (skipIfExists) leaves the partial file that process's sidecar names for the next download, which resumes it", async () => {
  const { route, log } = fileRoute({ body: BODY, etag: '"a"' });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const paths = partialPaths(dir.join("f"));
  await deadLeftovers(paths, server.url("/f"), 10_000);
  await skipFileThere(server.url("/f"), dir.join("f"));
  assert.equal((await readJson(paths.lock)).released, true);
  await rm(dir.join("f"));
  const download = new Download(server.url("/f"), dir.join("f"));
  download.start();
  await download.wait();
  assert.deepEqual(log.ranges, ["bytes=10000-"]);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download never writes, resumes or removes the partial file of a writer that may be running (another machine's), even once its stale lock is taken over", async () => {
  const { route, log } = fileRoute({ body: BODY, etag: '"a"' });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const paths = partialPaths(dir.join("f"));
  const far = { host: "other-host.invalid", pid: 1 };
  const writer = "0000000000000000-7";
  const partial = await leftovers(paths, server.url("/f"), 10_000, {
    owner: far,
    token: writer,
  });
  const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
  await utimes(paths.lock, hourAgo, hourAgo);
  const download = new Download(server.url("/f"), dir.join("f"), {
    lockStaleAfter: 1000,
  });
  download.start();
  await download.wait();
  // Not resumed: fetched whole, into a partial file of its own.
  assert.deepEqual(log.ranges, [null]);
  await assertFileHolds(dir.join("f"), BODY);
  // The other writer's file and sidecar are as it left them, for it to
  // finish (or for the manager's leftover cleanup, once old).
  await assertFileHolds(partial, BODY.subarray(0, 10_000));
  assert.equal((await readJson(paths.sidecar)).writer, writer);
  assert.deepEqual(
    await dir.list(),
    [basename(partial), basename(paths.sidecar), "f"].sort(),
  );
});

test("Download resumes a partial file whose lock was left released (as keepPartial leaves it), though its process runs", async () => {
  const { route, log } = fileRoute({ body: BODY, etag: '"a"' });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const paths = partialPaths(dir.join("f"));
  // This very process left it: alive, but it released the file.
  await leftovers(paths, server.url("/f"), 10_000, {
    owner: thisProcess(),
    token: "0123456789abcdef-9",
    released: true,
  });
  const download = new Download(server.url("/f"), dir.join("f"));
  download.start();
  await download.wait();
  assert.deepEqual(log.ranges, ["bytes=10000-"]);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download leaves alone a partial file whose lock is gone and whose writer may run: it looks for none", async () => {
  const { route, log } = fileRoute({ body: BODY, etag: '"a"' });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const paths = partialPaths(dir.join("f"));
  const partial = await deadLeftovers(paths, server.url("/f"), 10_000);
  await rm(paths.lock);
  const download = new Download(server.url("/f"), dir.join("f"));
  download.start();
  await download.wait();
  // A free lock means no leftovers to adopt: the file is fetched whole, and
  // the old partial file waits for the manager's leftover cleanup.
  assert.deepEqual(log.ranges, [null]);
  await assertFileHolds(dir.join("f"), BODY);
  assert.ok((await dir.list()).includes(basename(partial)));
});

test("Download does not resume a partial file of an older version (sidecar version 1, which names no writer)", async () => {
  const { route, log } = fileRoute({ body: BODY, etag: '"a"' });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const paths = partialPaths(dir.join("f"));
  const dead = { ...thisProcess(), pid: DEAD_PID, token: "old" };
  await writeFile(paths.lock, JSON.stringify(dead));
  // Version 1's names: one partial file per destination, and its sidecar.
  await writeFile(paths.base, BODY.subarray(0, 10_000));
  await writeFile(
    paths.sidecar,
    JSON.stringify({
      url: server.url("/f"),
      validator: '"a"',
      total: BODY.byteLength,
    }),
  );
  const download = new Download(server.url("/f"), dir.join("f"));
  download.start();
  await download.wait();
  assert.deepEqual(log.ranges, [null]);
  await assertFileHolds(dir.join("f"), BODY);
  // Left for the manager's leftover cleanup.
  assert.deepEqual(
    await dir.list(),
    [basename(paths.base), basename(paths.sidecar), "f"].sort(),
  );
});

/** A version of the file other than `BODY` (`"a"`), of the same length. */
const CHANGED = patternBytes(BODY.byteLength, 9);

/**
 * Downloads `dest` from a server serving `served`, where a dead writer
 * left `size` bytes of `BODY` (in `ranges`, if given), with `options`
 * (`listen` hears of the download before it starts): returns what the
 * server sent and the file. Nothing but the file is left.
 */
async function resumeDead(
  served: FileRouteOptions,
  size: number,
  ranges: [number, number][] | undefined,
  options: DownloadOptions = {},
  listen?: (download: Download) => void,
): Promise<{ log: FileRouteLog; file: Uint8Array }> {
  const { route, log } = fileRoute(served);
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const paths = partialPaths(dir.join("f"));
  await deadLeftovers(paths, server.url("/f"), size, ranges);
  const download = new Download(server.url("/f"), dir.join("f"), {
    backoffBase: 1,
    backoffCap: 5,
    ...options,
  });
  listen?.(download);
  download.start();
  await download.wait();
  assert.deepEqual(await dir.list(), ["f"]);
  return { log, file: new Uint8Array(await readFile(dir.join("f"))) };
}

// A download in parts killed after its last part landed, before the rename:
// every byte is on disk, of the version the sidecar names. The server is
// asked whether that is still the file, as for a whole prefix on one
// connection (the rest, `If-Range`): a 416 says it is.
const TOTAL = BODY.byteLength;
const WHOLE: [number, number][] = [[0, TOTAL]];
for (const connections of [1, 4] as const) {
  test(`Download with connections: ${connections} of a partial file whose sidecar records every part asks the server, and commits it unchanged without fetching it again, whether or not the 416 names the length (Apache's does not, as curl and wget allow)`, async () => {
    for (const faults of [[], [{ bare416: true }]]) {
      const { log, file } = await resumeDead(
        { body: BODY, etag: '"a"', faults },
        TOTAL,
        WHOLE,
        { connections },
      );
      assert.deepEqual(log.ranges, [`bytes=${TOTAL}-`]);
      assert.deepEqual(log.ifRanges, ['"a"']);
      assert.deepEqual(log.statuses, [416]);
      assert.deepEqual(log.sent, [0]);
      assert.deepEqual(file, BODY);
    }
  });

  test(`Download with connections: ${connections} of a partial file whose sidecar records every part downloads the file again when it changed on the server`, async () => {
    // The same length, another version: only the validator tells.
    const { log, file } = await resumeDead(
      { body: CHANGED, etag: '"b"' },
      TOTAL,
      WHOLE,
      { connections },
    );
    assert.equal(log.ranges[0], `bytes=${TOTAL}-`);
    assert.equal(log.ifRanges[0], '"a"');
    assert.equal(log.statuses[0], 200);
    assert.deepEqual(file, CHANGED);
  });
}

// A server may send a page with its 416 (nginx does): unread, that answer
// would keep its connection (on Node, until the body is collected).
test(
  "Download of a partial file whose sidecar records every part closes the 416 that says so, whatever its body",
  { timeout: 60_000 },
  async () => {
    let sockets = 0;
    const closed = deferred();
    await using server = await startServer({
      "/f": (request, response) => {
        sockets++;
        request.socket.once("close", () => closed.resolve());
        response.writeHead(416, {
          "content-range": `bytes */${TOTAL}`,
          "content-length": 16 << 20,
          etag: '"a"',
        });
        response.end(new Uint8Array(16 << 20));
      },
    });
    await using dir = await tempDir();
    await deadLeftovers(
      partialPaths(dir.join("f")),
      server.url("/f"),
      TOTAL,
      WHOLE,
    );
    const download = new Download(server.url("/f"), dir.join("f"));
    download.start();
    await download.wait();
    assert.deepEqual(await dir.list(), ["f"]);
    assert.deepEqual(new Uint8Array(await readFile(dir.join("f"))), BODY);
    // Without the answer closed, its connection stays open, and this waits.
    await closed.promise;
    assert.equal(sockets, 1);
  },
);

test("Download of a partial file whose sidecar records every part retries the server's refusal of that question, as any attempt", async () => {
  const retries: number[] = [];
  const { log, file } = await resumeDead(
    { body: BODY, etag: '"a"', faults: [{ status: 503, retryAfter: "0" }] },
    TOTAL,
    WHOLE,
    { connections: 4 },
    (download) =>
      download.addEventListener("retry", (event) => {
        retries.push(event.attempt);
      }),
  );
  assert.deepEqual(retries, [1]);
  assert.deepEqual(log.ranges, [`bytes=${TOTAL}-`, `bytes=${TOTAL}-`]);
  assert.deepEqual(log.statuses, [503, 416]);
  assert.deepEqual(file, BODY);
});

// A server (or a proxy) without If-Range serves the range asked for of the
// version it has now: the answer's validator tells it is another version,
// as a part's does on several connections, and the file starts over.
const IGNORES_IF_RANGE: FileRouteOptions = {
  body: CHANGED,
  etag: '"b"',
  faults: [{ ignoreIfRange: true }],
};

test("Download resumes a prefix never spliced onto another version's rest by a server that ignores If-Range, its digest taken of the new version only", async () => {
  const { log, file } = await resumeDead(
    IGNORES_IF_RANGE,
    10_000,
    undefined,
    {
      retries: 0,
      sha256: createHash("sha256").update(CHANGED).digest("hex"),
    },
  );
  assert.deepEqual(log.ranges, ["bytes=10000-", null]);
  assert.deepEqual(log.statuses, [206, 200]);
  assert.deepEqual(file, CHANGED);
});

test("Download of a partial file whose sidecar records every part never commits it on a 416 of another version (a server that ignores If-Range)", async () => {
  const { log, file } = await resumeDead(IGNORES_IF_RANGE, TOTAL, WHOLE, {
    connections: 4,
    retries: 0,
  });
  assert.deepEqual(log.ranges, [`bytes=${TOTAL}-`, null]);
  assert.deepEqual(log.statuses, [416, 200]);
  assert.deepEqual(file, CHANGED);
});
