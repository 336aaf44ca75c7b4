import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import { test } from "node:test";
import { NotFoundError } from "../../src/_runtime/fs_errors.ts";
import { partialPaths } from "../../src/_disk/names.ts";
import {
  endWriter,
  knownSources,
  readSidecar,
  type Sidecar,
  SIDECAR_VERSION,
  SPLICED_SIDECAR_VERSION,
  startWriter,
  writerState,
  writeSidecar,
} from "../../src/_disk/sidecar.ts";
import { thisProcess } from "../../src/_disk/process_identity.ts";
import { fifoAt, HAS_FIFOS } from "../_helpers/fifo.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

const SIDECAR: Sidecar = {
  version: SIDECAR_VERSION,
  url: "https://example.com/file.tar.gz",
  validator: '"abc123"',
  total: 1_048_576,
  partial: ".file.tar.gz.0123456789ab.dlpart.0a1b2c3d4e5f6a7b-1",
  writer: "0a1b2c3d4e5f6a7b-1",
  owner: { host: "h", pid: 42, boot: "b", pidns: "pid:[1]", start: "7" },
};

test("readSidecar() returns what writeSidecar() wrote when the sidecar exists", async () => {
  await using dir = await tempDir();
  const { sidecar } = partialPaths(dir.join("file.tar.gz"));
  await writeSidecar(sidecar, SIDECAR);
  assert.deepEqual(readSidecar(sidecar), SIDECAR);
  assert.equal(await readFile(sidecar, "utf8"), JSON.stringify(SIDECAR));
});

test("readSidecar() round-trips the sources of a download with mirrors, and knownSources() names them with its URL", async () => {
  await using dir = await tempDir();
  const path = dir.join("s.json");
  const value: Sidecar = {
    ...SIDECAR,
    sources: [SIDECAR.url, "https://mirror.example.net/file.tar.gz"],
  };
  await writeSidecar(path, value);
  assert.deepEqual(readSidecar(path), value);
  assert.deepEqual(knownSources(value), [SIDECAR.url, ...value.sources ?? []]);
  assert.deepEqual(knownSources(SIDECAR), [SIDECAR.url]);
});

test("readSidecar() round-trips a version 4 sidecar, of bytes spliced from sources whose validators differ, in parts or not", async () => {
  await using dir = await tempDir();
  const path = dir.join("s.json");
  const mirror = "https://mirror.example.net/file.tar.gz";
  const spliced: Sidecar = {
    ...SIDECAR,
    version: SPLICED_SIDECAR_VERSION,
    sources: [SIDECAR.url, mirror],
    validator: '"m"',
    validators: { [SIDECAR.url]: '"abc123"', [mirror]: '"m"' },
    digest: `sha256-${"A".repeat(43)}=`,
  };
  for (const value of [spliced, { ...spliced, ranges: [[0, 10]] }]) {
    await writeSidecar(path, value as Sidecar);
    assert.deepEqual(readSidecar(path), value);
  }
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
    validator: '"x"',
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

test(
  "readSidecar() returns undefined, without reading it, when a FIFO is at the sidecar's path",
  { skip: !HAS_FIFOS && "no FIFOs" },
  async () => {
    await using dir = await tempDir();
    const { sidecar } = partialPaths(dir.join("file.tar.gz"));
    await using _fifo = fifoAt(sidecar, JSON.stringify(SIDECAR));
    assert.equal(readSidecar(sidecar), undefined);
  },
);

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
    // Sources, when listed, are URLs.
    { ...SIDECAR, sources: "https://example.com/file.tar.gz" },
    { ...SIDECAR, sources: [SIDECAR.url, 1] },
    { ...SIDECAR, sources: null },
    // Validators, when listed, are by source.
    { ...SIDECAR, validators: ['"abc123"'] },
    { ...SIDECAR, validators: { [SIDECAR.url]: 1 } },
    { ...SIDECAR, validators: null },
    // An ETag marked weak (by W/, or the w/ an older version took as
    // strong) proves no version of the rest.
    { ...SIDECAR, validator: 'W/"abc123"' },
    { ...SIDECAR, validator: 'w/"abc123"' },
    { ...SIDECAR, validators: { [SIDECAR.url]: 'w/"abc123"' } },
    // Version 4 names the digest its spliced bytes are for.
    { ...SIDECAR, version: 4 },
    { ...SIDECAR, version: 4, digest: 1 },
    { ...SIDECAR, version: 4, digest: "sha256-x", ranges: [[0, 2 ** 40]] },
    { ...SIDECAR, version: 5, digest: "sha256-x" },
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

test("writerState() says a released writer is dead, even one of a running process", () => {
  const mine = { ...SIDECAR, writer: "mine-1", owner: thisProcess() };
  startWriter("mine-1");
  try {
    assert.equal(writerState(mine), "alive");
    assert.equal(writerState({ ...mine, released: true }), "dead");
  } finally {
    endWriter("mine-1");
  }
  assert.equal(writerState(mine), "dead");
});
