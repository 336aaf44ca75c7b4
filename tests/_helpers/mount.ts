// Mounts for the tests of a hostile file system (read-only, full, busy),
// made inside a test, never when a file loads (under `deno task test`'s
// permissions that would end the file's registrations). Only root may
// mount: elsewhere `mount()` answers `undefined` and the test skips. (The
// uid is not asked: Deno asks for --allow-sys=uid, which the task lacks.)

import { spawnSync } from "node:child_process";
import { mkdir } from "node:fs/promises";
import process from "node:process";

/** A mount, undone on dispose. */
export interface Mount extends AsyncDisposable {
  /** Where it is mounted. */
  path: string;
}

/** Runs `mount` with `args`; whether it succeeded. */
function run(args: string[]): boolean {
  return spawnSync("mount", args, { stdio: "ignore" }).status === 0;
}

/**
 * Mounts with `mount <args> <path>` (`path` last), or answers `undefined`
 * where that cannot be done here (not Linux, not root, no `mount`).
 */
export function mount(args: string[], path: string): Mount | undefined {
  if (process.platform !== "linux") return undefined;
  if (!run([...args, path])) return undefined;
  return {
    path,
    [Symbol.asyncDispose]: () => {
      spawnSync("umount", [path], { stdio: "ignore" });
      return Promise.resolve();
    },
  };
}

/**
 * Mounts a tmpfs of `size` (`"1m"`) at `path`, a directory it makes, or
 * answers `undefined` where that cannot be done (see {@linkcode mount}).
 */
export async function tmpfs(
  path: string,
  size = "1m",
): Promise<Mount | undefined> {
  await mkdir(path);
  return mount(["-t", "tmpfs", "-o", `size=${size}`, "tmpfs"], path);
}

/** Makes the mount at `path` read-only; whether it could. */
export function remountReadOnly(path: string): boolean {
  return run(["-o", "remount,ro", path]);
}

/** Makes the mount at `path` writable again; whether it could. */
export function remountWritable(path: string): boolean {
  return run(["-o", "remount,rw", path]);
}
