// FIFOs named like the library's small files, for the tests that check they
// are never read: opening a FIFO to read waits for a writer, and a read then
// waits for its end, which would stop a test (and the process) for good.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";

/** Whether this platform has FIFOs (`mkfifo`): not Windows. */
export const HAS_FIFOS: boolean = process.platform !== "win32";

/** A FIFO, and the writer that answers the first read of it. */
export interface Fifo extends AsyncDisposable {
  /** Its path. */
  path: string;
}

/**
 * Makes a FIFO at `path`, with a writer (a child process) that writes
 * `content` to the first process that opens it to read, then ends it: a
 * read that should not have happened then returns `content`, and the test
 * fails, rather than waiting for good. Disposing stops the writer, if no
 * read came.
 */
export function fifoAt(path: string, content: string): Fifo {
  const made = spawnSync("mkfifo", [path]);
  if (made.status !== 0) {
    throw new Error(`mkfifo "${path}" failed: ${made.stderr}`);
  }
  const writer: ChildProcess = spawn(
    "sh",
    ["-c", 'printf %s "$2" > "$1"', "sh", path, content],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((resolve) =>
    writer.once("exit", () => resolve())
  );
  return {
    path,
    [Symbol.asyncDispose]: async () => {
      writer.kill();
      await exited;
    },
  };
}
