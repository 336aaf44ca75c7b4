// One download's partial file: created beside the destination under the
// download's own writer token (or adopted from a writer proven dead), written
// by the transfer, then renamed onto the destination, or removed. It keeps
// what it holds in step with what is on disk: `offset` bytes, of the version
// `validator` names, of a file of `total` bytes; and the sidecar that lets
// another process resume it (see `sidecar.ts`).

import { basename } from "node:path";
import type { IntegrityCheck } from "../_body/integrity.ts";
import { type FileWriter, fs, NotFoundError } from "../_runtime/fs.ts";
import { removeIfPresent } from "../_runtime/remove.ts";
import type { FileLock, TakenOver } from "./lock.ts";
import { partialFile, type PartialPaths } from "./names.ts";
import { removeLeftBy } from "./orphans.ts";
import { factsOf, type FileFacts } from "./record.ts";
import { newToken, thisProcess } from "./process_identity.ts";
import {
  endWriter,
  knownSources,
  RANGES_SIDECAR_VERSION,
  readSidecar,
  SIDECAR_VERSION,
  sidecarPartial,
  SPLICED_SIDECAR_VERSION,
  startWriter,
  writerState,
  writeSidecar,
} from "./sidecar.ts";

/** Options for {@linkcode PartialFile.commit}. */
export interface CommitOptions {
  /**
   * The permission bits of the file it replaces, given to it (as curl,
   * wget and rsync keep them: an executable stays one); none when no file
   * was there, which costs no call.
   *
   * @default {undefined}
   */
  mode?: number | null | undefined;
  /**
   * Whether to read the file's size and modification time as it is
   * renamed (for its record), which costs a call.
   *
   * @default {false}
   */
  measure?: boolean | undefined;
}

/** What {@linkcode PartialFile.commit} did. */
export interface Committed {
  /** Whether the lock was still held as the file was renamed. */
  held: boolean;
  /**
   * The size and modification time of the file renamed, if asked for
   * (`measure`).
   */
  facts: FileFacts | undefined;
}

/** A download's partial file. Call {@linkcode PartialFile.end} when done. */
export class PartialFile {
  /** Bytes it holds: a resume asks for the rest from here. */
  offset = 0;
  /** The version its bytes are of, for `If-Range`, if known. */
  validator: string | undefined;
  /** The whole file's length, if known. */
  total: number | undefined;
  /**
   * What a revalidation of the file asks with, when the answer gave more
   * than `validator`: a weak ETag (see `revalidatorOf`). Not kept in the
   * sidecar: a file resumed from one is revalidated with `validator`.
   */
  revalidator: string | undefined;
  /**
   * When the server last vouched for the version the bytes are of (a
   * whole answer, or a 206 of the same validator), on the wall clock (see
   * `wallClock`): what a record of the file says was checked, and not the
   * end of a long body, after which the server may have changed.
   */
  vouched: number | undefined;
  /**
   * The ranges `[start, end)` on disk, once the file is written in parts
   * (segmented, or resumed from such a download); `undefined` while its
   * bytes are a prefix of `offset` bytes.
   */
  ranges: [number, number][] | undefined;
  #paths: PartialPaths;
  #url: string;
  // The download's sources (`#url` first, then its mirrors): a partial file
  // that a download listing any of them left is adopted too.
  #sources: readonly string[];
  #writer: string;
  #path: string;
  #file: FileWriter | undefined;
  // The open under way, if any (see `prepare`); it sets `#file`.
  #opening: Promise<FileWriter> | undefined;
  // Whether the file is on disk (created or adopted, and not removed since).
  #onDisk = false;
  // Whether the file on disk is one adopted from an earlier writer.
  #adopted = false;
  #sidecar = false;
  // Each source's own validator, of those whose answers the bytes are (a
  // validator is its own server's).
  #validators = new Map<string, string>();
  // Whether the bytes are of answers that name different validators: only
  // the digest proves them one file.
  #spliced = false;
  // While the bytes are spliced, the ranges on disk of versions other than
  // `validator`'s: those on disk when the last source whose validator
  // differs took over (all adopted ones, of a spliced file adopted: which
  // were whose is not recorded).
  #others: [number, number][] | undefined;
  #integrity: IntegrityCheck | undefined;
  // Whether the prefix adopted is still to be fed to `#integrity`.
  #unhashed = false;

  private constructor(
    paths: PartialPaths,
    url: string,
    integrity: IntegrityCheck | undefined,
    sources: readonly string[],
  ) {
    this.#paths = paths;
    this.#url = url;
    this.#sources = sources.length === 0 ? [url] : sources;
    this.#integrity = integrity;
    this.#writer = newToken();
    this.#path = partialFile(paths, this.#writer);
    startWriter(this.#writer);
  }

  /**
   * Starts the partial file of a download of `url` (on disk once it is first
   * opened for writing: see {@linkcode PartialFile.prepare}), or, when its
   * lock was taken over (from a process proven dead, or from a download that
   * left its partial file to be resumed: see {@linkcode FileLock.leave}), adopts
   * the partial file the sidecar vouches for, if its writer is proven dead
   * or released it. The bytes adopted are fed to `integrity` by
   * {@linkcode PartialFile.hashAdopted}, before any byte is written. A
   * partial file of a download that listed any of `sources` (the download's
   * URLs, `url` first: the same file's, whether listed in another order,
   * or some dropped, or others added) is adopted too: a resume asks for the
   * rest with `If-Range`, which proves the same version, as a source taking
   * over from another does.
   */
  static async open(
    paths: PartialPaths,
    url: string,
    takenOver: TakenOver | undefined,
    integrity: IntegrityCheck | undefined,
    sources: readonly string[] = [],
  ): Promise<PartialFile> {
    const partial = new PartialFile(paths, url, integrity, sources);
    try {
      // Usually the lock was free, and there is nothing to do: no look for
      // a sidecar, which would cost every download (a tenth of the
      // many-small-files bench).
      if (takenOver !== undefined) {
        await partial.#adopt();
        await removeLeftBy(paths.base, takenOver, partial.#path);
      }
      return partial;
    } catch (error) {
      partial.end();
      throw error;
    }
  }

  /** The partial file's path. */
  get path(): string {
    return this.#path;
  }

  /**
   * Whether a sidecar records the file: it is longer than one write, written
   * over time, and another program may have cut it short meanwhile.
   */
  get recorded(): boolean {
    return this.#sidecar;
  }

  /**
   * Whether the bytes were joined from sources whose validators differ
   * (see {@linkcode PartialFile.resumeValidator}): only the digest, once
   * the file is whole, proves them one file.
   */
  get spliced(): boolean {
    return this.#spliced;
  }

  /**
   * The validator to resume from `source` with (`If-Range`). Without a
   * digest, the file's, whose `If-Range` proves a source serves the same
   * version (a 200 otherwise, which starts the file over). With one, the
   * source's own, if it answered for these bytes; else, once some source's
   * is known, none: a source whose own is not known (another server, whose
   * ETags are its own) is asked for the rest whatever its version, its
   * bytes are joined to these, and the digest judges the whole. (A file
   * adopted from a sidecar that names no source's: the file's, as ever.)
   */
  resumeValidator(source: string): string | undefined {
    if (this.#integrity === undefined) return this.validator;
    const own = this.#validators.get(source);
    if (own !== undefined) return own;
    return this.#joining(source) ? undefined : this.validator;
  }

  /**
   * Whether `source` is asked for the rest whatever its version (see
   * {@linkcode PartialFile.resumeValidator}): with a digest, a source whose
   * own validator is not known, once some source's is.
   */
  #joining(source: string): boolean {
    return this.#integrity !== undefined && this.#validators.size > 0 &&
      !this.#validators.has(source);
  }

  /**
   * Records that `source` sent the rest of the file, of the version
   * `validator` names (the one asked with, or, asked without, the one its
   * answer names): from now on it is the file's, and the bytes are spliced
   * if it is not the one they were of. The sidecar is written again when
   * that changed what it says.
   */
  async resumedFrom(source: string, validator: string): Promise<void> {
    // Asked without `If-Range`, its bytes are joined on the digest's word
    // alone, even under a validator that reads as the file's: a validator
    // is its own server's (a mirror synced keeping dates has the first's
    // Last-Modified, whatever its bytes), and the digest, should it refuse
    // them, is to blame no one source.
    const other = validator !== this.validator || this.#joining(source);
    if (other) this.#others = this.#held();
    const spliced = this.#spliced || other;
    const changed = spliced !== this.#spliced ||
      validator !== this.validator ||
      this.#validators.get(source) !== validator;
    this.#validators.set(source, validator);
    this.#spliced = spliced;
    this.validator = validator;
    if (!changed || !this.#sidecar || this.total === undefined) return;
    await this.#writeSidecar(validator, this.total, this.ranges);
  }

  /**
   * Records that `source`, asked for the rest whatever its version (see
   * {@linkcode PartialFile.resumeValidator}), said the file on disk is
   * whole (a 416): every byte is another source's, joined on the digest's
   * word. Should the digest refuse them, `source` is asked for its whole
   * file (see {@linkcode PartialFile.keepOwn}), not blamed for bytes it did
   * not send.
   */
  completedBy(source: string): void {
    if (!this.#joining(source)) return;
    this.#others = this.#held();
    this.#spliced = true;
  }

  /**
   * Drops from the record the bytes of versions other than `validator`'s,
   * once the digest refused the bytes spliced: those the last source sent
   * (of its own version, as each of its answers named) are kept, and the
   * rest is asked of it again, of that version (a file in parts), so that
   * the digest judges one source's file, at the cost of only the bytes it
   * did not send. Returns whether any are kept; if not, nothing changed,
   * and the file is to start over.
   */
  async keepOwn(): Promise<boolean> {
    const { validator, total } = this;
    const others = this.#others;
    if (
      !this.#spliced || others === undefined || validator === undefined ||
      total === undefined
    ) {
      return false;
    }
    const own = withoutRanges(this.#held(), others);
    if (own.length === 0) return false;
    await this.close();
    this.ranges = own;
    this.#others = undefined;
    this.#spliced = false;
    this.#unhashed = false;
    for (const [source, each] of this.#validators) {
      if (each !== validator) this.#validators.delete(source);
    }
    await this.#writeSidecar(validator, total, own);
    return true;
  }

  /** The ranges on disk: `ranges`, or the prefix of `offset` bytes. */
  #held(): [number, number][] {
    return this.ranges ?? (this.offset > 0 ? [[0, this.offset]] : []);
  }

  /**
   * Starts opening the file for writing (creating it, the first time)
   * without waiting for it: a transfer calls it before it sends a request,
   * so that the two overlap where opening is asynchronous (Node; Deno's
   * adapter creates a file synchronously). {@linkcode PartialFile.writer}
   * waits for it; if it fails, `writer()` opens again, and throws.
   */
  prepare(): void {
    if (this.#file === undefined) this.#open().catch(() => {});
  }

  /** The file open for writing at its end, opened (or created) if closed. */
  async writer(): Promise<FileWriter> {
    return this.#file ?? await this.#open();
  }

  #open(): Promise<FileWriter> {
    this.#opening ??= (async () => {
      try {
        const file = this.#onDisk
          ? await fs.openAppend(this.#path)
          : await fs.createNew(this.#path);
        this.#file = file;
        this.#onDisk = true;
        return file;
      } finally {
        this.#opening = undefined;
      }
    })();
    return this.#opening;
  }

  /**
   * Whether the file still holds the bytes recorded of it (checked after a
   * pause, when another program may have cut it short or added to it, and
   * before a recorded file is committed): a prefix is `offset` bytes long; a file in parts reaches at least
   * its last part's end, and not past `total`. A file not made yet holds
   * nothing to lose.
   */
  async intact(): Promise<boolean> {
    if (!this.#onDisk) return true;
    // Not followed: a link put in its place is not the file written.
    const stat = await fs.lstat(this.#path);
    if (stat === undefined || !stat.isFile) return false;
    if (this.ranges === undefined) return stat.size === this.offset;
    const end = this.ranges.reduce((last, [, to]) => Math.max(last, to), 0);
    return stat.size >= end &&
      (this.total === undefined || stat.size <= this.total);
  }

  /**
   * Throws a {@linkcode NotFoundError} if the file is no longer under its
   * name (another program removed it, or its directory): writers open on it
   * write on into a file that nothing can rename onto the destination. A
   * file not made yet is not looked for.
   */
  async assertPresent(): Promise<void> {
    if (!this.#onDisk) return;
    const stat = await fs.lstat(this.#path);
    if (stat === undefined || !stat.isFile) throw gone(this.#path);
  }

  /**
   * A writer of its own from byte `offset` on, for one part of the file: the
   * file is created first if it is not on disk. Close it when done.
   */
  async writerAt(offset: number): Promise<FileWriter> {
    if (!this.#onDisk) await this.writer();
    await this.close();
    return await fs.openAt(this.#path, offset);
  }

  /**
   * Feeds the bytes on disk, in file order, to `integrity`. Aborting
   * `signal` stops it before the next read, rejecting with its reason: a
   * file of many gigabytes takes seconds to read.
   */
  async hash(integrity: IntegrityCheck, signal?: AbortSignal): Promise<void> {
    await integrity.hashFile(this.#path, signal);
  }

  /**
   * Feeds the bytes adopted from a dead writer's partial file (a prefix:
   * see {@linkcode PartialFile.open}) to the download's digest, once; a
   * no-op otherwise. Aborting `signal` stops it, as for
   * {@linkcode PartialFile.hash}, and empties the digest (they are its
   * first bytes): a pause's next run feeds them again, from the start.
   */
  async hashAdopted(signal: AbortSignal): Promise<void> {
    const integrity = this.#integrity;
    if (!this.#unhashed || integrity === undefined) return;
    try {
      await this.hash(integrity, signal);
    } catch (error) {
      integrity.reset();
      throw error;
    }
    this.#unhashed = false;
  }

  /**
   * Forgets the open writer, which something else closed (a runtime's pipe
   * closes the file it writes): the next {@linkcode PartialFile.writer}
   * opens the file again.
   */
  closedElsewhere(): void {
    this.#file = undefined;
  }

  /** Closes the file, if open (once an open under way has ended). */
  async close(): Promise<void> {
    await this.#opening?.catch(() => {});
    const file = this.#file;
    this.#file = undefined;
    await file?.close();
  }

  /**
   * Reads the size on disk into `offset`, and returns it. A file gone from
   * its name (its directory removed or moved, or the file removed) is a
   * {@linkcode NotFoundError}: what was written went with it, and nothing
   * could be renamed onto the destination.
   */
  async measure(): Promise<number> {
    const stat = await fs.stat(this.#path);
    if (stat === undefined) throw gone(this.#path);
    this.offset = stat.size;
    return this.offset;
  }

  /**
   * Records what the bytes belong to, from an answer of the whole file. A
   * sidecar is written when there is something to resume another time: a
   * validator, a known total, and `resumable` (more than one write).
   *
   * @param source The source of a whole answer, from byte 0: the bytes are
   * its alone (other sources' validators are forgotten). None for a length
   * learned later of the same answer's bytes.
   */
  async record(
    validator: string | undefined,
    total: number | undefined,
    resumable: boolean,
    source?: string,
  ): Promise<void> {
    if (source !== undefined) {
      this.#validators.clear();
      this.#spliced = false;
      this.#others = undefined;
      if (validator !== undefined) this.#validators.set(source, validator);
    }
    this.validator = validator;
    this.total = total;
    if (validator === undefined || total === undefined || !resumable) return;
    await this.#writeSidecar(validator, total, undefined);
  }

  /**
   * Records the ranges on disk (a segmented download's), in a sidecar of
   * version 3, for another process to resume only what is missing.
   */
  async recordRanges(ranges: [number, number][]): Promise<void> {
    this.ranges = ranges;
    const { validator, total } = this;
    if (validator === undefined || total === undefined) return;
    await this.#writeSidecar(validator, total, ranges);
  }

  /**
   * A sidecar of version 2, or of version 3 when there are `ranges`, or of
   * version 4 when the bytes are spliced (with the digest they are for).
   */
  async #writeSidecar(
    validator: string,
    total: number,
    ranges: [number, number][] | undefined,
  ): Promise<void> {
    const fields = {
      url: this.#url,
      sources: this.#listed(),
      validator,
      validators: this.#validatorsRecorded(),
      total,
      partial: basename(this.#path),
      writer: this.#writer,
      owner: thisProcess(),
    };
    const digest = this.#spliced ? this.#integrity?.sri : undefined;
    await writeSidecar(
      this.#paths.sidecar,
      digest !== undefined
        ? { version: SPLICED_SIDECAR_VERSION, ...fields, digest, ranges }
        : ranges === undefined
        ? { version: SIDECAR_VERSION, ...fields }
        : { version: RANGES_SIDECAR_VERSION, ...fields, ranges },
    );
    this.#sidecar = true;
  }

  /**
   * The validators by source a sidecar records: for a download of several
   * sources, or of spliced bytes (a single source's sidecar is as it
   * always was).
   */
  #validatorsRecorded(): Record<string, string> | undefined {
    if (this.#sources.length === 1 && !this.#spliced) return undefined;
    return this.#validators.size === 0
      ? undefined
      : Object.fromEntries(this.#validators);
  }

  /**
   * The sources a sidecar records, when there are several (one is `url`,
   * which it records anyway: a single URL's sidecar is as it always was).
   */
  #listed(): string[] | undefined {
    return this.#sources.length > 1 ? [...this.#sources] : undefined;
  }

  /** Drops the bytes and what they belonged to: the next answer starts at 0. */
  async restart(): Promise<void> {
    await this.close();
    this.offset = 0;
    this.validator = undefined;
    this.revalidator = undefined;
    this.vouched = undefined;
    this.total = undefined;
    this.ranges = undefined;
    this.#unhashed = false;
    this.#validators.clear();
    this.#spliced = false;
    this.#others = undefined;
    await removeIfPresent(this.#path);
    // The bytes to come are this download's own, under its own name: the
    // name of a dead writer's file it adopted carries that writer's token,
    // which a process taking over from this one, were it killed before a
    // sidecar named the file, would not look for, and would leave.
    this.#path = partialFile(this.#paths, this.#writer);
    this.#onDisk = false;
    this.#adopted = false;
    await this.#removeSidecar(true);
  }

  /**
   * Moves the complete file onto `dest`. A process that judged `lock` stale
   * while this one was stopped may hold it now: it writes a partial file of
   * its own, so the one renamed here is still this download's, and then
   * only the sidecar is left to that process. Returns whether the lock was
   * still held (for its release). A file adopted, or written over time (a
   * sidecar recorded it), counts as accessed now (its modification time is
   * left): a `PersistLimit` evicts the least recently accessed first, and a
   * partial file's access time is when it was made, which may be a run of
   * yesterday's that this one resumed, or the start of a long download
   * (paused, retried): another process's eviction would take the file just
   * downloaded for one of the oldest. A file of one write was made moments
   * ago: no calls for it.
   *
   * With `measure`, the file's size and modification time are read just
   * before the rename (the rename changes neither): they are the file
   * renamed, where a look at `dest` after it may find another put there
   * meanwhile (a record bound to that one would vouch for it).
   */
  async commit(
    dest: string,
    lock: FileLock,
    options: CommitOptions = {},
  ): Promise<Committed> {
    const { mode, measure = false } = options;
    if (!this.#onDisk) await this.writer();
    await this.close();
    if (this.#adopted || this.#sidecar) accessedNow(this.#path);
    if (typeof mode === "number") {
      // A file system that has no modes to set (a FAT drive) takes the
      // file all the same.
      await fs.chmod(this.#path, mode).catch(() => {});
    }
    const held = lock.isHeld();
    const facts = measure ? await factsOf(this.#path) : undefined;
    await fs.rename(this.#path, dest);
    await this.#removeSidecar(held);
    return { held, facts };
  }

  /**
   * Leaves the partial file for a later download to resume, if its sidecar
   * lets one (see {@linkcode PartialFile.record}); else removes it. Returns
   * whether it was left.
   */
  async keep(lock: FileLock): Promise<boolean> {
    if (!this.#sidecar) {
      await this.discard(lock);
      return false;
    }
    await this.close();
    // Released: another process adopts it without proof this one is gone.
    const sidecar = readSidecar(this.#paths.sidecar);
    if (sidecar?.writer === this.#writer) {
      // The parts a download over several connections that failed wrote
      // since its last checkpoint (see `Workers`) are recorded too: the
      // next download fetches none again.
      const { ranges } = this;
      await writeSidecar(
        this.#paths.sidecar,
        "ranges" in sidecar && ranges !== undefined
          ? { ...sidecar, ranges, released: true }
          : { ...sidecar, released: true },
      );
    }
    return true;
  }

  /** Removes the partial file and its sidecar: the download did not finish. */
  async discard(lock: FileLock): Promise<void> {
    await this.close().catch(() => {});
    await removeIfPresent(this.#path);
    if (this.#sidecar) await this.#removeSidecar(lock.isHeld());
  }

  /** Ends this writer's claim on its file (see `startWriter`). */
  end(): void {
    endWriter(this.#writer);
  }

  /**
   * Adopts the partial file the sidecar names, if its writer is proven dead
   * and it is of one of this download's sources (a sidecar knows its
   * download's every source: see `knownSources`); removes it if its writer
   * is dead but it is not.
   * Returns whether it adopted one. A partial file whose writer may be
   * running is left alone: it renames only its own file.
   */
  async #adopt(): Promise<boolean> {
    const sidecar = readSidecar(this.#paths.sidecar);
    if (sidecar === undefined || writerState(sidecar) !== "dead") return false;
    const partial = sidecarPartial(this.#paths, sidecar);
    // Not followed: a symbolic link in its place (planted, or left by
    // another program) is not the file the writer made, and appending
    // through it would write wherever it points.
    const stat = partial === undefined ? undefined : await fs.lstat(partial);
    const size = stat?.isFile ? stat.size : undefined;
    const lastEnd = sidecar.ranges?.at(-1)?.[1] ?? 0;
    // Spliced bytes are proven one file by a digest only: the same one.
    const spliced = sidecar.version === SPLICED_SIDECAR_VERSION;
    if (
      partial === undefined || size === undefined ||
      !knownSources(sidecar).some((source) => this.#sources.includes(source)) ||
      size > sidecar.total || size < lastEnd ||
      (spliced && this.#integrity?.names(sidecar.digest ?? "") !== true)
    ) {
      // The dead writer's leftovers, of no use here (a link goes, its
      // target stays).
      if (partial !== undefined && (stat?.isFile || stat?.isSymlink)) {
        await removeIfPresent(partial);
      }
      await removeIfPresent(this.#paths.sidecar);
      return false;
    }
    // Recorded as this download's before a byte is written: a process that
    // takes over from this one judges this one.
    await writeSidecar(this.#paths.sidecar, {
      ...sidecar,
      url: this.#url,
      sources: this.#listed(),
      // The same file's digest, as this download gives it.
      digest: spliced ? this.#integrity?.sri : undefined,
      writer: this.#writer,
      owner: thisProcess(),
      released: undefined,
    });
    this.#sidecar = true;
    this.#path = partial;
    this.#onDisk = true;
    this.#adopted = true;
    this.#spliced = spliced;
    for (
      const [source, validator] of Object.entries(sidecar.validators ?? {})
    ) {
      this.#validators.set(source, validator);
    }
    this.validator = sidecar.validator;
    this.total = sidecar.total;
    // Which of the bytes spliced are whose is not recorded: all of them
    // are others' (see `keepOwn`).
    if (spliced) this.#others = sidecar.ranges ?? [[0, size]];
    if (sidecar.ranges !== undefined && !isWhole(sidecar.ranges, size)) {
      // Written in parts: the strategy fetches what the ranges leave out,
      // and the digest is taken of the whole file at the end.
      this.ranges = sidecar.ranges;
      return true;
    }
    // A prefix: the rest is asked for with `If-Range`, and the server tells
    // whether it is still the file. So is a file whose every part is on
    // disk (killed before its rename): a 416 says it is complete, and a 200
    // that it changed meanwhile. Hashed by `hashAdopted`, where a cancel or
    // a pause can stop it.
    this.#unhashed = true;
    this.#file = await fs.openAppend(partial);
    this.offset = size;
    return true;
  }

  /**
   * Removes the sidecar this download wrote, if any: by its name while the
   * lock is held, else only once read back as this download's (the lock's
   * new holder may have written its own there).
   */
  async #removeSidecar(held: boolean): Promise<void> {
    if (!this.#sidecar) return;
    this.#sidecar = false;
    if (held || readSidecar(this.#paths.sidecar)?.writer === this.#writer) {
      await removeIfPresent(this.#paths.sidecar);
    }
  }
}

/** Whether `ranges` are one range of all `size` bytes, from byte 0. */
function isWhole(ranges: [number, number][], size: number): boolean {
  const [first] = ranges;
  return ranges.length === 1 && first?.[0] === 0 && first[1] === size;
}

/**
 * The parts of sorted, disjoint `ranges` outside sorted, disjoint `taken`.
 */
function withoutRanges(
  ranges: [number, number][],
  taken: [number, number][],
): [number, number][] {
  const left: [number, number][] = [];
  for (const [start, end] of ranges) {
    let at = start;
    for (const [from, to] of taken) {
      if (to <= at || from >= end) continue;
      if (from > at) left.push([at, from]);
      at = Math.max(at, to);
    }
    if (at < end) left.push([at, end]);
  }
  return left;
}

/** The error for a partial file gone from its name while it was written. */
export function gone(path: string): NotFoundError {
  return new NotFoundError(
    `The partial file "${path}" is gone: its directory was removed or moved, or the file removed`,
  );
}

/**
 * Sets the access time of the file at `path` to now, its modification time
 * left as it is (to the millisecond, as a record compares it). Times that
 * may not be set (a file system without them) only cost the file its place
 * in an eviction order.
 */
function accessedNow(path: string): void {
  try {
    const mtime = fs.statSync(path)?.mtime;
    if (mtime) fs.utimeSync(path, new Date(), mtime);
  } catch {
    // As said: the rename that follows tells what matters.
  }
}
