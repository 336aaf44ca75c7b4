// The runtime adapter's error vocabulary: the file-system conditions the
// library reacts to, the same on every runtime. `fs_deno.ts` and
// `fs_node.ts` map their runtime's errors to these.

/** The path (or one of its parents) does not exist. */
export class NotFoundError extends Error {
  /** Wraps `cause`, the runtime's own error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NotFoundError";
  }
}

/** The path exists already. */
export class AlreadyExistsError extends Error {
  /** Wraps `cause`, the runtime's own error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AlreadyExistsError";
  }
}

/**
 * The path is neither a file nor a directory (a FIFO, a socket, a device,
 * or a symbolic link to one): reading it could wait for a writer for good
 * (a FIFO) or never end (`/dev/zero`), so it is not read.
 */
export class NotAFileError extends Error {
  /** Names the path. */
  constructor(path: string) {
    super(`"${path}" is not a file (a FIFO, a socket or a device): not read`);
    this.name = "NotAFileError";
  }
}
