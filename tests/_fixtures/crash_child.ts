// A child process for the crash-resume tests: downloads URL into DEST,
// printing each progress report, until it is killed, or until it ends:
// "done", or "failed <error's name> <its code>". OPTIONS (JSON) are the
// Download's; without them, 4 KiB writes. URL may be a JSON array of URLs:
// the file's sources.
//
//   crash_child URL DEST [OPTIONS]

import process from "node:process";
import { Download, type DownloadOptions } from "../../mod.ts";

const [url = "", dest = "", options = '{"chunkSize":4096}'] = process.argv
  .slice(2);
const download = new Download(
  url.startsWith("[") ? JSON.parse(url) as string[] : url,
  dest,
  {
    ...JSON.parse(options) as DownloadOptions,
    progress: (_download, current) => process.stdout.write(`${current}\n`),
  },
);
download.start();
// No top-level await: the npm build runs this file as CommonJS too.
download.wait().then(
  () => process.stdout.write("done\n"),
  (error) => {
    process.stdout.write(`failed ${error.name} ${error.code}\n`);
    console.error(error);
    process.exitCode = 1;
  },
);
