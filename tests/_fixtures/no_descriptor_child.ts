// A child process for the tests of a download that takes its lock with no
// file descriptor to spare (EMFILE): one DownloadManager in DIR. With HOLD,
// it first starts downloading HOLD (as "held"), and waits for its first
// bytes on disk: its lock, and this process's owner file in DIR, are there
// then. It downloads URL (as "f") while the process holds every descriptor
// its `ulimit -n` allows (opened on /dev/null, until the system refuses
// one), closes them, and prints "failed <code> <name>: <message>" or "ok",
// and "names <the names in DIR>"; then downloads URL again with the same
// manager, and prints the same. Then "waiting", the end of "held" ("ok" or
// "failed ...") once the server lets it end, and "end".
//
// With --keep-paused, it starts downloading URL (as "f"), waits for its
// first bytes on disk and pauses it (its file closed, its lock held), and
// prints "paused"; then, once sent SIGUSR2 (the test has seen the paused
// connection closed: Bun closes it on its HTTP thread, maybe after the
// pause, which would free a descriptor the cancel then finds), holding
// every descriptor, cancels it with `keepPartial`, and prints
// its end, "kept <partialKept>" and the names; then "waiting", and once
// NEXT answers (the test has downloaded the file meanwhile, from another
// process, and removed it), downloads URL again, and prints its end, the
// names, and "end".
//
//   no_descriptor_child URL DIR [HOLD]
//   no_descriptor_child URL DIR --keep-paused NEXT

import process from "node:process";
import { readdirSync } from "node:fs";
import {
  exhaustDescriptors,
  releaseDescriptors,
} from "../_helpers/descriptors.ts";
import { type Download, DownloadManager } from "../../mod.ts";

const [url = "", dir = "", hold, next] = process.argv.slice(2);
const manager = new DownloadManager(dir, {
  concurrency: Infinity,
  chunkSize: 4096,
});
// Deno (2.9) sets its signal handling up on first need, with a socket pair,
// and panics if it gets none: set up before the process runs out. The
// signal lets --keep-paused go on.
let signalled: () => void = () => {};
const goOn = new Promise<void>((resolve) => signalled = resolve);
process.on("SIGUSR2", () => signalled());

async function outcome(download: Download | null): Promise<string> {
  if (download === null) return "there already";
  try {
    await download.wait();
    return "ok";
  } catch (error) {
    const code = (error as { code?: unknown }).code ?? "-";
    return `failed ${code} ${String(error).replaceAll("\n", " ")}`;
  }
}

function names(): string {
  return `names ${readdirSync(dir).sort().join(" ")}`;
}

/**
 * Downloads `url`, pauses it after its first bytes, and cancels it with
 * `keepPartial` out of descriptors; then, once `next` answers, downloads
 * it again (see the module comment).
 */
async function keepPaused(next: string): Promise<void> {
  let started: () => void = () => {};
  const bytes = new Promise<void>((resolve) => started = resolve);
  const download = manager.download(url, {
    fname: "f",
    progress: (_download, current) => {
      if (current > 0) started();
    },
  }) as Download;
  await bytes;
  await download.pause();
  process.stdout.write("paused\n");
  await goOn;
  const descriptors = exhaustDescriptors();
  download.cancel({ keepPartial: true });
  const first = await outcome(download);
  releaseDescriptors(descriptors);
  process.stdout.write(
    `${first}\nkept ${download.partialKept}\n${names()}\nwaiting\n`,
  );
  await (await fetch(next)).arrayBuffer();
  const second = await outcome(manager.download(url, { fname: "f" }));
  process.stdout.write(`${second}\n${names()}\nend\n`);
}

// No top-level await: the npm build runs this file as CommonJS too.
(async () => {
  if (hold === "--keep-paused") return await keepPaused(next ?? "");
  let held: Promise<string> | undefined;
  if (hold !== undefined) {
    let started: () => void = () => {};
    const bytes = new Promise<void>((resolve) => started = resolve);
    held = outcome(manager.download(hold, {
      fname: "held",
      progress: (_download, current) => {
        if (current > 0) started();
      },
    }));
    await Promise.race([bytes, held]);
  }
  const descriptors = exhaustDescriptors();
  const first = await outcome(manager.download(url, { fname: "f" }));
  releaseDescriptors(descriptors);
  process.stdout.write(`${first}\n${names()}\n`);
  const second = await outcome(manager.download(url, { fname: "f" }));
  process.stdout.write(`${second}\n${names()}\nwaiting\n`);
  if (held !== undefined) process.stdout.write(`${await held}\n`);
  await manager.wait().catch(() => {});
  process.stdout.write("end\n");
})();
