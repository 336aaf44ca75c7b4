// One contender of `bench/bench.ts`, on Node: downloads every URL of a list
// with a pool of workers, either through this library's Node build
// (`DownloadManager`) or through a plain `fetch` piped to a file (the
// hand-written baselines: `fetch` writes each file under its own name,
// `rename` under a temporary name that is renamed to its own once complete).
// Prints nothing on success; exits non-zero on the first error.
//
//   node bench/_drive_node.mjs fetch|rename LIST OUTDIR CONCURRENCY
//   node bench/_drive_node.mjs lib LIST OUTDIR CONCURRENCY path/to/esm/mod.js [CHUNK_SIZE|OPTIONS]
//
// LIST has one "URL NAME" pair per line; each URL is saved as OUTDIR/NAME.
// With CHUNK_SIZE (a number), the library's downloads are `Download`s with
// that `chunkSize`. With OPTIONS (a JSON object, e.g. '{"connections":8}'),
// they go through a `DownloadManager` given those options besides
// `concurrency`: options the library does not know are passed all the same,
// so that the bench can name an option before the library has it.

import { createWriteStream } from "node:fs";
import { readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import { pool, runLibrary } from "./_drive_lib.mjs";

const [mode, listPath, outDir, concurrencyArg, libPath, extra] = process.argv
  .slice(2);
if (
  !(mode === "fetch" || mode === "rename" ||
    (mode === "lib" && libPath !== undefined)) ||
  listPath === undefined || outDir === undefined || concurrencyArg === undefined
) {
  console.error(
    "usage: _drive_node.mjs lib|fetch|rename LIST OUTDIR CONCURRENCY [LIB [CHUNK_SIZE|OPTIONS]]",
  );
  process.exit(2);
}
const entries = (await readFile(listPath, "utf8")).split("\n")
  .filter((line) => line !== "")
  .map((line) => line.split(" "));

if (mode === "lib") {
  await runLibrary(
    await import(pathToFileURL(libPath).href),
    entries,
    outDir,
    concurrencyArg,
    extra,
  );
} else {
  await pool(entries, Number(concurrencyArg), async ([url, name]) => {
    const response = await fetch(url);
    if (!response.ok || response.body === null) {
      throw new Error(`GET ${url}: ${response.status}`);
    }
    const path = join(outDir, name);
    const written = mode === "rename" ? join(outDir, `.${name}.part`) : path;
    await pipeline(
      Readable.fromWeb(response.body),
      createWriteStream(written, { flags: "wx" }),
    );
    if (written !== path) await rename(written, path);
  });
}
