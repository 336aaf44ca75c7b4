// The README's main job, runnable with no internet: starts a local HTTP
// server on 127.0.0.1, downloads a few files into a directory through
// DownloadManager with a progress callback, and prints what it did.
//
//   deno task example [directory]     (default: a new temp directory,
//                                      removed at the end)

import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Download,
  DownloadManager,
  HTTPError,
  PersistLimit,
} from "../mod.ts";

const files: Record<string, Uint8Array> = {
  "/releases/app-1.0.tar.gz": randomBytes(3 * 1024 * 1024),
  "/releases/app-1.1.tar.gz": randomBytes(5 * 1024 * 1024),
  "/data/measurements.csv": new TextEncoder().encode("t,value\n1,0.5\n2,0.7\n"),
};

function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, offset + 65536));
  }
  return bytes;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

const server = createServer((request, response) => {
  const body = files[new URL(request.url ?? "/", "http://x").pathname];
  if (body === undefined) {
    response.writeHead(404).end();
    return;
  }
  response.writeHead(200, { "content-length": body.byteLength }).end(body);
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
console.log(`Serving ${Object.keys(files).length} files at ${base}`);

const given = process.argv[2];
const destdir = given ?? await mkdtemp(join(tmpdir(), "dlmanager-example-"));
const lastPercent = new Map<Download, number>();
function progress(
  download: Download,
  current: number,
  total: number | undefined,
): void {
  const percent = total ? Math.floor((current / total) * 100) : 100;
  // Report every 25 %, not every chunk.
  if (percent - (lastPercent.get(download) ?? -25) < 25 && current !== total) {
    return;
  }
  lastPercent.set(download, percent);
  console.log(
    `  ${download.getDest()}: ${current} / ${
      total ?? "?"
    } bytes (${percent} %)`,
  );
}

{
  await using manager = new DownloadManager(destdir, {
    persistLimit: new PersistLimit(100 * 1024 * 1024, { fileLimit: 5 }),
  });
  console.log(`Downloading into ${destdir}`);
  for (const path of Object.keys(files)) {
    manager.download(base + path, { progress });
  }
  manager.download(`${base}/missing.bin`);
  try {
    await manager.wait();
  } catch (error) {
    if (!(error instanceof HTTPError)) throw error;
    console.log(`  as expected, one failed: ${error.message}`);
  }
  const again = manager.download(base + "/releases/app-1.0.tar.gz");
  console.log(
    `Asking again for app-1.0.tar.gz: ${
      again === null ? "already there, skipped" : "downloading"
    }`,
  );
}

console.log("Result:");
let ok = true;
for (const [path, body] of Object.entries(files)) {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const got = new Uint8Array(await readFile(join(destdir, name)));
  const same = sha256(got) === sha256(body);
  ok &&= same;
  console.log(
    `  ${name}: ${got.byteLength} bytes, sha256 ${
      sha256(got).slice(0, 16)
    }... ${same ? "matches" : "DIFFERS"}`,
  );
}
server.close();
if (given === undefined) {
  // A directory of its own making: each run would leave 8 MiB behind.
  await rm(destdir, { recursive: true });
  console.log(`Removed ${destdir}`);
}
if (!ok) process.exit(1);
