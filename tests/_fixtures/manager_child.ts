// A child process for the multi-process tests: one DownloadManager that
// downloads URL into DIR with 4 KiB writes, printing "started", each progress
// report ("progress N"), "waiting <pid>" when it waits for another process's
// lock on the file, then "present" (there already), "skipped" (another
// process downloaded it meanwhile), "fresh" or "updated" (a revalidation's
// outcome), "done" or "failed <error>".
//
//   _manager_child URL DIR [LOCK_STALE_AFTER_MS] [REVALIDATE] [OPTIONS]
//
// REVALIDATE is "never" (the default), "always" or milliseconds. OPTIONS
// (JSON) are more of the manager's, given as they are: "connections", or
// "lockTimeout" (Infinity by default).

import process from "node:process";
import { DownloadManager } from "../../mod.ts";

const [
  url = "",
  dir = "",
  staleAfter = "60000",
  revalidate = "never",
  options = "{}",
] = process.argv.slice(2);
const manager = new DownloadManager(dir, {
  chunkSize: 4096,
  lockStaleAfter: Number(staleAfter),
  revalidate: revalidate === "never" || revalidate === "always"
    ? revalidate
    : Number(revalidate),
  ...JSON.parse(options) as { connections?: number; lockTimeout?: number },
});
const download = manager.download(url, {
  progress: (_download, current) =>
    process.stdout.write(`progress ${current}\n`),
  onStateChange: (download, state) => {
    if (state === "waiting") {
      process.stdout.write(`waiting ${download.lockHolder?.pid}\n`);
    }
  },
});
process.stdout.write("started\n");
// No top-level await: the npm build runs this file as CommonJS too.
manager.wait().then(
  () =>
    process.stdout.write(
      download === null
        ? "present\n"
        : download.skipped
        ? "skipped\n"
        : `${download.revalidation ?? "done"}\n`,
    ),
  (error) => {
    process.stdout.write(`failed ${error}\n`);
    process.exitCode = 1;
  },
);
