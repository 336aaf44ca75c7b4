// The runtime adapter's cases, run against each side: `fs_deno_test.ts`
// (Deno only) and `fs_node_test.ts` (both runtimes) call `fsCases()`, so the
// two sides are held to the same error vocabulary and behaviour. Each writer's
// `pipe` is fed a real `fetch` body from a server on 127.0.0.1.

import assert from "node:assert/strict";
import {
  mkdir,
  readFile,
  readlink,
  stat as nodeStat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import type { FileWriter, Fs } from "../../src/_runtime/fs.ts";
import {
  AlreadyExistsError,
  NotAFileError,
  NotFoundError,
} from "../../src/_runtime/fs_errors.ts";
import { fifoAt, HAS_FIFOS } from "./fifo.ts";
import { bytesRoute, deferred, patternBytes, startServer } from "./server.ts";
import { stalledAfter } from "./streams.ts";
import { tempDir } from "./temp_dir.ts";

/** What `run` throws. */
function caught(run: () => void): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  assert.fail("it did not throw");
}

/** Asserts that `error` is the adapter's `NotFoundError`, wrapping the runtime's error. */
function isNotFound(error: unknown): true {
  assert.ok(error instanceof NotFoundError);
  assert.equal(error.name, "NotFoundError");
  assert.ok(error.cause instanceof Error);
  assert.equal(error.message, error.cause.message);
  return true;
}

/** Asserts that `error` is the adapter's `AlreadyExistsError`, wrapping the runtime's error. */
function isAlreadyExists(error: unknown): true {
  assert.ok(error instanceof AlreadyExistsError);
  assert.equal(error.name, "AlreadyExistsError");
  assert.ok(error.cause instanceof Error);
  assert.equal(error.message, error.cause.message);
  return true;
}

async function readBytes(path: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(path));
}

/** What an adapter's cases need beyond the adapter itself. */
export interface FsCaseOptions {
  /** A writer on the existing file `path`, opened for reading only: its writes fail. */
  readOnlyWriter(path: string): Promise<FileWriter> | FileWriter;
  /**
   * Whether `pipe()` itself ends a read left pending when its signal
   * aborts (Node's side; Deno's fetch ends it without help).
   */
  pipeEndsPendingReads: boolean;
}

class ReadFailure extends Error {}

const PIPED = patternBytes(700_000);

/** What `url` answers with: its body, and `writer`'s pipe. */
async function bodyAndPipe(url: string, writer: FileWriter): Promise<{
  body: ReadableStream<Uint8Array>;
  pipe: (
    body: ReadableStream<Uint8Array>,
    readError: (error: unknown) => unknown,
  ) => Promise<void>;
}> {
  const { body } = await fetch(url);
  assert.ok(body !== null, "no body");
  const { pipe } = writer;
  assert.ok(pipe !== undefined, "no pipe");
  const never = new AbortController().signal;
  return {
    body,
    pipe: (body, readError) => pipe.call(writer, body, readError, never, true),
  };
}

/** Registers the adapter cases for `impl`, named with `label`. */
export function fsCases(
  label: string,
  impl: Fs,
  options: FsCaseOptions,
): void {
  test(`${label}.errorCode() names a file-system failure by its number's name, and no other error`, async () => {
    await using dir = await tempDir();
    await writeFile(dir.join("f"), "");
    const failures: [unknown, string][] = [
      [await impl.openAppend(dir.join("missing")).catch((e) => e), "ENOENT"],
      [await impl.createNew(dir.join("f")).catch((e) => e), "EEXIST"],
      [caught(() => impl.mkdirSync(dir.join("f", "sub"))), "ENOTDIR"],
    ];
    for (const [error, code] of failures) {
      assert.equal(impl.errorCode(error), code, String(error));
    }
    for (
      const other of [new Error("x (os error)"), new TypeError("fetch"), 1]
    ) {
      assert.equal(impl.errorCode(other), undefined);
    }
  });

  test(`${label}.createNew() creates an empty file when the path is free`, async () => {
    await using dir = await tempDir();
    const file = await impl.createNew(dir.join("f"));
    try {
      assert.deepEqual(await dir.list(), ["f"]);
      assert.equal((await nodeStat(dir.join("f"))).size, 0);
    } finally {
      await file.close();
    }
  });

  test(
    `${label}.createNew() returns a writer whose writes land in order when the same Uint8Array is reused`,
    async () => {
      await using dir = await tempDir();
      const file = await impl.createNew(dir.join("f"));
      const buffer = new Uint8Array(3);
      try {
        buffer.set([1, 2, 3]);
        await file.write(buffer);
        buffer.set([4, 5, 6]);
        await file.write(buffer);
        await file.write(buffer.subarray(1, 2));
        await file.write(new Uint8Array(0));
      } finally {
        await file.close();
      }
      assert.deepEqual(
        await readBytes(dir.join("f")),
        Uint8Array.of(1, 2, 3, 4, 5, 6, 5),
      );
    },
  );

  test(
    `${label}.createNew() returns a writer that writes all of a large array`,
    async () => {
      await using dir = await tempDir();
      const data = Uint8Array.from(
        { length: 3 * 1024 * 1024 + 7 },
        (_, i) => (i * 31) & 0xff,
      );
      const file = await impl.createNew(dir.join("f"));
      try {
        await file.write(data);
      } finally {
        await file.close();
      }
      assert.deepEqual(await readBytes(dir.join("f")), data);
    },
  );

  test(
    `${label}.createNew() returns a writer whose close() is safe when called twice`,
    async () => {
      await using dir = await tempDir();
      const file = await impl.createNew(dir.join("f"));
      await file.write(Uint8Array.of(9));
      assert.equal(await file.close(), undefined);
      assert.equal(await file.close(), undefined);
      assert.deepEqual(await readBytes(dir.join("f")), Uint8Array.of(9));
    },
  );

  test(
    `${label}.createNew() rejects with AlreadyExistsError when the path exists`,
    async () => {
      await using dir = await tempDir();
      await writeFile(dir.join("f"), "old");
      await assert.rejects(impl.createNew(dir.join("f")), isAlreadyExists);
      assert.equal(await readFile(dir.join("f"), "utf8"), "old");
    },
  );

  test(
    `${label}.createNew() rejects with NotFoundError when the directory is missing`,
    async () => {
      await using dir = await tempDir();
      await assert.rejects(
        impl.createNew(dir.join("missing", "f")),
        isNotFound,
      );
      assert.deepEqual(await dir.list(), []);
    },
  );

  test(
    `${label}.stat() and statSync() describe a file when the path is a file`,
    async () => {
      await using dir = await tempDir();
      await writeFile(dir.join("f"), "hello");
      const expected = await nodeStat(dir.join("f"));
      for (
        const info of [
          await impl.stat(dir.join("f")),
          impl.statSync(dir.join("f")),
        ]
      ) {
        assert.ok(info !== undefined);
        assert.equal(info.isFile, true);
        assert.equal(info.isDirectory, false);
        assert.equal(info.size, 5);
        assert.equal(info.mtime?.getTime(), expected.mtime.getTime());
        assert.equal(info.atime?.getTime(), expected.atime.getTime());
      }
    },
  );

  test(
    `${label}.chmod() sets the permission bits that stat() and statSync() tell`,
    { skip: process.platform === "win32" },
    async () => {
      await using dir = await tempDir();
      await writeFile(dir.join("f"), "hello");
      await impl.chmod(dir.join("f"), 0o751);
      assert.equal((await nodeStat(dir.join("f"))).mode & 0o7777, 0o751);
      assert.equal((await impl.stat(dir.join("f")))?.mode, 0o751);
      assert.equal(impl.statSync(dir.join("f"))?.mode, 0o751);
      await assert.rejects(
        impl.chmod(dir.join("missing"), 0o644),
        NotFoundError,
      );
    },
  );

  test(
    `${label}.stat() and statSync() describe a directory when the path is a directory`,
    async () => {
      await using dir = await tempDir();
      for (const info of [await impl.stat(dir.path), impl.statSync(dir.path)]) {
        assert.ok(info !== undefined);
        assert.equal(info.isFile, false);
        assert.equal(info.isDirectory, true);
      }
    },
  );

  test(
    `${label}.stat() and statSync() follow a symbolic link when the path is one`,
    async () => {
      await using dir = await tempDir();
      await writeFile(dir.join("f"), "abc");
      await symlink(dir.join("f"), dir.join("link"));
      for (
        const info of [
          await impl.stat(dir.join("link")),
          impl.statSync(dir.join("link")),
        ]
      ) {
        assert.ok(info !== undefined);
        assert.equal(info.isFile, true);
        assert.equal(info.size, 3);
      }
    },
  );

  test(`${label}.stat() and statSync() return undefined when the path is missing`, async () => {
    await using dir = await tempDir();
    await symlink(dir.join("nowhere"), dir.join("dangling"));
    for (const name of ["missing", "dangling"]) {
      assert.equal(await impl.stat(dir.join(name)), undefined);
      assert.equal(impl.statSync(dir.join(name)), undefined);
    }
  });

  test(
    `${label}.lstat() and lstatSync() tell a symbolic link (to a file, a directory, nowhere) from what it points to, and do not follow it`,
    async () => {
      await using dir = await tempDir();
      await writeFile(dir.join("f"), "abcdefgh");
      await symlink(dir.join("f"), dir.join("to-file"));
      await symlink(dir.path, dir.join("to-dir"));
      await symlink(dir.join("nowhere"), dir.join("dangling"));
      for (const name of ["to-file", "to-dir", "dangling"]) {
        const target = await readlink(dir.join(name));
        for (
          const info of [
            await impl.lstat(dir.join(name)),
            impl.lstatSync(dir.join(name)),
          ]
        ) {
          assert.ok(info !== undefined, name);
          assert.equal(info.isSymlink, true, name);
          assert.equal(info.isFile, false, name);
          assert.equal(info.isDirectory, false, name);
          // The link's own size: its target's path, in bytes.
          assert.equal(
            info.size,
            new TextEncoder().encode(target).byteLength,
            name,
          );
        }
      }
      for (
        const info of [
          await impl.lstat(dir.join("f")),
          impl.lstatSync(dir.join("f")),
          await impl.stat(dir.join("to-file")),
          impl.statSync(dir.join("to-file")),
        ]
      ) {
        assert.ok(info !== undefined);
        assert.equal(info.isSymlink, false);
        assert.equal(info.isFile, true);
        assert.equal(info.size, 8);
      }
      assert.equal(await impl.lstat(dir.join("missing")), undefined);
      assert.equal(impl.lstatSync(dir.join("missing")), undefined);
    },
  );

  test(`${label}.existsSync() is true for a file, a directory and a link to a file`, async () => {
    await using dir = await tempDir();
    await writeFile(dir.join("f"), "abc");
    await symlink(dir.join("f"), dir.join("link"));
    for (const path of [dir.join("f"), dir.path, dir.join("link")]) {
      assert.equal(impl.existsSync(path), true, path);
    }
  });

  test(`${label}.existsSync() is false for a missing path and a dangling link`, async () => {
    await using dir = await tempDir();
    await symlink(dir.join("nowhere"), dir.join("dangling"));
    for (const name of ["missing", "dangling", join("missing", "child")]) {
      assert.equal(impl.existsSync(dir.join(name)), false, name);
    }
  });

  test(`${label}.existsSync() is false for a symbolic link loop`, async () => {
    await using dir = await tempDir();
    await symlink("loop", dir.join("loop"));
    assert.equal(impl.existsSync(dir.join("loop")), false);
  });

  test(
    `${label}.stat() and statSync() throw the runtime's error when a parent is a file`,
    async () => {
      await using dir = await tempDir();
      await writeFile(dir.join("f"), "x");
      const notMissing = (error: unknown): true => {
        assert.ok(error instanceof Error);
        assert.ok(!(error instanceof NotFoundError));
        return true;
      };
      await assert.rejects(impl.stat(dir.join("f", "child")), notMissing);
      assert.throws(() => impl.statSync(dir.join("f", "child")), notMissing);
    },
  );

  test(`${label}.writeNewSync() creates the file holding the bytes when the path is free`, async () => {
    await using dir = await tempDir();
    impl.writeNewSync(dir.join("f"), Uint8Array.of(1, 2, 3));
    assert.deepEqual(await readBytes(dir.join("f")), Uint8Array.of(1, 2, 3));
  });

  test(
    `${label}.writeNewSync() throws AlreadyExistsError and keeps the file when the path exists`,
    async () => {
      await using dir = await tempDir();
      await writeFile(dir.join("f"), "old");
      assert.throws(
        () => impl.writeNewSync(dir.join("f"), Uint8Array.of(1)),
        isAlreadyExists,
      );
      assert.equal(await readFile(dir.join("f"), "utf8"), "old");
    },
  );

  test(
    `${label}.writeNewSync() throws NotFoundError when the directory is missing`,
    async () => {
      await using dir = await tempDir();
      assert.throws(
        () => impl.writeNewSync(dir.join("missing", "f"), Uint8Array.of(1)),
        isNotFound,
      );
      assert.deepEqual(await dir.list(), []);
    },
  );

  test(`${label}.linkSync() gives the file a second name sharing its bytes and times`, async () => {
    await using dir = await tempDir();
    await writeFile(dir.join("a"), "content");
    impl.linkSync(dir.join("a"), dir.join("b"));
    assert.equal(await readFile(dir.join("b"), "utf8"), "content");
    // Whole seconds: Node's mtimeMs of an exact millisecond can be off by 0.001.
    const when = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    impl.utimeSync(dir.join("a"), when, when);
    assert.equal(
      Math.round((await nodeStat(dir.join("b"))).mtimeMs),
      when.getTime(),
    );
    assert.equal((await nodeStat(dir.join("b"))).nlink, 2);
  });

  test(
    `${label}.linkSync() throws AlreadyExistsError and keeps the file when the new name exists`,
    async () => {
      await using dir = await tempDir();
      await writeFile(dir.join("a"), "new");
      await writeFile(dir.join("b"), "old");
      assert.throws(
        () => impl.linkSync(dir.join("a"), dir.join("b")),
        isAlreadyExists,
      );
      assert.equal(await readFile(dir.join("b"), "utf8"), "old");
    },
  );

  test(
    `${label}.linkSync() throws NotFoundError when the existing file is missing`,
    async () => {
      await using dir = await tempDir();
      assert.throws(
        () => impl.linkSync(dir.join("missing"), dir.join("b")),
        isNotFound,
      );
      assert.deepEqual(await dir.list(), []);
    },
  );

  test(`${label}.rename() moves the file when the target is free`, async () => {
    await using dir = await tempDir();
    await writeFile(dir.join("a"), "content");
    await impl.rename(dir.join("a"), dir.join("b"));
    assert.deepEqual(await dir.list(), ["b"]);
    assert.equal(await readFile(dir.join("b"), "utf8"), "content");
  });

  test(`${label}.rename() replaces the target when it is an existing file`, async () => {
    await using dir = await tempDir();
    await writeFile(dir.join("a"), "new");
    await writeFile(dir.join("b"), "old");
    await impl.rename(dir.join("a"), dir.join("b"));
    assert.deepEqual(await dir.list(), ["b"]);
    assert.equal(await readFile(dir.join("b"), "utf8"), "new");
  });

  test(
    `${label}.rename() rejects with NotFoundError when the source is missing`,
    async () => {
      await using dir = await tempDir();
      await assert.rejects(
        impl.rename(dir.join("missing"), dir.join("b")),
        isNotFound,
      );
      assert.deepEqual(await dir.list(), []);
    },
  );

  test(`${label}.renameSync() moves the file, replacing a file at the target, or throws NotFoundError`, async () => {
    await using dir = await tempDir();
    await writeFile(dir.join("a"), "new");
    await writeFile(dir.join("b"), "old");
    impl.renameSync(dir.join("a"), dir.join("b"));
    assert.deepEqual(await dir.list(), ["b"]);
    assert.equal(await readFile(dir.join("b"), "utf8"), "new");
    assert.throws(
      () => impl.renameSync(dir.join("a"), dir.join("c")),
      isNotFound,
    );
    assert.deepEqual(await dir.list(), ["b"]);
  });

  test(`${label}.remove() deletes the file when it exists`, async () => {
    await using dir = await tempDir();
    await writeFile(dir.join("a"), "x");
    await writeFile(dir.join("b"), "y");
    await impl.remove(dir.join("a"));
    assert.deepEqual(await dir.list(), ["b"]);
  });

  test(
    `${label}.remove() rejects with NotFoundError when the path is missing`,
    async () => {
      await using dir = await tempDir();
      await assert.rejects(impl.remove(dir.join("missing")), isNotFound);
    },
  );

  test(`${label}.removeSync() deletes the file, or throws NotFoundError`, async () => {
    await using dir = await tempDir();
    await writeFile(dir.join("a"), "x");
    await writeFile(dir.join("b"), "y");
    impl.removeSync(dir.join("a"));
    assert.deepEqual(await dir.list(), ["b"]);
    assert.throws(() => impl.removeSync(dir.join("a")), isNotFound);
  });

  test(
    `${label}.utimeSync() sets atime and mtime exactly when given whole seconds`,
    async () => {
      await using dir = await tempDir();
      await writeFile(dir.join("f"), "x");
      const atime = new Date("2001-02-03T04:05:06Z");
      const mtime = new Date("2002-03-04T05:06:07Z");
      impl.utimeSync(dir.join("f"), atime, mtime);
      const info = impl.statSync(dir.join("f"));
      assert.equal(info?.atime?.getTime(), atime.getTime());
      assert.equal(info?.mtime?.getTime(), mtime.getTime());
      const expected = await nodeStat(dir.join("f"));
      assert.equal(expected.atime.getTime(), atime.getTime());
      assert.equal(expected.mtime.getTime(), mtime.getTime());
    },
  );

  test(`${label}.utimeSync() throws NotFoundError when the path is missing`, async () => {
    await using dir = await tempDir();
    const time = new Date("2001-02-03T04:05:06Z");
    assert.throws(
      () => impl.utimeSync(dir.join("missing"), time, time),
      isNotFound,
    );
  });

  test(
    `${label}.mkdirSync() creates the directory and its parents when they are missing`,
    async () => {
      await using dir = await tempDir();
      impl.mkdirSync(dir.join("a", "b", "c"));
      assert.equal(
        (await nodeStat(dir.join("a", "b", "c"))).isDirectory(),
        true,
      );
      assert.deepEqual(await dir.list(), ["a"]);
      assert.deepEqual(await dir.list("a"), ["b"]);
    },
  );

  test(
    `${label}.mkdirSync() succeeds and keeps the contents when the directory exists`,
    async () => {
      await using dir = await tempDir();
      await mkdir(dir.join("a"));
      await writeFile(dir.join("a", "f"), "x");
      impl.mkdirSync(dir.join("a"));
      impl.mkdirSync(dir.path);
      assert.deepEqual(await dir.list("a"), ["f"]);
    },
  );

  test(
    `${label}.readDir() lists names with isFile true for files and false for directories and links`,
    async () => {
      await using dir = await tempDir();
      await writeFile(dir.join("file.txt"), "x");
      await writeFile(dir.join(".hidden"), "");
      await mkdir(dir.join("sub"));
      await writeFile(dir.join("sub", "nested"), "y");
      await symlink(dir.join("file.txt"), dir.join("link"));
      const entries = await impl.readDir(dir.path);
      entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
      assert.deepEqual(entries, [
        { name: ".hidden", isFile: true },
        { name: "file.txt", isFile: true },
        { name: "link", isFile: false },
        { name: "sub", isFile: false },
      ]);
    },
  );

  test(`${label}.readDir() returns an empty list when the directory is empty`, async () => {
    await using dir = await tempDir();
    assert.deepEqual(await impl.readDir(dir.path), []);
  });

  test(
    `${label}.readDir() rejects with NotFoundError when the directory is missing`,
    async () => {
      await using dir = await tempDir();
      await assert.rejects(impl.readDir(dir.join("missing")), isNotFound);
    },
  );

  test(`${label}.openAppend() writes after the existing bytes`, async () => {
    await using dir = await tempDir();
    await writeFile(dir.join("f"), "abc");
    const file = await impl.openAppend(dir.join("f"));
    await file.write(new TextEncoder().encode("def"));
    await file.close();
    assert.equal(await readFile(dir.join("f"), "utf8"), "abcdef");
  });

  test(`${label}.openAppend() rejects with NotFoundError when the file is missing`, async () => {
    await using dir = await tempDir();
    await assert.rejects(impl.openAppend(dir.join("missing")), isNotFound);
  });

  test(`${label}.openAt() writes from the offset, each writer at its own position`, async () => {
    await using dir = await tempDir();
    await writeFile(dir.join("f"), "..........");
    const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
    const late = await impl.openAt(dir.join("f"), 6);
    const early = await impl.openAt(dir.join("f"), 1);
    await late.write(encode("XY"));
    await early.write(encode("ab"));
    await late.write(encode("Z"));
    await early.write(encode("c"));
    await late.close();
    await early.close();
    assert.equal(await readFile(dir.join("f"), "utf8"), ".abc..XYZ.");
  });

  test(`${label}.openAt() leaves a hole when the offset is past the end, and rejects a missing file`, async () => {
    await using dir = await tempDir();
    await writeFile(dir.join("f"), "ab");
    const file = await impl.openAt(dir.join("f"), 5);
    await file.write(new TextEncoder().encode("z"));
    await file.close();
    assert.deepEqual([...await readBytes(dir.join("f"))], [
      97,
      98,
      0,
      0,
      0,
      122,
    ]);
    await assert.rejects(impl.openAt(dir.join("missing"), 0), isNotFound);
  });

  test(`${label} writer.pipe() writes from the offset of a file opened with openAt`, async () => {
    await using server = await startServer({ "/f": bytesRoute(PIPED) });
    await using dir = await tempDir();
    await writeFile(dir.join("f"), new Uint8Array(PIPED.byteLength + 20));
    const writer = await impl.openAt(dir.join("f"), 10);
    const { body, pipe } = await bodyAndPipe(server.url("/f"), writer);
    await pipe(body, (error) => error);
    const bytes = await readBytes(dir.join("f"));
    assert.equal(bytes.byteLength, PIPED.byteLength + 20);
    assert.deepEqual(bytes.subarray(10, 10 + PIPED.byteLength), PIPED);
    assert.deepEqual([...bytes.subarray(0, 10)], new Array(10).fill(0));
  });

  test(`${label}.readFileSync() returns the whole file, or throws NotFoundError`, async () => {
    await using dir = await tempDir();
    await writeFile(dir.join("f"), "hello");
    assert.equal(
      new TextDecoder().decode(impl.readFileSync(dir.join("f"))),
      "hello",
    );
    assert.throws(() => impl.readFileSync(dir.join("missing")), isNotFound);
  });

  test(
    `${label}.readFileSync() throws NotAFileError at once, without waiting for a writer, when the path is a FIFO or a link to one`,
    { skip: !HAS_FIFOS && "no FIFOs" },
    async () => {
      await using dir = await tempDir();
      await using fifo = fifoAt(dir.join("fifo"), "x");
      await symlink(fifo.path, dir.join("link"));
      for (const name of ["fifo", "link"]) {
        assert.throws(
          () => impl.readFileSync(dir.join(name)),
          (error) =>
            error instanceof NotAFileError &&
            error.name === "NotAFileError" &&
            error.message.includes(dir.join(name)),
          name,
        );
      }
      assert.ok((await nodeStat(fifo.path)).isFIFO());
    },
  );

  test(`${label}.readChunks() yields the file in chunks of at most chunkSize`, async () => {
    await using dir = await tempDir();
    const bytes = Uint8Array.from({ length: 10 }, (_, i) => i);
    await writeFile(dir.join("f"), bytes);
    const chunks: number[][] = [];
    for await (const chunk of impl.readChunks(dir.join("f"), 4)) {
      chunks.push([...chunk]);
    }
    assert.deepEqual(chunks, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  });

  test(`${label}.readChunks() rejects with NotFoundError when the file is missing`, async () => {
    await using dir = await tempDir();
    await assert.rejects(async () => {
      for await (const _ of impl.readChunks(dir.join("missing"), 4)) {
        /* none */
      }
    }, isNotFound);
  });

  test(`${label} writer.pipe() moves a fetch body into the file and closes it`, async () => {
    await using server = await startServer({ "/f": bytesRoute(PIPED) });
    await using dir = await tempDir();
    const writer = await impl.createNew(dir.join("f"));
    const { body, pipe } = await bodyAndPipe(server.url("/f"), writer);
    await pipe(body, (error) => new ReadFailure("", { cause: error }));
    await writer.close(); // already closed by the pipe: a no-op
    assert.deepEqual(await readBytes(dir.join("f")), PIPED);
  });

  test(`${label} writer.pipe() appends to a file opened with openAppend`, async () => {
    await using server = await startServer({ "/f": bytesRoute(PIPED) });
    await using dir = await tempDir();
    const first = await impl.createNew(dir.join("f"));
    await first.write(PIPED.subarray(0, 10));
    await first.close();
    const writer = await impl.openAppend(dir.join("f"));
    const { body, pipe } = await bodyAndPipe(server.url("/f"), writer);
    await pipe(body, (error) => error);
    const bytes = await readBytes(dir.join("f"));
    assert.equal(bytes.byteLength, 10 + PIPED.byteLength);
    assert.deepEqual(bytes.subarray(10), PIPED);
  });

  test(`${label} writer.pipe() maps a failed read with readError, keeping what was written`, async () => {
    const sent = deferred();
    await using server = await startServer({
      "/f": async (request, response) => {
        response.writeHead(200, { "content-length": PIPED.byteLength });
        response.write(PIPED.subarray(0, 300_000), () => sent.resolve());
        await sent.promise;
        request.socket.destroy();
      },
    });
    await using dir = await tempDir();
    const writer = await impl.createNew(dir.join("f"));
    const { body, pipe } = await bodyAndPipe(server.url("/f"), writer);
    await assert.rejects(
      pipe(body, (error) => new ReadFailure("", { cause: error })),
      (error) =>
        error instanceof ReadFailure && error.cause instanceof TypeError,
    );
    const bytes = await readBytes(dir.join("f"));
    assert.ok(bytes.byteLength <= 300_000);
    assert.deepEqual(bytes, PIPED.subarray(0, bytes.byteLength));
  });

  test(
    `${label} writer.pipe() ends a read left pending when its signal aborts, with readError(reason), keeping what was written`,
    { skip: !options.pipeEndsPendingReads && "Deno's fetch ends it itself" },
    async () => {
      await using dir = await tempDir();
      const writer = await impl.createNew(dir.join("f"));
      const abort = new AbortController();
      const body = stalledAfter(
        PIPED.slice(0, 10),
        false,
        () => abort.abort(new RangeError("stopped")),
      );
      await assert.rejects(
        (writer.pipe as NonNullable<FileWriter["pipe"]>).call(
          writer,
          body,
          (error) => new ReadFailure("", { cause: error }),
          abort.signal,
          false,
        ),
        (error) =>
          error instanceof ReadFailure && error.cause instanceof RangeError,
      );
      assert.deepEqual(await readBytes(dir.join("f")), PIPED.subarray(0, 10));
    },
  );

  test(`${label} writer.pipe() throws a failed write as it is, not as a read error`, async () => {
    await using server = await startServer({ "/f": bytesRoute(PIPED) });
    await using dir = await tempDir();
    await writeFile(dir.join("f"), new Uint8Array(0));
    // Every write fails (EBADF).
    const writer = await options.readOnlyWriter(dir.join("f"));
    const { body, pipe } = await bodyAndPipe(server.url("/f"), writer);
    await assert.rejects(
      pipe(body, (error) => new ReadFailure("", { cause: error })),
      (error) => error instanceof Error && !(error instanceof ReadFailure),
    );
    await writer.close();
    assert.equal((await nodeStat(dir.join("f"))).size, 0);
  });
}
