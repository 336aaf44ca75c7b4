// One contender of `bench/bench.ts`, on Deno: downloads every URL of a list
// with a pool of workers, either through this library (`DownloadManager`) or
// through a plain `fetch` piped to a file (the hand-written baseline). Prints
// nothing on success; exits non-zero on the first error.
//
//   deno run --allow-net=127.0.0.1 --allow-read --allow-write \
//     bench/_drive_deno.ts lib|fetch LIST OUTDIR CONCURRENCY [CHUNK_SIZE|OPTIONS]
//
// LIST has one "URL NAME" pair per line; each URL is saved as OUTDIR/NAME.
// With CHUNK_SIZE (a number), the library's downloads are `Download`s with
// that `chunkSize`. With OPTIONS (a JSON object, e.g. '{"connections":8}'),
// they go through a `DownloadManager` given those options besides
// `concurrency`: options the library does not know are passed all the same,
// so that the bench can name an option before the library has it.

import { join } from "node:path";
import { Download, DownloadManager } from "../mod.ts";

const [mode, listPath, outDir, concurrencyArg, extra] = Deno.args;
const chunkSizeArg = extra?.startsWith("{") ? undefined : extra;
const options = extra?.startsWith("{")
  ? JSON.parse(extra) as Record<string, unknown>
  : {};
if (
  (mode !== "lib" && mode !== "fetch") || listPath === undefined ||
  outDir === undefined || concurrencyArg === undefined
) {
  console.error(
    "usage: _drive_deno.ts lib|fetch LIST OUTDIR CONCURRENCY [CHUNK_SIZE|OPTIONS]",
  );
  Deno.exit(2);
}
const entries = (await Deno.readTextFile(listPath)).split("\n")
  .filter((line) => line !== "")
  .map((line) => line.split(" ") as [string, string]);

/** Runs `work` over `items` with at most `concurrency` at a time. */
async function pool<T>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) await work(items[next++] as T);
  }
  const workers = Math.min(concurrency, items.length);
  await Promise.all(Array.from({ length: workers }, worker));
}

if (mode === "lib" && chunkSizeArg !== undefined) {
  const chunkSize = Number(chunkSizeArg);
  await pool(entries, Number(concurrencyArg), async ([url, name]) => {
    const download = new Download(url, join(outDir, name), { chunkSize });
    download.start();
    await download.wait();
  });
} else if (mode === "lib") {
  const manager = new DownloadManager(outDir, {
    ...options,
    concurrency: Number(concurrencyArg),
  });
  await pool(entries, Number(concurrencyArg), async ([url, name]) => {
    const download = manager.download(url, { fname: name });
    if (download === null) throw new Error(`${name} is already there`);
    await download.wait();
  });
  await manager.wait();
} else {
  await pool(entries, Number(concurrencyArg), async ([url, name]) => {
    const response = await fetch(url);
    if (!response.ok || response.body === null) {
      throw new Error(`GET ${url}: ${response.status}`);
    }
    const file = await Deno.open(join(outDir, name), {
      write: true,
      createNew: true,
    });
    await response.body.pipeTo(file.writable); // closes the file
  });
}
