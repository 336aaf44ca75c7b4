// An exclusive lock on a destination, shared by every process that downloads
// into the same directory: a lock file beside the partial file, whose content
// names its owner (host, pid and a token) and whose mtime is the owner's
// heartbeat, moved forward while the lock is held. A lock whose owner is dead
// (same host, no such pid) or whose heartbeat is older than `staleAfter` is
// taken over: it is first renamed away (only one process can win that), then
// checked to be the very lock that was judged stale, else put back. A lock
// this process holds is never stale to it.
//
// Taking a lock is one exclusive call on its name. Creating a file allocates
// an inode, the dearest call a download makes on a journaling disk (on ext4,
// about 0.1 ms, one directory's creations one at a time), so a process creates
// one owner file per directory, holding its owner's JSON, and every lock it
// takes there is a hard link to that file: a new name for an existing inode,
// about a tenth of the cost. The links share the owner file's content and
// mtime, so one heartbeat serves them all. The owner file goes with the last
// lock linked to it. Where a hard link fails (a file system without them),
// the lock is a file of its own, with its own heartbeat.
//
// The calls every download makes on its lock (link it, read it back, remove
// it) are synchronous, like the heartbeat: a blocking call on a small file
// costs less than a round trip to the runtime's I/O threads (see
// `Fs.writeNewSync`). Only the rare takeover and the wait are asynchronous.

import { dirname, join } from "node:path";
import { hostname } from "node:os";
import process from "node:process";
import { AlreadyExistsError, fs, NotFoundError } from "./_fs.ts";
import { OWNER_SUFFIX } from "./_partial.ts";
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

// A token names one owner file, or one lock that is its own file: random per
// process (drawn once, as drawing costs more than taking a lock), then counted.
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
  if (owner !== undefined && heldTokens.has(owner.token)) return false;
  const stat = await fs.stat(path);
  if (stat === undefined) return false; // gone: just retry
  const mtime = stat.mtime?.getTime() ?? 0;
  if (owner !== undefined && !isAlive(owner)) return true;
  return Date.now() - mtime > staleAfter;
}

/** Touches `path`, moving its mtime (the heartbeat) forward, on a timer. */
class Heartbeat {
  #path: string;
  #period = Infinity;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(path: string, period: number) {
    this.#path = path;
    this.quicken(period);
  }

  /** Beats at least every `period` milliseconds from now on. */
  quicken(period: number): void {
    if (period >= this.#period) return;
    this.#period = period;
    clearInterval(this.#timer);
    const path = this.#path;
    this.#timer = setInterval(() => {
      const now = new Date();
      try {
        fs.utimeSync(path, now, now);
      } catch {
        // Taken over meanwhile (judged stale): its holder's release notices.
      }
    }, period);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** This process's owner file in one directory, and the locks linked to it. */
class OwnerFile {
  readonly path: string;
  readonly token: string;
  #directory: string;
  #heartbeat: Heartbeat | undefined;
  #holders = 0;

  private constructor(directory: string, path: string, token: string) {
    this.#directory = directory;
    this.path = path;
    this.token = token;
  }

  /**
   * This process's owner file in `directory`, created if there is none;
   * `undefined` if its name is taken (by a leftover of another process).
   */
  static of(directory: string): OwnerFile | undefined {
    const existing = ownerFiles.get(directory);
    if (existing !== undefined) return existing;
    const token = newToken();
    const path = join(directory, ownerFileName(token));
    try {
      fs.writeNewSync(path, ownerJson(token));
    } catch (error) {
      if (error instanceof AlreadyExistsError) return undefined;
      throw error;
    }
    const owner = new OwnerFile(directory, path, token);
    ownerFiles.set(directory, owner);
    heldTokens.add(token);
    return owner;
  }

  /** Counts a lock just linked to this file, beating every `heartbeat` ms. */
  hold(heartbeat: number): void {
    this.#holders++;
    if (this.#heartbeat === undefined) {
      this.#heartbeat = new Heartbeat(this.path, heartbeat);
    } else {
      this.#heartbeat.quicken(heartbeat);
    }
  }

  /** Uncounts a lock (if `held`); the last one out removes the file. */
  drop(held: boolean): void {
    if (held) this.#holders--;
    if (this.#holders > 0) return;
    this.#heartbeat?.stop();
    this.#heartbeat = undefined;
    heldTokens.delete(this.token);
    this.forget();
    removeIfThere(this.path);
  }

  /** Makes the next lock in this directory start a new owner file. */
  forget(): void {
    if (ownerFiles.get(this.#directory) === this) {
      ownerFiles.delete(this.#directory);
    }
  }
}

/** This process's owner files, by directory. */
const ownerFiles = new Map<string, OwnerFile>();
/** Directories where a hard link failed: each lock there is its own file. */
const linkless = new Set<string>();
/** The tokens of the locks (and owner files) this process holds. */
const heldTokens = new Set<string>();

/** The name of the owner file holding `token`. */
function ownerFileName(token: string): string {
  // The serial keeps one process's names apart; the random part, processes'.
  const [random = "", serial = ""] = token.split("-");
  return `.dlmanager-${serial}.${random.slice(0, 12)}${OWNER_SUFFIX}`;
}

function ownerJson(token: string): Uint8Array {
  const owner: Owner = { host: thisHost(), pid: process.pid, token };
  return encoder.encode(JSON.stringify(owner));
}

function removeIfThere(path: string): void {
  try {
    fs.removeSync(path);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
}

/** A held lock; release it when done. */
export class FileLock {
  #path: string;
  #token: string;
  #beat: OwnerFile | Heartbeat;
  #released = false;

  private constructor(
    path: string,
    token: string,
    beat: OwnerFile | Heartbeat,
  ) {
    this.#path = path;
    this.#token = token;
    this.#beat = beat;
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
    for (;;) {
      signal.throwIfAborted();
      const lock = FileLock.#take(path, timing.heartbeat);
      if (lock !== undefined) return lock;
      const holder = readOwner(path);
      if (await isStale(path, holder, timing.staleAfter)) {
        await FileLock.#takeOver(path, holder);
        continue;
      }
      await sleep(timing.poll, signal);
    }
  }

  /** Takes the lock at `path` if it is free; `undefined` if it is held. */
  static #take(path: string, heartbeat: number): FileLock | undefined {
    const directory = dirname(path);
    const owner = linkless.has(directory) ? undefined : OwnerFile.of(directory);
    if (owner !== undefined) {
      try {
        fs.linkSync(owner.path, path);
        owner.hold(heartbeat);
        return new FileLock(path, owner.token, owner);
      } catch (error) {
        owner.drop(false);
        if (error instanceof AlreadyExistsError) return undefined;
        // The owner file was removed under us (by a process that judged this
        // one stale): start a new one. Any other failure: no hard links here.
        if (error instanceof NotFoundError && fs.existsSync(directory)) {
          owner.forget();
          return FileLock.#take(path, heartbeat);
        }
        if (!(error instanceof NotFoundError)) linkless.add(directory);
      }
    }
    const token = newToken();
    try {
      fs.writeNewSync(path, ownerJson(token));
    } catch (error) {
      if (error instanceof AlreadyExistsError) return undefined;
      throw error;
    }
    heldTokens.add(token);
    return new FileLock(path, token, new Heartbeat(path, heartbeat));
  }

  /**
   * Moves a stale lock away, or puts it back if it turned out not to be it;
   * removes the stale owner's owner file.
   */
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
    // The stale owner's file, if the lock linked to one: every other lock
    // linked to it shares its heartbeat, so is as stale, and keeps its
    // content.
    const ownerFile = join(dirname(path), ownerFileName(judged?.token ?? ""));
    if (judged !== undefined && readOwner(ownerFile)?.token === judged.token) {
      await fs.remove(ownerFile).catch(() => {});
    }
  }

  /**
   * Removes the lock, if it is still ours, and stops its heartbeat (the
   * owner file's, with the last lock linked to it). Only the first call acts.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    try {
      if (readOwner(this.#path)?.token === this.#token) {
        removeIfThere(this.#path);
      }
    } finally {
      if (this.#beat instanceof OwnerFile) {
        this.#beat.drop(true);
      } else {
        this.#beat.stop();
        heldTokens.delete(this.#token);
      }
    }
  }
}
