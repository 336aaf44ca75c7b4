// Removing a file that may be missing: another process (or the user) may
// have removed it first, which is as good. Any other failure is thrown.

import { fs, NotFoundError } from "./fs.ts";

/** Removes the file `path`; returns whether it was there to remove. */
export async function removeIfPresent(path: string): Promise<boolean> {
  try {
    await fs.remove(path);
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
}

/** {@linkcode removeIfPresent}, synchronous, for small files. */
export function removeIfPresentSync(path: string): boolean {
  try {
    fs.removeSync(path);
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
}

/**
 * Whether `error` is the file system refusing this process a removal: a
 * permission (another user's file in a shared directory, an immutable
 * file), which another process may be allowed, or a read-only mount (a
 * cache shipped read-only, with what a killed process left in it), which
 * no process here may change.
 */
export function isRefused(error: unknown): boolean {
  const code = fs.errorCode(error);
  return code === "EPERM" || code === "EACCES" || code === "EROFS";
}
