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
 * written to). Of its own, under Deno, it needs no more than `--allow-net
 * --allow-read --allow-write`, and never makes Deno prompt: it reads the
 * environment only where `--allow-env` granted it. It lives outside
 * `src/`, where nothing but the runtime adapter touches the file system;
 * `node:fs/promises` and `node:process` behave the same under Deno and Node.
 * The logic is in `src/cli/run.ts`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { open, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { hangupIgnored } from "./src/_runtime/hangup_ignored.ts";
import { makeDirectories } from "./src/_runtime/make_directories.ts";
import {
  EXIT,
  failure,
  INTERRUPTED_EXIT,
  type Interruption,
  runCli,
} from "./src/cli/run.ts";

// Started with SIGHUP ignored (`nohup dlmanager URL &`): the user asked for
// the run to outlive the terminal, and a listener to SIGHUP that stopped it
// would undo that (a listener replaces the ignore). Its listener then does
// nothing, rather than there being none: Deno, once anything listens to a
// signal (itself to SIGWINCH, once stdout is asked whether it is a
// terminal), catches SIGHUP too, and dies of it where nothing listens; and
// so this is read first. A terminal that went away does not stop such a
// run either. Where the ignore cannot be seen (Node puts it back to the
// default before any script runs; Deno shows it only under --allow-all),
// SIGHUP stops the run as Ctrl-C does.
const keepOnHangup = hangupIgnored();

async function readStdin(): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Uint8Array);
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/**
 * Creates `dir` if missing, and checks that a file can be created in it by
 * creating one. Not `access()`: under Deno that asks for `--allow-sys` (uid
 * and gid), and either prompts or throws where a promise cannot catch it.
 * Not `mkdir(dir, { recursive: true })`: on Node 20 to 24 it never returns
 * where the system refuses the directory though its parent exists
 * (`/proc/x`), and the command spun for good.
 */
async function prepareDir(dir: string): Promise<void> {
  makeDirectories(dir);
  const probe = join(
    dir,
    `.dlmanager-probe-${process.pid}-${Math.random().toString(36).slice(2)}`,
  );
  await (await open(probe, "wx")).close();
  await unlink(probe);
}

/** Deno's permission API, where the CLI runs on Deno. */
const deno = (globalThis as {
  Deno?: {
    permissions: {
      querySync(descriptor: { name: "env"; variable: string }): {
        state: string;
      };
    };
  };
}).Deno;

/**
 * An environment variable, or `undefined`. Under Deno without
 * `--allow-env`, reading one prompts on a terminal and throws elsewhere: the
 * permission is queried first (which never prompts), and the variable taken
 * as unset unless granted.
 */
function env(name: string): string | undefined {
  if (
    deno !== undefined &&
    deno.permissions.querySync({ name: "env", variable: name }).state !==
      "granted"
  ) {
    return undefined;
  }
  return process.env[name];
}

// Who to tell when the process is asked to stop; set while the CLI runs.
let stop: ((reason: Interruption, last: boolean) => void) | undefined;
// Why the output is gone, once it is: its reader closed it ("SIGPIPE"), or
// the terminal it was went away ("SIGHUP").
let outputGone: Interruption | undefined;
// Why the output failed, when not closed by its reader (a full disk, an I/O
// error): said on stderr at exit, which is then a failure.
let outputError: unknown;
// Read once: a terminal that went away is no terminal to ask any more.
const stdoutIsTerminal = process.stdout.isTTY === true;

// `| head` closes the pipe: writes then fail (EPIPE), asynchronously on Node,
// and the unhandled error would crash the process with a stack trace. The
// CLI stops as on a signal instead, and writes nothing more there. A
// terminal that went away (its window closed, the ssh connection lost)
// fails writes too (EIO; EPIPE on Deno), and sends SIGHUP, which may come
// later: the CLI stops as on SIGHUP, silently, there being no one left to
// tell (or, kept on SIGHUP, goes on silently). Any other write error
// (`> /dev/full`: ENOSPC, thrown at once on Deno) stops it as a closed pipe
// does, but is not silent: the output the user asked for is lost.
function outputFailed(error: unknown): void {
  const code = (error as { code?: unknown } | null)?.code;
  const hungUp = stdoutIsTerminal && (code === "EIO" || code === "EPIPE");
  outputGone ??= hungUp ? "SIGHUP" : "SIGPIPE";
  if (!hungUp && code !== "EPIPE") outputError ??= error;
  if (outputStops()) stop?.(outputGone, false);
}

/** Whether the output, once gone, stops the run. */
function outputStops(): boolean {
  return outputGone !== undefined && !(outputGone === "SIGHUP" && keepOnHangup);
}
process.stdout.on("error", outputFailed);
process.stderr.on("error", () => {});
process.on("exit", () => {
  if (tellOutputError()) process.exitCode = EXIT.failed;
});

/** Says on stderr why the output failed, once; whether it did. */
function tellOutputError(): boolean {
  if (outputError === undefined) return false;
  writeStderr(
    `dlmanager: ${failure("Cannot write the output", "", outputError)}\n`,
  );
  outputError = undefined;
  return true;
}

/** Writes to stderr, if it can still be written (Deno throws where it cannot). */
function writeStderr(text: string): void {
  try {
    process.stderr.write(text);
  } catch {
    // Nowhere left to report to.
  }
}

/**
 * Ends the process by `signal`, as the signal would have, had nothing caught
 * it, once nothing listens to it here. By SIGINT (Ctrl-C), a shell running
 * the CLI (a script, a loop) then stops too: a shell goes on after a command
 * that exits, 130 or not, taking it that the command handled Ctrl-C itself.
 * By SIGHUP (the terminal went away), Node does not put back at exit the
 * terminal's modes (which, the terminal gone, it cannot: it aborts, exit
 * 134, with a native stack trace). The shell reports 128 + the signal's
 * number all the same. Where signals are not POSIX's (Windows), the process
 * exits with that number.
 */
function endBySignal(signal: "SIGINT" | "SIGHUP"): void {
  if (process.platform === "win32") process.exit(INTERRUPTED_EXIT[signal]);
  tellOutputError();
  process.kill(process.pid, signal);
  // Deno delivers it a moment later: an exit meanwhile would win. Should it
  // never come, the process exits with its number after a second.
  setTimeout(() => process.exit(INTERRUPTED_EXIT[signal]), 1000);
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

// No top-level await: the npm package runs this file as CommonJS too.
runCli({
  args: process.argv.slice(2),
  stdout: {
    write(text: string): void {
      if (outputGone !== undefined) return;
      try {
        process.stdout.write(text);
      } catch (error) {
        outputFailed(error);
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
    write: writeStderr,
    get isTTY(): boolean {
      return process.stderr.isTTY === true;
    },
  },
  env,
  readInput: (path) => path === "-" ? readStdin() : readFile(path, "utf8"),
  prepareDir,
  onInterrupt(handler): () => void {
    stop = handler;
    if (outputStops()) handler(outputGone as Interruption, false);
    let stopping = false;
    const remove = (): void => {
      stop = undefined;
      for (const [signal, listener] of listeners) process.off(signal, listener);
    };
    const listeners = SIGNALS.map((signal) => {
      const listener = (): void => {
        if (signal === "SIGHUP" && keepOnHangup) return;
        // The first stops the downloads, keeping what can resume; a
        // second does not wait for that, but puts the terminal back first.
        if (stopping) {
          handler(signal, true);
          remove();
          if (signal !== "SIGTERM") return endBySignal(signal);
          process.exit(INTERRUPTED_EXIT[signal]);
        }
        stopping = true;
        handler(signal, false);
      };
      try {
        process.on(signal, listener);
      } catch {
        // A signal this platform cannot listen to (SIGHUP on Deno for
        // Windows).
      }
      return [signal, listener] as const;
    });
    return remove;
  },
  onSuspend(handler): () => void {
    // The stop due, until it is made.
    let stop: ReturnType<typeof setTimeout> | undefined;
    const suspend = (): void => {
      handler(true);
      // The stop itself, which a listener to SIGTSTP takes the place of, is
      // made on a later turn: a SIGCONT that came before it (a quick `fg`
      // while the shell, having seen a wrapper or subshell stop, had the
      // terminal) cancels it rather than being lost to it, which left the
      // process stopped in the foreground for good.
      clearTimeout(stop);
      stop = setTimeout(() => {
        stop = undefined;
        process.kill(process.pid, "SIGSTOP");
      }, 0);
    };
    const resume = (): void => {
      clearTimeout(stop);
      stop = undefined;
      handler(false);
    };
    try {
      process.on("SIGTSTP", suspend);
      process.on("SIGCONT", resume);
    } catch {
      // No job control on this platform (Windows).
      process.off("SIGTSTP", suspend);
      return () => {};
    }
    return () => {
      clearTimeout(stop);
      process.off("SIGTSTP", suspend);
      process.off("SIGCONT", resume);
    };
  },
}).then((code) => {
  process.exitCode = code;
  // Stopped by Ctrl-C, or by the terminal going away: once what was written
  // is out (a pipe's writes are asynchronous on macOS), the process ends by
  // the signal, its listeners gone with the run.
  const signal = code === INTERRUPTED_EXIT.SIGINT
    ? "SIGINT"
    : code === INTERRUPTED_EXIT.SIGHUP
    ? "SIGHUP"
    : undefined;
  if (signal === undefined) return;
  const end = (): void => endBySignal(signal);
  const flushStderr = (): void => void process.stderr.write("", end);
  try {
    if (outputGone !== undefined) flushStderr();
    else process.stdout.write("", flushStderr);
  } catch {
    end();
  }
}, (error) => {
  console.error(error);
  process.exitCode = 1;
});
