// What both drivers (`_drive_deno.ts`, `_drive_node.mjs`) do with the
// library: download every "URL NAME" entry into OUTDIR with a pool of
// `concurrency` workers, as `Download`s with a `chunkSize`, or through one
// `DownloadManager` given `options`. Plain JavaScript, so that Node runs it
// as it is and Deno imports it.
// deno-lint-ignore-file explicit-function-return-type explicit-module-boundary-types

import { join } from "node:path";

/** Runs `work` over `items` with at most `concurrency` at a time. */
export async function pool(items, concurrency, work) {
  let next = 0;
  async function worker() {
    while (next < items.length) await work(items[next++]);
  }
  const workers = Math.min(concurrency, items.length);
  await Promise.all(Array.from({ length: workers }, worker));
}

/**
 * Downloads `entries` ([URL, NAME] pairs) into `outDir` with the library
 * `lib` (its `Download` and `DownloadManager`) and `concurrency` workers:
 * with `extra` a number (CHUNK_SIZE), as `Download`s with that `chunkSize`;
 * else through a manager given `extra`'s JSON options (OPTIONS), if any.
 */
export async function runLibrary(lib, entries, outDir, concurrencyArg, extra) {
  const concurrency = Number(concurrencyArg);
  const chunkSize = extra === undefined || extra.startsWith("{")
    ? undefined
    : Number(extra);
  const options = extra?.startsWith("{") ? JSON.parse(extra) : {};
  if (chunkSize !== undefined) {
    await pool(entries, concurrency, async ([url, name]) => {
      const download = new lib.Download(url, join(outDir, name), {
        chunkSize,
      });
      download.start();
      await download.wait();
    });
    return;
  }
  const manager = new lib.DownloadManager(outDir, { ...options, concurrency });
  await pool(entries, concurrency, async ([url, name]) => {
    const download = manager.download(url, { fname: name });
    if (download === null) throw new Error(`${name} is already there`);
    await download.wait();
  });
  await manager.wait();
}
