import assert from "node:assert/strict";
import {
  chmod,
  lstat,
  lutimes,
  mkdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { basename } from "node:path";
import process from "node:process";
import { test } from "node:test";
import {
  findLeftovers,
  removeLeftoverGroup,
  removeLeftovers,
} from "../../src/_disk/leftovers.ts";
import { FileLock } from "../../src/_disk/lock.ts";
import { Download } from "../../src/download.ts";
import { partialFile, partialPaths } from "../../src/_disk/names.ts";
import type { ProcessIdentity } from "../../src/_disk/process_identity.ts";
import { recordPath } from "../../src/_disk/record.ts";
import { wholeTempName } from "../../src/_disk/whole_file.ts";
import { fs } from "../../src/_runtime/fs.ts";
import { startChild } from "../_helpers/child.ts";
import { assertFileHolds } from "../_helpers/file_bytes.ts";
import { identityOf } from "../_helpers/identity.ts";
import {
  deferred,
  fileRoute,
  patternBytes,
  startServer,
} from "../_helpers/server.ts";
import { type TempDir, tempDir } from "../_helpers/temp_dir.ts";
import { unremovable } from "../_helpers/unremovable.ts";

const NOW = 1_700_000_000_000; // ms, passed as `now`
const HOUR = 60 * 60 * 1000;
const MAX_AGE = HOUR;
const LOCK_STALE_AFTER = 60_000;
const OLD = NOW - 2 * HOUR;
const YOUNG = NOW - 1000;
/** A pid no process has here (above Linux's pid_max). */
const DEAD_PID = 4_194_305;

/** The names (not paths) of `dest`'s partial file, sidecar and lock. */
function names(dest: string): { temp: string; sidecar: string; lock: string } {
  const paths = partialPaths(dest);
  return {
    temp: basename(partialFile(paths, "0123456789abcdef-1")),
    sidecar: basename(paths.sidecar),
    lock: basename(paths.lock),
  };
}

/** Writes `name` in `dir` with mtime (and atime) `mtime` (ms). */
async function put(dir: TempDir, name: string, mtime: number): Promise<void> {
  await writeFile(dir.join(name), "x");
  await utimes(dir.join(name), mtime / 1000, mtime / 1000);
}

/**
 * Writes the lock (or owner file) `name` in `dir`, naming `owner`, with
 * mtime `mtime` (ms): its heartbeat.
 */
async function putOwned(
  dir: TempDir,
  name: string,
  owner: ProcessIdentity & { released?: true },
  mtime: number,
): Promise<void> {
  const token = "0123456789abcdef-0";
  await writeFile(dir.join(name), JSON.stringify({ ...owner, token }));
  await utimes(dir.join(name), mtime / 1000, mtime / 1000);
}

function sweep(dir: TempDir): Promise<string[]> {
  return removeLeftovers(dir.path, MAX_AGE, LOCK_STALE_AFTER, NOW);
}

/**
 * Puts a young lock of `a.zip` naming a process proven dead (and its
 * sidecar, if `sidecar`), and returns what findLeftovers() found: that
 * group, whatever its age, as it guards nothing to resume.
 */
async function foundDeadLock(
  dir: TempDir,
  sidecar = false,
): Promise<{ a: ReturnType<typeof names>; found: Map<string, string[]> }> {
  const a = names("a.zip");
  const parent = identityOf(process.ppid);
  await putOwned(dir, a.lock, { ...parent, pid: DEAD_PID }, YOUNG);
  if (sidecar) await put(dir, a.sidecar, YOUNG);
  const found = await findLeftovers(dir.path, MAX_AGE, LOCK_STALE_AFTER, NOW);
  assert.deepEqual([...found.values()].map((group) => group.sort()), [
    (sidecar ? [a.sidecar, a.lock] : [a.lock]).sort(),
  ]);
  return { a, found };
}

test("removeLeftovers() removes old partial files and sidecars without a lock, returning the names sorted", async () => {
  await using dir = await tempDir();
  const a = names("a.zip");
  const b = names("b.zip");
  const c = names("c.zip");
  await put(dir, b.sidecar, OLD);
  await put(dir, a.temp, OLD);
  await put(dir, c.temp, OLD); // a partial file alone is a leftover too
  await put(dir, b.temp, OLD);
  await put(dir, a.sidecar, OLD);
  const removed = await sweep(dir);
  assert.deepEqual(
    removed,
    [a.temp, a.sidecar, b.temp, b.sidecar, c.temp].sort(),
  );
  assert.deepEqual(await dir.list(), []);
});

test("removeLeftovers() returns nothing for an empty directory", async () => {
  await using dir = await tempDir();
  assert.deepEqual(await sweep(dir), []);
});

test("removeLeftoverGroup() removes nothing, and puts no lock back, when the directory is gone since findLeftovers() looked", async () => {
  await using dir = await tempDir();
  await mkdir(dir.join("m"));
  const a = names("a.zip");
  await writeFile(dir.join("m", a.temp), "x");
  await writeFile(dir.join("m", a.sidecar), "x");
  const found = await findLeftovers(dir.join("m"), 0, LOCK_STALE_AFTER);
  assert.equal(found.size, 1);
  // Removed meanwhile, by hand or by a test's end.
  await rm(dir.join("m"), { recursive: true });
  for (const [group, names] of found) {
    assert.deepEqual(
      await removeLeftoverGroup(
        dir.join("m"),
        group,
        names,
        0,
        LOCK_STALE_AFTER,
      ),
      [],
    );
  }
  assert.deepEqual(await dir.list(), []);
});

test("removeLeftovers() keeps a whole group when any of its files is younger than maxAge", async () => {
  await using dir = await tempDir();
  const a = names("a.zip");
  const b = names("b.zip");
  await put(dir, a.temp, OLD);
  await put(dir, a.sidecar, YOUNG);
  await put(dir, b.temp, YOUNG);
  await put(dir, b.sidecar, OLD);
  assert.deepEqual(await sweep(dir), []);
  assert.deepEqual(
    await dir.list(),
    [a.temp, a.sidecar, b.temp, b.sidecar].sort(),
  );
});

test("removeLeftovers() removes a group exactly maxAge old and keeps one a millisecond younger", async () => {
  await using dir = await tempDir();
  const a = names("a.zip");
  const b = names("b.zip");
  await put(dir, a.temp, NOW - MAX_AGE);
  await put(dir, b.temp, NOW - MAX_AGE + 1);
  assert.deepEqual(await sweep(dir), [a.temp]);
  assert.deepEqual(await dir.list(), [b.temp]);
});

test("removeLeftovers() takes no lock for a group whose files are all gone since its listing (a download that ended meanwhile)", async () => {
  await using dir = await tempDir();
  const a = names("a.zip");
  await put(dir, a.temp, OLD);
  await put(dir, a.sidecar, OLD);
  await put(dir, a.lock, OLD);
  const { readDir, writeNewSync, linkSync } = fs;
  const created: string[] = [];
  fs.readDir = async (at) => {
    const entries = await readDir(at);
    // Listed, then gone: the download they were of ended and cleaned up.
    for (const name of [a.temp, a.sidecar, a.lock]) await rm(dir.join(name));
    return entries;
  };
  fs.writeNewSync = (at, data) => {
    created.push(basename(at));
    writeNewSync(at, data);
  };
  fs.linkSync = (from, to) => {
    created.push(basename(to));
    linkSync(from, to);
  };
  try {
    assert.deepEqual(await sweep(dir), []);
  } finally {
    fs.readDir = readDir;
    fs.writeNewSync = writeNewSync;
    fs.linkSync = linkSync;
  }
  // Not a lock file, nor an owner file, put in the directory for a moment.
  assert.deepEqual(created, []);
  assert.deepEqual(await dir.list(), []);
});

/** A file-system error of `code` (`errno` on Linux), as each runtime's reads. */
function systemError(code: string, errno: number, text: string): Error {
  return Object.assign(new Error(`${text} (os error ${errno}): open`), {
    code,
    errno: -errno,
    syscall: "open",
  });
}

// A manager sweeps as its first downloads start: out of file descriptors
// (Bun, loaded, under `ulimit -n 64`), the sweep failed the manager with
// "Cannot remove what dead processes left … (EMFILE)", beside downloads
// that each said EMFILE themselves.
test("removeLeftovers() out of file descriptors stops without failing, keeping what it did not remove for a later sweep", async () => {
  await using dir = await tempDir();
  const a = names("a.zip");
  const b = names("b.zip");
  for (const name of [a.temp, a.sidecar, b.temp, b.sidecar]) {
    await put(dir, name, OLD);
  }
  const { readDir, writeNewSync, linkSync } = fs;
  const emfile = () => systemError("EMFILE", 24, "Too many open files");
  try {
    // Out of them as it lists the directory.
    fs.readDir = () => Promise.reject(emfile());
    assert.deepEqual(await sweep(dir), []);
    fs.readDir = readDir;
    // Out of them as it takes a group's lock, listed.
    fs.writeNewSync = () => {
      throw emfile();
    };
    fs.linkSync = () => {
      throw emfile();
    };
    assert.deepEqual(await sweep(dir), []);
    // Any other failure fails the sweep, as ever.
    fs.readDir = () =>
      Promise.reject(systemError("EACCES", 13, "Permission denied"));
    await assert.rejects(sweep(dir), /Permission denied/);
  } finally {
    fs.readDir = readDir;
    fs.writeNewSync = writeNewSync;
    fs.linkSync = linkSync;
  }
  assert.deepEqual(
    await dir.list(),
    [a.temp, a.sidecar, b.temp, b.sidecar].sort(),
  );
  assert.deepEqual(
    await sweep(dir),
    [a.temp, a.sidecar, b.temp, b.sidecar].sort(),
  );
  assert.deepEqual(await dir.list(), []);
});

test("removeLeftovers() keeps an old group whose lock is fresh", async () => {
  await using dir = await tempDir();
  const a = names("a.zip");
  const b = names("b.zip");
  await put(dir, a.temp, OLD);
  await put(dir, a.sidecar, OLD);
  await put(dir, a.lock, NOW - 1000);
  // Exactly lockStaleAfter old still counts as fresh.
  await put(dir, b.temp, OLD);
  await put(dir, b.lock, NOW - LOCK_STALE_AFTER);
  assert.deepEqual(await sweep(dir), []);
  assert.deepEqual(
    await dir.list(),
    [a.temp, a.sidecar, a.lock, b.temp, b.lock].sort(),
  );
});

test("removeLeftovers() keeps a group whose lock is stale but younger than maxAge", async () => {
  await using dir = await tempDir();
  const a = names("a.zip");
  await put(dir, a.temp, OLD);
  await put(dir, a.lock, NOW - LOCK_STALE_AFTER - 1);
  // The lock no longer guards the group, but it is itself a young file.
  assert.deepEqual(await sweep(dir), []);
  assert.deepEqual(await dir.list(), [a.temp, a.lock].sort());
});

test("removeLeftovers() removes a stale lock together with its old group", async () => {
  await using dir = await tempDir();
  const a = names("a.zip");
  await put(dir, a.temp, OLD);
  await put(dir, a.sidecar, OLD);
  await put(dir, a.lock, OLD);
  assert.deepEqual(
    await sweep(dir),
    [a.temp, a.sidecar, a.lock].sort(),
  );
  assert.deepEqual(await dir.list(), []);
});

test("removeLeftovers() keeps an old group whose lock names a running process (stopped, say), however old its heartbeat, and removes one whose process is gone", async () => {
  await using dir = await tempDir();
  const running = names("running.zip");
  const gone = names("gone.zip");
  const parent = identityOf(process.ppid);
  const cases: [ReturnType<typeof names>, ProcessIdentity][] = [
    [running, parent],
    [gone, { ...parent, pid: DEAD_PID }],
  ];
  for (const [group, owner] of cases) {
    await put(dir, group.temp, OLD);
    await putOwned(dir, group.lock, owner, OLD);
  }
  assert.deepEqual(await sweep(dir), [gone.temp, gone.lock].sort());
  assert.deepEqual(await dir.list(), [running.temp, running.lock].sort());
});

test("removeLeftovers() keeps an owner file with a fresh heartbeat, even past maxAge, and removes an old one", async () => {
  await using dir = await tempDir();
  const live = ".dlmanager-1.0123456789ab.dlpart.owner";
  const dead = ".dlmanager-7.ba9876543210.dlpart.owner";
  await put(dir, live, NOW - LOCK_STALE_AFTER);
  await put(dir, dead, NOW - LOCK_STALE_AFTER - 1);
  assert.deepEqual(
    await removeLeftovers(dir.path, 0, LOCK_STALE_AFTER, NOW),
    [dead],
  );
  assert.deepEqual(await dir.list(), [live]);
});

test("removeLeftovers() removes an empty owner file however young once its heartbeat is past lockStaleAfter, and keeps one within it and an unreadable one", async () => {
  await using dir = await tempDir();
  // Killed between creating its owner file and writing its identity in:
  // the file names no one, and no lock was linked to it.
  const empty = ".dlmanager-7.ba9876543210.dlpart.owner";
  const emptyFresh = ".dlmanager-8.ba9876543211.dlpart.owner";
  const unreadable = ".dlmanager-9.ba9876543212.dlpart.owner";
  for (
    const [name, text, mtime] of [
      [empty, "", NOW - LOCK_STALE_AFTER - 1],
      [emptyFresh, "", NOW - LOCK_STALE_AFTER],
      [unreadable, "x", NOW - LOCK_STALE_AFTER - 1],
    ] as const
  ) {
    await writeFile(dir.join(name), text);
    await utimes(dir.join(name), mtime / 1000, mtime / 1000);
  }
  assert.deepEqual(await sweep(dir), [empty]);
  assert.deepEqual(await dir.list(), [emptyFresh, unreadable]);
});

test("removeLeftovers() removes at once what a process killed as it made its owner file left, and no one ever finds an empty owner file", async () => {
  await using dir = await tempDir();
  const child = startChild("killed_creating_child", [
    dir.join("a.lock"),
    ".dlpart.owner",
  ]);
  assert.equal(await child.exited, "SIGKILL");
  assert.match(child.lines[0] ?? "", /^created \.dlmanager-/u);
  // Its owner file never appeared: only what was to hold its content.
  const left = await dir.list();
  assert.equal(left.length, 1);
  assert.doesNotMatch(left[0] as string, /\.dlpart\.owner$/u);
  assert.equal((await stat(dir.join(left[0] as string))).size, 0);
  // Named after its process, proven dead: gone at once, not once its
  // mtime is past lockStaleAfter.
  assert.deepEqual(
    await removeLeftovers(dir.path, MAX_AGE, LOCK_STALE_AFTER),
    left,
  );
  assert.deepEqual(await dir.list(), []);
});

test("removeLeftovers() removes a temporary of a whole file naming a process proven dead, or caught empty naming a free pid of this pid space, and keeps a live one's, an empty one of another pid space within lockStaleAfter, and one past it", async () => {
  await using dir = await tempDir();
  const parent = identityOf(process.ppid);
  // This process's pid space's tag, as its own temporaries carry it.
  const tag = basename(wholeTempName(dir.join("x"))).split(".").at(-3);
  const owner = ".dlmanager-7.ba9876543210.dlpart.owner";
  const claim = `${names("a.zip").lock}.takeover`;
  const dead = `${owner}.${DEAD_PID}.${tag}.00000001.new`;
  const live = `${claim}.${process.ppid}.${tag}.00000002.new`;
  const emptyDead = `${claim}.${DEAD_PID}.${tag}.00000003.new`;
  const emptyElsewhere = `${owner}.${DEAD_PID}.p00000000.00000004.new`;
  const emptyElsewhereOld = `${owner}.${DEAD_PID}.p00000000.00000005.new`;
  await putOwned(dir, dead, { ...parent, pid: DEAD_PID }, NOW);
  await putOwned(dir, live, parent, OLD);
  for (
    const [name, mtime] of [
      [emptyDead, NOW],
      [emptyElsewhere, NOW - LOCK_STALE_AFTER],
      [emptyElsewhereOld, NOW - LOCK_STALE_AFTER - 1],
    ] as const
  ) {
    await writeFile(dir.join(name), "");
    await utimes(dir.join(name), mtime / 1000, mtime / 1000);
  }
  assert.deepEqual(
    await sweep(dir),
    [dead, emptyDead, emptyElsewhereOld].sort(),
  );
  assert.deepEqual(await dir.list(), [emptyElsewhere, live].sort());
});

test("removeLeftovers() removes an owner file of a process proven dead however young and fresh its heartbeat, and keeps a running process's however old", async () => {
  await using dir = await tempDir();
  // Killed between two calls (its lock's release and its owner file's
  // removal): no lock is linked to it, and none will be.
  const dead = ".dlmanager-7.ba9876543210.dlpart.owner";
  const running = ".dlmanager-1.0123456789ab.dlpart.owner";
  const parent = identityOf(process.ppid);
  const cases: [string, ProcessIdentity, number][] = [
    [dead, { ...parent, pid: DEAD_PID }, YOUNG],
    [running, parent, OLD],
  ];
  for (const [name, owner, mtime] of cases) {
    await putOwned(dir, name, owner, mtime);
  }
  assert.deepEqual(await sweep(dir), [dead]);
  assert.deepEqual(await dir.list(), [running]);
});

test("removeLeftovers() removes a lock of a process proven dead that guards nothing to resume (alone, or with its sidecar alone, its partial file gone) however young and fresh its heartbeat, and keeps a running process's however old", async () => {
  // Killed between putting its file in place and releasing its lock, or
  // removing its sidecar (which names the partial file renamed).
  for (const sidecar of [false, true]) {
    await using dir = await tempDir();
    const dead = names("dead.zip");
    const running = names("running.zip");
    const group = (of: typeof dead): string[] =>
      sidecar ? [of.sidecar, of.lock].sort() : [of.lock];
    const parent = identityOf(process.ppid);
    await putOwned(dir, dead.lock, { ...parent, pid: DEAD_PID }, YOUNG);
    await putOwned(dir, running.lock, parent, OLD);
    if (sidecar) {
      await put(dir, dead.sidecar, YOUNG);
      await put(dir, running.sidecar, OLD);
    }
    assert.deepEqual(await sweep(dir), group(dead), `sidecar: ${sidecar}`);
    assert.deepEqual(await dir.list(), group(running));
  }
});

test("removeLeftovers() keeps a young group whose lock names a process proven dead, as any young group", async () => {
  await using dir = await tempDir();
  const a = names("a.zip");
  await put(dir, a.temp, YOUNG);
  await put(dir, a.sidecar, YOUNG);
  await putOwned(
    dir,
    a.lock,
    { ...identityOf(process.ppid), pid: DEAD_PID },
    YOUNG,
  );
  assert.deepEqual(await sweep(dir), []);
  assert.deepEqual(await dir.list(), [a.temp, a.sidecar, a.lock].sort());
});

test("removeLeftoverGroup() keeps a lock of a process proven dead found alone (or with its sidecar alone), when a download took it over and left a partial file to be resumed after findLeftovers() looked", async () => {
  for (const sidecar of [false, true]) {
    await using dir = await tempDir();
    const { a, found } = await foundDeadLock(dir, sidecar);
    // Taken over since, and released again, marked for the next download to
    // adopt its partial file (see `FileLock.leave`).
    await put(dir, a.temp, YOUNG);
    await put(dir, a.sidecar, YOUNG);
    await putOwned(dir, a.lock, {
      ...identityOf(process.ppid),
      released: true,
    }, YOUNG);
    assert.deepEqual(await removeFound(dir, found), [], `sidecar: ${sidecar}`);
    assert.deepEqual(await dir.list(), [a.temp, a.sidecar, a.lock].sort());
    const marker = JSON.parse(await readFile(dir.join(a.lock), "utf8"));
    assert.equal(marker.released, true);
  }
});

test("removeLeftoverGroup() removes a partial file no sidecar names that the dead owner of a lock found alone wrote after findLeftovers() looked, rather than leaving it behind a marker", async () => {
  await using dir = await tempDir();
  const { a, found } = await foundDeadLock(dir);
  // Its first chunk's file, put there as it was killed, after the look: of
  // its token, named by no sidecar.
  await put(dir, a.temp, YOUNG);
  assert.deepEqual(await removeFound(dir, found), [a.lock]);
  assert.deepEqual(await dir.list(), []);
});

test("removeLeftoverGroup() keeps, without throwing, a group resumed after findLeftovers() looked whose lock it took over but cannot mark released again (out of file descriptors)", async () => {
  await using dir = await tempDir();
  const a = names("a.zip");
  await put(dir, a.temp, OLD);
  await put(dir, a.sidecar, OLD);
  await putOwned(
    dir,
    a.lock,
    { ...identityOf(process.ppid), pid: DEAD_PID },
    OLD,
  );
  const found = await findLeftovers(dir.path, MAX_AGE, LOCK_STALE_AFTER, NOW);
  assert.deepEqual(
    [...found.values()].map((group) => group.sort()),
    [[a.temp, a.sidecar, a.lock].sort()],
  );
  // Written to since the look: a download resumed the partial file.
  await put(dir, a.temp, Date.now());
  await put(dir, a.sidecar, Date.now());
  const { writeNewSync } = fs;
  const refused: string[] = [];
  // The marker FileLock.leave() writes in the lock's place.
  fs.writeNewSync = (at, data) => {
    const name = basename(at);
    if (!(name.startsWith(`${a.lock}.`) && name.endsWith(".tmp"))) {
      return writeNewSync(at, data);
    }
    refused.push(name);
    throw Object.assign(new Error("EMFILE: too many open files"), {
      code: "EMFILE",
    });
  };
  try {
    assert.deepEqual(await removeFound(dir, found), []);
  } finally {
    fs.writeNewSync = writeNewSync;
  }
  assert.equal(refused.length, 1);
  // The files kept; the lock taken over released, not held on.
  assert.deepEqual(await dir.list(), [a.temp, a.sidecar].sort());
});

test("removeLeftovers() keeps another host's owner file whose heartbeat is within the lockStaleAfter its owner recorded, though past its own", async () => {
  await using dir = await tempDir();
  // Beating every 45 minutes (its lockStaleAfter is 3 hours); the last beat
  // two hours ago.
  const far = ".dlmanager-3.0123456789ab.dlpart.owner";
  const older = ".dlmanager-4.ba9876543210.dlpart.owner";
  const cases: [string, number][] = [[far, 2 * HOUR], [older, 3 * HOUR + 1]];
  for (const [name, age] of cases) {
    const owner = {
      host: "other-host.invalid",
      pid: 1,
      token: "0123456789abcdef-3",
      staleAfter: 3 * HOUR,
    };
    await writeFile(dir.join(name), JSON.stringify(owner));
    await utimes(dir.join(name), (NOW - age) / 1000, (NOW - age) / 1000);
  }
  assert.deepEqual(
    await removeLeftovers(dir.path, 0, LOCK_STALE_AFTER, NOW),
    [older],
  );
  assert.deepEqual(await dir.list(), [far]);
});

test("removeLeftovers() with a maxAge of 0 leaves a held lock and its owner file alone", async () => {
  await using dir = await tempDir();
  const lock = await FileLock.acquire(
    partialPaths(dir.join("a.zip")).lock,
    { staleAfter: LOCK_STALE_AFTER, heartbeat: 1000, poll: 5 },
    { signal: new AbortController().signal },
  );
  try {
    const before = await dir.list();
    assert.equal(before.length, 2);
    assert.deepEqual(
      await removeLeftovers(dir.path, 0, LOCK_STALE_AFTER),
      [],
    );
    assert.deepEqual(await dir.list(), before);
  } finally {
    lock.release();
  }
});

test("removeLeftovers() never touches files without a reserved name", async () => {
  await using dir = await tempDir();
  const others = [
    "a.zip",
    ".hidden",
    "a.zip.dlpart",
    ".a.zip.dlpart", // no hash
    ".a.zip.0123456789AB.dlpart", // hash not lowercase hex
    ".a.zip.0123456789a.dlpart", // 11 hex digits
    ".a.zip.0123456789abc.dlpartx",
  ];
  for (const name of others) await put(dir, name, OLD);
  const a = names("a.zip");
  await put(dir, a.temp, OLD);
  assert.deepEqual(await sweep(dir), [a.temp]);
  assert.deepEqual(await dir.list(), [...others].sort());
});

test("removeLeftovers() groups the files of a destination named a.dlpart correctly", async () => {
  await using dir = await tempDir();
  const a = names("a.dlpart");
  assert.equal(a.temp.split(".dlpart").length - 1, 2);
  // Its fresh lock must be found under the right name: the group is kept.
  await put(dir, a.temp, OLD);
  await put(dir, a.sidecar, OLD);
  await put(dir, a.lock, NOW - 1000);
  assert.deepEqual(await sweep(dir), []);
  assert.deepEqual(await dir.list(), [a.temp, a.sidecar, a.lock].sort());
  // A young sidecar keeps its old partial file.
  await put(dir, a.lock, OLD);
  await put(dir, a.sidecar, YOUNG);
  assert.deepEqual(await sweep(dir), []);
  assert.deepEqual(await dir.list(), [a.temp, a.sidecar, a.lock].sort());
  // All old: all go.
  await put(dir, a.sidecar, OLD);
  assert.deepEqual(await sweep(dir), [a.temp, a.sidecar, a.lock].sort());
  assert.deepEqual(await dir.list(), []);
});

test("removeLeftovers() ignores directories, even with a reserved name", async () => {
  await using dir = await tempDir();
  const a = names("a.zip");
  const d = names("d.zip");
  await put(dir, a.temp, OLD);
  await mkdir(dir.join(a.sidecar)); // in a's group, were it a file
  await mkdir(dir.join(d.temp));
  await writeFile(dir.join(d.temp, "inside"), "x");
  for (const name of [a.sidecar, d.temp]) {
    await utimes(dir.join(name), OLD / 1000, OLD / 1000);
  }
  assert.deepEqual(await sweep(dir), [a.temp]);
  assert.deepEqual(await dir.list(), [a.sidecar, d.temp].sort());
  assert.deepEqual(await dir.list(d.temp), ["inside"]);
});

test("removeLeftovers() groups half-written sidecars and taken-over locks with their partial file", async () => {
  await using dir = await tempDir();
  const a = names("a.zip");
  const b = names("b.zip");
  const aTmp = `${a.sidecar}.1a2b3c4d.tmp`;
  const aStale = `${a.lock}.0123456789abcdef.stale`;
  const bTmp = `${b.sidecar}.ff00.tmp`;
  const bStale = `${b.lock}.fedcba9876543210.stale`;
  // a: all old, no lock: everything goes.
  await put(dir, a.temp, OLD);
  await put(dir, aTmp, OLD);
  await put(dir, aStale, OLD);
  // b: a young temporary keeps the whole group.
  await put(dir, b.temp, OLD);
  await put(dir, b.sidecar, OLD);
  await put(dir, bTmp, YOUNG);
  await put(dir, bStale, OLD);
  assert.deepEqual(await sweep(dir), [a.temp, aTmp, aStale].sort());
  assert.deepEqual(
    await dir.list(),
    [b.temp, b.sidecar, bTmp, bStale].sort(),
  );
});

test("removeLeftovers() keeps old temporaries of a group whose lock is fresh", async () => {
  await using dir = await tempDir();
  const a = names("a.zip");
  const aTmp = `${a.sidecar}.1a2b3c4d.tmp`;
  const aStale = `${a.lock}.0123456789abcdef.stale`;
  await put(dir, aTmp, OLD);
  await put(dir, aStale, OLD);
  await put(dir, a.lock, NOW - 1000);
  assert.deepEqual(await sweep(dir), []);
  assert.deepEqual(await dir.list(), [aTmp, aStale, a.lock].sort());
});

test("removeLeftovers() never removes a downloaded file's record, however old, but removes an old temporary of one", async () => {
  await using dir = await tempDir();
  const record = basename(recordPath("a.zip"));
  const a = names("a.zip");
  await put(dir, "a.zip", OLD);
  await put(dir, record, OLD);
  await put(dir, `${record}.1a2b.tmp`, OLD);
  await put(dir, a.temp, OLD);
  assert.deepEqual(await sweep(dir), [a.temp, `${record}.1a2b.tmp`].sort());
  assert.deepEqual(await dir.list(), ["a.zip", record].sort());
});

test("removeLeftovers() removes an old record whose file is gone (removed by hand, or evicted by another process while this one renewed it), as a leftover of its group", async () => {
  await using dir = await tempDir();
  // Longer than the 64 bytes a reserved name keeps of it.
  const long = `${"l".repeat(70)}.tar.gz`;
  const longer = `${"l".repeat(70)}.tgz`;
  const record = (name: string) => basename(recordPath(name));
  const fresh = names("fresh.zip");
  await put(dir, "kept.zip", OLD);
  await put(dir, record("kept.zip"), OLD); // its file is there: it stays
  await put(dir, long, OLD);
  await put(dir, record(long), OLD); // there too, under a cut name
  await put(dir, record(longer), OLD); // its file is gone
  await put(dir, record("gone.zip"), OLD);
  await put(dir, record("young.zip"), YOUNG); // gone, but not for long
  await put(dir, record("fresh.zip"), OLD); // gone, with a download under way
  await put(dir, fresh.lock, NOW - 1000);
  assert.deepEqual(
    await sweep(dir),
    [record("gone.zip"), record(longer)].sort(),
  );
  assert.deepEqual(
    await dir.list(),
    [
      "kept.zip",
      record("kept.zip"),
      long,
      record(long),
      record("young.zip"),
      record("fresh.zip"),
      fresh.lock,
    ].sort(),
  );
});

test("removeLeftovers() skips a leftover it may not remove (another user's, in a shared cache), and removes the others", async (t) => {
  await using dir = await tempDir();
  const a = names("a.zip");
  const b = names("b.zip");
  await put(dir, a.temp, OLD);
  await put(dir, b.temp, OLD);
  await put(dir, b.sidecar, OLD);
  const refused = await unremovable(dir.join(a.temp));
  if (refused === undefined) {
    t.skip("no way to make a file this process may not remove");
    return;
  }
  try {
    if (refused.only) {
      assert.deepEqual(await sweep(dir), [b.temp, b.sidecar].sort());
      assert.deepEqual(await dir.list(), [a.temp]);
    } else {
      // The whole directory is read-only: none may go, and none fails it.
      assert.deepEqual(await sweep(dir), []);
      assert.deepEqual(await dir.list(), [a.temp, b.temp, b.sidecar].sort());
    }
  } finally {
    await refused.undo();
  }
});

test("removeLeftovers() keeps a group whose lock it may not read (another user's, in a shared cache, under a umask of 077)", async (t) => {
  await using dir = await tempDir();
  const a = names("a.zip");
  const b = names("b.zip");
  await put(dir, a.temp, OLD);
  await put(dir, a.lock, OLD);
  await put(dir, b.temp, OLD);
  await chmod(dir.join(a.lock), 0o000);
  try {
    await readFile(dir.join(a.lock));
    t.skip("this process reads any file (root)");
    return;
  } catch {
    // Unreadable, as another user's lock is.
  }
  try {
    assert.deepEqual(await sweep(dir), [b.temp]);
    assert.deepEqual(await dir.list(), [a.temp, a.lock].sort());
  } finally {
    await chmod(dir.join(a.lock), 0o644);
  }
});

test("removeLeftovers() never follows a symbolic link under a reserved name: it leaves the link and its target, and a link in a lock's place beats as the link", async () => {
  await using dir = await tempDir();
  await using elsewhere = await tempDir();
  const a = names("a.zip");
  await put(dir, a.temp, OLD);
  // Links, old themselves, to files elsewhere whose times are fresh.
  for (const [name, target] of [[a.sidecar, "data"], [a.lock, "beat"]]) {
    await writeFile(elsewhere.join(target as string), "precious");
    await symlink(elsewhere.join(target as string), dir.join(name as string));
    await lutimes(dir.join(name as string), OLD / 1000, OLD / 1000);
  }
  assert.deepEqual(await sweep(dir), [a.temp]);
  assert.deepEqual(await dir.list(), [a.sidecar, a.lock].sort());
  assert.equal((await lstat(dir.join(a.sidecar))).isSymbolicLink(), true);
  assert.deepEqual(await elsewhere.list(), ["beat", "data"]);
  assert.equal(await readFile(elsewhere.join("data"), "utf8"), "precious");
});

/**
 * Removes what {@linkcode findLeftovers} found, found in `dir` earlier
 * (`found`), as {@linkcode removeLeftovers} would: the seam between the
 * look and the removal, where another process may take a group over.
 */
async function removeFound(
  dir: TempDir,
  found: Map<string, string[]>,
): Promise<string[]> {
  const removed: string[] = [];
  for (const [group, names] of found) {
    removed.push(
      ...await removeLeftoverGroup(
        dir.path,
        group,
        names,
        MAX_AGE,
        LOCK_STALE_AFTER,
      ),
    );
  }
  return removed;
}

/** Sets the times of every file in `dir` to two hours ago. */
async function ageAll(dir: TempDir): Promise<void> {
  const old = (Date.now() - 2 * HOUR) / 1000;
  for (const name of await dir.list()) await utimes(dir.join(name), old, old);
}

test(
  "removeLeftoverGroup() leaves a killed process's partial file that another process took over after findLeftovers() looked, and that process resumes it to the end",
  {
    timeout: 60_000,
  },
  async () => {
    const body = patternBytes(200_000);
    const victimCut = deferred();
    const asked = deferred();
    const answer = deferred();
    const { route, log } = fileRoute({
      body,
      etag: '"kill"',
      faults: [{ stallAfter: 50_000, release: victimCut.promise }],
      // The survivor's request: sent once it took the lock over and adopted
      // the partial file, and answered once the cleanup is done.
      faultFor: () => {
        asked.resolve();
        return { answerAfter: answer.promise };
      },
    });
    await using server = await startServer({ "/f": route });
    await using dir = await tempDir();
    const victim = startChild("manager_child", [server.url("/f"), dir.path]);
    // 49,152 bytes written (12 writes of 4 KiB): all it can of the 50,000 sent.
    await victim.line((line) => line === "progress 49152");
    victim.process.kill("SIGKILL");
    assert.equal(await victim.exited, "SIGKILL");
    victimCut.resolve();
    // Left two hours ago: older than the cleanup's maxAge, not than the
    // survivor's own (a day).
    await ageAll(dir);
    const paths = partialPaths(dir.join("f"));
    const found = await findLeftovers(dir.path, MAX_AGE, LOCK_STALE_AFTER);
    assert.ok(
      found.get(basename(paths.base))?.includes(basename(paths.lock)),
      `found: ${JSON.stringify([...found])}`,
    );
    const survivor = startChild("manager_child", [server.url("/f"), dir.path]);
    await asked.promise;
    const removed = await removeFound(dir, found);
    answer.resolve();
    assert.equal(await survivor.exited, 0, survivor.lines.at(-1));
    assert.equal(survivor.lines.at(-1), "done");
    // Not from the start again: the bytes it adopted were still there.
    assert.deepEqual(log.ranges, [null, "bytes=49152-"]);
    // Its lock, sidecar and partial file, all the download's now.
    assert.deepEqual(removed, []);
    await assertFileHolds(dir.join("f"), body);
    assert.deepEqual(await dir.list(), ["f"]);
  },
);

test("removeLeftoverGroup() leaves a partial file resumed and kept again after findLeftovers() looked, for the next download to resume", async () => {
  const body = patternBytes(200_000);
  const cuts = [deferred(), deferred()];
  const { route, log } = fileRoute({
    body,
    etag: '"kept"',
    // 49,152 bytes written of each answer's 50,000 (12 writes of 4 KiB).
    faults: cuts.map((cut) => ({ stallAfter: 50_000, release: cut.promise })),
  });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const url = server.url("/f");
  const keepAt = async (bytes: number): Promise<void> => {
    const download = new Download(url, dir.join("f"), {
      chunkSize: 4096,
      progress: (download, current) => {
        if (current >= bytes) download.cancel({ keepPartial: true });
      },
    });
    download.start();
    await download.wait({ raiseIfError: false });
    assert.equal(download.partialKept, true);
  };
  await keepAt(49_152);
  cuts[0]?.resolve();
  await ageAll(dir);
  const found = await findLeftovers(dir.path, MAX_AGE, LOCK_STALE_AFTER);
  assert.equal(found.size, 1);
  // Resumed, and kept again, since the look: the files are young now.
  await keepAt(98_304);
  cuts[1]?.resolve();
  assert.deepEqual(await removeFound(dir, found), []);
  const last = new Download(url, dir.join("f"));
  last.start();
  await last.wait();
  assert.deepEqual(log.ranges, [null, "bytes=49152-", "bytes=98304-"]);
  await assertFileHolds(dir.join("f"), body);
  assert.deepEqual(await dir.list(), ["f"]);
});

test('removeLeftovers() has a download in this process of a file whose leftovers it is removing wait for it, without polling and without reporting "waiting"', async () => {
  const body = patternBytes(10_000);
  const { route } = fileRoute({ body });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const { temp, lock } = names(dir.join("f"));
  const old = Date.now() - 2 * HOUR;
  await put(dir, temp, old);
  await writeFile(
    dir.join(lock),
    JSON.stringify({
      ...identityOf(process.pid),
      pid: DEAD_PID,
      token: "dead",
    }),
  );
  await utimes(dir.join(lock), old / 1000, old / 1000);
  const underLock = deferred();
  const gate = deferred();
  const refused = deferred();
  const { lstat: realLstat, linkSync } = fs;
  let looks = 0;
  // The cleanup's second look at the partial file is under the lock.
  fs.lstat = async (path) => {
    if (path === dir.join(temp) && ++looks === 2) {
      underLock.resolve();
      await gate.promise;
    }
    return await realLstat(path);
  };
  // The download's try at the lock the cleanup holds.
  fs.linkSync = (existing, path) => {
    try {
      linkSync(existing, path);
    } catch (error) {
      if (path === dir.join(lock)) refused.resolve();
      throw error;
    }
  };
  try {
    const cleanup = removeLeftovers(dir.path, MAX_AGE, LOCK_STALE_AFTER);
    await underLock.promise;
    const states: string[] = [];
    const download = new Download(server.url("/f"), dir.join("f"), {
      onStateChange: (_download, state) => states.push(state),
    });
    download.start();
    await refused.promise;
    // What the refusal set off, before the cleanup goes on.
    await new Promise((resolve) => setTimeout(resolve, 0));
    gate.resolve();
    assert.deepEqual(await cleanup, [lock, temp].sort());
    await download.wait();
    assert.ok(!states.includes("waiting"), `states: ${states}`);
    await assertFileHolds(dir.join("f"), body);
    assert.deepEqual(await dir.list(), ["f"]);
  } finally {
    gate.resolve();
    fs.lstat = realLstat;
    fs.linkSync = linkSync;
  }
});
