// 10,000 downloads of 4 KiB handed to one DownloadManager at once: its queue
// must keep sockets and files at `concurrency` and memory flat. Prints wall
// time, files/s and peak RSS (sampled, and the OS's maximum), and with
// `--v8-flags=--expose-gc` the heap left after a forced GC (the manager still
// held): compare it across file counts to see that nothing is kept per file.
//
//   deno run -A --v8-flags=--expose-gc bench/many_files.ts [files] [concurrency]

import process from "node:process";
import { DownloadManager } from "../mod.ts";

const files = Number(Deno.args[0] ?? 10_000);
const concurrency = Number(Deno.args[1] ?? 16);

const server = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-net=127.0.0.1",
    new URL("./_serve_bytes.ts", import.meta.url).pathname,
    "4096",
  ],
  stdout: "piped",
}).spawn();
const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
const port = Number((await reader.read()).value?.trim());
const dir = await Deno.makeTempDir();

let peak = 0;
const sampler = setInterval(() => {
  peak = Math.max(peak, Deno.memoryUsage().rss);
}, 20);
const start = performance.now();
const manager = new DownloadManager(dir, { concurrency });
for (let i = 0; i < files; i++) {
  manager.download(`http://127.0.0.1:${port}/f${i}`);
}
const queuedRss = Deno.memoryUsage().rss;
await manager.wait();
const seconds = (performance.now() - start) / 1000;
clearInterval(sampler);
let count = 0;
for await (const _ of Deno.readDir(dir)) count++;
console.log(
  `${files} files of 4 KiB, concurrency ${concurrency}, Deno ${Deno.version.deno}`,
);
console.log(
  `wall ${seconds.toFixed(2)} s, ${(files / seconds).toFixed(0)} files/s`,
);
console.log(
  `RSS after queueing all: ${(queuedRss / 1e6).toFixed(0)} MB; peak sampled ${
    (peak / 1e6).toFixed(0)
  } MB; max RSS ${(process.resourceUsage().maxRSS / 1e3).toFixed(0)} MB`,
);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc !== undefined) {
  gc();
  console.log(
    `heap after a forced GC: ${
      (Deno.memoryUsage().heapUsed / 1e6).toFixed(1)
    } MB (the manager, still held, keeps the paths it used)`,
  );
}
if (count !== files) throw new Error(`expected ${files} files, found ${count}`);
server.kill();
await Deno.remove(dir, { recursive: true });
