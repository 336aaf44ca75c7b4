import assert from "node:assert/strict";
import {
  lstat,
  mkdir,
  readFile,
  rm,
  stat,
  symlink,
  truncate,
  utimes,
  writeFile,
} from "node:fs/promises";
import { basename, relative } from "node:path";
import { test } from "node:test";
import { PersistLimit } from "../mod.ts";
import { FileLock } from "../src/_disk/lock.ts";
import { partialFile, partialPaths } from "../src/_disk/names.ts";
import { recordPath } from "../src/_disk/record.ts";
import { mount } from "./_helpers/mount.ts";
import { type TempDir, tempDir } from "./_helpers/temp_dir.ts";
import { unremovable } from "./_helpers/unremovable.ts";

const BASE = 1_700_000_000; // seconds; every file gets BASE + its age rank

/** Writes `names` with `size` bytes each; the first is the least recently accessed. */
async function files(dir: TempDir, names: string[], size = 10): Promise<void> {
  for (const [index, name] of names.entries()) {
    await writeFile(dir.join(name), new Uint8Array(size));
    await utimes(dir.join(name), BASE + index, BASE + index);
  }
}

test("PersistLimit.removeOldFiles() removes the least recently accessed files until under the size limit", async () => {
  await using dir = await tempDir();
  await files(dir, ["a", "b", "c", "d", "e", "f"]);
  const limit = new PersistLimit(50, { fileLimit: 2 });
  await limit.registerDirContent(dir.path);
  await limit.removeOldFiles();
  // 60 bytes: remove a (50, still at the limit), then b (40).
  assert.deepEqual(await dir.list(), ["c", "d", "e", "f"]);
  assert.deepEqual(
    limit.files().map((path) => relative(dir.path, path)).sort(),
    [
      "c",
      "d",
      "e",
      "f",
    ],
  );
});

test("PersistLimit.removeOldFiles() removes when the total is exactly the size limit", async () => {
  await using dir = await tempDir();
  await files(dir, ["a", "b"]);
  const limit = new PersistLimit(20, { fileLimit: 1 });
  await limit.registerDirContent(dir.path);
  await limit.removeOldFiles();
  assert.deepEqual(await dir.list(), ["b"]);
});

test("PersistLimit.removeOldFiles() removes nothing below the size limit", async () => {
  await using dir = await tempDir();
  await files(dir, ["a", "b"]);
  const limit = new PersistLimit(21, { fileLimit: 1 });
  await limit.registerDirContent(dir.path);
  await limit.removeOldFiles();
  assert.deepEqual(await dir.list(), ["a", "b"]);
});

test("PersistLimit.removeOldFiles() always keeps fileLimit files", async () => {
  await using dir = await tempDir();
  await files(dir, ["a", "b", "c"], 100);
  const limit = new PersistLimit(10, { fileLimit: 2 });
  await limit.registerDirContent(dir.path);
  await limit.removeOldFiles();
  assert.deepEqual(await dir.list(), ["b", "c"]);
});

test("PersistLimit keeps 5 files by default", async () => {
  await using dir = await tempDir();
  await files(dir, ["a", "b", "c", "d", "e", "f", "g"]);
  const limit = new PersistLimit(1);
  assert.equal(limit.fileLimit, 5);
  await limit.registerDirContent(dir.path);
  await limit.removeOldFiles();
  assert.deepEqual(await dir.list(), ["c", "d", "e", "f", "g"]);
});

for (const [sizeLimit, fileLimit] of [[0, 1], [-5, 1], [10, 0], [10, -1]]) {
  test(`PersistLimit.removeOldFiles() removes nothing when sizeLimit is ${sizeLimit} and fileLimit ${fileLimit}`, async () => {
    await using dir = await tempDir();
    await files(dir, ["a", "b", "c"]);
    const limit = new PersistLimit(sizeLimit as number, { fileLimit });
    await limit.registerDirContent(dir.path);
    await limit.removeOldFiles();
    assert.deepEqual(await dir.list(), ["a", "b", "c"]);
  });
}

test("PersistLimit.registerFile() counts a path registered twice once", async () => {
  await using dir = await tempDir();
  await files(dir, ["a", "b"]);
  const limit = new PersistLimit(25, { fileLimit: 1 });
  await limit.registerFile(dir.join("a"));
  await limit.registerFile(dir.join("a"));
  await limit.registerFile(relative(process.cwd(), dir.join("a")));
  await limit.registerFile(dir.join("b"));
  await limit.removeOldFiles();
  // Counted twice, a would make 30 bytes and be removed.
  assert.deepEqual(await dir.list(), ["a", "b"]);
  assert.equal(limit.files().length, 2);
});

test("PersistLimit.registerFile() skips missing paths and directories", async () => {
  await using dir = await tempDir();
  await mkdir(dir.join("sub"));
  const limit = new PersistLimit(1, { fileLimit: 1 });
  await limit.registerFile(dir.join("missing"));
  await limit.registerFile(dir.join("sub"));
  assert.deepEqual(limit.files(), []);
});

test("PersistLimit never registers a symbolic link (to a file elsewhere, a directory, nowhere): its target is neither counted nor removed", async () => {
  await using dir = await tempDir();
  await using elsewhere = await tempDir();
  await writeFile(elsewhere.join("big"), new Uint8Array(100_000));
  await files(dir, ["a"]);
  await symlink(elsewhere.join("big"), dir.join("to-file"));
  await symlink(elsewhere.path, dir.join("to-dir"));
  await symlink(elsewhere.join("missing"), dir.join("dangling"));
  const limit = new PersistLimit(50, { fileLimit: 1 });
  await limit.registerDirContent(dir.path);
  for (const name of ["to-file", "to-dir", "dangling"]) {
    await limit.registerFile(dir.join(name));
  }
  assert.deepEqual(limit.files(), [dir.join("a")]);
  // a's 10 bytes are under the limit: the link's target counts for nothing.
  await limit.removeOldFiles();
  assert.deepEqual(await dir.list(), ["a", "dangling", "to-dir", "to-file"]);
  assert.deepEqual(await elsewhere.list(), ["big"]);
});

test("PersistLimit.removeOldFiles() forgets a registered file replaced by a symbolic link, counting none of its target", async () => {
  await using dir = await tempDir();
  await using elsewhere = await tempDir();
  await writeFile(elsewhere.join("big"), new Uint8Array(100_000));
  await files(dir, ["a", "b"]);
  const limit = new PersistLimit(50, { fileLimit: 1 });
  await limit.registerDirContent(dir.path);
  await rm(dir.join("b"));
  await symlink(elsewhere.join("big"), dir.join("b"));
  await limit.removeOldFiles();
  // Only a counts (10 bytes): it stays; the link stays, and its target.
  assert.deepEqual(await dir.list(), ["a", "b"]);
  assert.equal((await lstat(dir.join("b"))).isSymbolicLink(), true);
  assert.equal((await readFile(elsewhere.join("big"))).byteLength, 100_000);
  assert.deepEqual(limit.files(), [dir.join("a")]);
});

test("PersistLimit.registerDirContent() registers matching files only, no dotfiles or subdirectories", async () => {
  await using dir = await tempDir();
  await files(dir, ["a.zip", "b.zip", "c.txt", ".d.zip"]);
  await mkdir(dir.join("e.zip"));
  const limit = new PersistLimit(1, { fileLimit: 1 });
  await limit.registerDirContent(dir.path, "*.zip");
  assert.deepEqual(
    limit.files().map((path) => relative(dir.path, path)).sort(),
    [
      "a.zip",
      "b.zip",
    ],
  );
  await limit.removeOldFiles();
  // Only registered files are candidates: c.txt and .d.zip stay although older than b.zip.
  assert.deepEqual(await dir.list(), [".d.zip", "b.zip", "c.txt", "e.zip"]);
});

test("PersistLimit.registerDirContent() rejects a pattern with a path, which could match no name", async () => {
  await using dir = await tempDir();
  await mkdir(dir.join("sub"));
  await files(dir, ["sub/a.zip"]);
  const limit = new PersistLimit(1, { fileLimit: 1 });
  await assert.rejects(
    limit.registerDirContent(dir.path, "sub/*.zip"),
    (error) =>
      error instanceof TypeError &&
      error.message.includes('the pattern "sub/*.zip" has a "/"'),
  );
  assert.deepEqual(limit.files(), []);
  await limit.registerDirContent(dir.join("sub"), "*.zip");
  assert.deepEqual(limit.files(), [dir.join("sub", "a.zip")]);
});

test("PersistLimit.registerDirContent() registers nothing for a directory not made yet, as a missing file", async () => {
  // A program's first run: the cache directory is made by its manager,
  // after the limit counted what was there (as the seed's glob, nothing).
  await using dir = await tempDir();
  const limit = new PersistLimit(1, { fileLimit: 1 });
  await limit.registerDirContent(dir.join("cache"));
  await limit.registerFile(dir.join("cache", "a"));
  assert.deepEqual(limit.files(), []);
  await limit.removeOldFiles();
});

test("PersistLimit.registerDirContent() rejects for a file where the directory should be", async () => {
  await using dir = await tempDir();
  await writeFile(dir.join("cache"), "x");
  const limit = new PersistLimit(1);
  await assert.rejects(limit.registerDirContent(dir.join("cache")));
  assert.deepEqual(await dir.list(), ["cache"]);
});

test("PersistLimit.removeOldFiles() forgets files removed by someone else", async () => {
  await using dir = await tempDir();
  await files(dir, ["a", "b", "c"]);
  const limit = new PersistLimit(20, { fileLimit: 1 });
  await limit.registerDirContent(dir.path);
  await rm(dir.join("c"));
  await limit.removeOldFiles();
  // a and b total 20: a goes, b stays. c's 10 bytes no longer count.
  assert.deepEqual(await dir.list(), ["b"]);
  assert.equal(limit.files().length, 1);
});

test("PersistLimit.removeOldFiles() decides on access times read at that moment", async () => {
  await using dir = await tempDir();
  await files(dir, ["a", "b", "c"]);
  const limit = new PersistLimit(30, { fileLimit: 1 });
  await limit.registerDirContent(dir.path);
  // a is read after registration: it becomes the most recently accessed.
  await utimes(dir.join("a"), BASE + 100, BASE);
  await limit.removeOldFiles();
  assert.deepEqual(await dir.list(), ["a", "c"]);
  assert.equal((await stat(dir.join("a"))).atimeMs, (BASE + 100) * 1000);
});

test("PersistLimit.removeOldFiles() uses sizes read at that moment", async () => {
  await using dir = await tempDir();
  await files(dir, ["a", "b"]);
  const limit = new PersistLimit(100, { fileLimit: 1 });
  await limit.registerDirContent(dir.path);
  await writeFile(dir.join("b"), new Uint8Array(95));
  await utimes(dir.join("b"), BASE + 5, BASE + 5);
  await limit.removeOldFiles();
  assert.deepEqual(await dir.list(), ["b"]);
});

test("PersistLimit constructor rejects limits that are not numbers", () => {
  assert.throws(() => new PersistLimit(Number.NaN), TypeError);
  assert.throws(() => new PersistLimit("10" as unknown as number), TypeError);
  assert.throws(
    () => new PersistLimit(10, { fileLimit: Number.NaN }),
    TypeError,
  );
});

test("PersistLimit constructor refuses a file limit given where its options go, as the Python seed takes it", () => {
  assert.throws(() => new PersistLimit(10, 1 as never), {
    name: "TypeError",
    message:
      "Cannot create PersistLimit: options must be an object, such as { fileLimit: 1 }, got 1",
  });
  assert.throws(() => new PersistLimit(10, null as never), TypeError);
  assert.equal(new PersistLimit(10, undefined).fileLimit, 5);
});

test("PersistLimit constructor rejects a fileLimit that is not a whole number, which would keep no file", () => {
  assert.throws(() => new PersistLimit(10, { fileLimit: 0.5 }), {
    name: "RangeError",
    message:
      "Cannot create PersistLimit: fileLimit must be a whole number of files, got 0.5",
  });
  assert.equal(
    new PersistLimit(10, { fileLimit: Infinity }).fileLimit,
    Infinity,
  );
});

test("PersistLimit.removeOldFiles() never removes kept files but counts them, removing the next-oldest instead", async () => {
  await using dir = await tempDir();
  await files(dir, ["a", "b", "c", "d"]);
  const limit = new PersistLimit(30, { fileLimit: 1 });
  await limit.registerDirContent(dir.path);
  await limit.removeOldFiles({ keep: (path) => path === dir.join("a") });
  // 40 bytes with a: b goes (30, still at the limit), then c (20). Were a
  // not counted, only b would go.
  assert.deepEqual(await dir.list(), ["a", "d"]);
  assert.deepEqual(
    limit.files().map((path) => relative(dir.path, path)).sort(),
    ["a", "d"],
  );
});

test("PersistLimit.removeOldFiles() keeps a file being downloaded (its lock held) but counts it, removing the next-oldest instead, and removes it once the lock is released", async () => {
  await using dir = await tempDir();
  await files(dir, ["a", "b", "c", "d"]);
  const limit = new PersistLimit(30, { fileLimit: 1 });
  await limit.registerDirContent(dir.path);
  // A download of "a" runs (here, or in another process: see isLockHeld).
  const lock = await FileLock.acquire(
    partialPaths(dir.join("a")).lock,
    { staleAfter: 60_000, heartbeat: 1000, poll: 5 },
    { signal: new AbortController().signal },
  );
  try {
    await limit.removeOldFiles();
  } finally {
    lock.release();
  }
  // 40 bytes with a: b goes (30, still at the limit), then c (20).
  assert.deepEqual(await dir.list(), ["a", "d"]);
  const lower = new PersistLimit(20, { fileLimit: 1 });
  await lower.registerDirContent(dir.path);
  await lower.removeOldFiles();
  assert.deepEqual(await dir.list(), ["d"]);
});

test("PersistLimit.removeOldFiles() judges another host's lock by the lockStaleAfter its owner recorded, keeping a file whose lock beat longer ago than the default but within that", async () => {
  await using dir = await tempDir();
  await files(dir, ["a", "b", "c", "d"]);
  const limit = new PersistLimit(30, { fileLimit: 1 });
  await limit.registerDirContent(dir.path);
  // Another machine downloads "a" with a lockStaleAfter of a minute (a
  // heartbeat every 15 s); its last was 30 s ago, past the default 10 s.
  const lock = partialPaths(dir.join("a")).lock;
  await writeFile(
    lock,
    JSON.stringify({
      host: "other-host.invalid",
      pid: 1,
      token: "far",
      staleAfter: 60_000,
    }),
  );
  const beat = new Date(Date.now() - 30_000);
  await utimes(lock, beat, beat);
  await limit.removeOldFiles();
  assert.deepEqual(await dir.list(), [basename(lock), "a", "d"].sort());
  // Past its own minute: stale, and "a" goes (an older lock without the
  // field is judged by the default, as before).
  const old = new Date(Date.now() - 61_000);
  await utimes(lock, old, old);
  const lower = new PersistLimit(20, { fileLimit: 1 });
  await lower.registerDirContent(dir.path);
  await lower.removeOldFiles();
  assert.deepEqual(await dir.list(), [basename(lock), "d"].sort());
});

test("PersistLimit.removeOldFiles() keeps kept files even when that leaves the total over the limit", async () => {
  await using dir = await tempDir();
  await files(dir, ["a", "b", "c"]);
  const limit = new PersistLimit(10, { fileLimit: 1 });
  await limit.registerDirContent(dir.path);
  await limit.removeOldFiles({ keep: () => true });
  assert.deepEqual(await dir.list(), ["a", "b", "c"]);
  assert.equal(limit.files().length, 3);
});

test("PersistLimit never registers the library's own files (partial, sidecar, lock, record, owner), which neither count nor go", async () => {
  await using dir = await tempDir();
  const paths = partialPaths(dir.join("x.zip"));
  const reserved = [
    basename(partialFile(paths, "0123456789abcdef-1")),
    basename(paths.sidecar),
    basename(paths.lock),
    basename(recordPath(dir.join("x.zip"))),
    ".dlmanager-1.0123456789ab.dlpart.owner",
  ];
  // The reserved files are the least recently accessed, and large: a
  // download's partial file grows to the size of the file it becomes.
  await files(dir, reserved, 100);
  await files(dir, ["b", "c"]);
  const limit = new PersistLimit(20, { fileLimit: 1 });
  for (const name of [...reserved, "b", "c"]) {
    await limit.registerFile(dir.join(name));
  }
  // A pattern that matches dotfiles registers them no more.
  await limit.registerDirContent(dir.path, ".*");
  assert.deepEqual(limit.files().map((path) => basename(path)), ["b", "c"]);
  await limit.removeOldFiles();
  // 20 bytes of cache: b goes (10). Were the 500 reserved bytes counted,
  // c would go too, and with them counted as files, fileLimit would keep
  // no cache entry at all.
  assert.deepEqual(await dir.list(), [...reserved, "c"].sort());
});

test("PersistLimit.removeOldFiles() skips a file it may not remove (another user's in a shared cache), removing the next-oldest instead", async (t) => {
  await using dir = await tempDir();
  await mkdir(dir.join("shared"));
  await files(dir, ["shared/a", "b", "c", "d"]);
  // In a directory of its own: when only a whole directory can be made
  // read-only, a is alone there too.
  const refused = await unremovable(dir.join("shared", "a"));
  if (refused === undefined) {
    t.skip("no way to make a file this process may not remove");
    return;
  }
  try {
    const limit = new PersistLimit(30, { fileLimit: 1 });
    for (const name of ["shared/a", "b", "c", "d"]) {
      await limit.registerFile(dir.join(name));
    }
    await limit.removeOldFiles();
    // 40 bytes: a may not be removed, and still counts; b goes (30, still
    // at the limit), then c (20).
    assert.deepEqual(await dir.list(), ["d", "shared"]);
    assert.deepEqual(await dir.list("shared"), ["a"]);
    assert.deepEqual(
      limit.files().map((path) => relative(dir.path, path)).sort(),
      ["d", "shared/a"],
    );
  } finally {
    await refused.undo();
  }
});

test("PersistLimit keeps its last fileLimit files over a limit they pass, however large: five of 3 GiB stay under 10 GiB", async () => {
  // Sparse files: their sizes, past 2^32 together, cost no disk.
  await using dir = await tempDir();
  const GiB = 1024 ** 3;
  const names = ["a", "b", "c", "d", "e", "f"];
  for (const [index, name] of names.entries()) {
    await writeFile(dir.join(name), new Uint8Array(0));
    await truncate(dir.join(name), 3 * GiB);
    await utimes(dir.join(name), BASE + index, BASE + index);
  }
  const limit = new PersistLimit(10 * GiB);
  await limit.registerDirContent(dir.path);
  await limit.removeOldFiles();
  // 18 GiB: a goes, then 5 files are left, 15 GiB of them.
  assert.deepEqual(await dir.list(), ["b", "c", "d", "e", "f"]);
  const one = new PersistLimit(10 * GiB, { fileLimit: 1 });
  await one.registerDirContent(dir.path);
  await one.removeOldFiles();
  // 15 GiB: b and c go, 9 GiB are left.
  assert.deepEqual(await dir.list(), ["d", "e", "f"]);
});

test("PersistLimit.removeOldFiles() goes on past a file it fails to remove, then rejects with that failure", async (t) => {
  await using dir = await tempDir();
  await files(dir, ["busy", "b", "c"]);
  await writeFile(dir.join("source"), "x");
  // The oldest is a mount point: removing it fails with EBUSY.
  await using busy = mount(["--bind", dir.join("source")], dir.join("busy"));
  if (busy === undefined) {
    t.skip("needs root, to bind-mount a file");
    return;
  }
  await utimes(dir.join("busy"), BASE, BASE);
  const limit = new PersistLimit(15, { fileLimit: 1 });
  for (const name of ["busy", "b", "c"]) {
    await limit.registerFile(dir.join(name));
  }
  await assert.rejects(
    limit.removeOldFiles(),
    (error: NodeJS.ErrnoException) => error.code === "EBUSY",
  );
  // The next oldest went instead: what is left (the mount's 1 byte and c's
  // 10) is under the limit.
  assert.deepEqual(await dir.list(), ["busy", "c", "source"]);
});

test("PersistLimit.removeOldFiles() keeps, unremoved and counted, a file it cannot look at, goes on with the others, then rejects naming it", async () => {
  await using dir = await tempDir();
  await mkdir(dir.join("sub"));
  await files(dir, ["sub/a", "b", "c", "d"]);
  const limit = new PersistLimit(25, { fileLimit: 2 });
  for (const name of ["sub/a", "b", "c", "d"]) {
    await limit.registerFile(dir.join(name));
  }
  // Its directory swapped for a loop of links: a look at it fails (ELOOP).
  await rm(dir.join("sub"), { recursive: true });
  await symlink("sub", dir.join("sub"));
  await assert.rejects(limit.removeOldFiles(), {
    name: "FileSystemError",
    code: "ELOOP",
    path: dir.join("sub/a"),
  });
  // sub/a counts its 10 bytes: b went, then c, which left 20 (a and d).
  assert.deepEqual(await dir.list(), ["d", "sub"]);
  assert.deepEqual(
    limit.files().map((path) => relative(dir.path, path)),
    ["sub/a", "d"],
  );
});
