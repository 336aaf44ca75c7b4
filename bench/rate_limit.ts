// How closely a bandwidth limit is kept: one download, one over 4
// connections, and 4 downloads sharing a manager's limit, each against a
// local server that sends as fast as it can. The bytes on disk are sampled
// at every progress report; the rate over every 5 s window from the first
// second on (sliding by 100 ms) is compared with the limit. Prints the worst
// windows, as a ratio of the limit.
//
//   deno run -A bench/rate_limit.ts [MiB/s] [seconds]

import { createServer } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Download, DownloadManager } from "../mod.ts";

const MiB = 1024 * 1024;
const [rateText = "4", secondsText = "15"] = Deno.args;
const rate = Number(rateText) * MiB;
const seconds = Number(secondsText);
const WINDOW = 5000;

// A file long enough to outlast the run; served with ranges and a validator.
const size = Math.ceil(rate * (seconds + 2));
const body = new Uint8Array(size).fill(1);
const server = createServer((request, response) => {
  const match = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? "");
  const start = match ? Number(match[1]) : 0;
  const end = match?.[2] ? Number(match[2]) + 1 : size;
  response.writeHead(match ? 206 : 200, {
    "content-length": end - start,
    "accept-ranges": "bytes",
    etag: '"r"',
    ...(match ? { "content-range": `bytes ${start}-${end - 1}/${size}` } : {}),
  });
  response.end(body.subarray(start, end));
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address() as { port: number };
const url = (path: string) => `http://127.0.0.1:${port}${path}`;

/** Follows `downloads`' bytes on disk until `seconds` pass, then cancels. */
async function follow(downloads: Download[]): Promise<[number, number][]> {
  const samples: [number, number][] = [];
  const current = new Map<Download, number>();
  const start = performance.now();
  for (const download of downloads) {
    download.addEventListener("progress", ({ current: bytes }) => {
      current.set(download, bytes);
      let sum = 0;
      for (const value of current.values()) sum += value;
      samples.push([performance.now() - start, sum]);
    });
  }
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  for (const download of downloads) download.cancel();
  await Promise.allSettled(downloads.map((d) => d.wait()));
  return samples;
}

/** The bytes on disk at `time`: the last sample at or before it. */
function at(samples: [number, number][], time: number): number {
  let bytes = 0;
  for (const [t, b] of samples) {
    if (t > time) break;
    bytes = b;
  }
  return bytes;
}

function report(name: string, samples: [number, number][]): void {
  const ratios: number[] = [];
  for (let t = 1000; t + WINDOW <= seconds * 1000; t += 100) {
    const bytes = at(samples, t + WINDOW) - at(samples, t);
    ratios.push(bytes / (rate * WINDOW / 1000));
  }
  const min = Math.min(...ratios);
  const max = Math.max(...ratios);
  console.log(
    `${name.padEnd(34)} ${ratios.length} windows of 5 s: ` +
      `${min.toFixed(3)}x to ${max.toFixed(3)}x the limit`,
  );
}

const dir = mkdtempSync(join(tmpdir(), "dlmanager-rate-"));
try {
  console.log(`limit ${rateText} MiB/s, ${seconds} s each`);
  const one = new Download(url("/one"), join(dir, "one"), { rateLimit: rate });
  one.start();
  report("one download", await follow([one]));
  const four = new Download(url("/four"), join(dir, "four"), {
    rateLimit: rate,
    connections: 4,
  });
  four.start();
  report("one download, 4 connections", await follow([four]));
  const manager = new DownloadManager(join(dir, "m"), { rateLimit: rate });
  const shared = ["/a", "/b", "/c", "/d"].map((path) =>
    manager.download(url(path)) as Download
  );
  report("4 downloads sharing a manager", await follow(shared));
} finally {
  server.close();
  rmSync(dir, { recursive: true, force: true });
}
