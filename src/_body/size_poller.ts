// Watches a file grow by reading its size from disk now and then: the
// progress of a runtime's pipe (see `FileWriter.pipe`), which reports nothing
// while it runs.

import { fs } from "../_runtime/fs.ts";
import { gone } from "../_disk/partial_file.ts";

/**
 * How often a pipe's file is measured, in milliseconds: often enough
 * for a progress bar, rarely enough to cost nothing measurable.
 */
export const POLL_INTERVAL = 100;

/**
 * The interval for a pipe under an idle timeout of `idleTimeout` ms: growth
 * is seen up to one interval late, so at most a tenth of the timeout.
 */
export function pollInterval(idleTimeout: number): number {
  return idleTimeout > 0
    ? Math.min(POLL_INTERVAL, idleTimeout / 10)
    : POLL_INTERVAL;
}

/** Calls `onGrow` with the size of a file each time a look finds it grown. */
export class SizePoller {
  #path: string;
  #interval: number;
  #onGrow: (size: number) => void;
  #onError: (error: unknown) => void;
  #size: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  // Whether a look found the file (a missing one is waited for until then).
  #seen = false;

  /**
   * Starts watching.
   *
   * @param path The file.
   * @param size Its size now.
   * @param interval Milliseconds between looks.
   * @param onGrow Called with the new size; may throw, which is `onError`'s.
   * @param onError Called once if a look or `onGrow` fails, or finds the
   * file, seen at an earlier look, gone from its name (a `NotFoundError`);
   * watching stops.
   */
  constructor(
    path: string,
    size: number,
    interval: number,
    onGrow: (size: number) => void,
    onError: (error: unknown) => void,
  ) {
    this.#path = path;
    this.#size = size;
    this.#interval = interval;
    this.#onGrow = onGrow;
    this.#onError = onError;
    this.#arm();
  }

  /** Stops for good; a look under way reports nothing. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #arm(): void {
    this.#timer = setTimeout(() => this.#look(), this.#interval);
  }

  async #look(): Promise<void> {
    try {
      const stat = await fs.stat(this.#path);
      if (this.#stopped) return;
      if (stat !== undefined) {
        this.#seen = true;
        if (stat.size > this.#size) {
          this.#size = stat.size;
          this.#onGrow(stat.size);
        }
      } else if (this.#seen) {
        // Gone from its name: written on through its descriptor, it would
        // be lost all the same.
        throw gone(this.#path);
      }
    } catch (error) {
      if (this.#stopped) return;
      this.#stopped = true;
      this.#onError(error);
      return;
    }
    if (!this.#stopped) this.#arm();
  }
}
