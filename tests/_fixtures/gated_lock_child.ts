// A child process for the lock tests that race a takeover: takes the lock at
// argv[-2] with a `staleAfter` of 1000 ms, as `lock_child.ts` does, but stops
// at two gates that the test opens, each a request to the URL argv[-1]
// (`?step=<gate>`) that the test's server answers when it lets the child go
// on: "judged", once it looked at the age of the lock it found (its judgement
// made, its takeover not yet begun), and "moved", each time it has just moved
// the lock away (a move is synchronous up to the take or the put-back, see
// `lock.ts`: that gate's request is made by a child process, which this one
// waits for without a turn of its event loop). It prints the gate's name on
// reaching it, then "waiting <pid>" when it waits for a process, or
// "acquired <token>", and holds the lock until killed.

import { execFileSync } from "node:child_process";
import process from "node:process";
import { readFileSync } from "node:fs";
import { FileLock } from "../../src/_disk/lock.ts";
import { fs } from "../../src/_runtime/fs.ts";

const [path, gateUrl] = process.argv.slice(-2) as [string, string];

async function gate(step: string): Promise<void> {
  process.stdout.write(`${step}\n`);
  await (await fetch(`${gateUrl}?step=${step}`)).arrayBuffer();
}

/** {@linkcode gate}, for a synchronous call: blocks until the gate opens. */
function gateSync(step: string): void {
  process.stdout.write(`${step}\n`);
  const url = JSON.stringify(`${gateUrl}?step=${step}`);
  const code = `await (await fetch(${url})).arrayBuffer();`;
  execFileSync(
    process.execPath,
    "Deno" in globalThis
      ? ["eval", code]
      : ["--input-type=module", "--eval", code],
    { stdio: "ignore" },
  );
}

const { lstat, renameSync } = fs;
let judged = false;
fs.lstat = async (at) => {
  const stat = await lstat(at);
  if (at === path && !judged) {
    judged = true;
    await gate("judged");
  }
  return stat;
};
fs.renameSync = (from, to) => {
  renameSync(from, to);
  if (from === path) gateSync("moved");
};

// No top-level await: the npm build runs this file as CommonJS too.
FileLock.acquire(
  path,
  { staleAfter: 1000, heartbeat: 20, poll: 5 },
  {
    signal: new AbortController().signal,
    onWait: (owner) => process.stdout.write(`waiting ${owner?.pid}\n`),
  },
).then(() => {
  const { token } = JSON.parse(readFileSync(path, "utf8"));
  process.stdout.write(`acquired ${token}\n`);
  // Held until killed: the heartbeat's timer keeps the process alive.
});
