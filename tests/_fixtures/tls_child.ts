// A child process for the HTTPS tests, which need an environment of their
// own (the authorities a runtime trusts besides its own are read at start,
// from DENO_CERT or NODE_EXTRA_CA_CERTS): downloads argv[2] into argv[3]
// with up to 2 retries, then prints `done`, or `failed <error name> <code>`
// and the error's message, and exits 1.

import process from "node:process";
import { Download } from "../../mod.ts";

const [url, dest] = process.argv.slice(2) as [string, string];
const download = new Download(url, dest, {
  retries: 2,
  backoffBase: 1,
  backoffCap: 1,
});
download.start();
// No top-level await: the npm build runs this file as CommonJS too.
download.wait({ raiseIfError: true }).then(
  () => console.log("done"),
  (error) => {
    console.log(`failed ${error?.name} ${error?.code}`);
    console.log(error?.message);
    process.exitCode = 1;
  },
);
