// The runtime adapter's Deno side: Deno's own file APIs, with `Deno.errors`
// mapped to the adapter's errors. See `fs.ts`.
//
// No Node module is loaded that start-up can do without: Deno's `node:fs`
// costs every start-up about 30 ms, its `node:process` about 11 ms.

import { constants } from "node:os";
import type { DirEntry, FileStat, FileWriter, Fs, Host } from "./fs_types.ts";
import {
  AlreadyExistsError,
  NotAFileError,
  NotFoundError,
} from "./fs_errors.ts";

function mapError(error: unknown): unknown {
  if (error instanceof Deno.errors.NotFound) {
    return new NotFoundError(error.message, { cause: error });
  }
  if (error instanceof Deno.errors.AlreadyExists) {
    return new AlreadyExistsError(error.message, { cause: error });
  }
  return error;
}

/** The error numbers' names, by number (the first name of each). */
const ERRNO_NAMES = new Map<number, string>();
for (const [name, number] of Object.entries(constants.errno)) {
  if (!ERRNO_NAMES.has(number)) ERRNO_NAMES.set(number, name);
}

/** A file-system error's number name (see `Fs.errorCode`). */
function errorCode(error: unknown): string | undefined {
  // Also one the library made, with no runtime error for a cause.
  if (error instanceof NotFoundError) return "ENOENT";
  if (error instanceof AlreadyExistsError) return "EEXIST";
  const raw = error;
  // Deno's file errors carry the system's message and number:
  // "No space left on device (os error 28): write".
  if (!(raw instanceof Error)) return undefined;
  const number = /\(os error (\d+)\)/.exec(raw.message)?.[1];
  return number === undefined ? undefined : ERRNO_NAMES.get(Number(number));
}

function toStat(info: Deno.FileInfo): FileStat {
  return {
    isFile: info.isFile,
    isDirectory: info.isDirectory,
    isSymlink: info.isSymlink,
    size: info.size,
    atime: info.atime,
    mtime: info.mtime,
    mode: info.mode === null ? null : info.mode & 0o777,
    // Windows' file index may not fit a number: a number only when exact.
    ino: Number.isSafeInteger(info.ino) && info.ino !== 0 ? info.ino : null,
  };
}

/** A file open for writing, on Deno. */
export class DenoFileWriter implements FileWriter {
  #file: Deno.FsFile;
  #closed = false;

  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  async write(data: Uint8Array): Promise<void> {
    let written = 0;
    while (written < data.byteLength) {
      written += await this.#file.write(
        written === 0 ? data : data.subarray(written),
      );
    }
  }

  writeSync(data: Uint8Array): void {
    let written = 0;
    while (written < data.byteLength) {
      written += this.#file.writeSync(
        written === 0 ? data : data.subarray(written),
      );
    }
  }

  async pipe(
    body: ReadableStream<Uint8Array>,
    readError: (error: unknown) => unknown,
    // Unused: Deno's fetch ends the pipe's read itself once its request is
    // aborted (the comment below says why the pipe takes no signal).
    _signal: AbortSignal,
    fetched: boolean,
  ): Promise<void> {
    // The pipe closes the file: on success, or by aborting it on failure
    // (which also drops anything Deno's file sink buffered but never wrote).
    this.#closed = true;
    // `fetch`'s own body is copied in Rust. Deno's file sink holds any other
    // stream's chunks (a body the library decoded) until 64 KiB have come,
    // with no flush in time: they are written here as they come instead,
    // so that the file's size tells progress and the idle watch what came.
    // A sink's abort waits for its write in flight: every write has landed
    // when the pipe settles.
    const file = this.#file;
    const sink = fetched ? file.writable : new WritableStream<Uint8Array>({
      write: (chunk) => this.write(chunk),
      close: () => file.close(),
      abort: () => file.close(),
    });
    try {
      // No `signal` here: pipeTo's signal cancels Deno's pipe while a write
      // may be in flight, and that write can land after the rejection.
      // Aborting the fetch instead ends the pipe at its next read, between
      // writes.
      await body.pipeTo(sink);
    } catch (error) {
      // A body's read fails with a TypeError, or Interrupted once its fetch
      // is aborted, or, decoded by the library (`content_decoding.ts`),
      // with node:zlib's error; a write fails with the file system's error
      // (one of Deno's, naming its error number).
      const write = !(error instanceof TypeError) &&
        !(error instanceof Deno.errors.Interrupted) &&
        (errorCode(error) !== undefined ||
          Object.values(Deno.errors).some((type) => error instanceof type));
      throw write ? mapError(error) : readError(error);
    }
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#file.close();
    }
    return Promise.resolve();
  }
}

/**
 * Deno's Node `existsSync`, once loaded. A look for a missing file is what
 * most downloads make (twice), and `Deno.statSync`'s NotFound error costs
 * 10-20 µs more than this look, which answers with a boolean. But loading
 * `node:fs` costs 40-90 ms of the event loop, and Deno 2.9 loads a built-in
 * module inside the `import()` call, not in the background: loaded at the
 * first look, it held back a process's first requests. So it is loaded once
 * the looks made without it have cost about what loading it does
 * ({@linkcode LOOKS_BEFORE_NODE_FS}): a process that makes few never pays
 * for it, one that makes many pays at most twice the least it could.
 */
let nodeExistsSync: ((path: string) => boolean) | undefined;
/** The looks made with `Deno.statSync` before `node:fs` is loaded. */
export const LOOKS_BEFORE_NODE_FS = 4096;
let looksLeft = LOOKS_BEFORE_NODE_FS;

let nodeFsLoading: Promise<void> | undefined;

/**
 * The load of `node:fs` for `existsSync`, once begun (for the tests):
 * settled once the looks go through it.
 *
 * @example
 * ```ts
 * await nodeFsLoad(); // undefined: not begun
 * ```
 */
export function nodeFsLoad(): Promise<void> | undefined {
  return nodeFsLoading;
}

function loadNodeExistsSync(): void {
  nodeFsLoading = import("node:fs").then(
    (nodeFs) => void (nodeExistsSync = nodeFs.existsSync),
    () => {}, // Deno.statSync goes on answering
  );
}

/**
 * The adapter on Deno. Opening and renaming run on the calling thread (the
 * promise kept for the adapter's shape): an async open of a new file takes
 * about twice the CPU of a synchronous one (585 ms against 280 for 1,000,
 * 32 at a time; a rename 39 ms against 15), and 1,000 downloads of 64 KiB,
 * 32 at a time from nginx on this machine, took 1.24 s of CPU instead of
 * 1.50 s (8 interleaved rounds, medians). The event loop waits for one
 * metadata call, as it does for the lock's.
 */
export const denoFs: Fs = {
  errorCode,
  createNew(path: string): Promise<FileWriter> {
    try {
      const file = Deno.openSync(path, { createNew: true, append: true });
      return Promise.resolve(new DenoFileWriter(file));
    } catch (error) {
      return Promise.reject(mapError(error));
    }
  },
  writeNewSync(path: string, data: Uint8Array): void {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { write: true, createNew: true });
    } catch (error) {
      throw mapError(error);
    }
    try {
      for (let written = 0; written < data.byteLength;) {
        written += file.writeSync(data.subarray(written));
      }
      file.close();
    } catch (error) {
      // Created but not written (a full disk): not left behind, empty.
      try {
        file.close();
      } catch { /* closed already */ }
      try {
        Deno.removeSync(path);
      } catch { /* removed meanwhile */ }
      throw mapError(error);
    }
  },
  linkSync(existing: string, newPath: string): void {
    try {
      Deno.linkSync(existing, newPath);
    } catch (error) {
      throw mapError(error);
    }
  },
  openAppend(path: string): Promise<FileWriter> {
    try {
      const file = Deno.openSync(path, { write: true, append: true });
      return Promise.resolve(new DenoFileWriter(file));
    } catch (error) {
      return Promise.reject(mapError(error));
    }
  },
  openAt(path: string, offset: number): Promise<FileWriter> {
    let file: Deno.FsFile | undefined;
    try {
      file = Deno.openSync(path, { write: true });
      file.seekSync(offset, Deno.SeekMode.Start);
      return Promise.resolve(new DenoFileWriter(file));
    } catch (error) {
      file?.close();
      return Promise.reject(mapError(error));
    }
  },
  readFileSync(path: string): Uint8Array {
    try {
      // Looked at first: Deno opens without O_NONBLOCK, and opening a FIFO
      // to read would wait for a writer.
      const info = Deno.statSync(path);
      // A directory fails to read (EISDIR), as anywhere else.
      if (!info.isFile && !info.isDirectory) throw new NotAFileError(path);
      return Deno.readFileSync(path);
    } catch (error) {
      throw mapError(error);
    }
  },
  async *readChunks(
    path: string,
    chunkSize: number,
  ): AsyncIterable<Uint8Array> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (error) {
      throw mapError(error);
    }
    try {
      const buffer = new Uint8Array(chunkSize);
      for (;;) {
        const read = await file.read(buffer);
        if (read === null) return;
        yield buffer.subarray(0, read);
      }
    } finally {
      file.close();
    }
  },
  async chmod(path: string, mode: number): Promise<void> {
    try {
      await Deno.chmod(path, mode);
    } catch (error) {
      throw mapError(error);
    }
  },
  rename(from: string, to: string): Promise<void> {
    try {
      Deno.renameSync(from, to);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(mapError(error));
    }
  },
  renameSync(from: string, to: string): void {
    try {
      Deno.renameSync(from, to);
    } catch (error) {
      throw mapError(error);
    }
  },
  async remove(path: string): Promise<void> {
    try {
      await Deno.remove(path);
    } catch (error) {
      throw mapError(error);
    }
  },
  removeSync(path: string): void {
    try {
      Deno.removeSync(path);
    } catch (error) {
      throw mapError(error);
    }
  },
  async stat(path: string): Promise<FileStat | undefined> {
    try {
      return toStat(await Deno.stat(path));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw mapError(error);
    }
  },
  statSync(path: string): FileStat | undefined {
    try {
      return toStat(Deno.statSync(path));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw mapError(error);
    }
  },
  async lstat(path: string): Promise<FileStat | undefined> {
    try {
      return toStat(await Deno.lstat(path));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw mapError(error);
    }
  },
  lstatSync(path: string): FileStat | undefined {
    try {
      return toStat(Deno.lstatSync(path));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw mapError(error);
    }
  },
  existsSync(path: string): boolean {
    if (nodeExistsSync !== undefined) return nodeExistsSync(path);
    if (--looksLeft === 0) loadNodeExistsSync();
    try {
      Deno.statSync(path);
      return true;
    } catch (error) {
      // As Node's `existsSync` answers, once loaded: false for whatever
      // stops the look (missing, a link loop, no permission to look), but
      // Deno's refusal of a permission not granted, which it throws too.
      if (error instanceof Deno.errors.NotCapable) throw error;
      return false;
    }
  },
  utimeSync(path: string, atime: Date, mtime: Date): void {
    try {
      Deno.utimeSync(path, atime, mtime);
    } catch (error) {
      throw mapError(error);
    }
  },
  mkdirSync(path: string): void {
    try {
      Deno.mkdirSync(path, { recursive: true });
    } catch (error) {
      throw mapError(error);
    }
  },
  async readDir(path: string): Promise<DirEntry[]> {
    try {
      const entries: DirEntry[] = [];
      for await (const entry of Deno.readDir(path)) {
        entries.push({ name: entry.name, isFile: entry.isFile });
      }
      return entries;
    } catch (error) {
      throw mapError(error);
    }
  },
};

/**
 * Whether Deno already grants `descriptor`: asked with `querySync`, which
 * never prompts, where using the permission would prompt on a terminal.
 */
function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

/** An environment variable, once its permission is known to be granted. */
function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** See `Host.readSystemFile`. */
function readSystemFile(path: string): string | null | undefined {
  // Deno lets only --allow-all read /proc: elsewhere this throws NotCapable
  // (without a prompt), and the answer is undefined.
  if (!granted({ name: "read", path })) return undefined;
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    return error instanceof Deno.errors.NotFound ? null : undefined;
  }
}

/**
 * Node's `process`, for the signal 0 that asks whether a process exists
 * (`Deno.kill` takes no 0 in every version): only where it is needed and
 * allowed, as loading it costs every start-up about 11 ms. It is needed where
 * /proc cannot be read (not Linux, or Deno without --allow-all), and allowed
 * with --allow-run (a permission granted later goes unused).
 */
const nodeProcess = granted({ name: "run" }) &&
    typeof readSystemFile("/proc/self/stat") !== "string"
  ? (await import("node:process")).default
  : undefined;

/** The host side of the adapter on Deno: only what is granted is asked. */
export const denoHost: Host = {
  fetchDecodes: false,
  byobReads: true,
  pid: Deno.pid,
  hostname(): string | undefined {
    if (!granted({ name: "sys", kind: "hostname" })) return undefined;
    try {
      return Deno.hostname();
    } catch {
      return undefined;
    }
  },
  bootTime(): number | undefined {
    if (!granted({ name: "sys", kind: "osUptime" })) return undefined;
    try {
      return Date.now() - Deno.osUptime() * 1000;
    } catch {
      return undefined;
    }
  },
  readSystemFile,
  readSystemLink(path: string): string | undefined {
    if (!granted({ name: "read", path })) return undefined;
    try {
      return Deno.readLinkSync(path);
    } catch {
      return undefined;
    }
  },
  env(name: string): string | undefined {
    return granted({ name: "env", variable: name }) ? readEnv(name) : undefined;
  },
  processExists(pid: number): boolean | undefined {
    if (nodeProcess === undefined) return undefined;
    try {
      nodeProcess.kill(pid, 0);
      return true;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === "EPERM") return true;
      return code === "ESRCH" ? false : undefined;
    }
  },
};
