// The runtime adapter's Node side: `node:fs` (its callback API on plain file
// descriptors for the per-download calls, a `WriteStream` for the pipe, and
// the synchronous calls) and `node:fs/promises` for the rest, with Node's
// error codes mapped to the adapter's errors. See `fs.ts`.

import {
  closeSync,
  constants,
  createWriteStream,
  existsSync,
  fstatSync,
  linkSync,
  lstatSync,
  open,
  openSync,
  readFileSync,
  readlinkSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  utimesSync,
  write,
  writeFileSync,
  writeSync,
} from "node:fs";
import {
  chmod,
  type FileHandle,
  lstat,
  open as openHandle,
  readdir,
  rename,
  stat,
  unlink,
} from "node:fs/promises";
import { hostname, uptime } from "node:os";
import process from "node:process";
import type { DirEntry, FileStat, FileWriter, Fs, Host } from "./fs_types.ts";
import { makeDirectories } from "./make_directories.ts";
import {
  AlreadyExistsError,
  NotAFileError,
  NotFoundError,
} from "./fs_errors.ts";

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

function mapError(error: unknown): unknown {
  const code = codeOf(error);
  if (code === "ENOENT") {
    return new NotFoundError((error as Error).message, { cause: error });
  }
  if (code === "EEXIST") {
    return new AlreadyExistsError((error as Error).message, { cause: error });
  }
  return error;
}

/** The codes of a process (or system) out of file descriptors. */
const OUT_OF_DESCRIPTORS = new Set(["EMFILE", "ENFILE"]);

/** A file-system error's number name (see `Fs.errorCode`). */
function errorCode(error: unknown): string | undefined {
  // Also one the library made, with no runtime error for a cause.
  if (error instanceof NotFoundError) return "ENOENT";
  if (error instanceof AlreadyExistsError) return "EEXIST";
  const raw = error;
  const code = codeOf(raw);
  if (typeof code !== "string" || !/^E[A-Z0-9]+$/.test(code)) return undefined;
  // Node's (and Bun's) file-system errors name their system call; a
  // connection's errors reach the library wrapped by `fetch`. Bun's `fetch`
  // names a connection it had no descriptor for by its code alone.
  return typeof (raw as { syscall?: unknown }).syscall === "string" ||
      OUT_OF_DESCRIPTORS.has(code)
    ? code
    : undefined;
}

function toStat(stats: Stats): FileStat {
  return {
    isFile: stats.isFile(),
    isDirectory: stats.isDirectory(),
    isSymlink: stats.isSymbolicLink(),
    size: stats.size,
    atime: stats.atime,
    mtime: stats.mtime,
    // Node makes up bits on Windows from the read-only flag.
    mode: process.platform === "win32" ? null : stats.mode & 0o777,
    // Windows' file index may not fit a number: a number only when exact.
    ino: Number.isSafeInteger(stats.ino) && stats.ino !== 0 ? stats.ino : null,
  };
}

// Files written to are plain descriptors, not `FileHandle`s, used with the
// callback API: a handle costs an object with its own close tracking per file,
// which shows when files are small and many.

/** Runs one callback-style `node:fs` call as a promise. */
function call<T = void>(
  start: (done: (error: Error | null, value?: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    start((error, value) => error ? reject(error) : resolve(value as T));
  });
}

function openFd(path: string, flags: string | number): Promise<number> {
  return call<number>((done) => open(path, flags, 0o666, done));
}

/** A file open for writing, on Node. */
export class NodeFileWriter implements FileWriter {
  #fd: number;
  #closed = false;
  // Where the next write goes; `null`: at the descriptor's own position.
  #position: number | null;

  /**
   * @param fd The open descriptor.
   * @param position The offset to write from, or `null` for the
   * descriptor's own position (its end, opened to append).
   */
  constructor(fd: number, position: number | null = null) {
    this.#fd = fd;
    this.#position = position;
  }

  async write(data: Uint8Array): Promise<void> {
    let written = 0;
    while (written < data.byteLength) {
      const length = data.byteLength - written;
      const position = this.#position;
      const count = await call<number>((done) =>
        write(this.#fd, data, written, length, position, done)
      );
      written += count;
      if (position !== null) this.#position = position + count;
    }
  }

  /**
   * Writes all of `data` on the calling thread: a small file's only write,
   * once its body has ended (see `ChunkedWriter.flush`), as on Deno. An
   * asynchronous call goes through libuv's thread pool and comes back as a
   * callback, which costs the event loop more than a small write itself.
   */
  writeSync(data: Uint8Array): void {
    let written = 0;
    while (written < data.byteLength) {
      const position = this.#position;
      const count = writeSync(
        this.#fd,
        data,
        written,
        data.byteLength - written,
        position,
      );
      written += count;
      if (position !== null) this.#position = position + count;
    }
  }

  /**
   * Each chunk is written as it arrives, through an `fs.WriteStream` on the
   * descriptor, and the next is read once the stream has drained: what
   * Node's `pipeline(Readable.fromWeb(body), createWriteStream(path))` does.
   * Measured on a 1 GiB body from nginx on 127.0.0.1 (7 interleaved rounds,
   * median): 1.58 s, that pipeline 1.57 s, where 256 KiB writes from a BYOB
   * reader took 2.77 s, and this with up to 1 MiB waiting in the stream
   * 2.5 s: the body's chunks then pile up inside `fetch`, which joins them
   * into new buffers (up to 7 times the page faults). Unlike `pipeline`, a
   * failed read ends the stream rather than destroying it, so the chunks it
   * holds still land.
   */
  async pipe(
    body: ReadableStream<Uint8Array>,
    readError: (error: unknown) => unknown,
    signal: AbortSignal,
  ): Promise<void> {
    const reader = body.getReader();
    // Node's fetch may leave a read pending once its request is aborted (a
    // body it fails to decode midway): a cancel ends it (see
    // `_body/cancel_on_abort.ts`, which the adapter does not import).
    const cancel = (): void => {
      reader.cancel(signal.reason).catch(() => {});
    };
    signal.addEventListener("abort", cancel, { once: true });
    // The stream closes the descriptor, once its writes have landed.
    this.#closed = true;
    const sink = createWriteStream(
      "",
      this.#position === null
        ? { fd: this.#fd }
        : { fd: this.#fd, start: this.#position },
    );
    const closed = new Promise<void>((resolve) => sink.once("close", resolve));
    let failure: { error: unknown; read: boolean } | undefined;
    let wake: (() => void) | undefined;
    sink.on("error", (error) => {
      failure ??= { error, read: false };
      wake?.();
    });
    sink.on("drain", () => wake?.());
    sink.on("close", () => wake?.());
    for (;;) {
      let result;
      try {
        result = await reader.read();
        signal.throwIfAborted(); // a read the abort ended
      } catch (error) {
        failure ??= { error, read: true };
        break;
      }
      if (result.done || failure !== undefined) break;
      if (!sink.write(result.value)) {
        await new Promise<void>((resolve) => wake = resolve);
        wake = undefined;
      }
    }
    signal.removeEventListener("abort", cancel);
    if (failure?.read === false) {
      await reader.cancel(failure.error).catch(() => {});
    }
    sink.end();
    await closed;
    if (failure === undefined) return;
    throw failure.read ? readError(failure.error) : mapError(failure.error);
  }

  /**
   * Closes the descriptor on the calling thread, as Deno's `FsFile.close`
   * does: closing a file that is written to costs less than a round trip
   * through the thread pool.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    try {
      closeSync(this.#fd);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

/** The adapter on Node (and any runtime without `Deno`). */
export const nodeFs: Fs = {
  errorCode,
  // Created on the calling thread, as on Deno (see `fs_deno.ts`).
  createNew(path: string): Promise<FileWriter> {
    try {
      return Promise.resolve(new NodeFileWriter(openSync(path, "ax")));
    } catch (error) {
      return Promise.reject(mapError(error));
    }
  },
  writeNewSync(path: string, data: Uint8Array): void {
    let fd: number;
    try {
      fd = openSync(path, "wx");
    } catch (error) {
      throw mapError(error);
    }
    try {
      writeFileSync(fd, data);
      closeSync(fd);
    } catch (error) {
      // Created but not written (a full disk): not left behind, empty.
      try {
        closeSync(fd);
      } catch { /* closed already, or failing as the write did */ }
      try {
        unlinkSync(path);
      } catch { /* removed meanwhile */ }
      throw mapError(error);
    }
  },
  linkSync(existing: string, newPath: string): void {
    try {
      linkSync(existing, newPath);
    } catch (error) {
      throw mapError(error);
    }
  },
  async openAppend(path: string): Promise<FileWriter> {
    try {
      // Not "a": that creates a missing file, where Deno's append does not.
      const flags = constants.O_WRONLY | constants.O_APPEND;
      return new NodeFileWriter(await openFd(path, flags));
    } catch (error) {
      throw mapError(error);
    }
  },
  async openAt(path: string, offset: number): Promise<FileWriter> {
    try {
      const fd = await openFd(path, constants.O_WRONLY);
      return new NodeFileWriter(fd, offset);
    } catch (error) {
      throw mapError(error);
    }
  },
  readFileSync(path: string): Uint8Array {
    let fd: number;
    try {
      // Non-blocking: opening a FIFO to read would wait for a writer.
      fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    } catch (error) {
      throw mapError(error);
    }
    try {
      const stats = fstatSync(fd);
      // A directory fails to read (EISDIR), as anywhere else.
      if (!stats.isFile() && !stats.isDirectory()) {
        throw new NotAFileError(path);
      }
      const buffer = readFileSync(fd);
      return new Uint8Array(
        buffer.buffer,
        buffer.byteOffset,
        buffer.byteLength,
      );
    } catch (error) {
      throw mapError(error);
    } finally {
      closeSync(fd);
    }
  },
  async *readChunks(
    path: string,
    chunkSize: number,
  ): AsyncIterable<Uint8Array> {
    let handle: FileHandle;
    try {
      handle = await openHandle(path, "r");
    } catch (error) {
      throw mapError(error);
    }
    try {
      const buffer = new Uint8Array(chunkSize);
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, chunkSize);
        if (bytesRead === 0) return;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  },
  async chmod(path: string, mode: number): Promise<void> {
    try {
      await chmod(path, mode);
    } catch (error) {
      throw mapError(error);
    }
  },
  async rename(from: string, to: string): Promise<void> {
    try {
      await rename(from, to);
    } catch (error) {
      throw mapError(error);
    }
  },
  renameSync(from: string, to: string): void {
    try {
      renameSync(from, to);
    } catch (error) {
      throw mapError(error);
    }
  },
  async remove(path: string): Promise<void> {
    try {
      await unlink(path);
    } catch (error) {
      throw mapError(error);
    }
  },
  removeSync(path: string): void {
    try {
      unlinkSync(path);
    } catch (error) {
      throw mapError(error);
    }
  },
  async stat(path: string): Promise<FileStat | undefined> {
    try {
      return toStat(await stat(path));
    } catch (error) {
      if ((error as { code?: unknown } | null)?.code === "ENOENT") {
        return undefined;
      }
      throw mapError(error);
    }
  },
  statSync(path: string): FileStat | undefined {
    // Not `throwIfNoEntry: false`: from Node 22 on it also answers
    // `undefined` when a parent is a file (ENOTDIR), which Node 20 throws,
    // and `stat()` above does on every version.
    try {
      return toStat(statSync(path));
    } catch (error) {
      if ((error as { code?: unknown } | null)?.code === "ENOENT") {
        return undefined;
      }
      throw mapError(error);
    }
  },
  async lstat(path: string): Promise<FileStat | undefined> {
    try {
      return toStat(await lstat(path));
    } catch (error) {
      if (codeOf(error) === "ENOENT") return undefined;
      throw mapError(error);
    }
  },
  lstatSync(path: string): FileStat | undefined {
    try {
      return toStat(lstatSync(path));
    } catch (error) {
      if (codeOf(error) === "ENOENT") return undefined;
      throw mapError(error);
    }
  },
  existsSync(path: string): boolean {
    return existsSync(path);
  },
  utimeSync(path: string, atime: Date, mtime: Date): void {
    try {
      utimesSync(path, atime, mtime);
    } catch (error) {
      throw mapError(error);
    }
  },
  mkdirSync(path: string): void {
    try {
      makeDirectories(path);
    } catch (error) {
      throw mapError(error);
    }
  },
  async readDir(path: string): Promise<DirEntry[]> {
    try {
      const entries = await readdir(path, { withFileTypes: true });
      return entries.map((entry) => ({
        name: entry.name,
        isFile: entry.isFile(),
      }));
    } catch (error) {
      throw mapError(error);
    }
  },
};

/** The host side of the adapter on Node (which has no permission prompts). */
export const nodeHost: Host = {
  // Node's and Bun's do; Deno's (running the npm package) does not.
  fetchDecodes: !("Deno" in globalThis),
  // Deno's `fetch`, running the npm package, is read best so.
  byobReads: "Deno" in globalThis,
  pid: process.pid,
  hostname(): string | undefined {
    try {
      return hostname();
    } catch {
      return undefined;
    }
  },
  bootTime(): number | undefined {
    try {
      return Date.now() - uptime() * 1000;
    } catch {
      return undefined;
    }
  },
  readSystemFile(path: string): string | null | undefined {
    try {
      return readFileSync(path, "utf8");
    } catch (error) {
      return codeOf(error) === "ENOENT" || codeOf(error) === "ESRCH"
        ? null
        : undefined;
    }
  },
  readSystemLink(path: string): string | undefined {
    try {
      return readlinkSync(path);
    } catch {
      return undefined;
    }
  },
  processExists(pid: number): boolean | undefined {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      // EPERM: it exists, owned by another user.
      if (codeOf(error) === "EPERM") return true;
      return codeOf(error) === "ESRCH" ? false : undefined;
    }
  },
  env(name: string): string | undefined {
    // Deno, running the npm package, would ask for the permission.
    if ("Deno" in globalThis) return undefined;
    return process.env[name];
  },
};
