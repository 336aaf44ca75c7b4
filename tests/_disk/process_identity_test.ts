import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import process from "node:process";
import { test } from "node:test";
import {
  isThisProcess,
  newToken,
  parseIdentity,
  type ProcessIdentity,
  processState,
  thisProcess,
} from "../../src/_disk/process_identity.ts";
import { identityOf, PROC, statFields } from "../_helpers/identity.ts";

/** The parent process's identity, as it would record it. */
function parent(): ProcessIdentity {
  return identityOf(process.ppid);
}

test("thisProcess() names this process: its host and pid, and where /proc is readable its boot, pid namespace and start", () => {
  const me = thisProcess();
  assert.equal(me.pid, process.pid);
  assert.equal(me.host, hostname());
  if (PROC) {
    assert.match(me.boot ?? "", /^[0-9a-f-]{36}$/u);
    assert.match(me.pidns ?? "", /^pid:\[\d+\]$/u);
    assert.match(me.start ?? "", /^\d+$/u);
  }
  assert.equal(thisProcess(), me);
});

test("isThisProcess() is true for this process's identity only", () => {
  assert.equal(isThisProcess(thisProcess()), true);
  assert.equal(isThisProcess({ ...thisProcess(), pid: process.ppid }), false);
  assert.equal(
    isThisProcess({
      ...thisProcess(),
      host: "elsewhere",
      boot: thisProcess().boot && "another-boot",
    }),
    false,
  );
});

test("processState() proves a running process of this machine alive", () => {
  assert.equal(processState(parent()), "alive");
});

test("processState() proves a process of this machine dead when its pid is free", () => {
  // Above Linux's largest pid_max.
  assert.equal(processState({ ...parent(), pid: 4_194_305 }), "dead");
});

test(
  "processState() proves a process dead when its pid now names a process that started at another time",
  {
    skip: !PROC && "needs /proc (on Deno, --allow-all)",
  },
  () => {
    assert.equal(processState({ ...parent(), start: "1" }), "dead");
  },
);

test(
  "processState() proves a process dead when it has ended but its parent has not waited for it (a zombie)",
  {
    skip: !PROC && "needs /proc (on Deno, --allow-all)",
  },
  async () => {
    // The shell starts a child and becomes `sleep`, which never waits for
    // it; the child ends only once told to, after that (had it ended
    // before, the shell would have waited for it).
    const parentOfZombie = spawn("sh", [
      "-c",
      "exec 3<&0; (read line <&3) & echo $!; exec sleep 60",
    ], { stdio: ["pipe", "pipe", "inherit"] });
    try {
      const [line] = await once(parentOfZombie.stdout, "data");
      const pid = Number(String(line).trim());
      const comm = `/proc/${parentOfZombie.pid}/comm`;
      while (readFileSync(comm, "utf8").trim() !== "sleep") {
        await new Promise((resolve) => setImmediate(resolve));
      }
      parentOfZombie.stdin.write("end\n");
      while (statFields(pid)[0] !== "Z") {
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.equal(processState(identityOf(pid)), "dead");
    } finally {
      parentOfZombie.kill();
    }
  },
);

/** Whether python3 runs here (for a process whose first thread ends alone). */
const PYTHON = spawnSync("python3", ["--version"]).status === 0;

test(
  "processState() proves a process alive while a thread of it still runs after its first thread ended (a zombie's pid, its other threads ending)",
  {
    skip: (!PROC && "needs /proc (on Deno, --allow-all)") ||
      (!PYTHON && "needs python3"),
  },
  async () => {
    // The first thread ends alone (`exit`, not `exit_group`): the pid is a
    // zombie's, as when a process is killed and its first thread has ended,
    // while another thread, which could still be creating a file, ends
    // only once told to.
    const script = [
      "import ctypes, os, sys, threading",
      "threading.Thread(target=sys.stdin.readline).start()",
      "print('ready', flush=True)",
      "exit = {'x86_64': 60, 'aarch64': 93}[os.uname().machine]",
      "ctypes.CDLL(None).syscall(exit, 0)",
    ].join("\n");
    const child = spawn("python3", ["-c", script], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const exited = once(child, "exit");
    try {
      await once(child.stdout, "data");
      const pid = child.pid as number;
      const identity = identityOf(pid);
      while (statFields(pid)[0] !== "Z") {
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.equal(processState(identity), "alive");
      child.stdin.end("end\n");
      await exited;
      assert.equal(processState(identity), "dead");
    } finally {
      child.kill("SIGKILL");
    }
  },
);

test("processState() cannot judge a process of another machine, boot or pid namespace", () => {
  const me = parent();
  const cases: ProcessIdentity[] = [
    { ...me, host: "other-host.invalid", boot: undefined, pidns: undefined },
    { host: undefined, pid: me.pid },
    {
      ...me,
      boot: me.boot && "another-boot",
      booted: (me.booted ?? 0) - 3_600_000,
    },
  ];
  if (PROC) cases.push({ ...me, pidns: "pid:[1]" });
  for (const identity of cases) {
    assert.equal(processState(identity), "unknown", JSON.stringify(identity));
  }
});

test(
  "processState() cannot judge a running pid recorded without a start time where /proc tells one (an older version's lock)",
  {
    skip: !PROC && "needs /proc (on Deno, --allow-all)",
  },
  () => {
    assert.equal(
      processState({ host: hostname(), pid: process.ppid }),
      "unknown",
    );
  },
);

test("newToken() gives a new 16-hex-digit-and-count token each call", () => {
  const tokens = new Set(Array.from({ length: 100 }, newToken));
  assert.equal(tokens.size, 100);
  for (const token of tokens) assert.match(token, /^[0-9a-f]{16}-[0-9a-f]+$/u);
});

test("parseIdentity() reads an identity's fields and refuses a record without a pid", () => {
  assert.deepEqual(
    parseIdentity({ host: "h", pid: 7, boot: "b", start: 5, extra: true }),
    {
      host: "h",
      pid: 7,
      boot: "b",
      pidns: undefined,
      start: undefined,
      booted: undefined,
    },
  );
  for (const value of [null, 1, "x", {}, { pid: "7" }]) {
    assert.equal(parseIdentity(value), undefined);
  }
});
