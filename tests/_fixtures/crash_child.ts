// A child process for the crash-resume test: downloads argv[2] into argv[3]
// with 4 KiB writes, printing each progress report, until it is killed.

import process from "node:process";
import { Download } from "../../mod.ts";

const [url, dest] = process.argv.slice(-2) as [string, string];
const download = new Download(url, dest, {
  chunkSize: 4096,
  progress: (_download, current) => process.stdout.write(`${current}\n`),
});
download.start();
// No top-level await: the npm build runs this file as CommonJS too.
download.wait().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
