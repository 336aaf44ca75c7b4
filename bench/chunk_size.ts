// Measures Download's throughput for several chunk sizes against a plain
// fetch piped to a file, to choose DEFAULT_CHUNK_SIZE. Prints MB/s (median of
// the runs; contenders interleaved).
//
//   deno run -A bench/chunk_size.ts [sizeMiB] [runs]

import { Download } from "../mod.ts";

const sizeMiB = Number(Deno.args[0] ?? 256);
const runs = Number(Deno.args[1] ?? 5);
const size = sizeMiB * 1024 * 1024;

const server = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-net=127.0.0.1",
    new URL("./_serve_bytes.ts", import.meta.url).pathname,
    String(size),
  ],
  stdout: "piped",
}).spawn();
const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
const port = Number((await reader.read()).value?.trim());
const url = `http://127.0.0.1:${port}/data`;
const dir = await Deno.makeTempDir();

async function plainFetch(dest: string): Promise<void> {
  const response = await fetch(url);
  const file = await Deno.open(dest, {
    write: true,
    create: true,
    truncate: true,
  });
  await response.body?.pipeTo(file.writable);
}

async function library(dest: string, chunkSize: number): Promise<void> {
  const download = new Download(url, dest, { chunkSize });
  download.start();
  await download.wait();
}

const contenders: [string, (dest: string) => Promise<void>][] = [
  ["fetch pipeTo file", plainFetch],
  ...[16, 64, 256, 1024, 4096].map((
    kib,
  ): [string, (dest: string) => Promise<void>] => [
    `Download chunkSize ${kib} KiB`,
    (dest) => library(dest, kib * 1024),
  ]),
];
const times = new Map<string, number[]>(contenders.map(([name]) => [name, []]));
for (let run = 0; run < runs; run++) {
  for (const [name, fn] of contenders) {
    const dest = `${dir}/out`;
    const start = performance.now();
    await fn(dest);
    times.get(name)?.push(performance.now() - start);
    if ((await Deno.stat(dest)).size !== size) {
      throw new Error(`${name}: wrong size`);
    }
    await Deno.remove(dest);
  }
}
console.log(
  `${sizeMiB} MiB from a local Deno.serve process, ${runs} runs, Deno ${Deno.version.deno}`,
);
for (const [name, list] of times) {
  const sorted = [...list].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  const mbs = (ms: number) => (size / 1e6 / (ms / 1000)).toFixed(0);
  console.log(
    `${name.padEnd(28)} median ${mbs(median)} MB/s (min ${
      mbs(sorted.at(-1) ?? 0)
    }, max ${mbs(sorted[0] ?? 0)})`,
  );
}
server.kill();
await Deno.remove(dir, { recursive: true });
