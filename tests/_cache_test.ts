// The file a download finds in place (src/_cache.ts): there or not, a cache
// hit that sets its access time, and the record a revalidating manager keeps.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import {
  chmod,
  mkdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import {
  fileAt,
  holdsDigest,
  isCacheHit,
  remember,
  touch,
} from "../src/_cache.ts";
import { readRecord, recordPath } from "../src/_disk/record.ts";
import { wallClock } from "../src/_revalidation.ts";
import { tempDir } from "./_helpers/temp_dir.ts";

const URL_A = "https://example.com/a.bin";
const OLD = new Date("2020-01-01T00:00:00Z");

/** Whether a file in the temp directory can be made immutable here. */
const CAN_CHATTR = (() => {
  const probe = join(mkdtempSync(join(tmpdir(), "dlmanager-test-")), "probe");
  writeFileSync(probe, "");
  const made = spawnSync("chattr", ["+i", probe]).status === 0;
  if (made) spawnSync("chattr", ["-i", probe]);
  rmSync(dirname(probe), { recursive: true });
  return made;
})();

test("fileAt() gives a file's size, mtime and mode, undefined when nothing is there, and a TypeError for a directory", async () => {
  await using dir = await tempDir();
  assert.equal(fileAt(URL_A, dir.join("missing")), undefined);
  await writeFile(dir.join("a.bin"), "hello");
  await utimes(dir.join("a.bin"), OLD, OLD);
  await chmod(dir.join("a.bin"), 0o751);
  assert.deepEqual(fileAt(URL_A, dir.join("a.bin")), {
    size: 5,
    mtime: OLD.getTime(),
    mode: process.platform === "win32" ? null : 0o751,
    link: false,
  });
  await mkdir(dir.join("d"));
  assert.throws(() => fileAt(URL_A, dir.join("d")), {
    name: "TypeError",
    message: `Cannot download "${URL_A}" to "${
      dir.join("d")
    }": a directory is in the way`,
  });
});

test("isCacheHit() takes a file there without revalidation and sets its access time, not its mtime", async () => {
  await using dir = await tempDir();
  const path = dir.join("a.bin");
  assert.equal(isCacheHit(URL_A, path, undefined), false);
  await writeFile(path, "hello");
  await utimes(path, OLD, OLD);
  assert.equal(isCacheHit(URL_A, path, undefined), true);
  const after = await stat(path);
  assert.ok(after.atimeMs > OLD.getTime() + 1000);
  assert.ok(Math.abs(after.mtimeMs - OLD.getTime()) <= 1);
});

test("fileAt() and isCacheHit() follow a symbolic link to a file elsewhere, tell it, and never set the target's times", async () => {
  await using dir = await tempDir();
  await using elsewhere = await tempDir();
  const target = elsewhere.join("target");
  await writeFile(target, "hello");
  await chmod(target, 0o751);
  await utimes(target, OLD, OLD);
  await symlink(target, dir.join("a.bin"));
  await symlink(elsewhere.join("missing"), dir.join("dangling"));
  assert.deepEqual(fileAt(URL_A, dir.join("a.bin")), {
    size: 5,
    mtime: OLD.getTime(),
    // Not the target's: a download replaces the link with a file of its own.
    mode: null,
    link: true,
  });
  assert.equal(fileAt(URL_A, dir.join("dangling")), undefined);
  assert.equal(isCacheHit(URL_A, dir.join("a.bin"), undefined), true);
  const after = await stat(target);
  assert.equal(after.atimeMs, OLD.getTime());
  assert.equal(after.mtimeMs, OLD.getTime());
});

test("isCacheHit() under a revalidation takes a file only while its record is fresh", async () => {
  await using dir = await tempDir();
  const path = dir.join("a.bin");
  await writeFile(path, "hello");
  await utimes(path, OLD, OLD);
  const always = { maxAge: 0, since: wallClock() };
  const hour = { maxAge: 3_600_000, since: wallClock() };
  assert.equal(isCacheHit(URL_A, path, always), false);
  await remember(URL_A, path, '"v1"');
  assert.equal(isCacheHit(URL_A, path, hour), true);
  assert.equal(
    isCacheHit(URL_A, path, { maxAge: 0, since: wallClock() }),
    false,
  );
  // Another URL's record is not this one's: its file is judged by its old
  // mtime.
  assert.equal(isCacheHit("https://example.com/b.bin", path, hour), false);
});

test("remember() writes a record bound to the file, and never fails when the file is gone", async () => {
  await using dir = await tempDir();
  const path = dir.join("a.bin");
  await writeFile(path, "hello");
  const facts = fileAt(URL_A, path);
  assert.ok(facts !== undefined);
  await remember(URL_A, path, '"v1"');
  const record = readRecord(path, URL_A, facts);
  assert.equal(record?.validator, '"v1"');
  assert.equal(record?.size, 5);
  const written = JSON.parse(await readFile(recordPath(path), "utf8"));
  assert.equal(written.url, URL_A);
  await rm(path);
  await rm(recordPath(path));
  await remember(URL_A, path, '"v2"');
  assert.deepEqual(await dir.list(), []);
});

test("touch() says false for a file removed since it was looked at", async () => {
  await using dir = await tempDir();
  assert.equal(touch(dir.join("gone"), { size: 0, mtime: 0 }), false);
});

test(
  "isCacheHit() takes a file whose times may not be set (read-only, another user's), leaving them as they were",
  { skip: !CAN_CHATTR && "needs chattr +i (root, on ext4 or alike)" },
  async () => {
    await using dir = await tempDir();
    const path = dir.join("a.bin");
    await writeFile(path, "hello");
    await utimes(path, OLD, OLD);
    // Immutable: setting its times fails (EPERM), even for root.
    execFileSync("chattr", ["+i", path]);
    try {
      assert.equal(isCacheHit(URL_A, path, undefined), true);
      assert.equal((await stat(path)).atime.getTime(), OLD.getTime());
    } finally {
      execFileSync("chattr", ["-i", path]);
    }
  },
);

test("holdsDigest() tells whether a file holds a digest's bytes, and stops with the signal's reason once it is aborted", async () => {
  await using dir = await tempDir();
  const path = dir.join("a.bin");
  await writeFile(path, "hello");
  const expected = {
    algorithm: "sha256",
    digests: [createHash("sha256").update("hello").digest("hex")],
    encoding: "hex",
  } as const;
  assert.equal(await holdsDigest(path, expected), true);
  assert.equal(await holdsDigest(dir.join("none"), expected), false);
  const reason = new Error("canceled");
  await assert.rejects(
    holdsDigest(path, expected, AbortSignal.abort(reason)),
    (error) => error === reason,
  );
});
