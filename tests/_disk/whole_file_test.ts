import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import process from "node:process";
import { test } from "node:test";
import {
  isWholeTemp,
  wholeTempName,
  wholeTempWriter,
  writeNewWhole,
} from "../../src/_disk/whole_file.ts";
import { AlreadyExistsError, fs } from "../../src/_runtime/fs.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

const DATA = new TextEncoder().encode('{"pid":1,"token":"t"}');
const DEAD_PID = 4_194_305;

test("writeNewWhole() creates the file holding its data, linked from a temporary it removes", async () => {
  await using dir = await tempDir();
  const { linkSync } = fs;
  const linked: string[] = [];
  fs.linkSync = (existing, path) => {
    linked.push(basename(existing));
    linkSync(existing, path);
  };
  try {
    writeNewWhole(dir.join("x.lock"), DATA);
  } finally {
    fs.linkSync = linkSync;
  }
  assert.deepEqual(await dir.list(), ["x.lock"]);
  assert.deepEqual(new Uint8Array(await readFile(dir.join("x.lock"))), DATA);
  assert.equal(linked.length, 1);
  assert.equal(isWholeTemp(linked[0] as string), true);
  assert.equal(linked[0]?.startsWith("x.lock."), true);
});

test("writeNewWhole() throws AlreadyExistsError where the name is taken, leaving it and no temporary", async () => {
  await using dir = await tempDir();
  await writeFile(dir.join("x.lock"), "theirs");
  assert.throws(
    () => writeNewWhole(dir.join("x.lock"), DATA),
    AlreadyExistsError,
  );
  assert.deepEqual(await dir.list(), ["x.lock"]);
  assert.equal(await readFile(dir.join("x.lock"), "utf8"), "theirs");
  assert.throws(
    () => writeNewWhole(dir.join("x.lock"), DATA, false),
    AlreadyExistsError,
  );
});

test("writeNewWhole() creates the file in place where a hard link is refused, or with links false", async () => {
  await using dir = await tempDir();
  const { linkSync } = fs;
  let links = 0;
  fs.linkSync = () => {
    links++;
    throw Object.assign(new Error("Operation not permitted"), {
      code: "EPERM",
    });
  };
  try {
    writeNewWhole(dir.join("a.lock"), DATA);
    writeNewWhole(dir.join("b.lock"), DATA, false);
  } finally {
    fs.linkSync = linkSync;
  }
  assert.equal(links, 1);
  assert.deepEqual(await dir.list(), ["a.lock", "b.lock"]);
  for (const name of ["a.lock", "b.lock"]) {
    assert.deepEqual(new Uint8Array(await readFile(dir.join(name))), DATA);
  }
});

test("wholeTempWriter() tells a live writer, a dead one of this pid space, and knows none of another", () => {
  const name = basename(wholeTempName("/d/.a.0123456789ab.dlpart.lock"));
  const [, , , , , pid, tag, random] = name.split(".");
  assert.equal(pid, String(process.pid));
  assert.match(tag as string, /^[ph][0-9a-f]{8}$/u);
  assert.match(random as string, /^[0-9a-f]{8}$/u);
  assert.equal(isWholeTemp(name), true);
  // This process's pid: running, which a start time it lacks cannot pin.
  assert.notEqual(wholeTempWriter(name), "dead");
  const dead = name.replace(`.${pid}.`, `.${DEAD_PID}.`);
  assert.equal(wholeTempWriter(dead), "dead");
  const elsewhere = dead.replace(`.${tag}.`, ".p00000000.");
  assert.equal(wholeTempWriter(elsewhere), "unknown");
  assert.equal(isWholeTemp(".a.0123456789ab.dlpart.lock.1-2.tmp"), false);
});
