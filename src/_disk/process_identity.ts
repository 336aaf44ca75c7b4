// Who a process is, recorded in the files it leaves in a shared directory
// (its locks and its partial files' sidecars), and whether that process is
// still running, as another process on the same machine can prove it.
//
// A pid alone proves little: it is reused after the process ends, after a
// reboot, and in another pid namespace (another container on the same
// kernel) it names another process. So an identity also records, where the
// system tells them (Linux's /proc; Deno reads it only with --allow-all), the
// boot it belongs to, the pid namespace, and the process's start time, and
// otherwise when the machine booted (from its uptime). A process is proven dead only when
// it is on this machine in this boot and pid namespace, and its pid is free,
// or now names a process that started at another time, or names it ended,
// every thread of it (a zombie its parent has not waited for); proven alive
// when its pid names it still running. Anything else (another machine,
// another container, a system or a permission that tells nothing) is
// "unknown": then only its heartbeat speaks for it.

import { host } from "../_runtime/fs.ts";

/** A process, as recorded in a lock or a sidecar. */
export interface ProcessIdentity {
  /** Its machine's name, if it could read it. */
  host?: string | undefined;
  /** Its pid. */
  pid: number;
  /** Linux's boot id when it ran. */
  boot?: string | undefined;
  /** When its machine booted, in ms since the epoch (to a second or so). */
  booted?: number | undefined;
  /** Its pid namespace (`pid:[4026531836]`). */
  pidns?: string | undefined;
  /** Its start time, in clock ticks since boot (field 22 of `/proc/<pid>/stat`). */
  start?: string | undefined;
}

// A token names one owner file, one lock that is its own file, or one
// download's partial file: random per process (drawn once, as drawing costs
// more than taking a lock), then counted.
const processToken = randomHex(8);
let tokensIssued = 0;

/**
 * `bytes` random bytes, as twice as many lowercase hex digits.
 *
 * @example
 * ```ts
 * randomHex(4); // "89abcdef", say
 * ```
 */
export function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}

/** A token no other token of any process is equal to: `<16 hex>-<n>`. */
export function newToken(): string {
  return `${processToken}-${(tokensIssued++).toString(16)}`;
}

/** What can be proven about a recorded process. */
export type ProcessState = "alive" | "dead" | "unknown";

let self: ProcessIdentity | undefined;

/** The fields of `/proc/<pid>/stat`'s text from field 3 (the state) on. */
function statFields(stat: string): string[] {
  // The name (field 2) is in parentheses and may hold spaces or parentheses.
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** The start time in `/proc/<pid>/stat`'s text: field 22. */
function startTimeOf(stat: string): string | undefined {
  return statFields(stat)[19];
}

function trimmed(text: string | null | undefined): string | undefined {
  const value = text?.trim();
  return value === "" ? undefined : value;
}

/** This process's identity, read once. */
export function thisProcess(): ProcessIdentity {
  if (self !== undefined) return self;
  const pid = host.pid;
  const stat = host.readSystemFile("/proc/self/stat");
  self = {
    host: host.hostname(),
    pid,
    boot: trimmed(host.readSystemFile("/proc/sys/kernel/random/boot_id")),
    booted: host.bootTime(),
    pidns: host.readSystemLink("/proc/self/ns/pid"),
    start: typeof stat === "string" ? startTimeOf(stat) : undefined,
  };
  return self;
}

/** Boot times further apart than this are two boots. */
const BOOT_TIME_SLACK = 10_000;

/**
 * Whether `other`'s pids are this process's pids: the same boot and pid
 * namespace where both are known (Linux's /proc), else the same host name
 * and no sign of another boot. (Another boot may be another machine of the
 * same name: it proves nothing either way.)
 */
function samePidSpace(other: ProcessIdentity): boolean {
  const me = thisProcess();
  if (me.boot && other.boot && me.pidns && other.pidns) {
    return other.boot === me.boot && other.pidns === me.pidns;
  }
  if (me.host === undefined || other.host !== me.host) return false;
  return me.booted === undefined || other.booted === undefined ||
    Math.abs(me.booted - other.booted) <= BOOT_TIME_SLACK;
}

/**
 * What can be proven about the process `other` describes (see the module
 * comment). Never this process's own identity: callers tell their own
 * tokens apart first.
 */
export function processState(other: ProcessIdentity): ProcessState {
  if (!samePidSpace(other)) return "unknown";
  if (!Number.isSafeInteger(other.pid) || other.pid <= 0) return "unknown";
  const stat = host.readSystemFile(`/proc/${other.pid}/stat`);
  if (stat === null) return "dead";
  if (typeof stat === "string") {
    // Without a recorded start time (a record of an older version), a
    // running pid may be another process that got it since.
    if (other.start === undefined) return "unknown";
    const fields = statFields(stat);
    if (fields[19] !== other.start) return "dead";
    // A zombie (Z), or one being reaped (X), has ended, its files closed:
    // only its parent has yet to wait for it (a parent that never does, or
    // a container's first process that reaps no one, keeps it for good).
    // Not while it has other threads (field 20): the pid's state is its
    // first thread's, a zombie as soon as that one has exited, while the
    // others still end (killed, each finishes the call it is in), and a
    // file one of them was creating then appears after the look.
    const ended = fields[0] === "Z" || fields[0] === "X";
    return ended && Number(fields[17]) <= 1 ? "dead" : "alive";
  }
  const exists = host.processExists(other.pid);
  return exists === undefined ? "unknown" : exists ? "alive" : "dead";
}

/** Whether `other` is this very process (its pid, in its pid space and start). */
export function isThisProcess(other: ProcessIdentity): boolean {
  const me = thisProcess();
  return other.pid === me.pid && other.start === me.start &&
    samePidSpace(other);
}

/** Reads an identity's fields from parsed JSON; `undefined` if it has no pid. */
export function parseIdentity(value: unknown): ProcessIdentity | undefined {
  const record = value as Record<string, unknown> | null;
  if (typeof record !== "object" || record === null) return undefined;
  if (typeof record.pid !== "number") return undefined;
  const text = (key: string): string | undefined =>
    typeof record[key] === "string" ? record[key] as string : undefined;
  return {
    host: text("host"),
    pid: record.pid,
    boot: text("boot"),
    pidns: text("pidns"),
    start: text("start"),
    booted: typeof record.booted === "number" ? record.booted : undefined,
  };
}
