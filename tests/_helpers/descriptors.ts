// Running a child process out of file descriptors (EMFILE), for the fixtures
// that check what the library does then: under a low `ulimit -n`, the
// process opens /dev/null until the system refuses it one.

import { closeSync, openSync } from "node:fs";

/** Opens /dev/null until the process is refused one; the descriptors. */
export function exhaustDescriptors(): number[] {
  const held: number[] = [];
  for (;;) {
    try {
      held.push(openSync("/dev/null", "r"));
    } catch (error) {
      if ((error as { code?: unknown }).code === "EMFILE") return held;
      throw error;
    }
  }
}

/** Closes the descriptors {@linkcode exhaustDescriptors} opened. */
export function releaseDescriptors(held: number[]): void {
  for (const fd of held) closeSync(fd);
}
