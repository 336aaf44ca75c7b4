// A child process for the tests of a process killed (SIGKILL) between
// creating a file of the locks and writing its content: takes the lock at
// argv[-2] as `lock_child.ts` does (a `staleAfter` of 60 s), but the first
// file it creates whose name holds argv[-1] (`.dlpart.owner` for its owner
// file, `.takeover` for a takeover's claim) is created empty, as the
// adapter's `writeNewSync` leaves it in that moment, and the process kills
// itself there. It prints "created <name>" first.

import { basename } from "node:path";
import process from "node:process";
import { FileLock } from "../../src/_disk/lock.ts";
import { fs } from "../../src/_runtime/fs.ts";

const [path, marker] = process.argv.slice(-2) as [string, string];

const { writeNewSync } = fs;
fs.writeNewSync = (at, data) => {
  if (!basename(at).includes(marker)) return writeNewSync(at, data);
  writeNewSync(at, new Uint8Array(0));
  process.stdout.write(`created ${basename(at)}\n`);
  process.kill(process.pid, "SIGKILL");
};

// No top-level await: the npm build runs this file as CommonJS too.
FileLock.acquire(
  path,
  { staleAfter: 60_000, heartbeat: 20, poll: 5 },
  { signal: new AbortController().signal },
).then(() => process.stdout.write("acquired\n"));
