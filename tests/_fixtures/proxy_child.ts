// A child process for the proxy tests, which need an environment of their own
// (the proxy variables are read per process): downloads argv[2] into argv[3]
// with the options of argv[4] (JSON: `retries`, default 0, `useEnvProxy`,
// `connections`, `chunkSize`); prints `progress <current>` for each progress
// event and `retry <reason>` for each retry, then `done`, or
// `failed <error name>` and the error's message, and exits 1.

import process from "node:process";
import { Download, type DownloadOptions } from "../../mod.ts";

const [url, dest, options] = process.argv.slice(2) as [
  string,
  string,
  string | undefined,
];
const download = new Download(url, dest, {
  retries: 0,
  backoffBase: 1,
  backoffCap: 1,
  ...JSON.parse(options ?? "{}") as DownloadOptions,
});
download.addEventListener(
  "progress",
  ({ current }) => console.log(`progress ${current}`),
);
download.addEventListener(
  "retry",
  ({ reason }) => console.log(`retry ${reason}`),
);
download.start();
// No top-level await: the npm build runs this file as CommonJS too.
download.wait({ raiseIfError: true }).then(
  () => console.log("done"),
  (error) => {
    console.log(`failed ${error?.name}`);
    console.log(error?.message);
    process.exitCode = 1;
  },
);
