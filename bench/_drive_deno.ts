// One contender of `bench/bench.ts`, on Deno: downloads every URL of a list
// with a pool of workers, either through this library (`DownloadManager`) or
// through a plain `fetch` piped to a file (the hand-written baselines: `fetch`
// writes each file under its own name, `rename` under a temporary name that
// is renamed to its own once complete, the least a downloader that never
// leaves a half-written file under its final name does). Prints nothing on
// success; exits non-zero on the first error.
//
//   deno run --allow-net=127.0.0.1 --allow-read --allow-write \
//     bench/_drive_deno.ts lib|fetch|rename LIST OUTDIR CONCURRENCY [CHUNK_SIZE|OPTIONS]
//
// LIST has one "URL NAME" pair per line; each URL is saved as OUTDIR/NAME.
// With CHUNK_SIZE (a number), the library's downloads are `Download`s with
// that `chunkSize`. With OPTIONS (a JSON object, e.g. '{"connections":8}'),
// they go through a `DownloadManager` given those options besides
// `concurrency`: options the library does not know are passed all the same,
// so that the bench can name an option before the library has it.

import { join } from "node:path";
import { Download, DownloadManager } from "../mod.ts";
import { pool, runLibrary } from "./_drive_lib.mjs";

const [mode, listPath, outDir, concurrencyArg, extra] = Deno.args;
if (
  (mode !== "lib" && mode !== "fetch" && mode !== "rename") ||
  listPath === undefined ||
  outDir === undefined || concurrencyArg === undefined
) {
  console.error(
    "usage: _drive_deno.ts lib|fetch|rename LIST OUTDIR CONCURRENCY [CHUNK_SIZE|OPTIONS]",
  );
  Deno.exit(2);
}
const entries = (await Deno.readTextFile(listPath)).split("\n")
  .filter((line) => line !== "")
  .map((line) => line.split(" ") as [string, string]);

if (mode === "lib") {
  await runLibrary(
    { Download, DownloadManager },
    entries,
    outDir,
    concurrencyArg,
    extra,
  );
} else {
  await pool(
    entries,
    Number(concurrencyArg),
    async ([url, name]: [string, string]) => {
      const response = await fetch(url);
      if (!response.ok || response.body === null) {
        throw new Error(`GET ${url}: ${response.status}`);
      }
      const path = join(outDir, name);
      const written = mode === "rename" ? join(outDir, `.${name}.part`) : path;
      const file = await Deno.open(written, { write: true, createNew: true });
      await response.body.pipeTo(file.writable); // closes the file
      if (written !== path) await Deno.rename(written, path);
    },
  );
}
