import assert from "node:assert/strict";
import { test } from "node:test";
import { Download } from "../mod.ts";
import { DownloadQueue } from "../src/_queue.ts";
import { tempDir } from "./_helpers/temp_dir.ts";

test("DownloadQueue.release() drops a download canceled in the queue while no slot is free", async () => {
  // No slot ever frees here: a manager whose slots a big file holds for
  // hours must not keep each download queued and canceled meanwhile.
  await using dir = await tempDir();
  const queue = new DownloadQueue(0);
  const downloads = ["a", "b", "c"].map((name) =>
    new Download(`http://127.0.0.1:1/${name}`, dir.join(name))
  );
  for (const download of downloads) queue.add(download, false);
  assert.deepEqual(downloads.map((download) => download.state), [
    "queued",
    "queued",
    "queued",
  ]);
  assert.equal(queue.waiting, 3);
  for (const download of downloads.slice(0, 2)) {
    download.cancel();
    queue.release(download); // what the manager does as it ends
  }
  assert.equal(queue.waiting, 1);
  // One paused in the queue keeps its place.
  void downloads[2]?.pause();
  queue.release(downloads[2] as Download);
  assert.equal(queue.waiting, 1);
  downloads[2]?.cancel();
  queue.release(downloads[2] as Download);
  assert.equal(queue.waiting, 0);
});
