import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { test } from "node:test";
import { NotFoundError } from "../../src/_runtime/fs_errors.ts";
import {
  isReservedName,
  PARTIAL_SUFFIX,
  partialFile,
  partialPaths,
  readSidecar,
  removeIfPresent,
  type Sidecar,
  SIDECAR_SUFFIX,
  SIDECAR_VERSION,
  writeSidecar,
} from "../../src/_disk/names.ts";
import { newToken } from "../../src/_disk/process_identity.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

/** The first 12 hex digits of the sha256 of `name`. */
function hash12(name: string): string {
  return createHash("sha256").update(name).digest("hex").slice(0, 12);
}

/** How many bytes `text` takes in UTF-8. */
function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}

const SIDECAR: Sidecar = {
  version: SIDECAR_VERSION,
  url: "https://example.com/file.tar.gz",
  validator: '"abc123"',
  total: 1_048_576,
  partial: ".file.tar.gz.0123456789ab.dlpart.0a1b2c3d4e5f6a7b-1",
  writer: "0a1b2c3d4e5f6a7b-1",
  owner: { host: "h", pid: 42, boot: "b", pidns: "pid:[1]", start: "7" },
};

// Suffixes

test("PARTIAL_SUFFIX is .dlpart and SIDECAR_SUFFIX is .dlpart.json", () => {
  assert.equal(PARTIAL_SUFFIX, ".dlpart");
  assert.equal(SIDECAR_SUFFIX, ".dlpart.json");
});

// partialPaths

test("partialPaths() puts .<name>.<12 hex>.dlpart in dest's directory when the name is short", () => {
  const dest = join("/downloads", "sub", "file.tar.gz");
  const { base, sidecar } = partialPaths(dest);
  const prefix = `.file.tar.gz.${hash12("file.tar.gz")}`;
  assert.equal(base, join("/downloads", "sub", `${prefix}.dlpart`));
  assert.equal(sidecar, join("/downloads", "sub", `${prefix}.dlpart.json`));
  assert.match(basename(base), /^\.file\.tar\.gz\.[0-9a-f]{12}\.dlpart$/);
});

test("partialPaths() returns sidecar as base plus .json, and partialFile() base plus a writer token", () => {
  for (const dest of ["/a/b", "rel/x.bin", "y", "/d/\u{1F600}.txt"]) {
    const paths = partialPaths(dest);
    assert.equal(paths.sidecar, `${paths.base}.json`);
    assert.equal(partialFile(paths, "0a1b-2"), `${paths.base}.0a1b-2`);
  }
});

test("partialPaths() keeps a relative dest relative", () => {
  assert.deepEqual(partialPaths("f.txt"), {
    base: `.f.txt.${hash12("f.txt")}.dlpart`,
    sidecar: `.f.txt.${hash12("f.txt")}.dlpart.json`,
    lock: `.f.txt.${hash12("f.txt")}.dlpart.lock`,
  });
  assert.equal(
    partialPaths(join("out", "f.txt")).base,
    join("out", `.f.txt.${hash12("f.txt")}.dlpart`),
  );
});

test("partialPaths() returns the same paths when called twice for the same dest", () => {
  assert.deepEqual(partialPaths("/d/file.bin"), partialPaths("/d/file.bin"));
});

test("partialPaths() hashes only the name when dests differ only in directory", () => {
  const first = partialPaths("/one/file.bin");
  const second = partialPaths("/two/file.bin");
  assert.equal(basename(first.base), basename(second.base));
  assert.equal(dirname(first.base), "/one");
  assert.equal(dirname(second.base), "/two");
});

test("partialPaths() gives different hashes when names differ", () => {
  const a = basename(partialPaths("/d/a.bin").base);
  const b = basename(partialPaths("/d/b.bin").base);
  assert.equal(a, `.a.bin.${hash12("a.bin")}.dlpart`);
  assert.equal(b, `.b.bin.${hash12("b.bin")}.dlpart`);
  assert.notEqual(hash12("a.bin"), hash12("b.bin"));
});

test("partialPaths() gives different paths when long names share their first 64 bytes", () => {
  const shared = "x".repeat(64);
  const first = partialPaths(`/d/${shared}-first`);
  const second = partialPaths(`/d/${shared}-second`);
  assert.equal(
    basename(first.base),
    `.${shared}.${hash12(`${shared}-first`)}.dlpart`,
  );
  assert.equal(
    basename(second.base),
    `.${shared}.${hash12(`${shared}-second`)}.dlpart`,
  );
  assert.notEqual(first.base, second.base);
});

test("partialPaths() keeps a name of exactly 64 bytes whole", () => {
  const name = "n".repeat(64);
  assert.equal(
    basename(partialPaths(`/d/${name}`).base),
    `.${name}.${hash12(name)}.dlpart`,
  );
});

test("partialPaths() cuts an ASCII name to 64 bytes when it is longer", () => {
  const name = "a".repeat(50) + "b".repeat(14) + "c".repeat(36);
  assert.equal(
    basename(partialPaths(`/d/${name}`).base),
    `.${"a".repeat(50)}${"b".repeat(14)}.${hash12(name)}.dlpart`,
  );
});

test("partialPaths() cuts a two-byte name to 64 bytes when it is longer", () => {
  const name = "\u00e9".repeat(70); // é, 2 bytes each
  const prefix = "\u00e9".repeat(32);
  assert.equal(utf8Bytes(prefix), 64);
  assert.equal(
    basename(partialPaths(`/d/${name}`).base),
    `.${prefix}.${hash12(name)}.dlpart`,
  );
});

test("partialPaths() cuts a four-byte name on a character boundary when it is longer than 64 bytes", () => {
  // 59 four-byte characters: 236 bytes, a valid name (the limit is 255 bytes
  // on common file systems); 16 of them fill 64 bytes.
  const name = "\u{1F600}".repeat(59);
  const prefix = "\u{1F600}".repeat(16);
  const { base, sidecar } = partialPaths(`/d/${name}`);
  assert.equal(basename(base), `.${prefix}.${hash12(name)}.dlpart`);
  assert.equal(basename(sidecar), `.${prefix}.${hash12(name)}.dlpart.json`);
});

test("partialPaths() cuts before a character that would cross 64 bytes", () => {
  // 1 + 15 * 4 = 61 bytes; a 16th emoji would make 65.
  const name = "a" + "\u{1F600}".repeat(20);
  const prefix = "a" + "\u{1F600}".repeat(15);
  const base = basename(partialPaths(`/d/${name}`).base);
  assert.equal(base, `.${prefix}.${hash12(name)}.dlpart`);
  assert.equal(base.includes("\uFFFD"), false);
  assert.equal(utf8Bytes(prefix), 61);
});

test("partialPaths() keeps partial file, sidecar and lock names under 255 bytes when dest's name is 255 bytes", () => {
  for (
    const name of [
      "z".repeat(255),
      "\u{1F600}".repeat(59),
      "\u00e9".repeat(127),
      "\u4e2d".repeat(85), // 3 bytes each
    ]
  ) {
    const paths = partialPaths(`/d/${name}`);
    const { base, sidecar } = paths;
    // "." + 64 + "." + 12 + ".dlpart" (+ ".json")
    assert.ok(utf8Bytes(basename(base)) <= 1 + 64 + 1 + 12 + 7);
    assert.ok(utf8Bytes(basename(sidecar)) <= 1 + 64 + 1 + 12 + 12);
    assert.ok(utf8Bytes(basename(sidecar)) < 255);
    // A writer token is 16 hex digits, "-" and a count.
    const partial = partialFile(paths, newToken());
    assert.ok(utf8Bytes(basename(partial)) <= 1 + 64 + 1 + 12 + 7 + 1 + 30);
  }
});

test("partialPaths() gives names the file system accepts when dest's name is 59 four-byte characters", async () => {
  await using dir = await tempDir();
  const name = "\u{1F600}".repeat(59);
  await writeFile(dir.join(name), "dest");
  const paths = partialPaths(dir.join(name));
  const { sidecar } = paths;
  const partial = partialFile(paths, newToken());
  await writeFile(partial, "bytes");
  await writeSidecar(sidecar, SIDECAR);
  assert.deepEqual(
    await dir.list(),
    [basename(sidecar), basename(partial), name].sort(),
  );
  assert.equal(await readFile(dir.join(name), "utf8"), "dest");
  assert.deepEqual(readSidecar(sidecar), SIDECAR);
});

// isReservedName

test("isReservedName() returns true when the name is a partial file, sidecar or lock name partialPaths() gives", () => {
  for (
    const dest of [
      "/d/file.txt",
      "/d/.hidden",
      "/d/a",
      "/d/" + "x".repeat(200),
      "/d/" + "\u{1F600}".repeat(59),
      "/d/line\nbreak",
      "/d/a.dlpart",
    ]
  ) {
    const paths = partialPaths(dest);
    const { base, sidecar, lock } = paths;
    const partial = partialFile(paths, newToken());
    assert.equal(isReservedName(basename(base)), true, base);
    assert.equal(isReservedName(basename(partial)), true, partial);
    assert.equal(isReservedName(basename(sidecar)), true, sidecar);
    assert.equal(isReservedName(basename(lock)), true, lock);
  }
});

test("isReservedName() returns false when the name lacks the dot, the hash or the suffix", () => {
  for (
    const name of [
      "a.dlpart",
      ".a.dlpart",
      "file.txt",
      "",
      ".dlpart",
      ".a.0123456789ab",
      "a.0123456789ab.dlpart",
      ".a.0123456789a.dlpart",
      ".a.0123456789abc.dlpart.x",
      ".a.0123456789AB.dlpart",
      ".a.0123456789ab.dlpartjson",
    ]
  ) {
    assert.equal(isReservedName(name), false, JSON.stringify(name));
  }
});

test("isReservedName() returns true when a name has the shape but was not made by partialPaths()", () => {
  assert.equal(isReservedName(".a.0123456789ab.dlpart"), true);
  assert.equal(isReservedName(".a.0123456789ab.dlpart.json"), true);
  // The temporary names derived from them: a sidecar being written, a lock
  // being taken over.
  assert.equal(isReservedName(".a.0123456789ab.dlpart.json.1f2e.tmp"), true);
  assert.equal(isReservedName(".a.0123456789ab.dlpart.lock.00ff.stale"), true);
  assert.equal(isReservedName("..0123456789ab.dlpart"), true);
});

// writeSidecar / readSidecar

test("readSidecar() returns what writeSidecar() wrote when the sidecar exists", async () => {
  await using dir = await tempDir();
  const { sidecar } = partialPaths(dir.join("file.tar.gz"));
  await writeSidecar(sidecar, SIDECAR);
  assert.deepEqual(readSidecar(sidecar), SIDECAR);
  assert.equal(await readFile(sidecar, "utf8"), JSON.stringify(SIDECAR));
});

test("readSidecar() round-trips a Last-Modified validator and a zero total", async () => {
  await using dir = await tempDir();
  const path = dir.join("s.json");
  const value: Sidecar = {
    ...SIDECAR,
    url: "http://127.0.0.1:8000/\u00e9?q=1",
    validator: "Wed, 21 Oct 2015 07:28:00 GMT",
    total: 0,
  };
  await writeSidecar(path, value);
  assert.deepEqual(readSidecar(path), value);
});

test("writeSidecar() leaves no .tmp file behind when it succeeds", async () => {
  await using dir = await tempDir();
  const { sidecar } = partialPaths(dir.join("f"));
  await writeSidecar(sidecar, SIDECAR);
  assert.deepEqual(await dir.list(), [basename(sidecar)]);
});

test("writeSidecar() replaces the sidecar when one exists", async () => {
  await using dir = await tempDir();
  const { sidecar } = partialPaths(dir.join("f"));
  await writeSidecar(sidecar, SIDECAR);
  const second: Sidecar = {
    ...SIDECAR,
    url: "https://b/",
    validator: 'W/"x"',
    total: 7,
    owner: { pid: 7 },
  };
  await writeSidecar(sidecar, second);
  assert.deepEqual(readSidecar(sidecar), second);
  assert.equal(await readFile(sidecar, "utf8"), JSON.stringify(second));
  assert.deepEqual(await dir.list(), [basename(sidecar)]);
});

test("writeSidecar() replaces a longer sidecar without leaving its tail", async () => {
  await using dir = await tempDir();
  const path = dir.join("s.json");
  await writeFile(path, "x".repeat(1000));
  const short: Sidecar = {
    version: 2,
    url: "u",
    validator: "v",
    total: 1,
    partial: "p",
    writer: "w",
    owner: { pid: 1 },
  };
  await writeSidecar(path, short);
  assert.equal(
    await readFile(path, "utf8"),
    '{"version":2,"url":"u","validator":"v","total":1,"partial":"p","writer":"w","owner":{"pid":1}}',
  );
});

test("writeSidecar() leaves the destination untouched when it exists", async () => {
  await using dir = await tempDir();
  await writeFile(dir.join("f"), "old");
  const { sidecar } = partialPaths(dir.join("f"));
  await writeSidecar(sidecar, SIDECAR);
  assert.equal(await readFile(dir.join("f"), "utf8"), "old");
  assert.deepEqual(await dir.list(), [basename(sidecar), "f"].sort());
});

test("writeSidecar() rejects with NotFoundError when the directory is missing", async () => {
  await using dir = await tempDir();
  const { sidecar } = partialPaths(dir.join("missing", "f"));
  await assert.rejects(writeSidecar(sidecar, SIDECAR), (error) => {
    assert.ok(error instanceof NotFoundError);
    assert.equal(error.name, "NotFoundError");
    assert.notEqual(error.cause, undefined);
    return true;
  });
  assert.deepEqual(await dir.list(), []);
});

test("readSidecar() returns undefined when the file is missing", async () => {
  await using dir = await tempDir();
  assert.equal(readSidecar(dir.join("none.dlpart.json")), undefined);
  assert.equal(readSidecar(dir.join("no", "dir.json")), undefined);
});

test("readSidecar() returns undefined when the file is not valid JSON", async () => {
  await using dir = await tempDir();
  const path = dir.join("s.json");
  for (const text of ["", "{", '{"url":"u",', "not json", "\u0000\u0001"]) {
    await writeFile(path, text);
    assert.equal(readSidecar(path), undefined, JSON.stringify(text));
  }
});

test("readSidecar() returns undefined when the JSON has the wrong shape", async () => {
  await using dir = await tempDir();
  const path = dir.join("s.json");
  const shapes: unknown[] = [
    null,
    42,
    "text",
    true,
    [],
    ["u", "v", 1],
    {},
    // Version 1 (no version, no writer): its writer cannot be judged.
    { url: "u", validator: "v", total: 1 },
    // Another version: a later one may mean other things by its fields.
    { ...SIDECAR, version: 1 },
    { ...SIDECAR, version: 3 },
    { ...SIDECAR, version: "2" },
    { ...SIDECAR, url: undefined },
    { ...SIDECAR, validator: undefined },
    { ...SIDECAR, total: undefined },
    { ...SIDECAR, url: 1 },
    { ...SIDECAR, validator: null },
    { ...SIDECAR, total: "1" },
    { ...SIDECAR, total: 1.5 },
    { ...SIDECAR, total: null },
    { ...SIDECAR, total: 2 ** 53 },
    { ...SIDECAR, partial: undefined },
    { ...SIDECAR, partial: 1 },
    { ...SIDECAR, writer: undefined },
    { ...SIDECAR, owner: undefined },
    { ...SIDECAR, owner: { host: "h" } },
    { ...SIDECAR, owner: { pid: "42" } },
  ];
  for (const shape of shapes) {
    await writeFile(path, JSON.stringify(shape));
    assert.equal(readSidecar(path), undefined, JSON.stringify(shape));
  }
});

test("readSidecar() returns the record with extra fields when the JSON has them", async () => {
  await using dir = await tempDir();
  const path = dir.join("s.json");
  await writeFile(path, JSON.stringify({ ...SIDECAR, extra: true }));
  assert.deepEqual(readSidecar(path), { ...SIDECAR, extra: true });
});

test("readSidecar() throws when the path cannot be read for another reason", async () => {
  await using dir = await tempDir();
  await mkdir(dir.join("a-directory"));
  assert.throws(() => readSidecar(dir.join("a-directory")), (error) => {
    assert.ok(error instanceof Error);
    assert.equal(error instanceof NotFoundError, false);
    assert.equal(error instanceof SyntaxError, false);
    return true;
  });
});

// removeIfPresent

test("removeIfPresent() resolves when the path is missing", async () => {
  await using dir = await tempDir();
  assert.equal(await removeIfPresent(dir.join("none")), undefined);
  assert.equal(await removeIfPresent(dir.join("no", "dir")), undefined);
  assert.deepEqual(await dir.list(), []);
});

test("removeIfPresent() removes the file when it exists", async () => {
  await using dir = await tempDir();
  await writeFile(dir.join("keep"), "k");
  await writeFile(dir.join("gone"), "g");
  assert.equal(await removeIfPresent(dir.join("gone")), undefined);
  assert.deepEqual(await dir.list(), ["keep"]);
});
