// One contender of `bench/bench.ts` for a single file on the modelled
// network, on Node: the file in the same 16 ranges as `_drive_ranges.mjs`,
// fetched at once, each chunk written at its offset in FILE as it comes (one
// write in flight per range), but through `node:http` instead of `fetch`:
// no WHATWG stream, and no copy of each chunk that Node's `fetch` makes.
// What a library could reach on Node that spoke HTTP/1.1 itself, beside what
// one on Node's `fetch` can ("written to the file, Node"). Prints nothing on
// success; exits non-zero if a range is refused or comes back short.
//
//   node bench/_drive_ranges_http.mjs URL FILE
// deno-lint-ignore-file explicit-function-return-type

import { close, open, write } from "node:fs";
import http from "node:http";
import process from "node:process";

const RANGES = 16;
const [url, path] = process.argv.slice(2);
if (url === undefined || path === undefined) {
  console.error("usage: _drive_ranges_http.mjs URL FILE");
  process.exit(2);
}

/** Runs one callback-style `node:fs` call as a promise. */
function call(start) {
  return new Promise((resolve, reject) => {
    start((error, value) => error ? reject(error) : resolve(value));
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: RANGES });

/** One request's answer (its body not read yet). */
function request(options) {
  return new Promise((resolve, reject) => {
    const asked = http.request(url, { agent, ...options }, resolve);
    asked.on("error", reject);
    asked.end();
  });
}

const head = await request({ method: "HEAD" });
head.resume();
const size = Number(head.headers["content-length"]);
if (head.statusCode !== 200 || !(size > 0)) {
  throw new Error(`HEAD ${url}: ${head.statusCode}`);
}
const part = Math.ceil(size / RANGES);
const fd = await call((done) => open(path, "wx", 0o666, done));
await Promise.all(Array.from({ length: RANGES }, async (_, i) => {
  const start = i * part;
  const end = Math.min(size, start + part) - 1;
  const response = await request({
    headers: { range: `bytes=${start}-${end}` },
  });
  if (response.statusCode !== 206) {
    throw new Error(`range ${start}-${end}: ${response.statusCode}`);
  }
  let at = start;
  for await (const chunk of response) {
    let written = 0;
    while (written < chunk.byteLength) {
      const count = await call((done) =>
        write(fd, chunk, written, chunk.byteLength - written, at, done)
      );
      written += count;
      at += count;
    }
  }
  if (at !== end + 1) {
    throw new Error(`range ${start}-${end}: ${at - start} bytes`);
  }
}));
await call((done) => close(fd, done));
agent.destroy();
