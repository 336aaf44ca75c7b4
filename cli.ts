/**
 * `dlmanager`, the command-line downloader: downloads URLs into a directory
 * with live progress on a terminal, plain log lines elsewhere, or JSON lines
 * for scripts (`--json`). Run `dlmanager --help` for the options.
 *
 * ```sh
 * deno run -A jsr:@x/dlmanager/cli -d downloads https://example.com/a.zip
 * npx @x/dlmanager -j 4 -i urls.txt
 * ```
 *
 * This file is the process's side of the CLI: arguments, standard streams
 * (and their closing early), signals, and the only file access the library
 * does not do (reading the `-i` list, and checking the directory can be
 * written to). It lives outside
 * `src/`, where nothing but the runtime adapter touches the file system;
 * `node:fs/promises` and `node:process` behave the same under Deno and Node.
 * The logic is in `src/cli/run.ts`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { access, constants, mkdir, readFile } from "node:fs/promises";
import process from "node:process";
import { type Interruption, runCli } from "./src/cli/run.ts";

async function readStdin(): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Uint8Array);
  return new TextDecoder().decode(Buffer.concat(chunks));
}

// Who to tell when the process is asked to stop; set while the CLI runs.
let stop: ((reason: Interruption) => void) | undefined;
let stdoutClosed = false;

// `| head` closes the pipe: writes then fail (EPIPE), asynchronously on Node,
// and the unhandled error would crash the process with a stack trace. The
// CLI stops as on a signal instead, and writes nothing more there.
process.stdout.on("error", () => {
  stdoutClosed = true;
  stop?.("SIGPIPE");
});
process.stderr.on("error", () => {});

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

// No top-level await: the npm package runs this file as CommonJS too.
runCli({
  args: process.argv.slice(2),
  stdout: {
    write(text: string): void {
      if (stdoutClosed) return;
      try {
        process.stdout.write(text);
      } catch {
        stdoutClosed = true;
        stop?.("SIGPIPE");
      }
    },
    get isTTY(): boolean {
      return process.stdout.isTTY === true;
    },
    get columns(): number | undefined {
      return process.stdout.columns;
    },
    get rows(): number | undefined {
      return process.stdout.rows;
    },
  },
  stderr: {
    write(text: string): void {
      try {
        process.stderr.write(text);
      } catch {
        // Nowhere left to report to.
      }
    },
  },
  env: (name) => process.env[name],
  readInput: (path) => path === "-" ? readStdin() : readFile(path, "utf8"),
  async prepareDir(dir): Promise<void> {
    await mkdir(dir, { recursive: true });
    // Deno asks for --allow-sys (uid, gid) for this check; without it, an
    // unwritable directory shows as each download's error instead.
    await access(dir, constants.W_OK).catch((error) => {
      if ((error as Error).name !== "NotCapable") throw error;
    });
  },
  onInterrupt(handler): () => void {
    stop = handler;
    if (stdoutClosed) handler("SIGPIPE");
    const listeners = SIGNALS.map((signal) => {
      const listener = (): void => handler(signal);
      try {
        process.on(signal, listener);
      } catch {
        // A signal this platform cannot listen to (SIGHUP on Deno for
        // Windows).
      }
      return [signal, listener] as const;
    });
    return () => {
      stop = undefined;
      for (const [signal, listener] of listeners) process.off(signal, listener);
    };
  },
}).then((code) => {
  process.exitCode = code;
}, (error) => {
  console.error(error);
  process.exitCode = 1;
});
