// An exclusive lock on a destination, shared by every process that downloads
// into the same directory: a lock file beside the partial file, whose content
// names its owner (its process identity, see `process_identity.ts`, and a
// token) and whose mtime is the owner's heartbeat, moved forward while the
// lock is held. A lock whose owner is proven dead is taken over at once; one
// whose owner is proven alive is never taken over, however old its heartbeat
// (the owner may be stopped with Ctrl-Z, or in a debugger: it will go on);
// one whose owner cannot be judged (another machine, another container, no
// permission to look) is taken over once its heartbeat is older than
// `staleAfter`, or than the owner's own, if it recorded a longer one (its
// heartbeat keeps within its own: see `Owner.staleAfter`; lock files of
// earlier versions record none). A lock this process holds is never taken
// over by it.
//
// Taking over is done under a claim, a file beside the lock
// (`<lock>.takeover`, created exclusively, naming its owner as a lock does,
// and never empty, see `whole_file.ts`):
// one process at a time takes one lock over. Under it, the lock is looked at
// again, and left alone unless it is still the one judged: another process
// may have taken that one over since the look, and taken the lock (a lock
// moved away, even to be put back, would leave its name free meanwhile, for
// a third process to take: two would hold it). Only then is it renamed away
// and removed. A claim found is waited for as a lock is, or removed as a
// lock is taken over, if its owner died taking the lock over. While one of
// its downloads takes a lock over, the others of this process wait for it to
// have taken it: the name is free between the removal and the take, and one
// that took it then would not adopt the partial file left to be resumed.
// (Another process may still, in that moment: it then writes a partial file
// of its own, and the taker, finding the name taken, removes what the dead
// owner left, which no download would adopt now: see `orphans.ts`.)
//
// A lock taken over from an owner not proven dead may still have a writer:
// the download that takes it never touches that owner's partial file (see
// `partial_file.ts`), and the old owner, if it goes on, renames only its own
// complete file.
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
// The calls every download makes on its lock (link it, tell it is still its
// own, remove it) are synchronous, like the heartbeat: a blocking call on a small file
// costs less than a round trip to the runtime's I/O threads (see
// `Fs.writeNewSync`). Only the rare takeover's judgement and the wait are
// asynchronous: a takeover moves the old lock away and takes its name with no
// turn of the event loop between (see `#moveAway`).

import { dirname, join } from "node:path";
import { AlreadyExistsError, fs, NotFoundError } from "../_runtime/fs.ts";
import { removeIfPresent, removeIfPresentSync } from "../_runtime/remove.ts";
import {
  Heartbeat,
  heldTokens,
  holderState,
  type Owner,
  OwnerFile,
  ownerFileName,
  ownerJson,
  readOwner,
  staleAfterOf,
} from "./owner_file.ts";
import {
  newToken,
  type ProcessState,
  thisProcess,
} from "./process_identity.ts";
import { sleep } from "../_timers.ts";
import { atOwnFile } from "./file_system_failure.ts";
import { leaveBehind, removeLeftBehind } from "./left_behind.ts";
import { LOCK_SUFFIX, PARTIAL_SUFFIX } from "./names.ts";
import { removeLeftBy, removeUnnamedLeftBy } from "./orphans.ts";
import { writeNewWhole } from "./whole_file.ts";

export type { Owner } from "./owner_file.ts";

/** Timing of a {@linkcode FileLock}, in milliseconds. */
export interface LockTiming {
  /** A lock whose heartbeat is older than this is stale. */
  staleAfter: number;
  /** How often the owner touches its lock. */
  heartbeat: number;
  /** How often a waiting process looks at the lock again. */
  poll: number;
}

/**
 * The timing of a lock judged stale after `staleAfter` ms (a download's
 * `lockStaleAfter`): its heartbeat four times within it, and a wait's look
 * as often, or every 250 ms if that is sooner.
 *
 * @example
 * ```ts
 * const timing = lockTiming(10_000);
 * console.log(timing.heartbeat, timing.poll); // 2500 250
 * ```
 */
export function lockTiming(staleAfter: number): LockTiming {
  return {
    staleAfter,
    heartbeat: Math.max(1, staleAfter / 4),
    poll: Math.max(1, Math.min(250, staleAfter / 4)),
  };
}

/** How {@linkcode FileLock.acquire} waits and gives up. */
export interface AcquireOptions {
  /** Aborting it rejects the wait with its reason. */
  signal: AbortSignal;
  /**
   * The signal that stops the wait from then on, in place of `signal`:
   * asked for once, when the lock is first found held (a download's pause,
   * which a cancel aborts too; made only for a download that has to wait).
   * Its abort rejects with its reason, as `signal`'s does; a lock just
   * taken over is taken all the same.
   */
  waitSignal?: (() => AbortSignal) | undefined;
  /**
   * Called when the lock is found held by another owner that is not taken
   * over (alive, or its heartbeat fresh), and again when that owner changes:
   * the download is then waiting for it.
   */
  onWait?: ((owner: Owner | undefined) => void) | undefined;
  /**
   * Milliseconds to wait for a held lock before rejecting with
   * `timeoutError(owner)`. `Infinity` waits as long as it takes.
   */
  waitTimeout?: number | undefined;
  /** The error a wait longer than `waitTimeout` rejects with. */
  timeoutError?: ((owner: Owner | undefined) => unknown) | undefined;
  /**
   * Whether the lock is held only for a moment (a leftover cleanup's second
   * look and removal): another acquire in this process waits for its
   * release, with no poll and no `onWait`, nor any `waitTimeout`.
   */
  brief?: boolean | undefined;
}

/** A lock's previous owner, when {@linkcode FileLock.acquire} took it over. */
export interface TakenOver {
  /** Its owner, if its lock file could be read. */
  owner: Owner | undefined;
  /** What was proven about it: `"dead"`, or `"unknown"` with a stale heartbeat. */
  state: Exclude<ProcessState, "alive">;
}

/**
 * What to do about a lock held by `owner` (`undefined`: unreadable, caught
 * half-written): take it over (its owner is dead, or cannot be judged and its
 * heartbeat is older than `staleAfter`), wait, or retry at once (it is gone).
 */
async function judge(
  path: string,
  owner: Owner | undefined,
  staleAfter: number,
): Promise<TakenOver | "wait" | "retry"> {
  // Dead also when released: left by a download that stopped, for the next
  // to resume.
  const state = holderState(owner);
  if (state === "dead") return { owner, state };
  if (state === "alive") return "wait";
  // The lock's own time, not followed: a symbolic link in its place (which
  // the library never makes) is judged by when it was put there, and one
  // that leads nowhere is still there (it would be "retry" for good, a
  // loop that never waits, as the name stays taken).
  const stat = await fs.lstat(path);
  if (stat === undefined) return "retry";
  const mtime = stat.mtime?.getTime() ?? 0;
  const stale = Date.now() - mtime > staleAfterOf(owner, staleAfter);
  return stale ? { owner, state } : "wait";
}

/** Removes the file `path`, if it can: a leftover cleanup takes what stays. */
function removeQuietly(path: string): void {
  try {
    fs.removeSync(path);
  } catch {
    // Gone already, or refused: not a reason to fail the takeover.
  }
}

/** What a lock's takeover claim is named: the lock's name, and this. */
const CLAIM_SUFFIX = ".takeover";

/** Directories where a hard link failed: each lock there is its own file. */
const linkless = new Set<string>();

/** The paths of the locks this process holds, until each is released. */
const heldPaths = new Set<string>();

/** The releases of the brief locks this process holds, by path. */
const briefHolds = new Map<string, Promise<void>>();

/**
 * Resolves once `released` does, or rejects with the signal's reason when
 * it aborts.
 */
function whenReleased(
  released: Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    function onAbort(): void {
      reject(signal.reason);
    }
    signal.addEventListener("abort", onAbort, { once: true });
    released.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}

/**
 * The locks a download of this process is taking over, each until it has
 * taken it (or lost it to another process): settled once its old lock is
 * moved away (see `#takeOver`). The name is free meanwhile, and another
 * download of this process that took it then would take it as free, not
 * adopt the partial file left to be resumed, and write its own.
 */
const takingOver = new Map<string, Promise<unknown>>();

/**
 * Whether a {@linkcode FileLock} of this process (of this copy of the
 * module) holds the lock at `path`, as it was given to
 * {@linkcode FileLock.acquire}, and has not released it: a look in memory,
 * where a look at the file would find it fresh, or its owner alive.
 *
 * @example
 * ```ts
 * const path = "cache/.a.zip.0123456789ab.dlpart.lock";
 * if (holdsLock(path)) console.log("held here: not another process's");
 * ```
 */
export function holdsLock(path: string): boolean {
  return heldPaths.has(path);
}

/**
 * Whether a download may be running under the lock at `path`, in any
 * process: a lock this process holds, or one of a process proven alive
 * (stopped with Ctrl-Z too), or of one that cannot be judged (another
 * machine's) whose heartbeat is within `staleAfter` (or within the longer
 * one its owner recorded). A lock missing, released (a partial file left to
 * be resumed), or left by a process proven dead is none. Throws what keeps the lock from being read (another user's,
 * which this one may not read).
 *
 * @example
 * ```ts
 * const path = "cache/.a.zip.0123456789ab.dlpart.lock";
 * if (isLockHeld(path, 10_000)) console.log("a.zip is being downloaded");
 * ```
 */
export function isLockHeld(path: string, staleAfter: number): boolean {
  if (heldPaths.has(path)) return true;
  // Looked for first: no lock (the usual) costs no file opened, which a
  // process out of file descriptors could not open. Its time, not
  // followed, is its heartbeat, as `judge` reads it.
  const stat = fs.lstatSync(path);
  if (stat === undefined) return false;
  const owner = readOwner(path);
  const state = holderState(owner);
  if (state !== "unknown") return state === "alive";
  // Unreadable (caught half-written, or gone since) or of another machine.
  const age = Date.now() - (stat.mtime?.getTime() ?? 0);
  return age <= staleAfterOf(owner, staleAfter);
}

/** A held lock; release it when done. */
export class FileLock {
  #path: string;
  #token: string;
  #beat: OwnerFile | Heartbeat;
  #heartbeat: number;
  #released = false;

  private constructor(
    path: string,
    token: string,
    beat: OwnerFile | Heartbeat,
    heartbeat: number,
    takenOver: TakenOver | undefined,
  ) {
    this.#path = path;
    this.#token = token;
    this.#beat = beat;
    this.#heartbeat = heartbeat;
    this.takenOver = takenOver;
    heldPaths.add(path);
  }

  /** The owner this lock was taken over from, if it was not free. */
  readonly takenOver: TakenOver | undefined;

  /** Resolves the release of a brief lock (see `AcquireOptions.brief`). */
  #releaseBrief: (() => void) | undefined;

  /** Marks this lock brief, until its release. */
  #holdBriefly(): void {
    briefHolds.set(
      this.#path,
      new Promise((resolve) => this.#releaseBrief = resolve),
    );
  }

  /**
   * Takes the lock at `path`, waiting while another process holds it (see
   * the module comment for when it is taken over instead). Rejects with the
   * signal's reason if it aborts meanwhile, and with `timeoutError(owner)`
   * after waiting `waitTimeout` ms (counted from the first look that found
   * it held, by this call: a wait stopped and asked for again counts
   * afresh).
   */
  static async acquire(
    path: string,
    timing: LockTiming,
    options: AcquireOptions,
  ): Promise<FileLock> {
    const { onWait, waitTimeout = Infinity } = options;
    let signal = options.signal;
    let waitingFor: string | undefined;
    let deadline = Infinity;
    let takenOver: TakenOver | undefined;
    // Whether a look of this call found the lock held: the next is a poll.
    let found = false;
    // What this process let go of but could not remove may be this lock.
    removeLeftBehind();
    for (;;) {
      // Not once a lock was taken over: it is free now, and taken. Left, the
      // next look would find it free and take it as if no one had had it,
      // and its partial file (whose writer may live) be adopted.
      if (takenOver === undefined) signal.throwIfAborted();
      const other = takenOver === undefined ? takingOver.get(path) : undefined;
      if (other !== undefined) {
        // Its taker looks again first: it settles after the taker's await.
        await other;
        continue;
      }
      const lock = FileLock.#take(path, timing, takenOver, found);
      if (takenOver !== undefined) takingOver.delete(path);
      if (lock !== undefined) {
        if (options.brief) lock.#holdBriefly();
        return lock;
      }
      found = true;
      if (takenOver !== undefined) {
        // Taken by another process in the moment its name was free, as a
        // free lock: that download adopts nothing of the dead owner's, and
        // no later one would find it, so it goes now, not a day later (a
        // leftover cleanup's).
        await removeLeftBy(
          path.slice(0, -LOCK_SUFFIX.length) + PARTIAL_SUFFIX,
          takenOver,
        );
      }
      takenOver = undefined; // taken by another process, which will release it
      const brief = briefHolds.get(path);
      if (brief !== undefined) {
        await whenReleased(brief, signal);
        continue;
      }
      let holder: Owner | undefined;
      try {
        holder = readOwner(path);
      } catch (error) {
        // A directory there, not a lock: it is not the library's to remove.
        throw atOwnFile(error, "lock file", path);
      }
      const verdict = await judge(path, holder, timing.staleAfter);
      if (verdict === "retry") continue;
      if (verdict !== "wait") {
        // One taker at a time in this process: the others look again after.
        const other = takingOver.get(path);
        if (other !== undefined) {
          await other;
          continue;
        }
        const taking = FileLock.#takeOver(
          path,
          verdict,
          timing,
          options.brief === true,
        );
        takingOver.set(path, taking.catch(() => {}));
        let done: Awaited<typeof taking>;
        try {
          done = await taking;
          if (done === true) takenOver = verdict;
        } finally {
          if (takenOver === undefined) takingOver.delete(path);
        }
        if (typeof done === "boolean") continue;
        // Another process is taking it over: it will hold it.
        holder = done.claimant;
      }
      const now = performance.now();
      if (waitingFor === undefined) {
        deadline = now + waitTimeout;
        signal = options.waitSignal?.() ?? signal;
      }
      const who = holder?.token ?? "";
      if (waitingFor !== who) {
        waitingFor = who;
        onWait?.(holder);
      }
      if (now >= deadline) {
        throw options.timeoutError?.(holder) ??
          new Error(`Waited ${waitTimeout} ms for the lock at ${path}`);
      }
      await sleep(Math.min(timing.poll, deadline - now), signal);
    }
  }

  /**
   * Takes the lock at `path` if it is free, recording its `staleAfter` in
   * it; `undefined` if it is held. `again`: a look after one that found it
   * held (a wait's poll), which looks at its name first.
   */
  static #take(
    path: string,
    timing: LockTiming,
    takenOver: TakenOver | undefined,
    again = false,
  ): FileLock | undefined {
    // While it stays held, a poll costs a look at its name, not an owner
    // file created and removed again (an inode each time, where this
    // process holds no other lock in the directory), which a process
    // killed waiting, in that moment, would leave behind. The first look
    // goes straight to the take, as a lock is usually free.
    if (again && fs.lstatSync(path) !== undefined) return undefined;
    const { heartbeat, staleAfter } = timing;
    const directory = dirname(path);
    const owner = linkless.has(directory)
      ? undefined
      : OwnerFile.of(directory, staleAfter);
    let linkFailed = false;
    if (owner !== undefined) {
      try {
        fs.linkSync(owner.path, path);
        owner.hold(heartbeat);
        return new FileLock(path, owner.token, owner, heartbeat, takenOver);
      } catch (error) {
        owner.drop(false);
        if (error instanceof AlreadyExistsError) return undefined;
        // The owner file was removed under us (by a process that judged this
        // one stale): start a new one. Any other failure: no hard links here.
        if (error instanceof NotFoundError && fs.existsSync(directory)) {
          owner.forget();
          return FileLock.#take(path, timing, takenOver);
        }
        linkFailed = !(error instanceof NotFoundError);
      }
    }
    const token = newToken();
    try {
      writeNewWhole(
        path,
        ownerJson(token, staleAfter),
        !linkFailed && !linkless.has(directory),
      );
    } catch (error) {
      if (error instanceof AlreadyExistsError) return undefined;
      throw error;
    }
    // No hard links here, for good: told by a file made where a link was
    // refused. Both refused (a directory read-only for a while, or full)
    // says nothing of links, and would have every later lock there cost an
    // inode, a timer, and its EMFILE-proof tell of whose it is (`#owns`).
    if (linkFailed) linkless.add(directory);
    heldTokens.add(token);
    return new FileLock(
      path,
      token,
      new Heartbeat(path, heartbeat),
      heartbeat,
      takenOver,
    );
  }

  /**
   * Takes over the lock at `path`, judged `judged`, under a claim (see the
   * module comment): moves it away and removes it, with its owner's owner
   * file, if it is still the lock judged. Returns whether it did (the lock
   * is then free), or, while another process's claim is in the way, that
   * process, to wait for. A brief lock (a leftover cleanup's) leaves the
   * dead owner's files to the cleanup, which removes its group whole, by
   * age, and tells what it removed.
   */
  static async #takeOver(
    path: string,
    judged: TakenOver,
    timing: LockTiming,
    brief: boolean,
  ): Promise<boolean | { claimant: Owner | undefined }> {
    const { staleAfter, heartbeat } = timing;
    const claim = `${path}${CLAIM_SUFFIX}`;
    const token = newToken();
    try {
      // Whole: an empty claim (its taker killed as it made it) names no
      // one, and every other taker would wait `staleAfter` for it.
      writeNewWhole(claim, ownerJson(token), !linkless.has(dirname(path)));
    } catch (error) {
      if (!(error instanceof AlreadyExistsError)) throw error;
      const claimant = readOwner(claim);
      const verdict = await judge(claim, claimant, staleAfter);
      if (verdict === "wait") return { claimant };
      // Left by a process that died taking the lock over: it goes, as a
      // lock does (unless replaced since).
      if (verdict !== "retry" && readOwner(claim)?.token === claimant?.token) {
        await removeIfPresent(claim);
      }
      return false;
    }
    heldTokens.add(token);
    try {
      // While the lock still names the dead owner: a taker killed once its
      // own lock is there leaves no trace of that owner's files.
      if (!brief && readOwner(path)?.token === judged.owner?.token) {
        // Refused (a directory in the sidecar's place): the download that
        // takes the lock meets it, and a leftover cleanup takes what stays.
        await removeUnnamedLeftBy(path, judged).catch(() => {});
      }
      return await FileLock.#moveAway(path, judged, staleAfter);
    } finally {
      heldTokens.delete(token);
      try {
        removeIfPresentSync(claim);
      } catch {
        // Naming this process, alive, it would keep every other process
        // from taking the lock over: removed once the directory lets it.
        leaveBehind(claim, token, heartbeat);
      }
    }
  }

  /**
   * What {@linkcode FileLock.#takeOver} does under its claim. Past the
   * judgement, synchronous: from moving the lock away to the taker's own
   * lock in its place (its caller takes it next, with no turn of the event
   * loop between), the name is free for a few calls, not for as long as
   * this process's other work takes. A turn there let another process take
   * the name as free, download the file and let the lock go, all before the
   * taker took it: the taker then held what it took for the dead owner's
   * lock, found the file downloaded, and left the lock marked released for
   * the dead owner's partial file, which no download would adopt.
   */
  static async #moveAway(
    path: string,
    judged: TakenOver,
    staleAfter: number,
  ): Promise<boolean> {
    const token = judged.owner?.token;
    // Judged again: its owner, not proven dead, may have beaten since.
    const again = await judge(path, readOwner(path), staleAfter);
    if (typeof again !== "object" || again.owner?.token !== token) return false;
    const moved = `${path}.${newToken()}.stale`;
    try {
      fs.renameSync(path, moved);
    } catch (error) {
      if (error instanceof NotFoundError) return false; // let go of meanwhile
      throw error;
    }
    if (readOwner(moved)?.token !== token) {
      // Its owner (not proven dead) let it go since the look, and another
      // lock was taken: put back, unless a lock was taken in the moment its
      // name was free (a link never replaces one; a rename, where hard links
      // fail, would).
      try {
        fs.linkSync(moved, path);
      } catch (error) {
        if (!(error instanceof AlreadyExistsError)) {
          fs.renameSync(moved, path);
          return false;
        }
      }
      removeQuietly(moved);
      return false;
    }
    removeQuietly(moved);
    // The stale owner's file, if the lock linked to one: every other lock
    // linked to it shares its heartbeat, so is as stale, and keeps its
    // content.
    const ownerFile = join(dirname(path), ownerFileName(token ?? ""));
    if (token !== undefined && readOwner(ownerFile)?.token === token) {
      removeQuietly(ownerFile);
    }
    return true;
  }

  /**
   * Whether the lock file is still this lock (not taken over by a process
   * that judged it stale while this one was stopped).
   */
  isHeld(): boolean {
    return !this.#released && this.#owns();
  }

  /**
   * Whether the lock file is this lock. One linked to this process's owner
   * file is told by the two names being one file: two looks at names, no
   * file opened, so that a process out of file descriptors (EMFILE, a
   * manager of many downloads at once) still tells, and still removes its
   * lock and sidecar when a download fails. Else (a lock of its own, a file
   * system without inode numbers, an owner file removed as a leftover by a
   * process that judged it stale) by reading the token back.
   */
  #owns(): boolean {
    if (this.#beat instanceof OwnerFile) {
      const lock = fs.statSync(this.#path);
      if (lock === undefined) return false;
      const owner = fs.statSync(this.#beat.path)?.ino ?? null;
      // Another file under the lock's name, while the owner file is there:
      // this lock was taken over (moved away), and another put in its place.
      if (lock.ino !== null && owner !== null) return lock.ino === owner;
    }
    return readOwner(this.#path)?.token === this.#token;
  }

  /**
   * Releases the lock, leaving in its place a marker that the partial file
   * beside it waits to be resumed (a cancel with `keepPartial`): a lock file
   * of its own, with a fresh token and `released: true`, which the next
   * download of the destination, in any process, takes over at once, and
   * so adopts that file, with no look for a sidecar on the way of every
   * other download. Only a lock still held is replaced. If the marker
   * cannot be written (a process out of file descriptors), the lock is
   * still held when this throws: the caller removes what it left, then
   * releases the lock, which a marker-less lock left in place would never
   * be (its owner is alive).
   */
  async leave(): Promise<void> {
    if (this.#released) return;
    if (this.isHeld()) {
      const marker = `${this.#path}.${newToken()}.tmp`;
      const owner: Owner = { ...thisProcess(), token: newToken() };
      try {
        fs.writeNewSync(
          marker,
          new TextEncoder().encode(
            JSON.stringify({ ...owner, released: true }),
          ),
        );
        await fs.rename(marker, this.#path);
      } catch (error) {
        await removeIfPresent(marker);
        throw error;
      }
    }
    this.release(false);
  }

  /**
   * Removes the lock, if it is still ours, and stops its heartbeat (the
   * owner file's, with the last lock linked to it). Only the first call acts.
   * Never throws: a lock (or owner file) the file system will not let go of
   * (a directory made read-only) is released all the same, and its removal
   * retried until it is done (see `left_behind.ts`), for another process
   * would wait for it while this one lives.
   *
   * @param held What {@linkcode FileLock.isHeld} just said, if the caller
   * asked: it is not read again.
   */
  release(held?: boolean): void {
    if (this.#released) return;
    this.#released = true;
    heldPaths.delete(this.#path);
    if (this.#releaseBrief !== undefined) {
      briefHolds.delete(this.#path);
      this.#releaseBrief();
    }
    try {
      if (held ?? this.#owns()) {
        removeIfPresentSync(this.#path);
      }
    } catch {
      leaveBehind(this.#path, this.#token, this.#heartbeat);
    }
    if (this.#beat instanceof OwnerFile) {
      try {
        this.#beat.drop(true);
      } catch {
        leaveBehind(this.#beat.path, this.#token, this.#heartbeat);
      }
    } else {
      this.#beat.stop();
      heldTokens.delete(this.#token);
    }
  }
}
