// Several managers, and several processes, downloading into one directory:
// one request per file, one complete file, no leftovers, and a survivor that
// takes over from a killed process, and a stopped one that keeps its lock.
// The behaviour lives in src/_disk/lock.ts, src/_disk/partial_file.ts,
// src/_job.ts and src/download_manager.ts.

import assert from "node:assert/strict";
import { hostname } from "node:os";
import { spawnSync } from "node:child_process";
import { mkdir, utimes } from "node:fs/promises";
import process from "node:process";
import { test } from "node:test";
import { Download, FileSystemError, LockTimeoutError } from "../mod.ts";
import { FileLock } from "../src/_disk/lock.ts";
import { startChild } from "./_helpers/child.ts";
import {
  bytesRoute,
  deferred,
  fileRoute,
  patternBytes,
  startServer,
} from "./_helpers/server.ts";
import { type TempDir, tempDir } from "./_helpers/temp_dir.ts";
import { partialPaths } from "../src/_disk/names.ts";
import { assertFileHolds } from "./_helpers/file_bytes.ts";
import { unchangeable } from "./_helpers/unremovable.ts";
import { whenRecorded } from "./_helpers/partial_file.ts";

const BODY = patternBytes(200_000);

test("Two managers downloading one name into one directory make one request", async () => {
  const release = deferred();
  // The body stops after 10,000 bytes until released, then goes on.
  const route = bytesRoute(BODY, { gate: release.promise, gateAt: 10_000 });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const first = dir.manager({ lockStaleAfter: 60_000 });
  const second = dir.manager({ lockStaleAfter: 60_000 });
  const a = first.download(server.url("/f")) as Download;
  const b = second.download(server.url("/f")) as Download;
  release.resolve();
  await Promise.all([first.wait(), second.wait()]);
  // One download fetched; the other waited for its lock and found the file.
  assert.equal(server.requests.length, 1);
  assert.deepEqual([a.skipped, b.skipped].sort(), [false, true]);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Two processes downloading one name into one directory make one request", {
  timeout: 60_000,
}, async () => {
  const release = deferred();
  const route = bytesRoute(BODY, { gate: release.promise, gateAt: 10_000 });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const children = [0, 1].map(() =>
    startChild("manager_child", [server.url("/f"), dir.path])
  );
  // Both have asked for the file before the first answer is let through.
  await Promise.all(
    children.map((child) => child.line((line) => line === "started")),
  );
  release.resolve();
  assert.deepEqual(await Promise.all(children.map((child) => child.exited)), [
    0,
    0,
  ]);
  const outcomes = children.map((child) => child.lines.at(-1)).sort();
  assert.deepEqual(outcomes, ["done", "skipped"]);
  assert.equal(server.requests.length, 1);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test("A process takes over and finishes the download of a killed one", {
  timeout: 60_000,
}, async () => {
  const release = deferred();
  const { route, log } = fileRoute({
    body: BODY,
    etag: '"kill"',
    faults: [{ stallAfter: 50_000, release: release.promise }],
  });
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const victim = startChild("manager_child", [server.url("/f"), dir.path]);
  // 49,152 bytes written (12 writes of 4 KiB): all it can of the 50,000 sent.
  await victim.line((line) => line === "progress 49152");
  const survivor = startChild("manager_child", [server.url("/f"), dir.path]);
  await survivor.line((line) => line === "started");
  victim.process.kill("SIGKILL");
  assert.equal(await victim.exited, "SIGKILL");
  // The victim's pid is gone: its lock is taken over at once, its partial
  // file resumed.
  assert.equal(await survivor.exited, 0);
  assert.equal(survivor.lines.at(-1), "done");
  release.resolve();
  assert.deepEqual(log.ranges, [null, "bytes=49152-"]);
  await assertFileHolds(dir.join("f"), BODY);
  assert.deepEqual(await dir.list(), ["f"]);
});

test(
  "A process whose takeover of a dead process's lock another took in the moment its name was free removes the dead process's partial file",
  {
    timeout: 60_000,
  },
  async () => {
    const stalled = deferred();
    const held = deferred();
    const { route, log } = fileRoute({
      body: BODY,
      etag: '"race"',
      faults: [
        { stallAfter: 50_000, release: stalled.promise },
        { holdAfter: 10_000, release: held.promise },
      ],
    });
    const moved = deferred();
    await using server = await startServer({
      "/f": route,
      "/gate": async (request, response) => {
        if (request.url?.endsWith("moved")) await moved.promise;
        response.end();
      },
    });
    await using dir = await tempDir();
    const victim = startChild("manager_child", [server.url("/f"), dir.path]);
    await victim.line((line) => line === "progress 49152");
    victim.process.kill("SIGKILL");
    assert.equal(await victim.exited, "SIGKILL");
    const kept = (await dir.list()).filter((name) =>
      /dlpart\.[0-9a-f]/.test(name)
    );
    assert.equal(kept.length, 1, `partial files: ${kept}`);
    // It takes the dead process's lock over, and stops with its name free.
    const racer = startChild("gated_lock_child", [
      lockOf(dir),
      server.url("/gate"),
    ]);
    const manager = dir.manager();
    try {
      await racer.line((line) => line === "moved");
      // This process takes the free name, as a free lock: it adopts nothing.
      const writing = deferred();
      manager.download(server.url("/f"), { progress: () => writing.resolve() });
      await writing.promise;
      moved.resolve();
      assert.equal(
        await racer.line((line) => line.startsWith("waiting")),
        `waiting ${process.pid}`,
      );
      // No one else would: it stayed until a leftover cleanup, a day later.
      assert.deepEqual(
        (await dir.list()).filter((name) => kept.includes(name)),
        [],
      );
      held.resolve();
      await manager.wait();
      await assertFileHolds(dir.join("f"), BODY);
      assert.deepEqual(log.ranges, [null, null]);
    } finally {
      stalled.resolve();
      held.resolve();
      moved.resolve();
      await manager[Symbol.asyncDispose]();
      racer.process.kill("SIGKILL");
      await racer.exited;
    }
  },
);

test(
  "A process downloads a file whose download in another ended as their directory refused every change, once it takes changes again",
  {
    timeout: 60_000,
  },
  async (t) => {
    const release = deferred();
    const route = bytesRoute(BODY, { gate: release.promise, gateAt: 10_000 });
    await using server = await startServer({ "/f": route });
    await using dir = await tempDir();
    await mkdir(dir.join("m"));
    const manager = dir.manager({
      lockStaleAfter: 2_000,
    }, "m");
    const writing = deferred();
    const download = manager.download(server.url("/f"), {
      progress: () => writing.resolve(),
    }) as Download;
    await writing.promise;
    const refusing = await unchangeable(dir.join("m"));
    if (refusing === undefined) {
      release.resolve();
      await download.wait();
      t.skip("needs chattr, or a user that a read-only directory binds");
      return;
    }
    try {
      // Its file is whole, and may not be renamed into place, nor removed.
      release.resolve();
      await assert.rejects(download.wait(), (error) => {
        assert.ok(error instanceof FileSystemError, String(error));
        return true;
      });
    } finally {
      await refusing.undo();
    }
    // A lock timeout long enough never to pass while this process may let go.
    const other = startChild("manager_child", [
      server.url("/f"),
      dir.join("m"),
      "60000",
      "never",
      JSON.stringify({ lockTimeout: 30_000 }),
    ]);
    assert.equal(await other.exited, 0, other.lines.at(-1));
    assert.equal(other.lines.at(-1), "done");
    await assertFileHolds(dir.join("m", "f"), BODY);
  },
);

test(
  "A process waiting for another's download over 4 connections takes over its parts when it is killed, and fetches only what is missing",
  {
    timeout: 60_000,
  },
  async () => {
    const body = patternBytes(8 * 1024 * 1024 + 12_345, 7);
    const release = deferred();
    let killed = false;
    // Until the first process is killed, every part stalls after 600,000 bytes.
    const { route, log } = fileRoute({
      body,
      etag: '"parts"',
      faultFor: ({ range }) =>
        !killed && range !== null
          ? { stallAfter: 600_000, release: release.promise }
          : undefined,
    });
    await using server = await startServer({ "/f": route });
    await using dir = await tempDir();
    const args = [
      server.url("/f"),
      dir.path,
      "60000",
      "never",
      JSON.stringify({ connections: 4 }),
    ];
    const first = startChild("manager_child", args);
    try {
      const recorded = await whenRecorded(
        partialPaths(dir.join("f")).sidecar,
        4 * 600_000,
      );
      const second = startChild("manager_child", args);
      assert.equal(
        await second.line((line) => line.startsWith("waiting")),
        `waiting ${first.process.pid}`,
      );
      const before = log.ranges.length;
      killed = true;
      first.process.kill("SIGKILL");
      assert.equal(await first.exited, "SIGKILL");
      assert.equal(await second.exited, 0);
      assert.equal(second.lines.at(-1), "done");
      await assertFileHolds(dir.join("f"), body);
      assert.deepEqual(await dir.list(), ["f"]);
      // Only bytes the killed process had not recorded were asked for again.
      const asked = log.ranges.slice(before);
      assert.ok(asked.length > 0 && asked.every((range) => range !== null));
      const sent = log.sent.slice(before).reduce(
        (sum, bytes) => sum + bytes,
        0,
      );
      const held = recorded.reduce((sum, [start, end]) => sum + end - start, 0);
      assert.ok(sent <= body.byteLength - held, `sent ${sent}, held ${held}`);
    } finally {
      release.resolve();
      first.process.kill("SIGKILL");
    }
  },
);

/** Sets `path`'s mtime an hour back: a heartbeat that stopped long ago. */
async function ageHeartbeat(path: string): Promise<void> {
  const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
  await utimes(path, hourAgo, hourAgo);
}

/** Sends `name` to `pid`, if it still runs. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as { code?: string }).code !== "ESRCH") throw error;
  }
}

/** The lock file of `dir/f`. */
function lockOf(dir: TempDir): string {
  return partialPaths(dir.join("f")).lock;
}

// A process stopped with Ctrl-Z (SIGSTOP), or in a debugger, stops its
// heartbeat. It is alive: its lock is never taken over, so no two processes
// ever write one partial file, whatever the moment it was stopped at. (The
// server holds the rest of the body at `gateAt` until the test lets it go,
// so the first process cannot finish before it is stopped.)
for (
  const [moment, gateAt] of [
    // Node's server sends the headers with the first byte.
    ["before its first write", 1],
    ["mid-body", 100_000],
    ["one byte before the end", BODY.byteLength - 1],
  ] as const
) {
  test(
    `A download stopped (SIGSTOP) ${moment} for longer than lockStaleAfter keeps its lock: a second process waits for it, then finds the whole file`,
    {
      timeout: 60_000,
    },
    async () => {
      const gate = deferred();
      const route = bytesRoute(BODY, { gate: gate.promise, gateAt });
      await using server = await startServer({ "/f": route });
      await using dir = await tempDir();
      const first = startChild("manager_child", [
        server.url("/f"),
        dir.path,
        "200",
      ]);
      const pid = first.process.pid as number;
      let stopped = false;
      try {
        // Everything the server sent before the gate is written (4 KiB writes).
        const written = Math.floor(gateAt / 4096) * 4096;
        await first.line((line) => line === `progress ${written}`);
        signal(pid, "SIGSTOP");
        stopped = true;
        await ageHeartbeat(lockOf(dir));
        const second = startChild("manager_child", [
          server.url("/f"),
          dir.path,
          "200",
        ]);
        // The lock's heartbeat is an hour old, but its owner is alive.
        assert.equal(
          await second.line((line) => line.startsWith("waiting")),
          `waiting ${pid}`,
        );
        gate.resolve();
        signal(pid, "SIGCONT");
        stopped = false;
        assert.equal(await first.exited, 0);
        assert.equal(first.lines.at(-1), "done");
        assert.equal(await second.exited, 0);
        assert.equal(second.lines.at(-1), "skipped");
        // One request, one writer, the resource byte for byte, nothing left.
        assert.equal(server.requests.length, 1);
        await assertFileHolds(dir.join("f"), BODY);
        assert.deepEqual(await dir.list(), ["f"]);
      } finally {
        gate.resolve();
        if (stopped) signal(pid, "SIGCONT");
        first.process.kill("SIGKILL");
      }
    },
  );
}

/**
 * Runs a child as if on another machine: a host name and pid namespace of
 * its own (`unshare`, which needs root). Its liveness cannot be told here.
 */
const ELSEWHERE = [
  "unshare",
  "--uts",
  "--pid",
  "--fork",
  "sh",
  "-c",
  'hostname dlmanager-elsewhere.invalid && exec "$@"',
  "sh",
];
const CAN_UNSHARE = spawnSync(ELSEWHERE[0] as string, [
  ...ELSEWHERE.slice(1),
  "true",
]).status === 0;

test(
  "A stopped download on another machine loses its lock once stale, but its partial file is never written by the taker: both files are whole",
  {
    skip: !CAN_UNSHARE && "needs root and unshare (util-linux)",
    timeout: 60_000,
  },
  async () => {
    const gate = deferred();
    const { route, log } = fileRoute({
      body: BODY,
      etag: '"ns"',
      faults: [{ stallAfter: 100_000, release: gate.promise }],
    });
    await using server = await startServer({ "/f": route });
    await using dir = await tempDir();
    const first = startChild(
      "manager_child",
      [server.url("/f"), dir.path, "200"],
      ELSEWHERE,
    );
    let pid = 0;
    let stopped = false;
    try {
      await first.line((line) => line === "progress 98304");
      // The runtime's process is unshare's child (unshare waits for it).
      const found = spawnSync("pgrep", ["-P", String(first.process.pid)], {
        encoding: "utf8",
      });
      pid = Number(found.stdout.trim());
      assert.ok(pid > 0, `no child of unshare: ${found.stdout}`);
      signal(pid, "SIGSTOP");
      stopped = true;
      await ageHeartbeat(lockOf(dir));
      const second = startChild("manager_child", [
        server.url("/f"),
        dir.path,
        "200",
      ]);
      // Taken over (its heartbeat is an hour old), into a partial file of
      // its own: the stopped one's 98,304 bytes are not resumed.
      assert.equal(await second.exited, 0);
      assert.equal(second.lines.at(-1), "done");
      assert.deepEqual(log.ranges, [null, null]);
      await assertFileHolds(dir.join("f"), BODY);
      // The first goes on: its stalled answer drops, it resumes its own
      // file, and renames it, whole, onto the other's whole file.
      gate.resolve();
      signal(pid, "SIGCONT");
      stopped = false;
      assert.equal(await first.exited, 0);
      assert.equal(first.lines.at(-1), "done");
      assert.deepEqual(log.ranges, [null, null, "bytes=98304-"]);
      await assertFileHolds(dir.join("f"), BODY);
      assert.deepEqual(await dir.list(), ["f"]);
    } finally {
      gate.resolve();
      if (stopped) signal(pid, "SIGCONT");
      if (pid > 0) signal(pid, "SIGKILL");
    }
  },
);

test("Download waiting for another owner's lock is in state waiting, names it, and fails with LockTimeoutError after lockTimeout", async () => {
  await using server = await startServer({ "/f": bytesRoute(BODY) });
  await using dir = await tempDir();
  // Another download's lock (here, of this very process) on dir/f.
  const held = await FileLock.acquire(
    lockOf(dir),
    { staleAfter: 60_000, heartbeat: 1000, poll: 5 },
    { signal: new AbortController().signal },
  );
  try {
    const states: string[] = [];
    const holders: (number | undefined)[] = [];
    const download = new Download(server.url("/f"), dir.join("f"), {
      lockTimeout: 50,
      onStateChange: (download, state) => {
        states.push(state);
        holders.push(download.lockHolder?.pid);
      },
    });
    download.start();
    await download.wait({ raiseIfError: false });
    const error = download.error();
    assert.ok(error instanceof LockTimeoutError, String(error));
    assert.equal(error.pid, process.pid);
    assert.equal(error.timeout, 50);
    assert.equal(
      error.message,
      `Cannot download "${
        server.url("/f")
      }": process ${process.pid} on ${hostname()} has been downloading "${
        dir.join("f")
      }" for more than 50 ms (lockTimeout)`,
    );
    assert.deepEqual(states, ["running", "waiting", "failed"]);
    assert.deepEqual(holders, [undefined, process.pid, undefined]);
    assert.equal(server.requests.length, 0);
  } finally {
    held.release();
  }
  assert.deepEqual(await dir.list(), []);
});
