// One download's work, under its destination's lock: skip if the file is
// there already (for the manager), start or adopt the partial file, let the
// transfer strategy fill it, verify the digest, and rename it onto the
// destination; on failure or cancel, remove what it wrote (or leave it for a
// later download to resume: a cancel with `keepPartial`, a failure of the
// network with `keepPartialOnError`). `Download` runs a job and keeps the
// state; this is the order the bytes go in.

import {
  type Expected,
  IntegrityCheck,
  parseExpected,
} from "./_body/integrity.ts";
import { shareBuffers, stopSharingBuffers } from "./_body/staging_buffers.ts";
import { assertDestName } from "./_disk/file_name.ts";
import {
  asFileSystemError,
  isFileSystemFailure,
} from "./_disk/file_system_failure.ts";
import { FileLock, lockTiming, type Owner } from "./_disk/lock.ts";
import { type PartialPaths, partialPaths } from "./_disk/names.ts";
import { keepsTakenOver } from "./_disk/orphans.ts";
import { PartialFile } from "./_disk/partial_file.ts";
import { fileAt, holdsDigest, remember, touch } from "./_cache.ts";
import { type CacheRecord, isSameFile, readRecord } from "./_disk/record.ts";
import { NotModified, revalidationHeaders } from "./_http/conditional.ts";
import { isFresh, type Revalidation, wallClock } from "./_revalidation.ts";
import { defaultFetch } from "./_runtime/fetch.ts";
import { ConnectionBudget, type Slot } from "./_transfer/budget.ts";
import type { Piece } from "./_transfer/pieces.ts";
import type { Throttle } from "./_transfer/rate_limiter.ts";
import { fromSources } from "./_transfer/sources.ts";
import { restart } from "./_transfer/single_stream.ts";
import { chooseStrategy, type Transfer } from "./_transfer/strategy.ts";
import { isHttp, withoutCredentials } from "./_http/request.ts";
import { hostOf } from "./_http/url_host.ts";
import { leavesResumable, sentRetryAfter } from "./_http/retry_policy.ts";
import { sleep } from "./_timers.ts";
import { clock } from "./_clock.ts";
import { LockTimeoutError } from "./errors.ts";
import type { PauseControl } from "./_pause.ts";
import type { DownloadOptions } from "./download_options.ts";
import {
  MAX_CONNECTIONS,
  type ResolvedTransferOptions,
  resolveTransferOptions,
} from "./transfer_options.ts";

/** What a job downloads, and how: a download's settled options. */
export interface JobSpec {
  /** The URL to fetch, normalised: the download's identity. */
  readonly url: string;
  /** Where the file may be fetched from, in order: `url`, then its mirrors. */
  readonly sources: readonly string[];
  /** The `Basic` authorization of each source whose URL had credentials. */
  readonly authorizations: ReadonlyMap<string, string>;
  /** The file to create. */
  readonly dest: string;
  /** Where its partial download's files live. */
  readonly paths: PartialPaths;
  /** The network behaviour. */
  readonly options: ResolvedTransferOptions;
  /** The `fetch` to use. */
  readonly fetch: typeof fetch;
  /** The digest to check, if any. */
  readonly expected: Expected | undefined;
  /**
   * End without fetching if `dest` is there once the lock is held (and
   * holds the `expected` digest, if there is one).
   */
  readonly skipIfExists: boolean;
}

/**
 * Checks and settles a download's options: the URL must be `http:` or
 * `https:`, the destination a name file systems take, numbers in range, a
 * digest well formed (a `TypeError` or `RangeError` otherwise). Every
 * request asks for the bytes as stored (`Accept-Encoding: identity`), unless
 * the headers say otherwise.
 */
export function jobSpec(
  url: string | URL | readonly (string | URL)[],
  dest: string,
  options: DownloadOptions,
): JobSpec {
  const { urls: sources, authorizations } = parseSources(url);
  const href = sources[0] as string;
  assertDestName(href, dest);
  const resolved = resolveTransferOptions(href, options);
  if (!resolved.headers.has("accept-encoding")) {
    resolved.headers.set("accept-encoding", "identity");
  }
  const expected = parseExpected(href, options.integrity, options.sha256);
  return {
    url: href,
    sources,
    authorizations,
    dest,
    paths: partialPaths(dest),
    options: resolved,
    fetch: options.fetch ?? defaultFetch(resolved.useEnvProxy),
    expected,
    skipIfExists: options.skipIfExists ?? false,
  };
}

/** A download's URLs, and the credentials they came with. */
export interface Sources {
  /**
   * The URLs, normalised, without credentials: what a download is known by
   * (in messages, events, its sidecar), so that no password is shown or
   * written.
   */
  urls: string[];
  /** The `Basic` authorization of each URL that had credentials. */
  authorizations: Map<string, string>;
}

/**
 * The URLs of a download (see {@linkcode Sources}), each `http:` or
 * `https:` (a `TypeError` otherwise, or for no URL at all); duplicates
 * dropped, the first one's credentials kept.
 */
export function parseSources(
  url: string | URL | readonly (string | URL)[],
): Sources {
  const given = typeof url === "string" || url instanceof URL ? [url] : url;
  if (given.length === 0) {
    throw new TypeError("Cannot download: no URL given");
  }
  // A loop and a scan, not a `Set`: this runs twice for each download of a
  // manager (its own check, then the download's), almost always for one URL.
  const urls: string[] = [];
  const authorizations = new Map<string, string>();
  for (const each of given) {
    const { href, authorization } = parseSource(each);
    if (urls.includes(href)) continue;
    urls.push(href);
    if (authorization !== undefined) authorizations.set(href, authorization);
  }
  return { urls, authorizations };
}

/** One URL of a download, normalised, without its credentials. */
interface Source {
  href: string;
  authorization: string | undefined;
}

/**
 * The last URL string parsed, and what it gave: a manager's download is
 * parsed by the manager, then by its `Download`, from the same string.
 */
let lastParsed: { given: string; source: Source } | undefined;

/** One URL of `parseSources`, or its `TypeError`. */
function parseSource(each: string | URL): Source {
  if (typeof each === "string" && lastParsed?.given === each) {
    return lastParsed.source;
  }
  let parsed: URL;
  try {
    parsed = new URL(each);
  } catch {
    throw new TypeError(`Cannot download "${each}": it is not a URL`);
  }
  const { url: href, authorization } = withoutCredentials(parsed.href);
  if (!isHttp(parsed)) {
    throw new TypeError(
      `Cannot download "${href}": only http: and https: URLs are supported`,
    );
  }
  const source = { href, authorization };
  if (typeof each === "string") lastParsed = { given: each, source };
  return source;
}

/** The URLs of a download, without credentials (see {@linkcode parseSources}). */
export function sourcesOf(
  url: string | URL | readonly (string | URL)[],
): string[] {
  return parseSources(url).urls;
}

/** What a job tells its download, and asks it. */
export interface JobHost {
  /** Aborted by a cancel (its reason says so). */
  readonly signal: AbortSignal;
  /** The connections per host shared with the downloads of its manager. */
  readonly budget: ConnectionBudget | undefined;
  /** The download's pause and resume. */
  readonly pause: PauseControl;
  /** The bandwidth limits its reads are paced by. */
  readonly throttle: Throttle;
  /** Whether `error` is only the effect of a cancel. */
  isCancellation(error: unknown): boolean;
  /** Whether the cancel keeps what a later download can resume. */
  keepsPartial(): boolean;
  /** The partial file was left for a later download to resume. */
  kept(): void;
  /** The lock is held by `owner` (another download): waiting for it. */
  waiting(owner: Owner | undefined): void;
  /** The lock is this download's. */
  locked(): void;
  /**
   * The transfer has stopped for a pause: the download's slot in its
   * manager may go to another until it is resumed (and given one again).
   */
  parked(): void;
  /**
   * The job ends now, and is not paused: the complete, verified file is
   * being moved into place (or the file there kept, skipped or fresh). A
   * pause or a cancel from now on is refused.
   */
  committing(): void;
  /** Reports the bytes on disk and the total. */
  report(current: number, total: number | undefined): void;
  /** Records the URL the bytes came from, after redirects. */
  arrived(url: string): void;
  /** The parts being fetched, while several connections are. */
  showParts(parts: (() => readonly Piece[]) | undefined): void;
  /** Attempt `attempt` failed with `error`; the next starts in `delay` ms. */
  retrying(attempt: number, delay: number, error: unknown): void;
  /**
   * A connection refused by `host` (`error`) waits for another of the
   * manager's connections to it to stop transferring.
   */
  waitingForHost(host: string, error: unknown): void;
  /** The wait `waitingForHost` told of ended. */
  doneWaitingForHost(host: string, error: unknown): void;
  /**
   * A manager's download with a revalidation: the file's record is written
   * once it is in place (see `_disk/record.ts`), and a file already there
   * is asked of the server again when it is not fresh.
   */
  readonly cache?: { revalidation: Revalidation } | undefined;
}

/**
 * How a job ended well: the file downloaded, found there (`skipIfExists`),
 * found current (`"fresh"`: a 304, or another process checked it), or a
 * newer version downloaded over it (`"updated"`).
 */
export type JobOutcome = "done" | "skipped" | "fresh" | "updated";

/**
 * The index in `spec.sources` of the source that vouched for the file
 * `record` describes: a revalidation takes a new version from it or a
 * source before it, never from one after it (see `_transfer/sources.ts`).
 * A record of the first source, of an older version (which named none), or
 * of a source no longer listed: the first.
 */
function vouchedBy(spec: JobSpec, record: CacheRecord): number {
  return Math.max(0, spec.sources.indexOf(record.source ?? spec.url));
}

/**
 * Runs the download `host` describes (see the module comment). Rejects with
 * what ended it; the cancel's reason for a cancel, unless cleaning up after
 * it failed; a file system's failure as a {@linkcode FileSystemError}.
 */
export async function runJob(
  spec: JobSpec,
  host: JobHost,
): Promise<JobOutcome> {
  shareBuffers();
  try {
    return await runLocked(spec, host);
  } catch (error) {
    if (host.isCancellation(error)) throw error;
    const context = `Cannot download "${spec.url}" to "${spec.dest}"`;
    throw asFileSystemError(error, context, spec.dest);
  } finally {
    stopSharingBuffers();
  }
}

/** Takes the destination's lock, and runs the download under it. */
async function runLocked(
  spec: JobSpec,
  host: JobHost,
): Promise<JobOutcome> {
  const lock = await acquireLock(spec, host);
  let held: boolean | undefined;
  let opened = false;
  let outcome: JobOutcome | "again";
  try {
    host.locked();
    do {
      outcome = await transferUnderLock(spec, host, lock, {
        opening: () => opened = true,
        committed: (committed) => held = committed,
      });
    } while (outcome === "again");
  } catch (error) {
    await letGo(lock, opened, spec.paths);
    throw error;
  }
  if (opened) lock.release(held);
  else await letGo(lock, opened, spec.paths);
  return outcome;
}

/**
 * Releases `lock`; one taken over (a partial file left to be resumed, or a
 * dead process's) by a job that ended before it opened its partial file
 * (the file found there, a cancel) is left marked released again, as it
 * was found, while a partial file is there to resume (see
 * {@linkcode keepsTakenOver}): the next download takes it over and adopts
 * that file. Released as a free lock, the next would take it without a look
 * for the file, write one of its own, and leave the other's bytes beside
 * the file downloaded. With none there, it is released plainly: a marker
 * would stay beside no partial file, found again by every download of the
 * file there, until a leftover cleanup a day later.
 */
async function letGo(
  lock: FileLock,
  opened: boolean,
  paths: PartialPaths,
): Promise<void> {
  const { takenOver } = lock;
  if (takenOver !== undefined && !opened) {
    // Not told (a process out of file descriptors): left as it was found.
    const keep = await keepsTakenOver(paths, takenOver).catch(() => true);
    // Refused (the same): released as it is.
    if (keep) await lock.leave().catch(() => {});
  }
  lock.release();
}

/**
 * Takes the destination's lock, waiting while another process holds it, for
 * `lockTimeout` at most (a {@linkcode LockTimeoutError}). A pause stops the
 * wait: paused, the download waits for the resume holding nothing (see
 * {@linkcode parked}: its manager's slot goes to another), and then waits
 * for the lock afresh, for a whole `lockTimeout` again. So no time paused
 * counts, and a paused download never fails for the time it waited; and
 * the wait is the resumed one's, as a start's is: the holder may be
 * another by then, and is told again (`"waiting"`). So does a download
 * paused before it takes the lock (before `start()`, or by what heard it
 * start): it takes none until resumed, and holds up no other download of
 * its file meanwhile. A lock free at once (the usual) is taken with no
 * signal of the pause's made.
 */
async function acquireLock(spec: JobSpec, host: JobHost): Promise<FileLock> {
  const { lockStaleAfter, lockTimeout } = spec.options;
  const { pause } = host;
  for (;;) {
    if (pause.paused) await parked(host);
    let run: AbortSignal | undefined;
    try {
      return await FileLock.acquire(
        spec.paths.lock,
        lockTiming(lockStaleAfter),
        {
          signal: host.signal,
          waitSignal: () => run = pause.begin(host.signal),
          onWait: (owner) => host.waiting(owner),
          waitTimeout: lockTimeout,
          timeoutError: (owner) =>
            new LockTimeoutError(spec.url, spec.dest, lockTimeout, owner),
        },
      );
    } catch (error) {
      if (run === undefined || !pause.stopped(error, run)) throw error;
    } finally {
      if (run !== undefined) pause.end();
    }
  }
}

/** What {@linkcode transferUnderLock} tells the job that holds the lock. */
interface UnderLock {
  /** The partial file is being opened (a taken-over one adopted). */
  opening(): void;
  /** The file was renamed into place; `held`: the lock still was. */
  committed(held: boolean): void;
}

/**
 * Under the lock: skips (or, revalidating a file there, finds it fresh), or
 * fills the partial file and commits it, and then records it for the
 * manager, telling `on` (see {@linkcode UnderLock}). `"again"`: to be run again, which decides anew: the file
 * found fresh was removed meanwhile (by hand, or by a `PersistLimit` that
 * looked at its lock before this download took it: eviction takes no
 * locks), or the download was paused as it was about to end
 * without a transfer (skipped, found fresh) and has been resumed since.
 */
async function transferUnderLock(
  spec: JobSpec,
  host: JobHost,
  lock: FileLock,
  on: UnderLock,
): Promise<JobOutcome | "again"> {
  const present = fileAt(spec.url, spec.dest);
  const revalidation = host.cache?.revalidation;
  let cached: CacheRecord | undefined;
  if (
    present !== undefined && spec.skipIfExists && spec.expected !== undefined
  ) {
    // The digest names the bytes wanted: a file there that holds them is
    // kept, asked of no server; one that does not (corrupt, or another
    // version) is downloaded again, over it, unconditionally.
    // A pause stops the check (seconds for gigabytes), and the resume
    // checks again: the file may have changed meanwhile.
    const holds = await pausably(
      host,
      (signal) => holdsDigest(spec.dest, spec.expected as Expected, signal),
    );
    if (holds === PAUSED) return await endWith(host, true, "again");
    if (holds) return await endWith(host, touch(spec.dest, present), "skipped");
  } else if (present !== undefined && revalidation !== undefined) {
    cached = readRecord(spec.dest, spec.url, present);
    if (isFresh(revalidation, cached, present, wallClock())) {
      return await endWith(host, touch(spec.dest, present), "fresh");
    }
  } else if (present !== undefined && spec.skipIfExists) {
    return await endWith(host, true, "skipped");
  }
  // Before any answer: a record's check is never dated later than this,
  // should no answer vouch for the bytes (a file found complete on disk).
  const asked = wallClock();
  const integrity = spec.expected && await IntegrityCheck.create(spec.expected);
  on.opening();
  const partial = await PartialFile.open(
    spec.paths,
    spec.url,
    lock.takenOver,
    integrity,
    spec.sources,
  );
  // The source answering (the last asked, of several).
  let answering = spec.url;
  const budget = host.budget ?? new ConnectionBudget(Infinity);
  const { connections } = spec.options;
  // The first connection, counted against the source's host until an
  // answer comes from another (where the redirects led).
  const slot = budget.first(hostOf(spec.url));
  try {
    // A prefix adopted from a dead writer goes into the digest first (see
    // `transferPausably`): seconds for gigabytes, so progress tells those
    // bytes on disk before, as the answer to the rest would.
    if (partial.offset > 0 && integrity !== undefined) {
      host.report(partial.offset, partial.total);
    }
    const transfer: Transfer = {
      url: spec.url,
      source: spec.url,
      authorizations: spec.authorizations,
      options: spec.options,
      fetch: spec.fetch,
      partial,
      integrity,
      signal: host.signal,
      budget,
      slot,
      maxConnections: Math.min(
        connections === "auto" ? MAX_CONNECTIONS : connections,
        budget.max,
      ),
      throttle: host.throttle,
      isCancellation: (error) => host.isCancellation(error),
      report: (current, total) => host.report(current, total),
      arrived: (url) => host.arrived(url),
      showParts: (parts) => host.showParts(parts),
      retrying: (attempt, delay, error) => host.retrying(attempt, delay, error),
      waitingForHost: (name, error) => host.waitingForHost(name, error),
      doneWaitingForHost: (name, error) => host.doneWaitingForHost(name, error),
      conditional: cached && revalidationHeaders(cached.validator),
    };
    // Until the file is whole and checked, and not paused: see
    // `committable`.
    do {
      if (spec.sources.length === 1) {
        // One source (the usual): run as `fromSources` would (any error is
        // thrown as it is), without its copy of the transfer and its layer
        // of promises, which cost each download.
        await transferVerified(spec, host, transfer);
        continue;
      }
      await fromSources(
        transfer,
        spec.sources,
        // A failure of the file system is the download's, not the source's.
        (error) =>
          host.isCancellation(error) || error instanceof NotModified ||
          isFileSystemFailure(error),
        async (from) => {
          answering = from.source;
          // A source's connections are counted against its own host (until
          // it answers from another), which other downloads of the manager
          // may be using.
          slot.asks(new URL(from.source).host);
          await transferVerified(spec, host, {
            ...from,
            unproven: cached !== undefined &&
              spec.sources.indexOf(from.source) > vouchedBy(spec, cached),
          });
        },
      );
    } while (!await committable(host, transfer));
    const validator = partial.revalidator ?? partial.validator;
    const recorded = host.cache !== undefined && validator !== undefined;
    const { held, facts } = await partial.commit(spec.dest, lock, {
      mode: present?.mode,
      // The file renamed, not whatever is at `dest` by the time it is
      // recorded (another program's, put there meanwhile).
      measure: recorded,
    });
    on.committed(held);
    if (recorded) {
      // Checked when the server last answered for these bytes, not now: a
      // long body ends after others may have asked, and the server changed.
      await remember(spec.url, spec.dest, validator, {
        facts,
        checked: partial.vouched ?? asked,
        source: answering,
      });
    }
    return present !== undefined && revalidation !== undefined
      ? "updated"
      : "done";
  } catch (error) {
    if (error instanceof NotModified && cached !== undefined) {
      await partial.discard(lock);
      // Looked at again (it may have changed while the server was asked),
      // as at the start: a file reached through a symbolic link is kept
      // but not dated, its target being outside the directory (see
      // `touch`). Gone meanwhile, or replaced (by a program that takes no
      // lock: the answer vouches for the file the record was of, not for
      // this one): decided anew.
      const found = fileAt(spec.url, spec.dest);
      const same = found !== undefined && isSameFile(found, cached);
      const facts = same ? { size: found.size, mtime: found.mtime } : undefined;
      const kept = same && touch(spec.dest, found);
      const ending = await endWith(host, kept, "fresh", slot);
      if (ending === "again") return ending;
      // Another source's answer vouches for the file, but its validator is
      // its own: the record keeps the one of the source that gave it.
      const own = answering === (cached.source ?? spec.url);
      await remember(
        spec.url,
        spec.dest,
        own ? error.renewed(cached.validator) : cached.validator,
        { facts, source: cached.source },
      );
      return "fresh";
    }
    try {
      if (keepsForResume(spec, host, error)) {
        await keepForResume(host, partial, lock);
      } else {
        await partial.discard(lock);
      }
    } catch (cleanup) {
      // A failure to clean up after a cancel is the download's error.
      if (host.isCancellation(error)) throw cleanup;
    }
    throw error;
  } finally {
    slot.release();
    partial.end();
  }
}

/**
 * Whether a job that ends with `error` leaves its bytes for a later
 * download to resume: canceled with `keepPartial`, or failed, with
 * `keepPartialOnError`, as a download a later one may resume past does
 * (see {@linkcode leavesResumable}).
 */
function keepsForResume(
  spec: JobSpec,
  host: JobHost,
  error: unknown,
): boolean {
  if (host.isCancellation(error)) return host.keepsPartial();
  return spec.options.keepPartialOnError && leavesResumable(error);
}

/**
 * Leaves the partial file of a download canceled with `keepPartial` (or
 * failed with `keepPartialOnError`: see {@linkcode keepsForResume}) for a
 * later download to resume (if its sidecar lets one: see
 * `PartialFile.keep`), and the lock marked released: the next download of
 * the file, in any process, takes it over at once and adopts the file.
 * Should either be refused (a process out of file descriptors cannot write
 * the marks), the file and its sidecar are removed, as a cancel without
 * `keepPartial` does, the lock still held for it: a sidecar not marked
 * released names a writer alive, and an unmarked lock an owner alive, which
 * no other process would adopt or take over, and the bytes would stay, of
 * no use, beside a file downloaded again. Throws why it was refused; the
 * caller releases the lock.
 */
async function keepForResume(
  host: JobHost,
  partial: PartialFile,
  lock: FileLock,
): Promise<void> {
  try {
    if (!await partial.keep(lock)) return;
    await lock.leave();
  } catch (error) {
    await partial.discard(lock).catch(() => {});
    throw error;
  }
  host.kept();
}

/**
 * Runs the transfer until the file is complete, and checks its digest: a
 * source whose bytes do not match (a corrupt mirror) fails as any source
 * does, with an `IntegrityError`, and its bytes are dropped so that the
 * next source starts the file over. Bytes spliced from sources whose
 * validators differ (see `PartialFile.resumeValidator`) that do not match
 * blame no one source: the one that completed them keeps the bytes it sent
 * and is asked, once, for the others' again (or, if it sent none that can
 * be told apart, for the whole file, from byte 0), and is judged by its
 * own bytes.
 */
async function transferVerified(
  spec: JobSpec,
  host: JobHost,
  transfer: Transfer,
): Promise<void> {
  let run = transfer;
  for (;;) {
    await transferPausably(spec, host, run);
    if (run.integrity === undefined) return;
    await run.partial.close();
    // Paused meanwhile: the digest is judged on resume, as the length is
    // (a paused download does not end, failed, on its own).
    if (!await keptWhole(host, run)) continue;
    const spliced = run.partial.spliced;
    try {
      run.integrity.verify(spec.url);
      return;
    } catch (error) {
      // The fewest bytes asked again that leave no other source's in it.
      if (!spliced || !await run.partial.keepOwn()) await restart(run);
      if (!spliced) throw error;
      // Asked again at once: its turn's wait was waited.
      run = { ...run, wait: 0, waitAsked: false };
    }
  }
}

/**
 * Runs the transfer until the partial file is complete; while the download
 * is paused, with the file closed and kept, waits for the resume (see
 * {@linkcode parked}), then runs it again from what is on disk.
 */
async function transferPausably(
  spec: JobSpec,
  host: JobHost,
  transfer: Transfer,
): Promise<void> {
  const { pause } = host;
  let wait = transfer.wait ?? 0;
  // When (on `clock.now()`) the last `Retry-After` a server
  // sent ends: a resume waits out the rest of it (a user's resume does not
  // ask a busy server sooner than it said), though not a backoff of ours.
  let asked = transfer.waitAsked === true ? clock.now() + wait : 0;
  const retrying = (attempt: number, delay: number, error: unknown): void => {
    if (sentRetryAfter(error)) asked = clock.now() + delay;
    transfer.retrying(attempt, delay, error);
  };
  for (;;) {
    // Not paused (the usual): no promise to wait for.
    if (pause.paused) {
      await parked(host, transfer.slot);
      await intactAfterPause(transfer);
      // Resumed: a backoff is not waited out, a Retry-After's rest is.
      wait = Math.ceil(Math.max(0, asked - clock.now()));
    }
    const signal = pause.begin(host.signal);
    let whole = false;
    try {
      // A prefix adopted from a dead writer, digested before any byte is
      // written (once): a pause stops it, as a cancel does, and the resume
      // digests the bytes as they are then.
      await transfer.partial.hashAdopted(signal);
      // A source asked again after the others: its backoff first (a pause
      // stops it, and the resume asks at once, or once its Retry-After is
      // up).
      if (wait > 0) {
        const ms = wait;
        wait = 0;
        await sleep(ms, signal);
      }
      // Chosen anew: a paused download may be in parts now.
      await chooseStrategy(spec.options, transfer.partial).run({
        ...transfer,
        signal,
        isCancellation: (error) =>
          host.isCancellation(error) || pause.stopped(error, signal),
        retrying,
      });
      whole = true;
    } catch (error) {
      if (!pause.stopped(error, signal)) throw error;
      await transfer.partial.close();
    } finally {
      pause.end();
    }
    if (!whole) continue;
    // Paused as its last bytes landed: the file is whole, and waits for the
    // resume to be checked and moved into place, as it would in parts (a
    // pause while it is checked waits in `transferVerified` or
    // `committable`).
    if (pause.paused) {
      if (!await keptWhole(host, transfer)) continue;
    } else if (transfer.partial.recorded && !await intactAfterPause(transfer)) {
      // Cut short by another program while it was written: appended to, it
      // would be committed with bytes at the wrong place. A file of one
      // write (not recorded) has no time for it, and pays no look.
      continue;
    }
    return;
  }
}

/**
 * Whether the partial file still holds what the download recorded of it,
 * after a pause, or once complete: another program may have cut it short
 * (or added to it) meanwhile, and going on, or committing it, would join
 * bytes at the wrong place. If not, the download starts over, its bytes
 * dropped.
 */
async function intactAfterPause(transfer: Transfer): Promise<boolean> {
  if (await transfer.partial.intact()) return true;
  await restart(transfer);
  return false;
}

/**
 * Waits, paused and stopped, for the resume: meanwhile the download's first
 * connection (its `slot`, if given) is not counted against its host's
 * budget, and its manager's slot goes to another download; it is counted
 * again (against the host its bytes came from) before the transfer goes on
 * (or the job ends, canceled), and the resume comes with a slot.
 */
async function parked(host: JobHost, slot?: Slot): Promise<void> {
  slot?.release();
  host.parked();
  try {
    await host.pause.whenResumed(host.signal);
  } finally {
    slot?.acquire();
  }
}

/**
 * Whether the whole file of a download paused (at its last byte, or while
 * the file is checked) is still what it wrote, once resumed: it waits, the
 * file closed, for the resume (see {@linkcode parked}), paused again
 * meanwhile too; if another program changed the file meanwhile, its bytes
 * are dropped (`false`: to be fetched again). Not paused (the usual): at
 * once, with no look at the file.
 */
async function keptWhole(
  host: JobHost,
  transfer: Transfer,
): Promise<boolean> {
  while (host.pause.paused) {
    await transfer.partial.close();
    await parked(host, transfer.slot);
    if (!await intactAfterPause(transfer)) return false;
  }
  return true;
}

/**
 * Whether the whole, checked file may be moved into place: not paused (the
 * usual), and then the download is told it is committing, at once (a pause
 * or cancel from then on is refused: see {@linkcode JobHost.committing}).
 * Paused after its last byte, while its length or digest was checked (a
 * pause there stops no transfer), it waits, the file closed, for the
 * resume (see {@linkcode parked}: its first connection is not counted
 * meanwhile), and then commits without asking again;
 * or, if another program changed the file meanwhile, drops its bytes:
 * `false`, to be fetched again.
 */
async function committable(
  host: JobHost,
  transfer: Transfer,
): Promise<boolean> {
  if (!await keptWhole(host, transfer)) return false;
  // Canceled meanwhile (before the commit, which refuses a cancel).
  host.signal.throwIfAborted();
  host.committing();
  return true;
}

/**
 * Ends the job without a transfer (a file skipped, or found fresh), with
 * `outcome`: the download is told it is committing at once (as in
 * {@linkcode committable}). Unless the file is gone (not `kept`): `"again"`,
 * to decide anew. Or unless the download is paused: it waits for the
 * resume (`slot` is not counted meanwhile: see {@linkcode parked}), and
 * then `"again"`, to decide anew, the file being what it is then (changed,
 * removed, or stale by then).
 */
async function endWith(
  host: JobHost,
  kept: boolean,
  outcome: JobOutcome | "again",
  slot?: Slot,
): Promise<JobOutcome | "again"> {
  if (!kept) return "again";
  if (!host.pause.paused) {
    if (outcome !== "again") host.committing();
    return outcome;
  }
  await parked(host, slot);
  return "again";
}

/** What {@linkcode pausably} gives for a run a pause stopped. */
const PAUSED = Symbol("paused");

/**
 * Runs `run` under a signal that a pause aborts (as a transfer runs: see
 * `_pause.ts`), and a cancel: what it gives, or {@linkcode PAUSED} if a
 * pause stopped it (or came before it).
 */
async function pausably<T>(
  host: JobHost,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T | typeof PAUSED> {
  const { pause } = host;
  const signal = pause.begin(host.signal);
  try {
    return await run(signal);
  } catch (error) {
    if (pause.stopped(error, signal)) return PAUSED;
    throw error;
  } finally {
    pause.end();
  }
}
