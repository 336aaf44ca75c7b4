// An exclusive lock on a destination, shared by every process that downloads
// into the same directory: a lock file beside the partial file, created with
// O_EXCL semantics (the adapter's writeNewSync), holding the owner's host, pid
// and a random token. The owner touches it (its mtime is the heartbeat) while
// it holds it. A lock whose owner is dead (same host, no such pid) or whose
// heartbeat is older than `staleAfter` is taken over: it is first renamed
// away (only one process can win that), then checked to be the very lock that
// was judged stale, else put back.
//
// The calls every download makes on its lock (create it, read it back, remove
// it) are synchronous, like the heartbeat: a small file, for which a blocking
// call costs less than a round trip to the runtime's I/O threads (see
// `Fs.writeNewSync`). Only the rare takeover and the wait are asynchronous.

import { hostname } from "node:os";
import process from "node:process";
import { AlreadyExistsError, fs, NotFoundError } from "./_fs.ts";
import { sleep } from "./_retry.ts";

/** Timing of a {@linkcode FileLock}, in milliseconds. */
export interface LockTiming {
  /** A lock whose heartbeat is older than this is stale. */
  staleAfter: number;
  /** How often the owner touches its lock. */
  heartbeat: number;
  /** How often a waiting process looks at the lock again. */
  poll: number;
}

/** What a lock file holds. */
interface Owner {
  host: string | undefined;
  pid: number;
  token: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// A token names one lock taken: random per process (drawn once, as drawing
// costs more than the rest of taking a lock), then counted.
const processToken = Array.from(
  crypto.getRandomValues(new Uint8Array(8)),
  (byte) => byte.toString(16).padStart(2, "0"),
).join("");
let tokensIssued = 0;

function newToken(): string {
  return `${processToken}-${(tokensIssued++).toString(16)}`;
}

function readOwner(path: string): Owner | undefined {
  try {
    const owner = JSON.parse(decoder.decode(fs.readFileSync(path)));
    return typeof owner?.token === "string" ? owner as Owner : undefined;
  } catch (error) {
    // Missing, or caught half-written: treat as unknown.
    if (error instanceof NotFoundError || error instanceof SyntaxError) {
      return undefined;
    }
    throw error;
  }
}

let host: string | undefined | null = null;

/**
 * This machine's name, or `undefined` where it may not be read (Deno without
 * `--allow-sys=hostname`): then only heartbeats tell a lock is abandoned. (On
 * Deno the pid check also needs `--allow-run`.)
 */
function thisHost(): string | undefined {
  if (host === null) {
    try {
      host = hostname();
    } catch {
      host = undefined;
    }
  }
  return host;
}

function isAlive(owner: Owner): boolean {
  // On another host, or where hosts cannot be compared: trust the heartbeat.
  if (owner.host === undefined || owner.host !== thisHost()) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    // Only "no such process" says it is gone. Anything else (EPERM, or Deno
    // without --allow-run) cannot tell: trust the heartbeat.
    return (error as { code?: string }).code !== "ESRCH";
  }
}

/** Whether the lock at `path`, held by `owner`, may be taken over. */
async function isStale(
  path: string,
  owner: Owner | undefined,
  staleAfter: number,
): Promise<boolean> {
  const stat = await fs.stat(path);
  if (stat === undefined) return false; // gone: just retry
  const mtime = stat.mtime?.getTime() ?? 0;
  if (owner !== undefined && !isAlive(owner)) return true;
  return Date.now() - mtime > staleAfter;
}

/** A held lock; release it when done. */
export class FileLock {
  #path: string;
  #token: string;
  #timer: ReturnType<typeof setInterval>;

  private constructor(path: string, token: string, heartbeat: number) {
    this.#path = path;
    this.#token = token;
    this.#timer = setInterval(() => {
      const now = new Date();
      try {
        fs.utimeSync(path, now, now);
      } catch {
        // Taken over meanwhile (we were judged stale): release will notice.
      }
    }, heartbeat);
  }

  /**
   * Takes the lock at `path`, waiting while another live process holds it.
   * Rejects with the signal's reason if it aborts meanwhile.
   */
  static async acquire(
    path: string,
    timing: LockTiming,
    signal: AbortSignal,
  ): Promise<FileLock> {
    const token = newToken();
    const owner: Owner = { host: thisHost(), pid: process.pid, token };
    for (;;) {
      signal.throwIfAborted();
      try {
        fs.writeNewSync(path, encoder.encode(JSON.stringify(owner)));
        return new FileLock(path, token, timing.heartbeat);
      } catch (error) {
        if (!(error instanceof AlreadyExistsError)) throw error;
      }
      const holder = readOwner(path);
      if (await isStale(path, holder, timing.staleAfter)) {
        await FileLock.#takeOver(path, holder);
        continue;
      }
      await sleep(timing.poll, signal);
    }
  }

  /** Moves a stale lock away, or puts it back if it turned out not to be it. */
  static async #takeOver(
    path: string,
    judged: Owner | undefined,
  ): Promise<void> {
    const moved = `${path}.${newToken()}.stale`;
    try {
      await fs.rename(path, moved);
    } catch (error) {
      if (error instanceof NotFoundError) return; // another process won
      throw error;
    }
    const found = readOwner(moved);
    if (judged !== undefined && found?.token !== judged.token) {
      // A fresh lock was created between our look and the rename: restore it.
      await fs.rename(moved, path);
      return;
    }
    await fs.remove(moved).catch(() => {});
  }

  /** Stops the heartbeat and removes the lock, if it is still ours. */
  release(): void {
    clearInterval(this.#timer);
    const owner = readOwner(this.#path);
    if (owner?.token !== this.#token) return;
    try {
      fs.removeSync(this.#path);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }
}
