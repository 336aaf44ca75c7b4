// A child process for the multi-process tests: one DownloadManager that
// downloads argv URL into argv DIR with 4 KiB writes, printing "started",
// each progress report ("progress N"), then "skipped", "done" or "failed".

import process from "node:process";
import { DownloadManager } from "../mod.ts";

const [url, dir] = process.argv.slice(-2) as [string, string];
const manager = new DownloadManager(dir, {
  chunkSize: 4096,
  lockStaleAfter: 60_000,
});
const download = manager.download(url, {
  progress: (_download, current) =>
    process.stdout.write(`progress ${current}\n`),
});
process.stdout.write("started\n");
// No top-level await: the npm build runs this file as CommonJS too.
manager.wait().then(
  () => process.stdout.write(download?.skipped ? "skipped\n" : "done\n"),
  (error) => {
    process.stdout.write(`failed ${error}\n`);
    process.exitCode = 1;
  },
);
