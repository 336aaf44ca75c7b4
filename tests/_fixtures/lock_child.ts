// A child process for the lock tests that need a second process: takes the
// lock at argv[2] with a `staleAfter` of argv[3] ms, giving up after argv[4]
// ms. Prints "waiting <pid>" when it finds the lock held by a process it
// waits for, then "acquired <token>" and holds the lock until killed, or
// "timeout".

import process from "node:process";
import { readFileSync } from "node:fs";
import { FileLock } from "../../src/_disk/lock.ts";

const [path, staleAfter, giveUpAfter] = process.argv.slice(-3) as [
  string,
  string,
  string,
];
const signal = AbortSignal.timeout(Number(giveUpAfter));
// No top-level await: the npm build runs this file as CommonJS too.
FileLock.acquire(
  path,
  { staleAfter: Number(staleAfter), heartbeat: 20, poll: 5 },
  {
    signal,
    onWait: (owner) => process.stdout.write(`waiting ${owner?.pid}\n`),
  },
).then(
  () => {
    const { token } = JSON.parse(readFileSync(path, "utf8"));
    process.stdout.write(`acquired ${token}\n`);
    // Held until killed: the heartbeat's timer keeps the process alive.
  },
  (error) => {
    if (error !== signal.reason) throw error;
    process.stdout.write("timeout\n");
  },
);
