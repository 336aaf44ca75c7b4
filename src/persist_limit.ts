/**
 * {@linkcode PersistLimit}: keeps a set of files under a size limit by
 * removing the least recently accessed ones.
 *
 * @module
 */

import { basename, join, resolve } from "node:path";
import { type DirEntry, fs, NotFoundError } from "./_runtime/fs.ts";
import { asFileSystemError } from "./_disk/file_system_failure.ts";
import { isRefused, removeIfPresent } from "./_runtime/remove.ts";
import { globToRegExp } from "./_disk/glob.ts";
import { isLockHeld } from "./_disk/lock.ts";
import { isReservedName, partialPaths } from "./_disk/names.ts";
import { removeRecord } from "./_disk/record.ts";
import { DEFAULTS } from "./transfer_options.ts";
import { optionsOf } from "./_option_checks.ts";

/** Options for {@linkcode PersistLimit.removeOldFiles}. */
export interface RemoveOldFilesOptions {
  /**
   * Files for which this returns true are kept whatever their age (they still
   * count towards the size): the manager keeps what is in use this way.
   *
   * @default {() => false}
   */
  keep?: ((path: string) => boolean) | undefined;
}

/** Options for {@linkcode PersistLimit}. */
export interface PersistLimitOptions {
  /**
   * However far over the size limit, at least this many files are kept (a
   * whole number, else a `RangeError`). `0` or less means the limit never
   * removes anything.
   *
   * @default {5}
   */
  fileLimit?: number | undefined;
}

interface Entry {
  path: string;
  size: number;
  atime: number;
}

// Whether removeOldFiles() could remove anything, from the sizes as last
// read (see `mayEvict`).
let mayEvictOf: (limit: PersistLimit) => boolean;

/**
 * Whether {@linkcode PersistLimit.removeOldFiles} could remove a file of
 * `limit`, from the sizes its files had when last read (registered, or at
 * the last `removeOldFiles()`): more than `fileLimit` files that total the
 * size limit or more. No file is read: a manager asks after each download,
 * and reads every file's size and access time again only when this is so,
 * not for each of tens of thousands of downloads into a cache under its
 * limit.
 */
export function mayEvict(limit: PersistLimit): boolean {
  return mayEvictOf(limit);
}

function assertLimit(name: string, value: number): void {
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new TypeError(
      `Cannot create PersistLimit: ${name} must be a number, got ${value}`,
    );
  }
}

/**
 * Keeps a list of files and removes the oldest ones when their total size
 * reaches a limit, but never the last `fileLimit` ones (5 by default),
 * however large: five files of 4 GiB stay under a limit of 2 GiB, and a
 * limit meant to hold files that large takes a `fileLimit` of 1. "Oldest"
 * means least recently accessed (the access time, read again at each
 * {@linkcode PersistLimit.removeOldFiles}). Only files that were registered
 * are ever removed, and the library's own files (a download's partial file,
 * sidecar and lock, a manager's records and owner files: the reserved
 * `.<name>.<hash>.dlpart*` names) are never registered: they are not cache
 * entries, neither counted nor removed.
 *
 * @example Keep a cache directory under 1 GiB, but its 5 newest files
 * ```ts
 * import { PersistLimit } from "@x/dlmanager";
 *
 * const limit = new PersistLimit(1024 ** 3, { fileLimit: 5 });
 * await limit.registerDirContent("cache", "*.zip");
 * await limit.removeOldFiles();
 * ```
 */
export class PersistLimit {
  /** The size limit in bytes; `0` or less means no limit. */
  readonly sizeLimit: number;
  /** How many files are always kept; `0` or less means no removal at all. */
  readonly fileLimit: number;
  #files = new Map<string, Entry>();
  // The sum of the sizes in `#files`.
  #total = 0;

  static {
    mayEvictOf = (limit) =>
      limit.sizeLimit > 0 && limit.fileLimit > 0 &&
      limit.#files.size > limit.fileLimit && limit.#total >= limit.sizeLimit;
  }

  /**
   * Creates the limit.
   *
   * @param sizeLimit The size limit in bytes: when the registered files
   * total this much or more, old ones are removed. `0` or less means no limit.
   * @param options See {@linkcode PersistLimitOptions}; anything but an
   * object (the Python seed's positional `file_limit`) throws a `TypeError`.
   */
  constructor(sizeLimit: number, options: PersistLimitOptions = {}) {
    const { fileLimit = DEFAULTS.fileLimit } = optionsOf(
      "Cannot create PersistLimit",
      options,
      "{ fileLimit: 1 }",
    );
    assertLimit("sizeLimit", sizeLimit);
    assertLimit("fileLimit", fileLimit);
    if (Number.isFinite(fileLimit) && !Number.isInteger(fileLimit)) {
      throw new RangeError(
        `Cannot create PersistLimit: fileLimit must be a whole number of files, got ${fileLimit}`,
      );
    }
    this.sizeLimit = sizeLimit;
    this.fileLimit = fileLimit;
  }

  /**
   * The registered files' paths (absolute), in registration order.
   *
   * @returns A fresh array.
   *
   * @example
   * ```ts
   * import { PersistLimit } from "@x/dlmanager";
   *
   * const limit = new PersistLimit(1024 ** 3);
   * await limit.registerFile("cache/a.zip");
   * console.log(limit.files()); // ["/home/me/cache/a.zip"]
   * ```
   */
  files(): string[] {
    return [...this.#files.keys()];
  }

  /**
   * Registers one file. A missing path, a directory, a symbolic link (to
   * anything: its target is not the cache's to count or remove, and
   * removing the link would free none of its size) and the library's own
   * files (reserved `.<name>.<hash>.dlpart*` names) are skipped; a path
   * registered before is counted once. A link among the path's directories
   * is followed (a cache directory that is a link is a common setup).
   *
   * @param path The file's path.
   *
   * @example
   * ```ts
   * import { PersistLimit } from "@x/dlmanager";
   *
   * const limit = new PersistLimit(1024 ** 3);
   * await limit.registerFile("cache/a.zip");
   * await limit.removeOldFiles();
   * ```
   */
  async registerFile(path: string): Promise<void> {
    const absolute = resolve(path);
    // A partial file would count a download twice (and grow while counted),
    // and each of these files as one of the fileLimit kept.
    if (isReservedName(basename(absolute))) return;
    // Not followed: a symbolic link's target may be anywhere (outside the
    // directory), and removing the link would free none of its size.
    const stat = await fs.lstat(absolute);
    if (stat === undefined || !stat.isFile) return;
    // Registered before: its place in the order stays.
    this.#total += stat.size - (this.#files.get(absolute)?.size ?? 0);
    this.#files.set(absolute, {
      path: absolute,
      size: stat.size,
      atime: stat.atime?.getTime() ?? 0,
    });
  }

  #forget(path: string): void {
    const entry = this.#files.get(path);
    if (entry === undefined) return;
    this.#files.delete(path);
    this.#total -= entry.size;
  }

  /**
   * Registers every file directly in `directory` whose name matches the shell
   * glob `pattern` (`*`, `?`, `[...]`; not recursive; dotfiles only match a
   * pattern that starts with a dot; symbolic links are skipped, as by
   * {@linkcode PersistLimit.registerFile}). A directory not made yet holds no
   * files: nothing is registered (anything else in its place rejects).
   *
   * @param directory The directory to list.
   * @param pattern The glob to match names against: a name, never a path
   * (one with `/` could match nothing, and rejects with a `TypeError`).
   *
   * @example
   * ```ts
   * import { PersistLimit } from "@x/dlmanager";
   *
   * const limit = new PersistLimit(1024 ** 3);
   * await limit.registerDirContent("cache", "*.tar.gz");
   * await limit.removeOldFiles();
   * ```
   */
  async registerDirContent(directory: string, pattern = "*"): Promise<void> {
    if (pattern.includes("/")) {
      throw new TypeError(
        `Cannot register the files of "${directory}": the pattern "${pattern}" has a "/", but it matches names in the directory, not paths (give the subdirectory as the directory)`,
      );
    }
    const matcher = globToRegExp(pattern);
    let entries: DirEntry[];
    try {
      entries = await fs.readDir(directory);
    } catch (error) {
      // A program's first run, before its manager made the directory.
      if (error instanceof NotFoundError) return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.isFile && matcher.test(entry.name)) {
        await this.registerFile(join(directory, entry.name));
      }
    }
  }

  /**
   * Removes registered files, least recently accessed first, while their
   * total size is at or over the size limit and more than `fileLimit` remain.
   * A file being downloaded, in any process (its lock held: revalidated, or
   * just put in place and not yet handed to its caller), stays, counted, and
   * the next oldest goes instead. Files that disappeared meanwhile (or were
   * replaced by a symbolic link) are forgotten; sizes and access times are
   * read again first. A file
   * that cannot be looked at (a directory on its way this process may not
   * search, or a loop of links there) is neither forgotten nor removed
   * unseen: it stays, counted at its last size, and is told as a failure
   * is, below. A file this process may not remove (another
   * user's, in a shared cache; one on a read-only mount) stays, and still
   * counts. A file that cannot be removed for another reason (a mount point,
   * an I/O error) stays too, counted, and the next oldest goes instead: the
   * first such failure rejects once the others were tried, as a
   * `FileSystemError` naming that file. A removed file's
   * record (a manager's, for revalidation) is removed with it.
   *
   * @param options See {@linkcode RemoveOldFilesOptions}.
   *
   * @example
   * ```ts
   * import { PersistLimit } from "@x/dlmanager";
   *
   * const limit = new PersistLimit(1024 ** 3);
   * await limit.registerDirContent("cache");
   * await limit.removeOldFiles({ keep: (path) => path.endsWith(".pinned") });
   * ```
   */
  async removeOldFiles(options: RemoveOldFilesOptions = {}): Promise<void> {
    const keep = options.keep ?? (() => false);
    const unseen = await this.#refresh();
    let failure = unseen.failure;
    if (this.sizeLimit <= 0 || this.fileLimit <= 0) {
      if (failure !== undefined) throw failure.error;
      return;
    }
    const entries = [...this.#files.values()].sort((a, b) =>
      a.atime - b.atime || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
    );
    let total = entries.reduce((sum, entry) => sum + entry.size, 0);
    let count = entries.length;
    for (const entry of entries) {
      if (count <= this.fileLimit || total < this.sizeLimit) break;
      // Not looked at: whatever is under its name now is not removed.
      if (keep(entry.path) || unseen.paths.has(entry.path)) continue;
      try {
        // Being downloaded, in any process: revalidated (a 304 keeps it),
        // or just put in place, and about to be handed to its caller.
        if (
          isLockHeld(partialPaths(entry.path).lock, DEFAULTS.lockStaleAfter)
        ) {
          continue;
        }
        await removeIfPresent(entry.path);
      } catch (error) {
        // It stays, counted, and the next oldest goes instead, rather than
        // every later eviction stopping here. Not this process's to remove
        // (another user's file in a shared cache, an immutable one, a
        // read-only mount) is no failure; anything else is told at the end.
        if (!isRefused(error)) {
          failure ??= {
            error: asFileSystemError(
              error,
              `Cannot remove "${entry.path}" to keep its directory under the limit`,
              entry.path,
            ),
          };
        }
        continue;
      }
      // What a manager remembered of it goes with it.
      await removeRecord(entry.path);
      this.#forget(entry.path);
      total -= entry.size;
      count--;
    }
    if (failure !== undefined) throw failure.error;
  }

  /**
   * Reads every file's size and access time again. One that cannot be
   * looked at keeps its entry (its place, last size and access time), and
   * is among the `paths` returned; the first such failure is `failure`, as
   * a `FileSystemError` naming that file.
   */
  async #refresh(): Promise<{
    paths: Set<string>;
    failure: { error: unknown } | undefined;
  }> {
    const paths = new Set<string>();
    let failure: { error: unknown } | undefined;
    for (const [path, entry] of [...this.#files]) {
      this.#forget(path);
      try {
        await this.registerFile(path);
      } catch (error) {
        this.#files.set(path, entry);
        this.#total += entry.size;
        paths.add(path);
        failure ??= {
          error: asFileSystemError(
            error,
            `Cannot look at "${path}" to keep its directory under the limit`,
            path,
          ),
        };
      }
    }
    return { paths, failure };
  }
}
