import assert from "node:assert/strict";
import {
  link,
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
import { hostname } from "node:os";
import { basename } from "node:path";
import process from "node:process";
import { test } from "node:test";
import {
  FileLock,
  holdsLock,
  isLockHeld,
  type LockTiming,
  type Owner,
} from "../../src/_disk/lock.ts";
import { InTheWayError } from "../../src/_disk/file_system_failure.ts";
import { thisProcess } from "../../src/_disk/process_identity.ts";
import { fs } from "../../src/_runtime/fs.ts";
import { startChild } from "../_helpers/child.ts";
import { deferred, startServer } from "../_helpers/server.ts";
import { remountReadOnly, remountWritable, tmpfs } from "../_helpers/mount.ts";
import { identityOf } from "../_helpers/identity.ts";
import { type TempDir, tempDir } from "../_helpers/temp_dir.ts";

const LOCK = "x.lock";
/** Waiters look often; nothing goes stale on its own during a test. */
const WAIT: LockTiming = { staleAfter: 60_000, heartbeat: 1000, poll: 5 };
/** A waiter that would only look again after a minute: it must act at once. */
const NO_POLL: LockTiming = {
  staleAfter: 60_000,
  heartbeat: 1000,
  poll: 60_000,
};

const never = (): AbortSignal => new AbortController().signal;

/** The name of a process's owner file, which its locks link to. */
const OWNER = /^\.dlmanager-[0-9a-f]+\.[0-9a-f]{12}\.dlpart\.owner$/u;

/** The sorted names in `dir` (or in `sub`), an owner file's as "<owner>". */
async function names(dir: TempDir, sub?: string): Promise<string[]> {
  return (await dir.list(sub)).map((name) =>
    OWNER.test(name) ? "<owner>" : name
  ).sort();
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, "utf8"));
}

/**
 * Sets `path`'s mtime an hour back and asserts that a heartbeat moves it
 * forward. The heartbeat is a timer, so observing it takes a timer: stat every
 * 10 ms until the mtime moves, giving up after 10 s (500 heartbeats of 20 ms:
 * only a heartbeat that never comes takes that long).
 */
async function assertHeartbeat(path: string): Promise<void> {
  const old = new Date(Date.now() - 60 * 60 * 1000);
  await utimes(path, old, old);
  const deadline = Date.now() + 10_000;
  let mtime = (await stat(path)).mtimeMs;
  while (mtime <= old.getTime() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    mtime = (await stat(path)).mtimeMs;
  }
  assert.ok(
    mtime > old.getTime() + 59 * 60 * 1000,
    `mtime ${mtime} did not move forward from ${old.getTime()}`,
  );
}

/** Writes a lock file as another owner would, its mtime `ageMs` in the past. */
async function foreignLock(
  path: string,
  owner: {
    host?: string | undefined;
    pid: number;
    token: string;
    staleAfter?: number | undefined;
  },
  ageMs = 0,
): Promise<void> {
  await writeFile(path, JSON.stringify(owner));
  const when = new Date(Date.now() - ageMs);
  await utimes(path, when, when);
}

test("FileLock.acquire() links the lock to this process's owner file, holding host, pid, token and staleAfter, and release() removes both", async () => {
  await using dir = await tempDir();
  const lock = await FileLock.acquire(dir.join(LOCK), WAIT, {
    signal: never(),
  });
  try {
    const owner = await readJson(dir.join(LOCK));
    // This process's identity (host, pid, and where the runtime may read
    // them, boot, pid namespace and start time), the lock's token, and the
    // staleAfter its heartbeat keeps within, for another process's judge.
    assert.deepEqual(
      Object.keys(owner).sort(),
      Object.keys(JSON.parse(JSON.stringify(thisProcess())))
        .concat("staleAfter", "token").sort(),
    );
    assert.equal(owner.staleAfter, WAIT.staleAfter);
    assert.equal(owner.host, hostname());
    assert.equal(owner.pid, process.pid);
    assert.match(owner.token as string, /^[0-9a-f]{16}-[0-9a-f]+$/u);
    assert.deepEqual(await names(dir), ["<owner>", LOCK]);
    const ownerFile = (await dir.list()).find((name) => OWNER.test(name));
    assert.deepEqual(await readJson(dir.join(ownerFile as string)), owner);
    assert.equal((await stat(dir.join(LOCK))).nlink, 2);
  } finally {
    lock.release();
  }
  assert.deepEqual(await dir.list(), []);
});

test("FileLock.acquire() links every lock of this process in a directory to one owner file, removed with the last", async () => {
  await using dir = await tempDir();
  const first = await FileLock.acquire(dir.join("a.lock"), WAIT, {
    signal: never(),
  });
  const second = await FileLock.acquire(dir.join("b.lock"), WAIT, {
    signal: never(),
  });
  try {
    assert.deepEqual(await names(dir), ["<owner>", "a.lock", "b.lock"]);
    assert.equal((await stat(dir.join("a.lock"))).nlink, 3);
    assert.deepEqual(
      await readJson(dir.join("a.lock")),
      await readJson(dir.join("b.lock")),
    );
    first.release();
    assert.deepEqual(await names(dir), ["<owner>", "b.lock"]);
  } finally {
    first.release();
    second.release();
  }
  assert.deepEqual(await dir.list(), []);
});

test("FileLock.acquire() makes the lock a file of its own, with its own heartbeat, where the owner file's name is taken", async () => {
  await using dir = await tempDir();
  // Owner files are numbered by the token they hold: the next one's name
  // follows the last one's.
  const probe = await FileLock.acquire(dir.join(LOCK), WAIT, {
    signal: never(),
  });
  const [, serial, random] = /^\.dlmanager-([0-9a-f]+)\.([0-9a-f]{12})\./u
    .exec((await dir.list())[0] as string) as unknown as [
      string,
      string,
      string,
    ];
  probe.release();
  const next = `.dlmanager-${
    (parseInt(serial, 16) + 1).toString(16)
  }.${random}.dlpart.owner`;
  await mkdir(dir.join(next));
  const lock = await FileLock.acquire(
    dir.join(LOCK),
    { ...WAIT, heartbeat: 20 },
    { signal: never() },
  );
  try {
    assert.deepEqual(await dir.list(), [next, LOCK]);
    assert.equal((await stat(dir.join(LOCK))).nlink, 1);
    const owner = await readJson(dir.join(LOCK));
    assert.equal(owner.pid, process.pid);
    assert.match(owner.token as string, /^[0-9a-f]{16}-[0-9a-f]+$/u);
    // Its heartbeat moves its own mtime forward.
    await assertHeartbeat(dir.join(LOCK));
  } finally {
    lock.release();
  }
  assert.deepEqual(await dir.list(), [next]);
});

test("FileLock.acquire() gives each holder a different token", async () => {
  await using dir = await tempDir();
  const first = await FileLock.acquire(dir.join(LOCK), WAIT, {
    signal: never(),
  });
  const firstToken = (await readJson(dir.join(LOCK))).token;
  first.release();
  const second = await FileLock.acquire(dir.join(LOCK), WAIT, {
    signal: never(),
  });
  try {
    assert.notEqual((await readJson(dir.join(LOCK))).token, firstToken);
  } finally {
    second.release();
  }
});

test("FileLock.acquire() waits while the lock is held and succeeds right after release()", async () => {
  await using dir = await tempDir();
  const events: string[] = [];
  const first = await FileLock.acquire(dir.join(LOCK), WAIT, {
    signal: never(),
  });
  const firstToken = (await readJson(dir.join(LOCK))).token;
  let second: FileLock | undefined;
  const secondAcquired = FileLock.acquire(dir.join(LOCK), WAIT, {
    signal: never(),
  }).then(
    (lock) => {
      events.push("second acquired");
      second = lock;
    },
  );
  try {
    // Not a wait for some state: a window of ~10 polls (poll is 5 ms) in
    // which a broken waiter would wrongly take the held lock. The proof is
    // the order of events below, and the file still being the first's.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(await readJson(dir.join(LOCK)), {
      ...JSON.parse(JSON.stringify(thisProcess())),
      token: firstToken,
      staleAfter: WAIT.staleAfter,
    });
    events.push("first releasing");
    first.release();
    events.push("first released");
    await secondAcquired;
    assert.deepEqual(events, [
      "first releasing",
      "first released",
      "second acquired",
    ]);
    const owner = await readJson(dir.join(LOCK));
    assert.equal(owner.pid, process.pid);
    assert.notEqual(owner.token, firstToken);
    assert.deepEqual(await names(dir), ["<owner>", LOCK]);
  } finally {
    first.release();
    await secondAcquired;
    second?.release();
  }
  assert.deepEqual(await dir.list(), []);
});

test("FileLock.acquire() takes over at once a lock whose pid is dead on this host", async () => {
  await using dir = await tempDir();
  await foreignLock(dir.join(LOCK), {
    host: hostname(),
    pid: 4_000_000,
    token: "dead",
  });
  // poll is a minute: only an immediate take-over beats the 5 s timeout.
  const lock = await FileLock.acquire(
    dir.join(LOCK),
    NO_POLL,
    { signal: AbortSignal.timeout(5000) },
  );
  try {
    const owner = await readJson(dir.join(LOCK));
    assert.equal(owner.pid, process.pid);
    assert.notEqual(owner.token, "dead");
    // The moved-away ".stale" copy is gone too.
    assert.deepEqual(await names(dir), ["<owner>", LOCK]);
  } finally {
    lock.release();
  }
  assert.deepEqual(await dir.list(), []);
});

test("FileLock.acquire() removes the owner file a dead owner's lock linked to, when it takes the lock over", async () => {
  await using dir = await tempDir();
  const deadOwner = ".dlmanager-3.aaaaaaaaaaaa.dlpart.owner";
  await foreignLock(dir.join(deadOwner), {
    host: hostname(),
    pid: 4_000_000,
    token: "aaaaaaaaaaaaaaaa-3",
  });
  await link(dir.join(deadOwner), dir.join(LOCK));
  await link(dir.join(deadOwner), dir.join("other.lock"));
  const lock = await FileLock.acquire(
    dir.join(LOCK),
    NO_POLL,
    { signal: AbortSignal.timeout(5000) },
  );
  try {
    assert.equal((await readJson(dir.join(LOCK))).pid, process.pid);
    // The dead owner's other lock still says whose it was.
    assert.deepEqual(await names(dir), ["<owner>", "other.lock", LOCK]);
    assert.equal(
      (await readJson(dir.join("other.lock"))).token,
      "aaaaaaaaaaaaaaaa-3",
    );
  } finally {
    lock.release();
  }
});

test("FileLock.acquire() leaves a dead owner's lock name free at no turn of the event loop while it takes the lock over, so no other process takes and lets go of it meanwhile", async () => {
  await using dir = await tempDir();
  const path = dir.join(LOCK);
  const deadOwner = ".dlmanager-3.aaaaaaaaaaaa.dlpart.owner";
  await foreignLock(dir.join(deadOwner), {
    host: hostname(),
    pid: 4_000_000,
    token: "aaaaaaaaaaaaaaaa-3",
  });
  await link(dir.join(deadOwner), path);
  // Another process acts while this one awaits the file system: whenever
  // the lock's name is free then, it takes the lock as free, downloads the
  // file and lets the lock go, all before this one takes the name.
  const freeAt: string[] = [];
  const original = { ...fs };
  type Async = Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const method of ["lstat", "stat", "rename", "remove", "readDir"]) {
    const call = (original as unknown as Async)[method] as Async[string];
    (fs as unknown as Async)[method] = async (...args) => {
      const result = await call(...args);
      if (original.lstatSync(path) === undefined) {
        freeAt.push(`${method} ${basename(String(args[0]))}`);
        original.writeNewSync(path, new TextEncoder().encode("{}"));
        original.removeSync(path);
      }
      return result;
    };
  }
  let lock: FileLock;
  try {
    lock = await FileLock.acquire(path, NO_POLL, {
      signal: AbortSignal.timeout(5000),
    });
  } finally {
    Object.assign(fs, original);
  }
  try {
    assert.deepEqual(freeAt, []);
    assert.equal(lock.takenOver?.state, "dead");
    assert.equal(lock.takenOver?.owner?.token, "aaaaaaaaaaaaaaaa-3");
    assert.equal((await readJson(path)).pid, process.pid);
    assert.deepEqual(await names(dir), ["<owner>", LOCK]);
  } finally {
    lock.release();
  }
});

test("FileLock.acquire() takes over another host's lock whose mtime is older than staleAfter", async () => {
  await using dir = await tempDir();
  await foreignLock(
    dir.join(LOCK),
    { host: "other-host.invalid", pid: process.pid, token: "foreign" },
    60 * 60 * 1000,
  );
  const lock = await FileLock.acquire(
    dir.join(LOCK),
    { ...NO_POLL, staleAfter: 1000 },
    { signal: AbortSignal.timeout(5000) },
  );
  try {
    const owner = await readJson(dir.join(LOCK));
    assert.equal(owner.host, hostname());
    assert.notEqual(owner.token, "foreign");
    assert.deepEqual(await names(dir), ["<owner>", LOCK]);
  } finally {
    lock.release();
  }
});

test("FileLock.acquire() does not take over another host's lock with a fresh mtime, and rejects with the abort reason", async () => {
  await using dir = await tempDir();
  await foreignLock(dir.join(LOCK), {
    host: "other-host.invalid",
    pid: 4_000_000, // dead here, but on another host the pid says nothing
    token: "foreign",
  });
  const before = await readFile(dir.join(LOCK));
  const mtimeBefore = (await stat(dir.join(LOCK))).mtimeMs;
  // Aborts after ~20 polls (poll is 5 ms) of a fresh lock.
  const signal = AbortSignal.timeout(100);
  await assert.rejects(
    FileLock.acquire(dir.join(LOCK), WAIT, { signal }),
    (error) => error === signal.reason,
  );
  assert.ok(signal.aborted);
  assert.deepEqual(await readFile(dir.join(LOCK)), before);
  assert.equal((await stat(dir.join(LOCK))).mtimeMs, mtimeBefore);
  assert.deepEqual(await dir.list(), [LOCK]);
});

test("FileLock.acquire() judges another host's lock by the staleAfter its owner recorded, when longer than its own", async () => {
  await using dir = await tempDir();
  // Its owner beats every 15 s; its last beat was 30 s ago.
  const owner = {
    host: "other-host.invalid",
    pid: 1,
    token: "far",
    staleAfter: 60_000,
  };
  await foreignLock(dir.join(LOCK), owner, 30_000);
  await assert.rejects(
    FileLock.acquire(dir.join(LOCK), { ...NO_POLL, staleAfter: 1000 }, {
      signal: never(),
      waitTimeout: 0,
      timeoutError: (holder) => holder,
    }),
    (holder) => (holder as Owner | undefined)?.token === "far",
  );
  assert.equal((await readJson(dir.join(LOCK))).token, "far");
  // Past its own minute, it is taken over.
  await foreignLock(dir.join(LOCK), owner, 61_000);
  const lock = await FileLock.acquire(
    dir.join(LOCK),
    { ...NO_POLL, staleAfter: 1000 },
    { signal: AbortSignal.timeout(5000) },
  );
  assert.equal(lock.takenOver?.owner?.staleAfter, 60_000);
  lock.release();
});

test("FileLock heartbeat moves the holder's lock mtime forward", async () => {
  await using dir = await tempDir();
  const lock = await FileLock.acquire(
    dir.join(LOCK),
    { ...WAIT, heartbeat: 20 },
    { signal: never() },
  );
  try {
    await assertHeartbeat(dir.join(LOCK));
  } finally {
    lock.release();
  }
});

test("FileLock heartbeat keeps a waiter in another process with a short staleAfter from taking over", async () => {
  await using dir = await tempDir();
  const holder = await FileLock.acquire(
    dir.join(LOCK),
    { ...WAIT, heartbeat: 20 },
    { signal: never() },
  );
  try {
    const token = (await readJson(dir.join(LOCK))).token;
    // Without heartbeats the lock would be stale after 200 ms (see the next
    // test): by 600 ms the waiter would have taken it over.
    const waiter = startChild("lock_child", [dir.join(LOCK), "200", "600"]);
    assert.equal(
      await waiter.line((line) => line === "timeout" || /^acq/u.test(line)),
      "timeout",
    );
    assert.equal(await waiter.exited, 0);
    assert.equal((await readJson(dir.join(LOCK))).token, token);
  } finally {
    holder.release();
  }
  assert.deepEqual(await dir.list(), []);
});

test("FileLock.acquire() in another process never takes over a live holder's lock, however old its heartbeat, and reports whom it waits for", async () => {
  await using dir = await tempDir();
  // Heartbeat of a minute: the holder never touches its lock in this test,
  // as a process stopped with Ctrl-Z (SIGSTOP) would not.
  const holder = await FileLock.acquire(
    dir.join(LOCK),
    { ...WAIT, heartbeat: 60_000 },
    { signal: never() },
  );
  try {
    const holderToken = (await readJson(dir.join(LOCK))).token;
    // Stale from the waiter's first look: an hour against 200 ms.
    const old = new Date(Date.now() - 60 * 60 * 1000);
    await utimes(dir.join(LOCK), old, old);
    const waiter = startChild("lock_child", [dir.join(LOCK), "200", "1000"]);
    // It judged the lock (stale, its owner alive) and chose to wait for it.
    assert.equal(
      await waiter.line(() => true),
      `waiting ${process.pid}`,
    );
    assert.equal(
      await waiter.line((line) => line === "timeout" || /^acq/u.test(line)),
      "timeout",
    );
    assert.equal(await waiter.exited, 0);
    assert.equal((await readJson(dir.join(LOCK))).token, holderToken);
    assert.deepEqual(await names(dir), ["<owner>", LOCK]);
  } finally {
    holder.release();
  }
  assert.deepEqual(await dir.list(), []);
});

test("FileLock.acquire() in another process leaves alone a lock taken since it judged the one there stale, so no third process finds the lock free", async () => {
  await using dir = await tempDir();
  const path = dir.join(LOCK);
  await foreignLock(
    path,
    { host: "other-host.invalid", pid: process.pid, token: "foreign" },
    60 * 60 * 1000,
  );
  const gates = { judged: deferred(), moved: deferred() };
  await using server = await startServer({
    "/gate": async (request, response) => {
      const step = new URL(request.url ?? "", "http://x").searchParams
        .get("step") as keyof typeof gates;
      await gates[step].promise;
      response.end();
    },
  });
  // It judges the foreign lock stale, and stops before taking it over.
  const racer = startChild("gated_lock_child", [path, server.url("/gate")]);
  let third: ReturnType<typeof startChild> | undefined;
  try {
    await racer.line((line) => line === "judged");
    // This process takes the stale lock over first: the lock there is now
    // this process's, which the racer's judgement was not of.
    const lock = await FileLock.acquire(
      path,
      { ...NO_POLL, staleAfter: 1000 },
      { signal: AbortSignal.timeout(5000) },
    );
    try {
      gates.judged.resolve();
      // Moving this lock away (to put it back once it proved not the one
      // judged) would leave its name free meanwhile.
      await racer.line((line) => line === "moved" || /^wait/u.test(line));
      third = startChild("lock_child", [path, "60000", "30000"]);
      const seen = await third.line((line) => /^(wait|acq)/u.test(line));
      gates.moved.resolve();
      assert.equal(seen, `waiting ${process.pid}`);
      assert.equal(
        await racer.line((line) => /^(wait|acq)/u.test(line)),
        `waiting ${process.pid}`,
      );
      assert.ok(lock.isHeld());
    } finally {
      lock.release();
    }
  } finally {
    gates.judged.resolve();
    gates.moved.resolve();
    for (const child of [racer, third]) {
      child?.process.kill();
      await child?.exited;
    }
  }
});

test("FileLock.acquire() never takes over a lock this process holds, however old its heartbeat", async () => {
  await using dir = await tempDir();
  const holder = await FileLock.acquire(
    dir.join(LOCK),
    { ...WAIT, heartbeat: 60_000 },
    { signal: never() },
  );
  try {
    const token = (await readJson(dir.join(LOCK))).token;
    const old = new Date(Date.now() - 60 * 60 * 1000);
    await utimes(dir.join(LOCK), old, old);
    // An hour old against a staleAfter of 200 ms: another process would take
    // it over at its first look.
    const signal = AbortSignal.timeout(300);
    await assert.rejects(
      FileLock.acquire(dir.join(LOCK), { ...WAIT, staleAfter: 200 }, {
        signal,
      }),
      (error) => error === signal.reason,
    );
    assert.equal((await readJson(dir.join(LOCK))).token, token);
  } finally {
    holder.release();
  }
  assert.deepEqual(await dir.list(), []);
});

test("FileLock.release() does not remove a lock whose token is no longer ours", async () => {
  await using dir = await tempDir();
  const lock = await FileLock.acquire(dir.join(LOCK), WAIT, {
    signal: never(),
  });
  const other = JSON.stringify({
    host: hostname(),
    pid: process.pid,
    token: "someone-else",
  });
  // As a process that judged it stale would: moved away, its own put there.
  await rm(dir.join(LOCK));
  await writeFile(dir.join(LOCK), other);
  lock.release();
  assert.equal(await readFile(dir.join(LOCK), "utf8"), other);
  assert.deepEqual(await dir.list(), [LOCK]);
});

test("FileLock.isHeld() is false once a process that judged it stale removed its owner file and put its own lock there", async () => {
  await using dir = await tempDir();
  const lock = await FileLock.acquire(dir.join(LOCK), WAIT, {
    signal: never(),
  });
  const owner = (await dir.list()).find((name) => OWNER.test(name));
  assert.ok(owner !== undefined);
  assert.equal(lock.isHeld(), true);
  const other = JSON.stringify({
    host: hostname(),
    pid: process.pid,
    token: "someone-else",
  });
  // Every name of the owner file gone, then a new file in the lock's place:
  // a file system may give it the inode the owner file had.
  await rm(dir.join(LOCK));
  await rm(dir.join(owner));
  await writeFile(dir.join(LOCK), other);
  assert.equal(lock.isHeld(), false);
  lock.release();
  assert.equal(await readFile(dir.join(LOCK), "utf8"), other);
  assert.deepEqual(await dir.list(), [LOCK]);
});

test("FileLock.release() lets another process take the lock once a directory that refused its removal takes changes again, though this process does nothing more", async (t) => {
  await using dir = await tempDir();
  await using cache = await tmpfs(dir.join("m"));
  if (cache === undefined) {
    t.skip("needs root, to mount a tmpfs");
    return;
  }
  const path = dir.join("m", LOCK);
  const lock = await FileLock.acquire(path, { ...WAIT, heartbeat: 20 }, {
    signal: never(),
  });
  const token = (await readJson(path)).token;
  assert.ok(remountReadOnly(cache.path), "remount,ro failed");
  lock.release();
  // Refused: still there, naming this process, alive.
  assert.equal((await readJson(path)).token, token);
  assert.equal(lock.isHeld(), false);
  assert.ok(remountWritable(cache.path), "remount,rw failed");
  // Without the removal retried, it would wait for this process to exit.
  const waiter = startChild("lock_child", [path, "60000", "20000"]);
  try {
    const line = await waiter.line((line) =>
      line === "timeout" || line.startsWith("acquired ")
    );
    assert.match(line, /^acquired /u);
    assert.notEqual(line, `acquired ${token}`);
  } finally {
    waiter.process.kill();
    await waiter.exited;
  }
});

test("FileLock.acquire() takes at once a lock this process let go of where its removal was refused, while another lock of this process linked to the same owner file is held", async (t) => {
  await using dir = await tempDir();
  await using cache = await tmpfs(dir.join("m"));
  if (cache === undefined) {
    t.skip("needs root, to mount a tmpfs");
    return;
  }
  const first = await FileLock.acquire(dir.join("m", "a.lock"), WAIT, {
    signal: never(),
  });
  const second = await FileLock.acquire(dir.join("m", "b.lock"), WAIT, {
    signal: never(),
  });
  try {
    assert.ok(remountReadOnly(cache.path), "remount,ro failed");
    first.release();
    assert.ok(remountWritable(cache.path), "remount,rw failed");
    assert.deepEqual(
      await names(dir, "m"),
      ["<owner>", "a.lock", "b.lock"],
    );
    // Its token is the owner file's, held by `second`: judged alive.
    const timedOut = new Error("timed out");
    const again = await FileLock.acquire(dir.join("m", "a.lock"), WAIT, {
      signal: never(),
      waitTimeout: 0,
      timeoutError: () => timedOut,
    });
    assert.equal(again.takenOver, undefined);
    again.release();
  } finally {
    second.release();
  }
  assert.deepEqual(await dir.list("m"), []);
});

test("FileLock.release() does not throw when the directory refuses to remove the lock and its owner file, and the next acquire() removes both", async (t) => {
  await using dir = await tempDir();
  await using cache = await tmpfs(dir.join("m"));
  if (cache === undefined) {
    t.skip("needs root, to mount a tmpfs");
    return;
  }
  const lock = await FileLock.acquire(dir.join("m", "a.lock"), WAIT, {
    signal: never(),
  });
  assert.ok(remountReadOnly(cache.path), "remount,ro failed");
  lock.release();
  assert.equal((await dir.list("m")).length, 2);
  assert.ok(remountWritable(cache.path), "remount,rw failed");
  const other = await FileLock.acquire(dir.join("m", "b.lock"), WAIT, {
    signal: never(),
  });
  try {
    assert.deepEqual(
      await names(dir, "m"),
      ["<owner>", "b.lock"],
    );
  } finally {
    other.release();
  }
  assert.deepEqual(await dir.list("m"), []);
});

test("FileLock.acquire() links locks to the owner file again once a directory that refused every change for a while takes changes again", async (t) => {
  await using dir = await tempDir();
  await using cache = await tmpfs(dir.join("m"));
  if (cache === undefined) {
    t.skip("needs root, to mount a tmpfs");
    return;
  }
  // Its owner file there: the next lock is a link to it, refused.
  const held = await FileLock.acquire(dir.join("m", "b.lock"), WAIT, {
    signal: never(),
  });
  try {
    assert.ok(remountReadOnly(cache.path), "remount,ro failed");
    await assert.rejects(
      FileLock.acquire(dir.join("m", "a.lock"), WAIT, { signal: never() }),
      (error) => fs.errorCode(error) === "EROFS",
    );
    assert.ok(remountWritable(cache.path), "remount,rw failed");
    const lock = await FileLock.acquire(dir.join("m", "a.lock"), WAIT, {
      signal: never(),
    });
    try {
      assert.equal((await stat(dir.join("m", "a.lock"))).nlink, 3);
    } finally {
      lock.release();
    }
  } finally {
    held.release();
  }
  assert.deepEqual(await dir.list("m"), []);
});

test("holdsLock() tells a lock this process holds, by its path, until it is released", async () => {
  await using dir = await tempDir();
  assert.equal(holdsLock(dir.join(LOCK)), false);
  const lock = await FileLock.acquire(dir.join(LOCK), WAIT, {
    signal: never(),
  });
  assert.equal(holdsLock(dir.join(LOCK)), true);
  assert.equal(holdsLock(dir.join("other.lock")), false);
  lock.release();
  assert.equal(holdsLock(dir.join(LOCK)), false);
  const left = await FileLock.acquire(dir.join(LOCK), WAIT, {
    signal: never(),
  });
  await left.leave();
  assert.equal(holdsLock(dir.join(LOCK)), false);
});

test("isLockHeld() is true for a lock held here, by a live process or by another host's with a fresh heartbeat, and false for none, a released or a dead one's, or another host's gone stale", async () => {
  await using dir = await tempDir();
  const path = dir.join(LOCK);
  assert.equal(isLockHeld(path, 60_000), false);
  const lock = await FileLock.acquire(path, WAIT, { signal: never() });
  assert.equal(isLockHeld(path, 60_000), true);
  await lock.leave();
  // Released for the next download to resume: no download runs under it.
  assert.equal(isLockHeld(path, 60_000), false);
  await foreignLock(path, { host: hostname(), pid: 4_000_000, token: "dead" });
  assert.equal(isLockHeld(path, 60_000), false);
  // The test's own parent: alive, however old its heartbeat.
  await foreignLock(
    path,
    { ...identityOf(process.ppid), token: "parent" },
    60 * 60 * 1000,
  );
  assert.equal(isLockHeld(path, 60_000), true);
  const foreign = { host: "other-host.invalid", pid: 1, token: "foreign" };
  await foreignLock(path, foreign);
  assert.equal(isLockHeld(path, 60_000), true);
  await foreignLock(path, foreign, 60 * 60 * 1000);
  assert.equal(isLockHeld(path, 60_000), false);
});

test("FileLock.release() does nothing when the lock file is gone", async () => {
  await using dir = await tempDir();
  const lock = await FileLock.acquire(dir.join(LOCK), WAIT, {
    signal: never(),
  });
  await writeFile(dir.join("unrelated"), "");
  await rm(dir.join(LOCK));
  lock.release();
  assert.deepEqual(await dir.list(), ["unrelated"]);
});

test("FileLock.acquire() rejects with the reason when the signal is already aborted, creating nothing", async () => {
  await using dir = await tempDir();
  const controller = new AbortController();
  const reason = new Error("stop");
  controller.abort(reason);
  await assert.rejects(
    FileLock.acquire(dir.join(LOCK), NO_POLL, { signal: controller.signal }),
    (error) => error === reason,
  );
  assert.deepEqual(await dir.list(), []);
});

test("FileLock.acquire() rejects with the reason when aborted while waiting for a held lock", async () => {
  await using dir = await tempDir();
  const holder = await FileLock.acquire(dir.join(LOCK), WAIT, {
    signal: never(),
  });
  try {
    const controller = new AbortController();
    const reason = new Error("stop");
    // poll is a minute: only the abort can end the wait.
    const waiting = FileLock.acquire(
      dir.join(LOCK),
      NO_POLL,
      { signal: controller.signal },
    );
    controller.abort(reason);
    await assert.rejects(waiting, (error) => error === reason);
    assert.deepEqual(await names(dir), ["<owner>", LOCK]);
  } finally {
    holder.release();
  }
});

test("FileLock.acquire() asks for waitSignal only once the lock is found held, and its abort stops the wait with its reason", async () => {
  await using dir = await tempDir();
  let asked = 0;
  const free = await FileLock.acquire(dir.join(LOCK), NO_POLL, {
    signal: never(),
    waitSignal: () => (asked++, never()),
  });
  assert.equal(asked, 0);
  try {
    const paused = new AbortController();
    const reason = new Error("paused");
    // poll is a minute: only the wait signal's abort can end the wait.
    const waiting = FileLock.acquire(dir.join(LOCK), NO_POLL, {
      signal: never(),
      waitSignal: () => (asked++, paused.signal),
      onWait: () => paused.abort(reason),
    });
    await assert.rejects(waiting, (error) => error === reason);
    assert.equal(asked, 1);
  } finally {
    free.release();
  }
});

test("FileLock.acquire() waits for a brief lock this process holds until its release, with no onWait and no poll, and an abort stops that wait", async () => {
  await using dir = await tempDir();
  const brief = await FileLock.acquire(dir.join(LOCK), NO_POLL, {
    signal: never(),
    brief: true,
  });
  const waits: (Owner | undefined)[] = [];
  const controller = new AbortController();
  const reason = new Error("stop");
  const stopped = FileLock.acquire(dir.join(LOCK), NO_POLL, {
    signal: controller.signal,
    onWait: (owner) => waits.push(owner),
  });
  controller.abort(reason);
  await assert.rejects(stopped, (error) => error === reason);
  // poll is a minute: only the release ends this wait before the timeout.
  const next = FileLock.acquire(dir.join(LOCK), NO_POLL, {
    signal: AbortSignal.timeout(5000),
    onWait: (owner) => waits.push(owner),
  });
  brief.release();
  const lock = await next;
  lock.release();
  assert.deepEqual(waits, []);
  assert.deepEqual(await dir.list(), []);
});

// Not tested: a lock made a file of its own because a hard link failed (a
// file system without hard links; the tests' temp directories have them).
// That path then is the one tested above for a taken owner-file name.
//
// Not tested: a takeover putting back a lock found replaced once moved away.
// Under its claim, the lock is judged again first: only its own owner, not
// proven dead and beating again in the moment between that look and the
// move, could replace it, and no hook stands in that moment.

test("FileLock.acquire() removes a takeover claim its owner left dying, and takes the stale lock over", async () => {
  await using dir = await tempDir();
  const dead = { host: hostname(), pid: 4_000_000 };
  await foreignLock(dir.join(LOCK), { ...dead, token: "dead" });
  await foreignLock(dir.join(`${LOCK}.takeover`), { ...dead, token: "claim" });
  const lock = await FileLock.acquire(dir.join(LOCK), NO_POLL, {
    signal: AbortSignal.timeout(5000),
  });
  try {
    assert.equal(lock.takenOver?.owner?.token, "dead");
    assert.deepEqual(await names(dir), ["<owner>", LOCK]);
  } finally {
    lock.release();
  }
});

test("FileLock.acquire() takes a dead owner's lock over at once, not waiting, where another process was killed as it made its takeover claim", async () => {
  await using dir = await tempDir();
  const path = dir.join(LOCK);
  await foreignLock(path, { host: hostname(), pid: 4_000_000, token: "dead" });
  const child = startChild("killed_creating_child", [path, ".takeover"]);
  assert.equal(await child.exited, "SIGKILL");
  assert.match(child.lines[0] ?? "", /^created x\.lock\.takeover/u);
  // No empty claim, which would name no one, to wait lockStaleAfter for.
  const waitedFor: (Owner | undefined)[] = [];
  const lock = await FileLock.acquire(path, WAIT, {
    signal: never(),
    onWait: (owner) => waitedFor.push(owner),
    waitTimeout: 0,
  });
  try {
    assert.deepEqual(waitedFor, []);
    assert.equal(lock.takenOver?.owner?.token, "dead");
  } finally {
    lock.release();
  }
  // What was to hold the claim's content, for a leftover cleanup.
  const left = await dir.list();
  assert.equal(left.length, 1);
  assert.match(left[0] as string, /^x\.lock\.takeover\..*\.new$/u);
});

test("FileLock.acquire() waits for the process whose takeover claim stands, naming it, and leaves the lock and the claim", async () => {
  await using dir = await tempDir();
  await foreignLock(dir.join(LOCK), {
    host: hostname(),
    pid: 4_000_000,
    token: "dead",
  });
  const claimant = { host: "other-host.invalid", pid: 7, token: "claim" };
  await foreignLock(dir.join(`${LOCK}.takeover`), claimant);
  const waitedFor: (Owner | undefined)[] = [];
  await assert.rejects(
    FileLock.acquire(dir.join(LOCK), WAIT, {
      signal: never(),
      onWait: (owner) => waitedFor.push(owner),
      waitTimeout: 0,
      timeoutError: (owner) => owner,
    }),
    (owner) => (owner as Owner | undefined)?.token === "claim",
  );
  assert.deepEqual(waitedFor.map((owner) => owner?.token), ["claim"]);
  assert.deepEqual(await names(dir), [LOCK, `${LOCK}.takeover`]);
});

test("FileLock.acquire() tells what it took over: a dead owner, a stale one it cannot judge, or nothing", async () => {
  await using dir = await tempDir();
  const free = await FileLock.acquire(dir.join("free.lock"), NO_POLL, {
    signal: never(),
  });
  assert.equal(free.takenOver, undefined);
  free.release();
  const dead = { host: hostname(), pid: 4_000_000, token: "dead" };
  await foreignLock(dir.join("dead.lock"), dead);
  const fromDead = await FileLock.acquire(dir.join("dead.lock"), NO_POLL, {
    signal: AbortSignal.timeout(5000),
  });
  assert.deepEqual(fromDead.takenOver?.state, "dead");
  assert.equal(fromDead.takenOver?.owner?.token, "dead");
  fromDead.release();
  const foreign = { host: "other-host.invalid", pid: 1, token: "far" };
  await foreignLock(dir.join("far.lock"), foreign, 60 * 60 * 1000);
  const fromFar = await FileLock.acquire(
    dir.join("far.lock"),
    { ...NO_POLL, staleAfter: 1000 },
    { signal: AbortSignal.timeout(5000) },
  );
  assert.deepEqual(fromFar.takenOver?.state, "unknown");
  assert.equal(fromFar.takenOver?.owner?.host, "other-host.invalid");
  fromFar.release();
  assert.deepEqual(await dir.list(), []);
});

test("FileLock.acquire() creates no owner file at the polls of its wait for another process's lock, so a process killed waiting leaves none", async () => {
  await using dir = await tempDir();
  const path = dir.join(LOCK);
  // Held by a live process of this machine (this one's parent), in a
  // directory where this process holds no lock, so has no owner file.
  await foreignLock(path, {
    ...identityOf(process.ppid),
    token: "0123456789abcdef-0",
  });
  const { readFileSync, writeNewSync, linkSync } = fs;
  const created: string[] = [];
  let looks = 0;
  const stop = new AbortController();
  fs.readFileSync = (at) => {
    // Each look reads whose the lock is: stop after a few polls.
    if (at === path && ++looks === 4) stop.abort(new Error("stopped"));
    return readFileSync(at);
  };
  // Made in place, or linked from a temporary holding its content.
  fs.writeNewSync = (at, data) => {
    if (OWNER.test(basename(at))) created.push(at);
    writeNewSync(at, data);
  };
  fs.linkSync = (existing, at) => {
    if (OWNER.test(basename(at))) created.push(at);
    linkSync(existing, at);
  };
  try {
    await assert.rejects(
      FileLock.acquire(path, WAIT, { signal: stop.signal }),
      /stopped/u,
    );
  } finally {
    fs.readFileSync = readFileSync;
    fs.writeNewSync = writeNewSync;
    fs.linkSync = linkSync;
  }
  assert.equal(looks, 4);
  // The first look's, which tried the take; none at the three polls.
  assert.equal(created.length, 1);
  assert.deepEqual(await dir.list(), [LOCK]);
});

test("FileLock.acquire() calls onWait once for the holder it waits for, and rejects with timeoutError after waitTimeout", async () => {
  await using dir = await tempDir();
  const holder = await FileLock.acquire(dir.join(LOCK), WAIT, {
    signal: never(),
  });
  try {
    const token = (await readJson(dir.join(LOCK))).token;
    const waitedFor: (Owner | undefined)[] = [];
    const timedOut = new Error("timed out");
    await assert.rejects(
      FileLock.acquire(dir.join(LOCK), WAIT, {
        signal: never(),
        onWait: (owner) => waitedFor.push(owner),
        waitTimeout: 50,
        timeoutError: (owner) => Object.assign(timedOut, { owner }),
      }),
      (error) => error === timedOut,
    );
    assert.equal(waitedFor.length, 1);
    assert.equal(waitedFor[0]?.pid, process.pid);
    assert.equal(waitedFor[0]?.token, token);
    assert.equal((timedOut as Error & { owner?: Owner }).owner?.token, token);
  } finally {
    holder.release();
  }
});

test("FileLock.acquire() does not trust a live pid recorded in another boot of this machine: it waits for the heartbeat to go stale", async () => {
  const me = thisProcess();
  // This very pid, alive here, but recorded before a reboot.
  const before = {
    ...me,
    boot: me.boot === undefined ? undefined : "another-boot",
    booted: me.booted === undefined ? undefined : me.booted - 3_600_000,
    token: "rebooted",
  };
  await using dir = await tempDir();
  await foreignLock(dir.join(LOCK), before as Owner);
  // Fresh heartbeat: waited for, as an owner that cannot be judged.
  const signal = AbortSignal.timeout(100);
  await assert.rejects(
    FileLock.acquire(dir.join(LOCK), { ...WAIT, staleAfter: 60_000 }, {
      signal,
    }),
    (error) => error === signal.reason,
  );
  // Stale heartbeat: taken over, as from an owner that cannot be judged.
  await foreignLock(dir.join(LOCK), before as Owner, 60 * 60 * 1000);
  const lock = await FileLock.acquire(
    dir.join(LOCK),
    { ...NO_POLL, staleAfter: 1000 },
    { signal: AbortSignal.timeout(5000) },
  );
  assert.equal(lock.takenOver?.state, "unknown");
  lock.release();
});

test(
  "FileLock.acquire() takes over at once a lock whose pid now names a process that started later",
  {
    skip: thisProcess().start === undefined &&
      "needs /proc (on Deno, --allow-all)",
  },
  async () => {
    await using dir = await tempDir();
    // This pid and boot, but another start time: the pid was reused.
    await foreignLock(dir.join(LOCK), {
      ...thisProcess(),
      start: "1",
      token: "reused",
    } as Owner);
    const lock = await FileLock.acquire(dir.join(LOCK), NO_POLL, {
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(lock.takenOver?.state, "dead");
    lock.release();
  },
);

for (const target of ["a file", "nowhere"]) {
  test(
    `FileLock.acquire() judges a symbolic link to ${target} in the lock's place by the link's own time, takes it over once stale, and leaves its target`,
    {
      timeout: 30_000, // without lstat, a link to nowhere made it spin for good
    },
    async () => {
      await using dir = await tempDir();
      await using elsewhere = await tempDir();
      await writeFile(elsewhere.join("file"), "precious");
      await mkdir(elsewhere.join("directory"));
      const pointed = elsewhere.join(target === "a file" ? "file" : "missing");
      await symlink(pointed, dir.join(LOCK));
      // Fresh: waited for, as any lock whose holder cannot be told.
      const timedOut = new Error("timed out");
      await assert.rejects(
        FileLock.acquire(dir.join(LOCK), WAIT, {
          signal: never(),
          waitTimeout: 0,
          timeoutError: () => timedOut,
        }),
        (error) => error === timedOut,
      );
      assert.equal((await lstat(dir.join(LOCK))).isSymbolicLink(), true);
      // Older than staleAfter (the target's time does not count): taken over.
      const old = new Date(Date.now() - 60 * 60 * 1000);
      await lutimes(dir.join(LOCK), old, old);
      const lock = await FileLock.acquire(dir.join(LOCK), NO_POLL, {
        signal: never(),
      });
      try {
        assert.equal(lock.takenOver?.state, "unknown");
        assert.equal((await lstat(dir.join(LOCK))).isFile(), true);
        assert.deepEqual(await names(dir), ["<owner>", LOCK]);
      } finally {
        lock.release();
      }
      assert.deepEqual(await elsewhere.list(), ["directory", "file"]);
      assert.equal(await readFile(elsewhere.join("file"), "utf8"), "precious");
    },
  );
}

test("FileLock.acquire() rejects with an InTheWayError (the file system's EISDIR) naming the lock when a symbolic link to a directory is in its place, and changes nothing", async () => {
  await using dir = await tempDir();
  await using elsewhere = await tempDir();
  await mkdir(elsewhere.join("directory"));
  await symlink(elsewhere.join("directory"), dir.join(LOCK));
  await assert.rejects(
    FileLock.acquire(dir.join(LOCK), WAIT, { signal: never() }),
    (error) =>
      error instanceof InTheWayError && error.file === "lock file" &&
      error.path === dir.join(LOCK) && fs.errorCode(error.cause) === "EISDIR",
  );
  assert.equal((await lstat(dir.join(LOCK))).isSymbolicLink(), true);
  assert.deepEqual(await dir.list(), [LOCK]);
  assert.deepEqual(await elsewhere.list(), ["directory"]);
  assert.deepEqual(await elsewhere.list("directory"), []);
});
