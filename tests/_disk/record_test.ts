import assert from "node:assert/strict";
import { readdir, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import { test } from "node:test";
import {
  type CacheRecord,
  readRecord,
  RECORD_VERSION,
  recordPath,
  removeRecord,
  writeRecord,
} from "../../src/_disk/record.ts";
import { isReservedName } from "../../src/_disk/names.ts";
import { fifoAt, HAS_FIFOS } from "../_helpers/fifo.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

const URL_F = "https://example.com/f";
const FACTS = { size: 5, mtime: 1_800_000_000_123 };
const RECORD: CacheRecord = {
  version: RECORD_VERSION,
  url: URL_F,
  validator: '"v"',
  checked: 1_800_000_000_500,
  ...FACTS,
};

test("recordPath() is a reserved name beside the file", () => {
  const name = basename(recordPath("/d/latest.json"));
  assert.match(name, /^\.latest\.json\.[0-9a-f]{12}\.dlpart\.record$/);
  assert.ok(isReservedName(name));
});

test("writeRecord() writes atomically, leaving only the record, which readRecord() reads back", async () => {
  await using dir = await tempDir();
  await writeRecord(dir.join("f"), RECORD);
  await writeRecord(dir.join("f"), { ...RECORD, validator: '"w"' });
  assert.deepEqual(await readdir(dir.path), [basename(recordPath("f"))]);
  assert.deepEqual(readRecord(dir.join("f"), URL_F, FACTS), {
    ...RECORD,
    validator: '"w"',
  });
});

test("readRecord() reads the source a mirror's record names, and a record without one", async () => {
  await using dir = await tempDir();
  const source = "https://mirror.example.net/f";
  await writeRecord(dir.join("f"), { ...RECORD, source });
  assert.equal(readRecord(dir.join("f"), URL_F, FACTS)?.source, source);
  // An older version's record, without the field: the URL's own.
  await writeRecord(dir.join("f"), RECORD);
  assert.equal(readRecord(dir.join("f"), URL_F, FACTS)?.source, undefined);
});

test("readRecord() disowns a record of another URL, size or modification time, and one it cannot read", async () => {
  await using dir = await tempDir();
  const dest = dir.join("f");
  assert.equal(readRecord(dest, URL_F, FACTS), undefined);
  await writeRecord(dest, RECORD);
  assert.equal(readRecord(dest, "https://example.com/g", FACTS), undefined);
  assert.equal(readRecord(dest, URL_F, { ...FACTS, size: 6 }), undefined);
  assert.equal(
    readRecord(dest, URL_F, { ...FACTS, mtime: FACTS.mtime + 2 }),
    undefined,
  );
  // A millisecond of slack, for file systems that round a time set.
  assert.ok(readRecord(dest, URL_F, { ...FACTS, mtime: FACTS.mtime + 1 }));
  // A source that is not a URL's string: not a record this version wrote.
  await writeRecord(dest, { ...RECORD, source: 7 as unknown as string });
  assert.equal(readRecord(dest, URL_F, FACTS), undefined);
  // A validator no header could carry (edited, corrupted): every request
  // with it would fail.
  for (const validator of ['"v\u0100"', '"v"\r\nx: y', '"v\u0000"']) {
    await writeRecord(dest, { ...RECORD, validator });
    assert.equal(readRecord(dest, URL_F, FACTS), undefined, validator);
  }
  for (const text of ["{", '{"version":2}', "null"]) {
    await writeFile(recordPath(dest), text);
    assert.equal(readRecord(dest, URL_F, FACTS), undefined);
  }
  await removeRecord(dest);
  await removeRecord(dest); // gone already: nothing to do
  assert.deepEqual(await readdir(dir.path), []);
});

test(
  "readRecord() returns undefined, without reading it, when a FIFO is at the record's path",
  { skip: !HAS_FIFOS && "no FIFOs" },
  async () => {
    await using dir = await tempDir();
    const dest = dir.join("f");
    await using _fifo = fifoAt(recordPath(dest), JSON.stringify(RECORD));
    assert.equal(readRecord(dest, URL_F, FACTS), undefined);
  },
);
