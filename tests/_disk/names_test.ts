import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { test } from "node:test";
import {
  isReservedName,
  PARTIAL_SUFFIX,
  partialFile,
  partialPaths,
  SIDECAR_SUFFIX,
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
  await writeFile(sidecar, "{}");
  assert.deepEqual(
    await dir.list(),
    [basename(sidecar), basename(partial), name].sort(),
  );
  assert.equal(await readFile(dir.join(name), "utf8"), "dest");
  assert.equal(await readFile(sidecar, "utf8"), "{}");
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
