// This process's side of the locks: the owner file each lock it takes in a
// directory is a hard link to (holding its identity, see
// `process_identity.ts`), and the heartbeat that moves the owner file's mtime
// forward while any lock linked to it is held. See `lock.ts`.

import { join } from "node:path";
import {
  AlreadyExistsError,
  fs,
  NotAFileError,
  NotFoundError,
} from "../_runtime/fs.ts";
import { removeIfPresentSync } from "../_runtime/remove.ts";
import { OWNER_SUFFIX } from "./names.ts";
import { writeNewWhole } from "./whole_file.ts";
import {
  isThisProcess,
  newToken,
  parseIdentity,
  type ProcessIdentity,
  type ProcessState,
  processState,
  thisProcess,
} from "./process_identity.ts";

/** What a lock file holds: its owner process, and the token of the lock. */
export interface Owner extends ProcessIdentity {
  /** Names one owner file (or one lock that is a file of its own). */
  token: string;
  /**
   * Set in a lock left behind by a download that stopped and left its
   * partial file to be resumed (see `FileLock.leave`): no one holds it.
   */
  released?: true | undefined;
  /**
   * The owner's own `staleAfter` (a download's `lockStaleAfter`), in
   * milliseconds, which its heartbeat keeps within: judged by another,
   * shorter one, a lock of an owner that cannot be judged would look stale
   * between two heartbeats. Not in lock files of earlier versions.
   */
  staleAfter?: number | undefined;
}

// The key of `heldTokens` on `globalThis`: never change it, every version
// of the package must find the others' set.
const HELD_TOKENS = Symbol.for("@x/dlmanager/heldTokens");

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The owner a lock (or owner file) at `path` names; `undefined` if it is
 * missing or unreadable (caught half-written, or not a file: a FIFO there
 * is not read, which would wait for good).
 */
export function readOwner(path: string): Owner | undefined {
  try {
    const value = JSON.parse(decoder.decode(fs.readFileSync(path)));
    const identity = parseIdentity(value);
    if (identity === undefined || typeof value.token !== "string") {
      return undefined;
    }
    const owner: Owner = { ...identity, token: value.token };
    if (value.released === true) owner.released = true;
    const { staleAfter } = value;
    if (typeof staleAfter === "number" && staleAfter > 0) {
      owner.staleAfter = staleAfter;
    }
    return owner;
  } catch (error) {
    // Missing, caught half-written, or not a file: treat as unknown.
    if (
      error instanceof NotFoundError || error instanceof SyntaxError ||
      error instanceof NotAFileError
    ) {
      return undefined;
    }
    throw error;
  }
}

/**
 * What can be proven of the holder of a lock (or owner file) that names
 * `owner` (`undefined`: unreadable): alive if it is a lock this process
 * holds, dead if it was released or is this process's and no longer held,
 * else what can be proven of its process.
 */
export function holderState(owner: Owner | undefined): ProcessState {
  if (owner === undefined) return "unknown";
  if (owner.released) return "dead";
  if (heldTokens.has(owner.token)) return "alive";
  return isThisProcess(owner) ? "dead" : processState(owner);
}

/**
 * How long a lock (or owner file) naming `owner` may go without a heartbeat
 * before it is stale, for a judge whose own limit is `staleAfter`: that, or
 * the owner's own, if it recorded a longer one.
 *
 * @example
 * ```ts
 * const owner = readOwner("cache/.a.zip.0123456789ab.dlpart.lock");
 * console.log(staleAfterOf(owner, 10_000)); // 60000, for an owner's 60 s
 * ```
 */
export function staleAfterOf(
  owner: Owner | undefined,
  staleAfter: number,
): number {
  return Math.max(staleAfter, owner?.staleAfter ?? 0);
}

/** Touches `path`, moving its mtime (the heartbeat) forward, on a timer. */
export class Heartbeat {
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
export class OwnerFile {
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
   * This process's owner file in `directory`, created if there is none,
   * recording `staleAfter` (the first lock's: a later one's heartbeat may
   * only quicken the file's, see {@linkcode OwnerFile.hold}); `undefined` if
   * its name is taken (by a leftover of another process).
   */
  static of(directory: string, staleAfter: number): OwnerFile | undefined {
    const existing = ownerFiles.get(directory);
    if (existing !== undefined) return existing;
    const token = newToken();
    const path = join(directory, ownerFileName(token));
    try {
      // Whole, never empty: one of a process killed as it made it would
      // name no one, and a leftover cleanup keep it for `staleAfter`.
      writeNewWhole(path, ownerJson(token, staleAfter));
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
    removeIfPresentSync(this.path);
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
/**
 * The tokens of the locks (and owner files) this process holds: one set for
 * every copy of this module the process loaded (the npm package's ES module
 * and CommonJS builds, or two versions of the package), which would
 * otherwise judge each other's locks, naming this process, dead and take
 * them over.
 */
export const heldTokens: Set<string> = ((globalThis as {
  [HELD_TOKENS]?: Set<string>;
})[HELD_TOKENS] ??= new Set());

/** The name of the owner file holding `token`. */
export function ownerFileName(token: string): string {
  // The serial keeps one process's names apart; the random part, processes'.
  const [random = "", serial = ""] = token.split("-");
  return `.dlmanager-${serial}.${random.slice(0, 12)}${OWNER_SUFFIX}`;
}

/**
 * What a lock or owner file of this process holds, with `token`, and the
 * `staleAfter` its heartbeat keeps within, if given.
 */
export function ownerJson(token: string, staleAfter?: number): Uint8Array {
  const owner: Owner = { ...thisProcess(), token };
  // Not `Infinity`, which JSON cannot hold: a judge's own then stands.
  if (staleAfter !== undefined && Number.isFinite(staleAfter)) {
    owner.staleAfter = staleAfter;
  }
  return encoder.encode(JSON.stringify(owner));
}
