// A child process for the multi-process fuzz (tests/download_shared_fuzz_test.ts):
// one DownloadManager in DIR, under a PersistLimit if CONFIG names one, that
// downloads each job of CONFIG at once (the manager queues them). It prints
// "started", then for each job, as it goes: "progress <name> <bytes>",
// "state <name> <state>" at each change of state, and its end: "end <name>
// present" (there already), "end <name> skipped" (another process downloaded
// it meanwhile), "end <name> done", or "end <name> failed <error's name>
// <message>"; then "wait ok" or "wait failed <error's name> <message>" (the
// manager's `wait()`, its bookkeeping and eviction included), and "exit".
//
//   fuzz_child DIR CONFIG
//
// CONFIG (JSON): { jobs: [{ url, name, connections }], limit: [sizeLimit,
// fileLimit] | null, options: the manager's transfer options }.

import process from "node:process";
import {
  type Download,
  DownloadManager,
  type DownloadManagerOptions,
  PersistLimit,
} from "../../mod.ts";

interface Config {
  jobs: { url: string; name: string; connections: 1 | 2 | 4 | "auto" }[];
  limit: [number, number] | null;
  options: DownloadManagerOptions;
}

const [dir = "", config = "{}"] = process.argv.slice(2);
const { jobs, limit, options } = JSON.parse(config) as Config;
const manager = new DownloadManager(dir, {
  ...options,
  persistLimit: limit === null
    ? null
    : new PersistLimit(limit[0], { fileLimit: limit[1] }),
});
const say = (line: string): boolean => process.stdout.write(`${line}\n`);
const oneLine = (error: unknown): string =>
  `${(error as Error)?.name} ${String(error).replaceAll("\n", " ")}`;

say("started");
const ends: Promise<void>[] = [];
for (const { url, name, connections } of jobs) {
  const download: Download | null = manager.download(url, {
    fname: name,
    connections,
    progress: (_download, current) => say(`progress ${name} ${current}`),
    onStateChange: (_download, state) => say(`state ${name} ${state}`),
  });
  if (download === null) {
    say(`end ${name} present`);
    continue;
  }
  ends.push(
    download.wait().then(
      () => say(`end ${name} ${download.skipped ? "skipped" : "done"}`),
      (error) => say(`end ${name} failed ${oneLine(error)}`),
    ).then(() => {}),
  );
}
// No top-level await: the npm build runs this file as CommonJS too.
Promise.all(ends).then(() => manager.wait()).then(
  () => say("wait ok"),
  (error) => say(`wait failed ${oneLine(error)}`),
).then(() => say("exit"));
