// Downloads of files past 4 GiB, the library's daily work, without moving
// gigabytes: a download resumed from a sparse partial file left by a killed
// process (tests/_helpers/big_file.ts) is sent only the bytes past the offset
// under test, by a server whose bytes tell their offset.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Download, DownloadInterrupt } from "../mod.ts";
import {
  GiB,
  leaveSparsePartial,
  virtualFileRoute,
} from "./_helpers/big_file.ts";
import { startServer } from "./_helpers/server.ts";
import { tempDir } from "./_helpers/temp_dir.ts";

const ETAG = '"big-1"';
/** Past 2^32, by a part of a block. */
const TOTAL = 4 * GiB + 1024 * 1024 + 12_345;

test("Download with a digest, resumed past 4 GiB with every part on disk, stops hashing them at a cancel", async () => {
  // The parts on disk are hashed at the end, gigabytes of them: a cancel
  // then ends the download at once, as canceled, and not after reading
  // them all, failed for the digest they do not match.
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
      // Every part is on disk: the hash is all that is left.
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
