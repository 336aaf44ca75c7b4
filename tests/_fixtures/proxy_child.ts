// A child process for the proxy tests, which need an environment of their own
// (the proxy variables are read per process): downloads argv[2] into argv[3]
// with argv[5] retries (default none: 0), `useEnvProxy` set to argv[4] when
// given (not empty), then prints
// `done`, or `failed <error name>` and the error's message, and exits 1.

import process from "node:process";
import { Download } from "../../mod.ts";

const [url, dest, useEnvProxy, retries] = process.argv.slice(2) as [
  string,
  string,
  string | undefined,
  string | undefined,
];
const download = new Download(url, dest, {
  retries: Number(retries ?? 0),
  backoffBase: 1,
  backoffCap: 1,
  ...(useEnvProxy === undefined || useEnvProxy === ""
    ? {}
    : { useEnvProxy: useEnvProxy === "true" }),
});
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
