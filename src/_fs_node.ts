// The runtime adapter's Node side: `node:fs/promises` (and `node:fs` for the
// two synchronous calls), with Node's error codes mapped to the adapter's
// errors. See `_fs.ts`.

import {
  constants,
  mkdirSync,
  type Stats,
  statSync,
  utimesSync,
} from "node:fs";
import {
  type FileHandle,
  open,
  readdir,
  readFile,
  rename,
  stat,
  unlink,
} from "node:fs/promises";
import type { DirEntry, FileStat, FileWriter, Fs } from "./_fs_types.ts";
import { AlreadyExistsError, NotFoundError } from "./_fs_errors.ts";

function mapError(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ENOENT") {
    return new NotFoundError((error as Error).message, { cause: error });
  }
  if (code === "EEXIST") {
    return new AlreadyExistsError((error as Error).message, { cause: error });
  }
  return error;
}

function toStat(stats: Stats): FileStat {
  return {
    isFile: stats.isFile(),
    isDirectory: stats.isDirectory(),
    size: stats.size,
    atime: stats.atime,
    mtime: stats.mtime,
  };
}

class NodeFileWriter implements FileWriter {
  #handle: FileHandle;
  #closed = false;

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  async write(data: Uint8Array): Promise<void> {
    let written = 0;
    while (written < data.byteLength) {
      const result = await this.#handle.write(
        data,
        written,
        data.byteLength - written,
      );
      written += result.bytesWritten;
    }
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      await this.#handle.close();
    }
  }
}

/** The adapter on Node (and any runtime without `Deno`). */
export const nodeFs: Fs = {
  async createNew(path: string): Promise<FileWriter> {
    try {
      return new NodeFileWriter(await open(path, "wx"));
    } catch (error) {
      throw mapError(error);
    }
  },
  async openAppend(path: string): Promise<FileWriter> {
    try {
      // Not "a": that creates a missing file, where Deno's append does not.
      const flags = constants.O_WRONLY | constants.O_APPEND;
      return new NodeFileWriter(await open(path, flags));
    } catch (error) {
      throw mapError(error);
    }
  },
  async readFile(path: string): Promise<Uint8Array> {
    try {
      const buffer = await readFile(path);
      return new Uint8Array(
        buffer.buffer,
        buffer.byteOffset,
        buffer.byteLength,
      );
    } catch (error) {
      throw mapError(error);
    }
  },
  async *readChunks(
    path: string,
    chunkSize: number,
  ): AsyncIterable<Uint8Array> {
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
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
  async rename(from: string, to: string): Promise<void> {
    try {
      await rename(from, to);
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
  async stat(path: string): Promise<FileStat> {
    try {
      return toStat(await stat(path));
    } catch (error) {
      throw mapError(error);
    }
  },
  statSync(path: string): FileStat {
    try {
      return toStat(statSync(path));
    } catch (error) {
      throw mapError(error);
    }
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
      mkdirSync(path, { recursive: true });
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
