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
  if (error instanceof InTheWayError) {
    return asFileSystemError(
      error.cause,
      `${context} (its ${error.file} "${error.path}")`,
      path,
    );
  }
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
  if (error instanceof InTheWayError) return true;
  return fs.errorCode(error) !== undefined;
}

/**
 * A directory (or a link to one) in the way of one of a download's own
 * files beside its destination, under its reserved name (its lock, its
 * sidecar): put there by another program, or a user. Told by
 * {@linkcode asFileSystemError} with that file's name, so that the
 * directory is not looked for at the destination, where nothing is.
 */
export class InTheWayError extends Error {
  /** What the file is to the download: `"lock file"`, `"sidecar"`. */
  readonly file: string;
  /** Its path. */
  readonly path: string;
  /** The file system's error (`EISDIR`). */
  override readonly cause: unknown;

  /** Tells that `cause` was met at the download's `file`, at `path`. */
  constructor(file: string, path: string, cause: unknown) {
    super(`A directory is in the way of the ${file} "${path}"`, { cause });
    this.name = "InTheWayError";
    this.file = file;
    this.path = path;
    this.cause = cause;
  }
}

/**
 * `error`, met at the download's `file` at `path`, as an
 * {@linkcode InTheWayError} if it says a directory is there (`EISDIR`);
 * any other error as it is.
 */
export function atOwnFile(error: unknown, file: string, path: string): unknown {
  return fs.errorCode(error) === "EISDIR"
    ? new InTheWayError(file, path, error)
    : error;
}
