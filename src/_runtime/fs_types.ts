// The runtime adapter's interface: what the library needs of a file system.
// `fs.ts` (in the npm build, `fs.npm.ts`) exports the implementation for the
// running runtime; `fs_deno.ts` and `fs_node.ts` implement it.

/** The parts of a file's metadata the library uses. */
export interface FileStat {
  /** Whether the path is a regular file. */
  isFile: boolean;
  /** Whether the path is a directory. */
  isDirectory: boolean;
  /**
   * Whether the path is a symbolic link: only ever true of an answer of
   * {@linkcode Fs.lstat} (which then is neither a file nor a directory,
   * and gives the link's own size and times); `stat` follows links.
   */
  isSymlink: boolean;
  /** Size in bytes. */
  size: number;
  /** Last access time, or `null` where the platform has none. */
  atime: Date | null;
  /** Last modification time, or `null` where the platform has none. */
  mtime: Date | null;
  /**
   * The permission bits (`0o755`: no type, setuid, setgid or sticky bit),
   * or `null` where the platform has none (Windows).
   */
  mode: number | null;
  /**
   * The file's inode number (shared by its hard links), or `null` where
   * the platform gives none: two names with the same one, in one
   * directory, are one file.
   */
  ino: number | null;
}

/** A file opened for writing. */
export interface FileWriter {
  /** Writes all of `data` (looping over partial writes). `data` may be reused once this resolves. */
  write(data: Uint8Array): Promise<void>;
  /**
   * Writes all of `data` on the calling thread, which waits for it: for a
   * body's last write, which nothing is left to overlap with (see
   * `ChunkedWriter.flush`), where handing a write to the runtime's I/O
   * threads costs more than the write (Deno). Optional: `write` is used
   * where it is missing.
   */
  writeSync?(data: Uint8Array): void;
  /** Closes the file. Safe to call more than once. */
  close(): Promise<void>;
  /**
   * Moves a byte stream into the file the runtime's own way, with no
   * rechunking (Deno's `pipeTo` from a `fetch` body to a file runs in Rust,
   * with no JavaScript per chunk; Node writes each chunk through an
   * `fs.WriteStream`): writes all of `body` at the file's end, then closes
   * the file, whether it succeeds or fails. When it settles, every write has
   * landed: the file's size on disk is what was written. A failure to read
   * `body` is thrown as `readError(error)`; a failure to write, as it is.
   * Aborting `signal` (the request's) ends the pipe at the read under way,
   * with `readError(signal.reason)`, even where the body's stream would
   * leave that read pending (`_body/cancel_on_abort.ts`). `fetched` says
   * whether `body` is `fetch`'s own stream; any other (a body the library
   * decoded) must be written chunk by chunk as it comes, as Node's pipe
   * writes every body: Deno's file sink holds up to 64 KiB of a JavaScript
   * stream's chunks unwritten, which neither progress nor the idle watch,
   * reading the file's size, would see.
   * Optional: a runtime without a pipe of its own gets fixed-size writes.
   */
  pipe?(
    body: ReadableStream<Uint8Array>,
    readError: (error: unknown) => unknown,
    signal: AbortSignal,
    fetched: boolean,
  ): Promise<void>;
}

/** An entry of a directory listing. */
export interface DirEntry {
  /** The entry's name, without its directory. */
  name: string;
  /** Whether the entry is a regular file (symbolic links are not followed). */
  isFile: boolean;
}

/** What the library needs of a file system. */
export interface Fs {
  /**
   * The error number's name (`"ENOSPC"`, `"EACCES"`) of a file-system
   * failure this adapter threw, the same on every runtime: `"ENOENT"` for
   * any `NotFoundError` and `"EEXIST"` for any `AlreadyExistsError` (also
   * one the library made); `undefined` for any other error.
   */
  errorCode(error: unknown): string | undefined;
  /**
   * Creates `path` for writing at its end (appending: if another program
   * cuts it short meanwhile, its length tells); fails with
   * {@linkcode AlreadyExistsError} if it exists.
   */
  createNew(path: string): Promise<FileWriter>;
  /**
   * Creates `path` holding `data`; fails with {@linkcode AlreadyExistsError}
   * if it exists. If the file is created but cannot be written (a full
   * disk), it is removed before the error is thrown. Synchronous, for the library's small bookkeeping files (a
   * lock, a sidecar: well under a kilobyte): one blocking call of about ten
   * microseconds costs less than a round trip to the runtime's I/O threads
   * (on Deno, about 20 microseconds of throughput, 8 calls at a time).
   */
  writeNewSync(path: string, data: Uint8Array): void;
  /**
   * Makes `newPath` a hard link to the existing file `existing`; fails with
   * {@linkcode AlreadyExistsError} if `newPath` exists, with
   * {@linkcode NotFoundError} if `existing` (or a directory) is missing, and
   * with the runtime's own error where the file system has no hard links.
   * Synchronous, like {@linkcode Fs.writeNewSync}: a new name for an existing
   * file allocates no inode, which makes it the cheapest exclusive claim on a
   * name (and, unlike `O_EXCL`, atomic even on old NFS).
   */
  linkSync(existing: string, newPath: string): void;
  /** Opens the existing file `path` for writing at its end. */
  openAppend(path: string): Promise<FileWriter>;
  /**
   * Opens the existing file `path` for writing from byte `offset` on (past
   * its end, a hole is left): each writer has a position of its own, so
   * several may write one file's parts at once.
   */
  openAt(path: string, offset: number): Promise<FileWriter>;
  /**
   * Reads the whole file `path` (following symbolic links). Synchronous, for
   * small files (see {@linkcode Fs.writeNewSync}). Anything there that is
   * neither a file nor a directory (a FIFO, a socket, a device) fails at
   * once with {@linkcode NotAFileError}, without waiting: a FIFO would
   * block the whole process until a writer came, `/dev/zero` never end.
   */
  readFileSync(path: string): Uint8Array;
  /** Reads the file `path` in chunks of at most `chunkSize` bytes. */
  readChunks(path: string, chunkSize: number): AsyncIterable<Uint8Array>;
  /**
   * Sets the permission bits of `path` to `mode` (see
   * {@linkcode FileStat.mode}).
   */
  chmod(path: string, mode: number): Promise<void>;
  /** Renames `from` onto `to`, replacing `to` if it is a file. */
  rename(from: string, to: string): Promise<void>;
  /**
   * Synchronous {@linkcode Fs.rename}, for a lock taken over (see
   * `lock.ts`): no turn of the event loop between moving a lock away and
   * taking its name, which another process would find free meanwhile.
   */
  renameSync(from: string, to: string): void;
  /** Removes the file `path`. */
  remove(path: string): Promise<void>;
  /** Synchronous {@linkcode Fs.remove}, for small files (see {@linkcode Fs.writeNewSync}). */
  removeSync(path: string): void;
  /**
   * Returns metadata of `path`, following symbolic links, or `undefined` if
   * nothing is there (a missing path is the usual answer where the library
   * asks, so it costs no error).
   */
  stat(path: string): Promise<FileStat | undefined>;
  /** Synchronous {@linkcode Fs.stat}, for the manager's synchronous `download()`. */
  statSync(path: string): FileStat | undefined;
  /**
   * Returns metadata of `path` itself, not following a symbolic link (a
   * link is then {@linkcode FileStat.isSymlink}), or `undefined` if nothing
   * is there: for the names the library made, which it must never write,
   * date or count through a link that something else put in their place.
   */
  lstat(path: string): Promise<FileStat | undefined>;
  /** Synchronous {@linkcode Fs.lstat}, for the manager's synchronous `download()`. */
  lstatSync(path: string): FileStat | undefined;
  /**
   * Whether something is at `path`, following symbolic links; false also
   * where that cannot be told (a link loop, no permission to look; on Deno,
   * a read permission not granted is its NotCapable error). Synchronous and cheap
   * when the answer is no, the usual one where the library asks.
   */
  existsSync(path: string): boolean;
  /** Sets the access and modification times of `path`. */
  utimeSync(path: string, atime: Date, mtime: Date): void;
  /** Creates the directory `path` and its missing parents. */
  mkdirSync(path: string): void;
  /** Lists the entries of the directory `path`. */
  readDir(path: string): Promise<DirEntry[]>;
}

/**
 * What the library needs to know of the machine and the processes on it, to
 * tell whether another process that holds a lock (or wrote a partial file) is
 * still running. Every answer is `undefined` where the runtime may not be
 * asked (Deno without the permission): the adapter queries Deno's permissions
 * first and never triggers a prompt.
 */
export interface Host {
  /**
   * Whether the runtime's `fetch` decodes a compressed body (`gzip`,
   * `deflate`, `br`) even when the request set `Accept-Encoding` itself:
   * Node's and Bun's do. Deno's does not: it decodes `gzip` and `br` only
   * when the request's `Accept-Encoding` is not `identity` (see
   * `_body/content_decoding.ts`).
   */
  readonly fetchDecodes: boolean;
  /**
   * Whether a `fetch` body (a byte stream) is better read into one buffer
   * the reader reuses (a BYOB reader, see `_body/reused_reader.ts`) than as
   * the chunks `fetch` makes: on Deno it costs less, on Node more (each
   * read copies into the buffer given and transfers it).
   */
  readonly byobReads: boolean;
  /** This process's id. */
  readonly pid: number;
  /** This machine's name. */
  hostname(): string | undefined;
  /** When this machine booted (milliseconds since the epoch, to a second or so). */
  bootTime(): number | undefined;
  /**
   * The text of a small system file (under `/proc`): `null` when there is no
   * such file, `undefined` when it cannot be read here.
   */
  readSystemFile(path: string): string | null | undefined;
  /** The target of a symbolic link under `/proc`, or `undefined`. */
  readSystemLink(path: string): string | undefined;
  /**
   * Whether a process with this pid exists (signal 0): `false` for "no such
   * process", `undefined` where that cannot be told (no permission).
   */
  processExists(pid: number): boolean | undefined;
  /**
   * An environment variable: `undefined` when it is unset or cannot be read
   * here (Deno without the permission for it: never a prompt).
   */
  env(name: string): string | undefined;
}
