// Runs the `dlmanager` command as a subprocess: `cli.ts` under Deno (the tests
// run from the repository), or the npm package's installed bin under Node (the
// npm build runs the compiled tests from a directory beside its node_modules).

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import process from "node:process";

/** The command (program and leading arguments) that runs the CLI. */
export function cliCommand(): [string, string[]] {
  if (existsSync("cli.ts")) {
    return [process.execPath, [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys",
      resolve("cli.ts"),
    ]];
  }
  return [process.execPath, [resolve("../node_modules/.bin/dlmanager")]];
}

/** How a CLI run ended. */
export interface CliResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Options for {@linkcode runCli}. */
export interface RunCliOptions {
  /** Written to the CLI's stdin (which is then closed). */
  stdin?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Called with the stdout so far at each chunk, and a function sending Ctrl-C. */
  onStdout?: (stdout: string, interrupt: () => void) => void;
}

/** Runs the CLI with `args` to its end. */
export function runCli(
  args: string[],
  options: RunCliOptions = {},
): Promise<CliResult> {
  const [command, leading] = cliCommand();
  const child = spawn(command, [...leading, ...args], {
    env: { ...process.env, NO_COLOR: "", ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (text: string) => {
    stdout += text;
    // Not child.kill(): Deno's child_process then reports the signal sent
    // instead of the child's exit code.
    options.onStdout?.(stdout, () => process.kill(child.pid ?? 0, "SIGINT"));
  });
  child.stderr.on("data", (text: string) => stderr += text);
  child.stdin.end(options.stdin ?? "");
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on(
      "close",
      (code, signal) => resolve({ code, signal, stdout, stderr }),
    );
  });
}
