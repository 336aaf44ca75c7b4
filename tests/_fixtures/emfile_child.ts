// A child process for the tests of a process out of file descriptors
// (EMFILE): one DownloadManager, at unlimited concurrency, downloads
// BASE/f0 .. BASE/f<COUNT-1> into DIR (as f0 ...) with CONNECTIONS
// connections each and 4 KiB writes. Run under a low `ulimit -n`, with a
// server that holds every answer once some bytes are sent, the downloads
// that got their connections and files hold them, and the others fail for
// want of one, and clean up with none to spare. It prints "settled" once
// each download has written bytes or failed (the server may then go on),
// then one line per download, "ok <i>" or "failed <i> <code> <error>"
// (code: the error's `code`, or "-"), and "end".
//
//   emfile_child BASE DIR COUNT [CONNECTIONS]

import process from "node:process";
import { DownloadManager } from "../../mod.ts";

const [base = "", dir = "", count = "0", connections = "1"] = process.argv
  .slice(2);
const manager = new DownloadManager(dir, {
  concurrency: Infinity,
  chunkSize: 4096,
  connections: Number(connections),
});

process.stdout.write("started\n");
// Deno (2.9) sets its signal handling up on first need, with a socket pair,
// and panics if it gets none: set up before the process runs out.
process.on("SIGUSR2", () => {});

const settled = new Set<number>();
function settle(index: number): void {
  if (settled.has(index)) return;
  settled.add(index);
  if (settled.size === Number(count)) process.stdout.write("settled\n");
}

const waits: Promise<string>[] = [];
for (let i = 0; i < Number(count); i++) {
  const download = manager.download(`${base}/f${i}`, {
    fname: `f${i}`,
    progress: (_download, current) => {
      if (current > 0) settle(i);
    },
  });
  if (download === null) throw new Error(`f${i} is there already`);
  waits.push(
    download.wait().then(
      () => `ok ${i}`,
      (error) => {
        settle(i);
        const code = (error as { code?: unknown }).code ?? "-";
        return `failed ${i} ${code} ${String(error).replaceAll("\n", " ")}`;
      },
    ),
  );
}
// No top-level await: the npm build runs this file as CommonJS too.
Promise.all(waits).then((lines) => {
  for (const line of lines) process.stdout.write(`${line}\n`);
  // Its first error is a download's; one of its own bookkeeping (an
  // eviction) is told after.
  return manager.wait().catch(() => manager.wait());
}).then(
  () => process.stdout.write("end\n"),
  (error) => process.stdout.write(`manager failed ${error}\nend\n`),
);
