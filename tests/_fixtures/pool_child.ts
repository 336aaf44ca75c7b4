// A child process for the connection-count test: one DownloadManager with
// concurrency CONCURRENCY that downloads COUNT files, `URL?0` to
// `URL?COUNT-1`, into DIR, as a pool of as many callers (as the bench
// drives it: each starts its next download once its last one ended), then
// prints "done". Its own process, so that no server shares its event loop
// (whose work would give the runtime's pool its turn: see `pool_turn.ts`).
//
//   pool_child URL COUNT CONCURRENCY DIR

import process from "node:process";
import { DownloadManager } from "../../mod.ts";

const [url = "", count = "0", concurrency = "1", dir = ""] = process.argv
  .slice(2);
const manager = new DownloadManager(dir, {
  concurrency: Number(concurrency),
});
let next = 0;
async function caller(): Promise<void> {
  while (next < Number(count)) {
    const i = next++;
    const download = manager.download(`${url}?${i}`, { fname: `f${i}` });
    if (download === null) throw new Error(`f${i} is already there`);
    await download.wait();
  }
}
// No top-level await: the npm build runs this as CommonJS too.
Promise.all(Array.from({ length: Number(concurrency) }, caller))
  .then(() => manager.wait())
  .then(() => console.log("done"));
