/**
 * {@linkcode UsageError}: what the CLI says of a bad command line or input
 * list, before anything is downloaded.
 *
 * @module
 */

/** A bad command line or input list: the CLI prints the message, exits 2. */
export class UsageError extends Error {
  /**
   * @param message What is wrong, in one line.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
