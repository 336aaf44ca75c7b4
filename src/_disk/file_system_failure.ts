// A file system's failure as the public `FileSystemError`, named the same way
// on every runtime (the adapter reads the error number: see `Fs.errorCode`).

import { FileSystemError } from "../errors.ts";
import { fs } from "../_runtime/fs.ts";

/**
 * `error` as a {@linkcode FileSystemError} about `path`, with `context` for
 * its message (`Cannot download "<url>" to "<path>"`), if the file system
 * threw it; any other error as it is.
 */
export function asFileSystemError(
  error: unknown,
  context: string,
  path: string,
): unknown {
  const code = fs.errorCode(error);
  return code === undefined
    ? error
    : new FileSystemError(context, path, code, { cause: error });
}

/**
 * Whether `error` is the file system's failure (a full disk, a read-only
 * mount, a permission): the download's own, which no other source of the
 * file would mend.
 */
export function isFileSystemFailure(error: unknown): boolean {
  return fs.errorCode(error) !== undefined;
}
