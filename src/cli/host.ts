/**
 * What the command line needs from its process ({@linkcode CliHost}), what
 * stops it early, and its exit codes.
 *
 * @module
 */

import { FileSystemError } from "../errors.ts";
import type { TextSink } from "./render.ts";

/** What the CLI needs from its process. */
export interface CliHost {
  /** The arguments, without the runtime and script. */
  args: string[];
  /**
   * Standard output; `isTTY`, `columns` and `rows` as on a Node stream (read
   * at each redraw: a terminal may be resized). Once the output is closed,
   * writes must do nothing (the host reports it as `SIGPIPE`).
   */
  stdout: TextSink & {
    isTTY?: boolean | undefined;
    columns?: number | undefined;
    rows?: number | undefined;
  };
  /** Standard error; `isTTY` as on a Node stream. */
  stderr: TextSink & { isTTY?: boolean | undefined };
  /** An environment variable. */
  env(name: string): string | undefined;
  /** Reads a text file (`-i FILE`); `-` reads standard input. */
  readInput(path: string): Promise<string>;
  /** Creates `dir` if missing and checks it can be written to. */
  prepareDir(dir: string): Promise<void>;
  /**
   * Calls `handler` when the process is asked to stop: on Ctrl-C (SIGINT),
   * SIGTERM or SIGHUP, and with `SIGPIPE` when standard output is closed
   * (`dlmanager --json | head -2`); until the returned function is called.
   * A second signal does not wait for the first to be handled: `handler` is
   * called with `last` set, to put back at once what cannot be left (the
   * terminal's cursor), and the process exits when it returns.
   */
  onInterrupt(
    handler: (reason: Interruption, last: boolean) => void,
  ): () => void;
  /**
   * Calls `handler` with `true` when the terminal stops the process (Ctrl-Z,
   * SIGTSTP), just before it stops, and with `false` when it goes on
   * (SIGCONT); until the returned function is called. Where the platform
   * has no such signals, never.
   */
  onSuspend(handler: (suspended: boolean) => void): () => void;
}

/** Why the CLI stops early: a signal, or `SIGPIPE` for a closed output. */
export type Interruption = "SIGINT" | "SIGTERM" | "SIGHUP" | "SIGPIPE";

/** Exit codes. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/**
 * The exit code after each {@linkcode Interruption}: 128 + the signal's
 * number, as a shell reports a process the signal killed.
 */
export const INTERRUPTED_EXIT: Record<Interruption, number> = {
  SIGHUP: 129,
  SIGINT: 130,
  SIGPIPE: 141,
  SIGTERM: 143,
};

/** The first line of an error's message. */
export function message(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0] ?? text;
}

/**
 * What failed, and why: a file system's error in the words the library's
 * {@linkcode FileSystemError} uses on every runtime ("a file is in the way
 * (EEXIST)"), not the runtime's own ("EEXIST: file already exists, mkdir
 * 'f'", or Deno's "File exists (os error 17)"); another error (a permission
 * Deno refused) by its message.
 *
 * @param context What failed, e.g. `Cannot read input file "<path>"`.
 * @param path The file it was about.
 * @param error The runtime's error.
 * @returns The message.
 *
 * @example
 * ```ts
 * const error = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
 * failure("Cannot write the output", "", error);
 * // "Cannot write the output: no space left on device (ENOSPC)"
 * ```
 */
export function failure(context: string, path: string, error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^E[A-Z0-9]+$/.test(code)
    ? new FileSystemError(context, path, code).message
    : `${context}: ${message(error)}`;
}
