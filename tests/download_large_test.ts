// Downloads of files past 4 GiB, the library's daily work, without moving
// gigabytes: a download resumed from a sparse partial file left by a killed
// process (tests/_helpers/big_file.ts) is sent only the bytes past the offset
// under test, by a server whose bytes tell their offset.

import assert from "node:assert/strict";
import { open, stat } from "node:fs/promises";
import { test } from "node:test";
import { Download, DownloadInterrupt } from "../mod.ts";
import {
  GiB,
  leaveSparsePartial,
  virtualBytes,
  virtualFileRoute,
} from "./_helpers/big_file.ts";
import { startServer } from "./_helpers/server.ts";
import { tempDir } from "./_helpers/temp_dir.ts";

const ETAG = '"big-1"';
/** Past 2^32, by a part of a block. */
const TOTAL = 4 * GiB + 1024 * 1024 + 12_345;

test("Download with a digest, resumed past 4 GiB with every part on disk, stops hashing them at a cancel", async () => {
  // Every part on disk is a whole prefix, hashed before the server is asked
  // whether it is still the file: gigabytes of them, with progress telling
  // them on disk first. A cancel then ends the download at once, as
  // canceled, and not after reading them all, failed for the digest they
  // do not match.
  const { route, log } = virtualFileRoute(TOTAL, ETAG);
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  await leaveSparsePartial(dir.join("f"), {
    url: server.url("/f"),
    total: TOTAL,
    size: TOTAL,
    validator: ETAG,
    ranges: [[0, TOTAL]],
  });
  const reports: number[] = [];
  const download = new Download(server.url("/f"), dir.join("f"), {
    sha256: "0".repeat(64),
    progress: (self, current) => {
      reports.push(current);
      // Every part is on disk: the hash has begun.
      if (current === TOTAL) self.cancel();
    },
  });
  download.start();
  await assert.rejects(download.wait(), DownloadInterrupt);
  assert.equal(download.state, "canceled");
  assert.deepEqual(reports, [TOTAL]);
  assert.deepEqual(log.ranges, []);
  assert.deepEqual(await dir.list(), []);
});

/** Bytes `[start, end)` of the file at `path`. */
async function bytesOf(
  path: string,
  start: number,
  end: number,
): Promise<Uint8Array> {
  await using file = await open(path);
  const bytes = new Uint8Array(end - start);
  const { bytesRead } = await file.read(bytes, 0, bytes.byteLength, start);
  return bytes.subarray(0, bytesRead);
}

test("Download resumed past 4 GiB asks for the rest from there and appends it at its offset", async () => {
  const { route, log } = virtualFileRoute(TOTAL, ETAG);
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const from = TOTAL - 2 * 1024 * 1024 - 7;
  await leaveSparsePartial(dir.join("f"), {
    url: server.url("/f"),
    total: TOTAL,
    size: from,
    validator: ETAG,
  });
  const reports: [number, number | undefined][] = [];
  const download = new Download(server.url("/f"), dir.join("f"), {
    progress: (_d, current, total) => reports.push([current, total]),
  });
  download.start();
  await download.wait();
  assert.deepEqual(log.ranges, [`bytes=${from}-`]);
  assert.deepEqual(log.sent, [TOTAL - from]);
  assert.deepEqual(reports[0], [from, TOTAL]);
  assert.deepEqual(reports.at(-1), [TOTAL, TOTAL]);
  assert.equal(download.bytesWritten, TOTAL);
  assert.equal(download.total, TOTAL);
  assert.equal((await stat(dir.join("f"))).size, TOTAL);
  assert.deepEqual(
    await bytesOf(dir.join("f"), from - 5, TOTAL),
    new Uint8Array([...new Uint8Array(5), ...virtualBytes(from, TOTAL)]),
  );
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download with connections, resumed from parts past 4 GiB, writes each missing part at its offset", async () => {
  // Missing: a part across 2^32, and the file's last bytes.
  const { route, log } = virtualFileRoute(TOTAL, ETAG);
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const across: [number, number] = [
    4 * GiB - 1024 * 1024 - 3,
    4 * GiB + 256 * 1024 + 5,
  ];
  const last = TOTAL - 512 * 1024 - 11;
  await leaveSparsePartial(dir.join("f"), {
    url: server.url("/f"),
    total: TOTAL,
    size: last,
    validator: ETAG,
    ranges: [[0, across[0]], [across[1], last]],
  });
  const download = new Download(server.url("/f"), dir.join("f"), {
    connections: 4,
  });
  download.start();
  await download.wait();
  const missing: [number, number][] = [across, [last, TOTAL]];
  for (const [start, end] of missing) {
    assert.deepEqual(
      await bytesOf(dir.join("f"), start, end),
      virtualBytes(start, end),
      `bytes ${start}-${end - 1}`,
    );
  }
  assert.equal(
    log.sent.reduce((sum, sent) => sum + sent, 0),
    across[1] - across[0] + TOTAL - last,
  );
  assert.equal((await stat(dir.join("f"))).size, TOTAL);
  assert.deepEqual(await dir.list(), ["f"]);
});
