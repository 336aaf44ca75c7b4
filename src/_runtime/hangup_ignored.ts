// Whether the process was started with SIGHUP ignored (`nohup`, or a shell's
// `trap '' HUP`), for the command line, which then leaves it ignored rather
// than listening to it. Read from the kernel's own account of the process
// (`/proc/self/status`), which only Linux gives.

import { readFileSync } from "node:fs";

/** SIGHUP's bit in `/proc/self/status`'s `SigIgn` mask: 1 << (1 - 1). */
const SIGHUP_BIT = 1n;

/** Deno's permission API, where the process runs on Deno. */
const deno = (globalThis as {
  Deno?: {
    permissions: {
      querySync(descriptor: { name: "read"; path: string }): {
        state: string;
      };
    };
  };
}).Deno;

/**
 * Whether SIGHUP is ignored now: called before anything listens to it, that
 * is whether the process was started with it ignored. `false` where that
 * cannot be known: off Linux, under Deno without read access to
 * `/proc/self/status` (asked without prompting), and on Node, which puts
 * every inherited ignored signal back to its default before any script
 * runs (so that `nohup node` dies of SIGHUP all the same).
 *
 * @returns Whether SIGHUP is ignored.
 *
 * @example
 * ```ts
 * const keepOnHangup = hangupIgnored(); // true under `nohup deno run ...`
 * ```
 */
export function hangupIgnored(): boolean {
  const path = "/proc/self/status";
  try {
    if (
      deno !== undefined &&
      deno.permissions.querySync({ name: "read", path }).state !== "granted"
    ) {
      return false;
    }
    const mask = /^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync(path, "utf8"));
    return mask !== null && (BigInt(`0x${mask[1]}`) & SIGHUP_BIT) !== 0n;
  } catch {
    return false;
  }
}
