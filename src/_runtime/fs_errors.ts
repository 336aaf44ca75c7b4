// The runtime adapter's error vocabulary: the two file-system conditions the
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
