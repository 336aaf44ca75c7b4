// PartialFile (src/_disk/partial_file.ts): when its file comes to be on
// disk, and that an open under way (`prepare`) is waited for before the file
// is closed, removed or renamed, so that nothing is left behind however the
// download ends. On Node the open is asynchronous, which is where a removal
// could otherwise run before the file it removes exists.

import assert from "node:assert/strict";
import {
  readdir,
  readFile,
  readlink,
  rename,
  symlink,
  unlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { test } from "node:test";
import { FileLock, type LockTiming } from "../../src/_disk/lock.ts";
import { partialPaths } from "../../src/_disk/names.ts";
import { PartialFile } from "../../src/_disk/partial_file.ts";
import { factsOf, readRecord } from "../../src/_disk/record.ts";
import { remember } from "../../src/_cache.ts";
import {
  AlreadyExistsError,
  NotFoundError,
} from "../../src/_runtime/fs_errors.ts";
import { fs } from "../../src/_runtime/fs.ts";
import { type TempDir, tempDir } from "../_helpers/temp_dir.ts";

const URL = "http://127.0.0.1:1/f";
const TIMING: LockTiming = { staleAfter: 60_000, heartbeat: 1000, poll: 5 };

/** A partial file for `dir`/f, under its lock; `using` releases both. */
async function start(
  dir: TempDir,
  name = "f",
): Promise<{ partial: PartialFile; lock: FileLock } & Disposable> {
  const paths = partialPaths(dir.join(name));
  const lock = await FileLock.acquire(paths.lock, TIMING, {
    signal: new AbortController().signal,
  });
  const partial = await PartialFile.open(paths, URL, undefined, undefined);
  return {
    partial,
    lock,
    [Symbol.dispose]: () => {
      partial.end();
      if (lock.isHeld()) lock.release();
    },
  };
}

/** The names in `dir` but the lock's and its owner file's. */
async function files(dir: TempDir): Promise<string[]> {
  return (await dir.list()).filter((name) =>
    !name.endsWith(".lock") && !name.endsWith(".owner")
  );
}

test("PartialFile.open() on a free lock puts nothing on disk; prepare() creates the file writer() then writes", async () => {
  await using dir = await tempDir();
  using started = await start(dir);
  const { partial } = started;
  assert.deepEqual(await files(dir), []);
  partial.prepare();
  const writer = await partial.writer();
  // The open prepare() started, not a second one.
  assert.equal(await partial.writer(), writer);
  await writer.write(new Uint8Array([1, 2, 3]));
  await partial.close();
  assert.deepEqual(await files(dir), [partial.path.split("/").at(-1)]);
  assert.deepEqual([...await readFile(partial.path)], [1, 2, 3]);
});

/**
 * The descriptors this process has open on `path` (removed or not), where
 * /proc tells (Linux); `undefined` elsewhere.
 */
async function openOn(path: string): Promise<number | undefined> {
  let fds: string[];
  try {
    fds = await readdir("/proc/self/fd");
  } catch {
    return undefined;
  }
  let count = 0;
  for (const fd of fds) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => "");
    if (target === path || target === `${path} (deleted)`) count++;
  }
  return count;
}

test("PartialFile.discard() right after prepare() waits for the open, closes it, and leaves nothing", async () => {
  await using dir = await tempDir();
  using started = await start(dir);
  const { partial, lock } = started;
  partial.prepare();
  await partial.discard(lock);
  assert.deepEqual(await files(dir), []);
  // The file the open made was closed before it was removed, not left open.
  assert.equal(await openOn(partial.path) ?? 0, 0);
});

for (const prepared of [true, false]) {
  const how = prepared
    ? "right after prepare() renames the file it opened"
    : "of a file never opened creates it";
  test(`PartialFile.commit() ${how}, empty`, async () => {
    await using dir = await tempDir();
    using started = await start(dir);
    const { partial, lock } = started;
    if (prepared) partial.prepare();
    assert.deepEqual(await partial.commit(dir.join("f"), lock), {
      held: true,
      facts: undefined,
    });
    assert.deepEqual(await files(dir), ["f"]);
    assert.equal((await readFile(dir.join("f"))).byteLength, 0);
  });
}

test("PartialFile.commit() with measure tells the size and time of the file it renamed, so that its record disowns a file put in its place after the rename", async () => {
  await using dir = await tempDir();
  using started = await start(dir);
  const { partial, lock } = started;
  const writer = await partial.writer();
  await writer.write(new Uint8Array([1, 2, 3]));
  await partial.close();
  const written = 1_700_000_000; // s
  await utimes(partial.path, written, written);
  const dest = dir.join("f");
  const { held, facts } = await partial.commit(dest, lock, { measure: true });
  assert.equal(held, true);
  assert.deepEqual(facts, { size: 3, mtime: written * 1000 });
  // Another program's file, renamed over it before the record is written.
  await writeFile(dir.join("other"), "another file");
  await rename(dir.join("other"), dest);
  await remember(URL, dest, '"v1"', { facts });
  const replacement = await factsOf(dest);
  assert.ok(replacement !== undefined);
  assert.equal(readRecord(dest, URL, replacement), undefined);
  assert.equal(
    readRecord(dest, URL, { size: 3, mtime: written * 1000 })?.validator,
    '"v1"',
  );
});

test("PartialFile.prepare() that fails leaves close() quiet, and writer() throws the open's error", async () => {
  await using dir = await tempDir();
  using started = await start(dir);
  const { partial } = started;
  // Something already has the partial file's name: the exclusive create
  // fails.
  await writeFile(partial.path, "not ours");
  partial.prepare();
  await partial.close();
  await assert.rejects(partial.writer(), AlreadyExistsError);
  assert.equal(await readFile(partial.path, "utf8"), "not ours");
});

test("PartialFile.measure() rejects with NotFoundError, named ENOENT, when the file is gone from its name, not 0 bytes", async () => {
  await using dir = await tempDir();
  using started = await start(dir);
  const { partial } = started;
  const writer = await partial.writer();
  await writer.write(new Uint8Array([1, 2, 3]));
  await partial.close();
  assert.equal(await partial.measure(), 3);
  // Its directory removed or moved, or the file removed, by someone else.
  await unlink(partial.path);
  await assert.rejects(partial.measure(), (error) => {
    assert.ok(error instanceof NotFoundError);
    assert.equal(fs.errorCode(error), "ENOENT");
    assert.match(error.message, /is gone/);
    return true;
  });
  assert.equal(partial.offset, 3);
});

test("PartialFile.intact() and assertPresent() do not follow a symbolic link put in the file's place", async () => {
  await using dir = await tempDir();
  await using elsewhere = await tempDir();
  using started = await start(dir);
  const { partial } = started;
  const writer = await partial.writer();
  await writer.write(new Uint8Array([1, 2, 3]));
  await partial.close();
  assert.equal(await partial.measure(), 3);
  assert.equal(await partial.intact(), true);
  // Another program swaps the file for a link to one of the same length:
  // resuming would append through it.
  await writeFile(elsewhere.join("other"), "abc");
  await unlink(partial.path);
  await symlink(elsewhere.join("other"), partial.path);
  assert.equal(await partial.intact(), false);
  await assert.rejects(partial.assertPresent(), NotFoundError);
  assert.equal(await readFile(elsewhere.join("other"), "utf8"), "abc");
});
