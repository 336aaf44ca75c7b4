// A child process for the test of a proxy variable set after the first
// request (tests/_runtime/fetch_proxy_deno_test.ts): downloads argv[2] into
// argv[3], then sets HTTP_PROXY to argv[5] and downloads argv[2] again into
// argv[4]; prints `done`, or `failed <error name>` and the error's message,
// and exits 1.

import process from "node:process";
import { Download } from "../../mod.ts";

const [url, first, second, proxy] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
];

async function download(dest: string): Promise<void> {
  const download = new Download(url, dest, { retries: 0 });
  download.start();
  await download.wait({ raiseIfError: true });
}

// No top-level await: the npm build runs this file as CommonJS too.
download(first).then(() => {
  process.env.HTTP_PROXY = proxy;
  return download(second);
}).then(
  () => console.log("done"),
  (error) => {
    console.log(`failed ${error?.name}`);
    console.log(error?.message);
    process.exitCode = 1;
  },
);
