// Child processes for the multi-process tests, on the runtime running the
// tests: Deno runs the `.ts` script from the repository; the npm build runs
// the compiled `.js` beside the tests (no `import.meta` in its CommonJS run).

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";

/** A running child whose stdout lines are collected. */
export interface Child {
  process: ChildProcess;
  /** Every line printed so far. */
  lines: string[];
  /** Resolves with the first line (so far or to come) that satisfies `match`. */
  line(match: (line: string) => boolean): Promise<string>;
  /** Calls `listener` with each line printed from now on, as it comes. */
  onLine(listener: (line: string) => void): void;
  /** Resolves with the exit code, or the signal's name. */
  exited: Promise<number | string | null>;
}

/**
 * Starts the fixture `tests/_fixtures/<name>.ts` (Deno) or
 * `_fixtures/<name>.js` (Node, from the compiled tests' directory) with `args`, run by
 * `wrapper` if given (a command that runs the rest of its arguments, such as
 * `unshare --pid --fork`), in `env` if given (else this process's
 * environment). On Deno, `allowEnv` grants only those environment variables
 * (else all of them).
 */
export function startChild(
  name: string,
  args: string[],
  wrapper: string[] = [],
  env?: Record<string, string>,
  allowEnv?: readonly string[],
): Child {
  const script = existsSync(`tests/_fixtures/${name}.ts`)
    ? `tests/_fixtures/${name}.ts`
    : `_fixtures/${name}.js`;
  const command = "Deno" in globalThis
    ? [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-write",
      allowEnv === undefined ? "--allow-env" : `--allow-env=${allowEnv}`,
      "--allow-sys=hostname,osUptime",
      // For the dead-owner check of a lock (process.kill(pid, 0)).
      "--allow-run",
      script,
    ]
    : [script];
  const [program, ...leading] = [...wrapper, process.execPath];
  const child = spawn(program as string, [...leading, ...command, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    ...(env === undefined ? {} : { env }),
  });
  const lines: string[] = [];
  const waiters: {
    match: (line: string) => boolean;
    resolve: (line: string) => void;
  }[] = [];
  const listeners: ((line: string) => void)[] = [];
  let rest = "";
  child.stdout?.on("data", (chunk: Uint8Array) => {
    const text = rest + new TextDecoder().decode(chunk);
    const parts = text.split("\n");
    rest = parts.pop() ?? "";
    for (const line of parts) {
      lines.push(line);
      for (const listener of listeners) listener(line);
      for (const waiter of [...waiters]) {
        if (waiter.match(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  const exited = new Promise<number | string | null>((resolve) =>
    child.on("exit", (code, signal) => resolve(signal ?? code))
  );
  return {
    process: child,
    lines,
    exited,
    line: (match) => {
      const found = lines.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
    onLine: (listener) => listeners.push(listener),
  };
}
