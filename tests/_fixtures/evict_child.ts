// A child process for the tests of a PersistLimit's eviction with no file
// descriptor to spare (EMFILE): one DownloadManager in DIR under a
// PersistLimit of LIMIT bytes that keeps at least 1 file, which registers
// the files in DIR (the test put there). It downloads URL as "b"; as "b" is
// done, before the manager registers it and evicts, the process takes every
// descriptor its `ulimit -n` allows (opened on /dev/null, until the system
// refuses one). Once the manager's work is done it closes them, and prints
// "exhausted true", "b <outcome>", "wait <outcome>" (the manager's
// `wait()`), and "names <the names in DIR>", then "end". An outcome is "ok"
// or "failed <code> <error>".
//
//   evict_child URL DIR LIMIT

import process from "node:process";
import { readdirSync } from "node:fs";
import {
  exhaustDescriptors,
  releaseDescriptors,
} from "../_helpers/descriptors.ts";
import { DownloadManager, PersistLimit } from "../../mod.ts";

const [url = "", dir = "", limit = "0"] = process.argv.slice(2);
const manager = new DownloadManager(dir, {
  persistLimit: new PersistLimit(Number(limit), { fileLimit: 1 }),
});
// Deno (2.9) sets its signal handling up on first need, with a socket pair,
// and panics if it gets none: set up before the process runs out.
process.on("SIGUSR2", () => {});

function failure(error: unknown): string {
  const code = (error as { code?: unknown }).code ?? "-";
  return `failed ${code} ${String(error).replaceAll("\n", " ")}`;
}

// No top-level await: the npm build runs this file as CommonJS too.
(async () => {
  // The files in DIR registered, with descriptors to spare.
  await manager.wait();
  let descriptors: number[] = [];
  const b = manager.download(url, {
    fname: "b",
    onStateChange: (_download, state) => {
      if (state === "done") descriptors = exhaustDescriptors();
    },
  });
  const outcome = await b?.wait().then(() => "ok", failure);
  const waited = await manager.wait().then(() => "ok", failure);
  releaseDescriptors(descriptors);
  const names = readdirSync(dir).sort().join(" ");
  process.stdout.write(
    `exhausted ${
      descriptors.length > 0
    }\nb ${outcome}\nwait ${waited}\nnames ${names}\nend\n`,
  );
})();
