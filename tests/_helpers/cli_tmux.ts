// A real terminal for the CLI's tests: tmux runs a command in a detached pane
// of a fixed size (its stdin, stdout and stderr a pseudo-terminal), and the
// tests read the pane's screen together with its scrollback. Tests using it
// skip where tmux is missing (.ci/run installs it).

import { spawnSync } from "node:child_process";
import { constants, writeFileSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { cliCommand } from "./cli.ts";

/** Whether tmux can be run here. */
export const HAS_TMUX: boolean = spawnSync("tmux", ["-V"]).status === 0;

/** `arg` quoted for a POSIX shell. */
export function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Options for {@linkcode cliShellCommand}. */
export interface CliShellOptions {
  /** Where the CLI's pid is written (for a test that signals it). */
  pidFile?: string;
  /** Under Deno, the permissions to run the CLI with. */
  permissions?: string[];
  /**
   * A FIFO (see {@linkcode exitStatusFifo}) the CLI's exit status is written
   * to, by a shell of its own that outlives the terminal: for a test that
   * closes the terminal ({@linkcode Pane.hangUp}).
   */
  statusFifo?: string;
  /**
   * Starts the CLI with SIGHUP ignored, as `nohup` does (by a shell's
   * `trap '' HUP`, which `exec` keeps). @default {false}
   */
  hangupIgnored?: boolean;
}

/**
 * The CLI with `args`, quoted for a shell, run by `env` with `env`'s
 * arguments (`NAME=value` to set, `-u NAME` to unset).
 */
export function cliLine(
  args: string[],
  env: string[] = ["NO_COLOR=1"],
  permissions?: string[],
): string {
  const [runtime, leading] = cliCommand(permissions);
  return ["env", ...env, runtime, ...leading, ...args].map(shellQuote)
    .join(" ");
}

/**
 * `cli` (a line from {@linkcode cliLine}) run by a shell that first writes
 * its pid to `pidFile`: `exec`, so that the pid written is the CLI's.
 */
export function withPidFile(cli: string, pidFile: string): string {
  return `sh -c ${shellQuote(`echo $$ > ${shellQuote(pidFile)}; exec ${cli}`)}`;
}

/**
 * A shell command running the CLI with `args` (with NO_COLOR), then printing
 * `[exit <status>]` and waiting, so that the pane stays to be read.
 */
export function cliShellCommand(
  args: string[],
  options: CliShellOptions = {},
): string {
  const line = cliLine(args, undefined, options.permissions);
  const { pidFile, statusFifo } = options;
  const cli = options.hangupIgnored
    ? `sh -c ${shellQuote(`trap '' HUP; exec ${line}`)}`
    : line;
  const run = pidFile === undefined ? cli : withPidFile(cli, pidFile);
  if (statusFifo !== undefined) {
    // The pane's shell, the session leader, dies of the hangup, and the
    // terminal sends SIGHUP to the CLI, as when a window closes with a
    // shell and its command in it; this shell takes SIGHUP and goes on.
    return `sh -c ${
      shellQuote(`trap true HUP; ${run}; echo $? > ${shellQuote(statusFifo)}`)
    }`;
  }
  return `${run}; echo "[exit $?]"; sleep 600`;
}

/** A FIFO a shell writes an exit status to, and the status it gets. */
export interface ExitStatusFifo extends AsyncDisposable {
  /** Its path. */
  path: string;
  /** The status written, once it is (`NaN` if none was when disposed of). */
  status: Promise<number>;
}

/**
 * Makes a FIFO at `path` and reads it: the status comes when a shell
 * writes it, with no polling. Disposing ends a read still waiting.
 */
export function exitStatusFifo(path: string): ExitStatusFifo {
  const made = spawnSync("mkfifo", [path]);
  if (made.status !== 0) {
    throw new Error(`mkfifo "${path}" failed: ${made.stderr}`);
  }
  let read = false;
  const status = readFile(path, "utf8").then((text) => {
    read = true;
    return text.trim() === "" ? NaN : Number(text);
  });
  return {
    path,
    status,
    [Symbol.asyncDispose]: async () => {
      if (read) return;
      // A writer opened and closed: the read ends, empty. Non-blocking, so
      // that it fails (ENXIO) rather than waits if no read is left.
      try {
        await (await open(path, constants.O_WRONLY | constants.O_NONBLOCK))
          .close();
      } catch {
        // No read was left waiting.
      }
      await status.catch(() => {});
    },
  };
}

/**
 * The timeout of a test using a pane: a step takes a second or two on a
 * loaded machine, the slowest test ten.
 */
export const TMUX_TEST_TIMEOUT = 60_000;

/** The options of a test using a pane: skipped where tmux is missing. */
export const TMUX_TEST: { skip: string | false; timeout: number } = {
  skip: !HAS_TMUX && "tmux is not installed",
  timeout: TMUX_TEST_TIMEOUT,
};

/**
 * How long after a pane starts `until` gives up: before the test's timeout
 * ({@linkcode TMUX_TEST_TIMEOUT}), so that a test stuck on a step fails with
 * the step and the screen, and its polling ends with it.
 */
const UNTIL_LIMIT = TMUX_TEST_TIMEOUT - 10_000;

/** A tmux pane running a command. */
export interface Pane extends Disposable {
  /** Runs a tmux command on this pane's server; returns its stdout. */
  tmux(...args: string[]): string;
  /**
   * The scrollback and the screen, in one capture (so the two are of one
   * moment), wrapped lines joined, trailing blanks trimmed.
   */
  capture(): string[];
  /**
   * Captures until `ready` holds for a capture, and returns that capture.
   * There is no event to await from a terminal: this polls, and gives up
   * shortly before the test's timeout ({@linkcode TMUX_TEST_TIMEOUT}, from
   * the pane's start), throwing `step` (what the test waits for), the time
   * it waited and the last capture.
   */
  until(
    ready: (lines: string[]) => boolean,
    step?: string,
  ): Promise<string[]>;
  /** Whether the terminal shows its cursor (a program may hide it). */
  cursorVisible(): boolean;
  /**
   * Closes the terminal, as a closed window or a lost ssh connection does:
   * its session's leader (the pane's shell) gets SIGHUP, and writes to it
   * fail. Disposing of the pane then does nothing.
   */
  hangUp(): void;
}

/**
 * Starts a tmux server of its own (its socket and config in `dir`), with one
 * pane of `width` x `height` running `command` in a shell.
 */
export function tmuxPane(
  dir: string,
  width: number,
  height: number,
  command: string,
): Pane {
  const socket = join(dir, "tmux.sock");
  const config = join(dir, "tmux.conf");
  writeFileSync(config, "set -g status off\n");
  const tmux = (...args: string[]): string => {
    const result = spawnSync("tmux", ["-S", socket, "-f", config, ...args], {
      encoding: "utf8",
    });
    if (result.status !== 0) throw new Error(`tmux ${args}: ${result.stderr}`);
    return result.stdout;
  };
  tmux(
    "new-session",
    "-d",
    "-x",
    String(width),
    "-y",
    String(height),
    command,
  );
  let closed = false;
  const end = Date.now() + UNTIL_LIMIT;
  const capture = (): string[] =>
    tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "0")
      .replace(/\s+$/, "").split("\n").map((line) => line.trimEnd());
  return {
    tmux,
    capture,
    async until(ready, step = "the awaited screen"): Promise<string[]> {
      const start = Date.now();
      for (;;) {
        const lines = capture();
        if (ready(lines)) return lines;
        if (Date.now() > end) {
          throw new Error(
            `The terminal never showed ${step} (${
              Date.now() - start
            } ms waited):\n${lines.join("\n")}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    cursorVisible: () =>
      tmux("display-message", "-p", "-t", "0", "#{cursor_flag}").trim() ===
        "1",
    hangUp(): void {
      if (closed) return;
      closed = true;
      tmux("kill-server");
    },
    [Symbol.dispose](): void {
      this.hangUp();
    },
  };
}
