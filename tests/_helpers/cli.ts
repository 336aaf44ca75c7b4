// Runs the `dlmanager` command as a subprocess: `cli.ts` under Deno (the tests
// run from the repository), or the npm package's installed bin under Node (the
// npm build runs the compiled tests from a directory beside its node_modules).

import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import process from "node:process";

/** The permissions the tests run the CLI with under Deno. */
export const DENO_PERMISSIONS: string[] = [
  "--allow-net=127.0.0.1",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
];

/**
 * The command (program and leading arguments) that runs the CLI; under Deno
 * with `permissions`.
 */
export function cliCommand(
  permissions: string[] = DENO_PERMISSIONS,
): [string, string[]] {
  if (existsSync("cli.ts")) {
    return [process.execPath, ["run", ...permissions, resolve("cli.ts")]];
  }
  return [process.execPath, [resolve("../node_modules/.bin/dlmanager")]];
}

/**
 * Whether the CLI, started with SIGHUP ignored (`nohup`), can see it and so
 * keep it ignored: on Deno (under `--allow-all`, which lets it read
 * `/proc/self/status`) and on Bun; not on Node, which puts an inherited
 * ignore back to the default before any script runs.
 */
export const keepsInheritedIgnore: boolean = "Deno" in globalThis ||
  "Bun" in globalThis;

/** How a CLI run ended. */
export interface CliResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** The running CLI, as {@linkcode RunCliOptions.onStdout} gets it. */
export interface CliChild {
  /** Sends the CLI a signal (SIGINT, as Ctrl-C, unless told). */
  kill(signal?: "SIGINT" | "SIGTERM" | "SIGHUP"): void;
  /** Closes the reading end of the CLI's stdout, as `| head` does. */
  closeStdout(): void;
}

/** Options for {@linkcode runCli}. */
export interface RunCliOptions {
  /** Written to the CLI's stdin (which is then closed). */
  stdin?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Called with the stdout so far at each chunk. */
  onStdout?: (stdout: string, child: CliChild) => void;
  /** Under Deno, the permissions to run the CLI with. */
  permissions?: string[];
  /**
   * A file the CLI's stdout is opened on (`> /dev/full`), instead of a pipe
   * to the test: `stdout` is then empty.
   */
  stdoutFile?: string;
  /**
   * Starts the CLI with SIGHUP ignored, as `nohup` does (by a shell's
   * `trap '' HUP`, which `exec` keeps).
   */
  hangupIgnored?: boolean;
}

/** Runs the CLI with `args` to its end. */
export function runCli(
  args: string[],
  options: RunCliOptions = {},
): Promise<CliResult> {
  const [command, leading] = cliCommand(options.permissions);
  const argv = [command, ...leading, ...args];
  // On a file, stdout is opened by a shell: Deno grants a test the devices
  // (/dev/full) only under --allow-all.
  const { stdoutFile, hangupIgnored = false } = options;
  const child = stdoutFile === undefined && !hangupIgnored
    ? spawn(command, argv.slice(1), {
      env: { ...process.env, NO_COLOR: "", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    })
    : spawn("sh", [
      "-c",
      `${hangupIgnored ? "trap '' HUP; " : ""}file="$1"; shift; exec "$@"${
        stdoutFile === undefined ? "" : ' > "$file"'
      }`,
      "sh",
      stdoutFile ?? "",
      ...argv,
    ], {
      env: { ...process.env, NO_COLOR: "", ...options.env },
      stdio: ["pipe", stdoutFile === undefined ? "pipe" : "ignore", "pipe"],
    });
  // Pipes, but stdout when on a file (then null).
  const { stdin, stderr: errors } = child as ChildProcessWithoutNullStreams;
  let stdout = "";
  let stderr = "";
  errors.setEncoding("utf8");
  const control: CliChild = {
    // Not child.kill(): Deno's child_process then reports the signal sent
    // instead of the child's exit code.
    kill: (signal = "SIGINT") => process.kill(child.pid ?? 0, signal),
    closeStdout: () => child.stdout?.destroy(),
  };
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (text: string) => {
    stdout += text;
    options.onStdout?.(stdout, control);
  });
  errors.on("data", (text: string) => stderr += text);
  stdin.end(options.stdin ?? "");
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on(
      "close",
      (code, signal) => resolve({ code, signal, stdout, stderr }),
    );
  });
}
