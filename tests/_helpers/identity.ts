// The identity another process of this machine records in its locks and
// sidecars (see src/_disk/process_identity.ts), for tests that judge one.

import { readFileSync } from "node:fs";
import {
  type ProcessIdentity,
  thisProcess,
} from "../../src/_disk/process_identity.ts";

/** Whether the runtime may read /proc here (Deno: only with --allow-all). */
export const PROC: boolean = thisProcess().start !== undefined;

/** The fields of `/proc/<pid>/stat` from the state (field 3) on. */
export function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** The identity the running process `pid` of this machine would record. */
export function identityOf(pid: number): ProcessIdentity {
  const me = thisProcess();
  if (!PROC) return { host: me.host, pid, booted: me.booted };
  return { ...me, pid, start: statFields(pid)[19] };
}
