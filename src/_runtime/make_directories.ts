// `mkdir -p` on `node:fs`, for the Node side of the adapter and the command
// line's check of its directory (`cli.ts`, on every runtime).

import { mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

/**
 * Makes `path` a directory, with its missing parents (`mkdir -p`); throws
 * `node:fs`'s error as it is. Not Node's own `recursive: true`, which on
 * Node 20 to 24 loops for good where the system refuses the directory with
 * ENOENT though its parent exists (`/proc/x`).
 */
export function makeDirectories(path: string): void {
  const parent = dirname(path);
  try {
    mkdirSync(path);
    return;
  } catch (error) {
    if (isExistingDirectory(error, path)) return;
    if (codeOf(error) !== "ENOENT" || parent === path) throw error;
  }
  makeDirectories(parent);
  try {
    mkdirSync(path); // once more: a second ENOENT is the answer
  } catch (error) {
    if (!isExistingDirectory(error, path)) throw error;
  }
}

/** Whether `error`, from making `path`, says a directory is there already. */
function isExistingDirectory(error: unknown, path: string): boolean {
  if (codeOf(error) !== "EEXIST") return false;
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
