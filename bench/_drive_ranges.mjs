// One contender of `bench/bench.ts` for a single file on the modelled
// network: the runtime's own ceiling. The file in 16 ranges, fetched at once
// with the runtime's plain `fetch`, each body read to its end and dropped
// (as the curl "ceiling" writes to /dev/null): what any library built on
// that `fetch` could reach on this machine, before writing a byte. With FILE,
// each chunk is written instead at its offset in FILE, as it comes (one write
// in flight per range): what a library could reach that writes the file.
// Runs on Deno and Node as it is. Prints nothing on success; exits non-zero
// if a range is refused or comes back short.
//
//   deno run --allow-net bench/_drive_ranges.mjs URL
//   node bench/_drive_ranges.mjs URL [FILE]

import { open } from "node:fs/promises";
import process from "node:process";

const RANGES = 16;
const [url, path] = process.argv.slice(2);
if (url === undefined) {
  console.error("usage: _drive_ranges.mjs URL [FILE]");
  process.exit(2);
}
const head = await fetch(url, { method: "HEAD" });
const size = Number(head.headers.get("content-length"));
if (!head.ok || !(size > 0)) throw new Error(`HEAD ${url}: ${head.status}`);
const part = Math.ceil(size / RANGES);
const file = path === undefined ? undefined : await open(path, "wx");
await Promise.all(Array.from({ length: RANGES }, async (_, i) => {
  const start = i * part;
  const end = Math.min(size, start + part) - 1;
  const response = await fetch(url, {
    headers: { range: `bytes=${start}-${end}` },
  });
  if (response.status !== 206) {
    throw new Error(`range ${start}-${end}: ${response.status}`);
  }
  let read = 0;
  for await (const chunk of response.body) {
    await file?.write(chunk, 0, chunk.byteLength, start + read);
    read += chunk.byteLength;
  }
  if (read !== end - start + 1) {
    throw new Error(`range ${start}-${end}: ${read} bytes`);
  }
}));
await file?.close();
