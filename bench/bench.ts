// The benchmark: this library against a plain `fetch` piped to a file, curl
// and aria2c, on data served from 127.0.0.1. Each contender runs as its own
// process under GNU time (wall, CPU seconds, peak RSS), interleaved within
// each round (A B C, then B C A, ...); every output file's sha256 is checked.
// Prints a table per workload and writes them as Markdown to bench/results/.
// The default (5 rounds of the three workloads) takes about 10 minutes on a
// 2-core machine.
//
//   deno task bench [--runs 5] [--only 1g,64k,4k] [--server auto|nginx|builtin]
//                   [--node-lib path/to/esm/mod.js] [--dir /tmp] [--out FILE]
//                   [--syscalls] [--chunk-sizes 65536,262144] [--no-install] [--keep]
//
// --chunk-sizes adds, for the 1 GiB file, dlmanager on each runtime with each
// given `chunkSize` (a `Download` with that option, not the manager): how
// DEFAULT_CHUNK_SIZE was chosen.
//
// --syscalls adds one run of each contender per workload under strace: the
// count and sizes of its writes to the downloaded files, and its syscalls per
// file. Figures from one run are the ones to compare: the machines this runs
// on are shared and noisy, so absolute numbers move between runs while the
// ratios within a run hold.

import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  markdownTable,
  type Row,
  type Sample,
  type Table,
  textTable,
  workloadTable,
} from "./_report.ts";
import {
  describeMachine,
  ensureTools,
  generateData,
  nodeLib,
  run,
  type Server,
  startBuiltin,
  startNginx,
  which,
  type Workload,
  WORKLOADS,
} from "./_setup.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "5" },
    only: { type: "string", default: Object.keys(WORKLOADS).join(",") },
    server: { type: "string", default: "auto" },
    "node-lib": { type: "string" },
    dir: { type: "string", default: tmpdir() },
    out: { type: "string" },
    syscalls: { type: "boolean", default: false },
    "chunk-sizes": { type: "string", default: "" },
    "no-install": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});
const runs = Number(flags.runs);
if (!Number.isInteger(runs) || runs < 1) {
  throw new RangeError(
    `--runs must be a positive integer, got "${flags.runs}"`,
  );
}
const only = flags.only.split(",").filter((id) => id !== "");
for (const id of only) {
  if (!(id in WORKLOADS)) {
    throw new RangeError(
      `--only: unknown workload "${id}" (known: ${
        Object.keys(WORKLOADS).join(", ")
      })`,
    );
  }
}
if (!["auto", "nginx", "builtin"].includes(flags.server)) {
  throw new RangeError(
    `--server must be auto, nginx or builtin, got "${flags.server}"`,
  );
}

const repo = dirname(dirname(fileURLToPath(import.meta.url)));
const bench = join(repo, "bench");
const started = new Date();
const stop = new AbortController();
const onSigint = (): void => stop.abort(new Error("interrupted"));
Deno.addSignalListener("SIGINT", onSigint);

/** Where a contender's run reads its inputs and writes its files. */
interface RunPaths {
  workload: Workload;
  /** "URL NAME" lines, for the drivers. */
  list: string;
  /** A curl config (`url`/`output` pairs). */
  curlConfig: string;
  /** An aria2c input file (URL, then `out=NAME`). */
  ariaInput: string;
  /** The directory to download into (exists, empty). */
  out: string;
}

/** One program in the comparison. */
interface Contender {
  id: string;
  /** Its name in the table, for this workload. */
  label(workload: Workload): string;
  /** Its plain-fetch baseline (for "÷ fetch"), if it runs on a JS runtime. */
  baseline?: string;
  /** Whether it takes part in this workload. */
  runsOn(workload: Workload): boolean;
  argv(paths: RunPaths): string[];
}

let nodeLibPath = "";
const denoRun = [
  Deno.execPath(),
  "run",
  "--allow-net=127.0.0.1",
  "--allow-read",
  "--allow-write",
  "--no-prompt",
];
const many = (workload: Workload): boolean => workload.files.length > 1;
const always = (): boolean => true;
const pool = (workload: Workload): string =>
  many(workload) ? `, pool of ${workload.concurrency}` : "";
const CONTENDERS: Contender[] = [
  {
    id: "lib-deno",
    label: (w) => `dlmanager, Deno${pool(w)}`,
    baseline: "fetch-deno",
    runsOn: always,
    argv: (
      p,
    ) => [
      ...denoRun,
      join(bench, "_drive_deno.ts"),
      "lib",
      p.list,
      p.out,
      String(p.workload.concurrency),
    ],
  },
  {
    id: "fetch-deno",
    label: (w) => `fetch → file, Deno${pool(w)}`,
    baseline: "fetch-deno",
    runsOn: always,
    argv: (
      p,
    ) => [
      ...denoRun,
      join(bench, "_drive_deno.ts"),
      "fetch",
      p.list,
      p.out,
      String(p.workload.concurrency),
    ],
  },
  {
    id: "lib-node",
    label: (w) => `dlmanager, Node${pool(w)}`,
    baseline: "fetch-node",
    runsOn: always,
    argv: (p) => [
      "node",
      join(bench, "_drive_node.mjs"),
      "lib",
      p.list,
      p.out,
      String(p.workload.concurrency),
      nodeLibPath,
    ],
  },
  {
    id: "fetch-node",
    label: (w) => `fetch → file, Node${pool(w)}`,
    baseline: "fetch-node",
    runsOn: always,
    argv: (
      p,
    ) => [
      "node",
      join(bench, "_drive_node.mjs"),
      "fetch",
      p.list,
      p.out,
      String(p.workload.concurrency),
    ],
  },
  {
    id: "curl",
    label: (w) => many(w) ? "curl, one at a time" : "curl",
    runsOn: always,
    argv: (
      p,
    ) => ["curl", "-sS", "--fail", "--output-dir", p.out, "-K", p.curlConfig],
  },
  {
    id: "curl-parallel",
    label: (w) => `curl --parallel --parallel-max ${w.concurrency}`,
    runsOn: many,
    argv: (p) => [
      "curl",
      "-sS",
      "--fail",
      "--parallel",
      "--parallel-max",
      String(p.workload.concurrency),
      "--output-dir",
      p.out,
      "-K",
      p.curlConfig,
    ],
  },
  {
    id: "aria2c",
    label: (w) => many(w) ? `aria2c -j ${w.concurrency} -i` : "aria2c -x1",
    runsOn: always,
    argv: (p) => [
      "aria2c",
      "-q",
      "-x1",
      "-j",
      String(p.workload.concurrency),
      "--file-allocation=none",
      "--allow-overwrite=true",
      "--auto-file-renaming=false",
      "-d",
      p.out,
      "-i",
      p.ariaInput,
    ],
  },
];

const single = (workload: Workload): boolean => !many(workload);
const libDeno = CONTENDERS.find((c) => c.id === "lib-deno") as Contender;
const libNode = CONTENDERS.find((c) => c.id === "lib-node") as Contender;
for (const size of flags["chunk-sizes"].split(",").filter((s) => s !== "")) {
  const chunkSize = Number(size);
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
    throw new RangeError(`--chunk-sizes: "${size}" is not a positive integer`);
  }
  const kib = `${chunkSize / 1024} KiB`;
  CONTENDERS.push({
    id: `lib-deno-${size}`,
    label: () => `dlmanager, Deno, chunkSize ${kib}`,
    baseline: "fetch-deno",
    runsOn: single,
    argv: (p) => [...libDeno.argv(p), size],
  }, {
    id: `lib-node-${size}`,
    label: () => `dlmanager, Node, chunkSize ${kib}`,
    baseline: "fetch-node",
    runsOn: single,
    argv: (p) => [...libNode.argv(p), size],
  });
}

/** Runs `argv` under GNU time; returns its figures, or throws with its stderr. */
async function measure(argv: string[]): Promise<Sample> {
  const timeFile = await Deno.makeTempFile({ prefix: "dlbench-time-" });
  try {
    const command = new Deno.Command("/usr/bin/time", {
      args: ["-f", "%U %S %M", "-o", timeFile, ...argv],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      signal: stop.signal,
    });
    const t0 = performance.now();
    const output = await command.output();
    const wall = (performance.now() - t0) / 1000;
    if (!output.success) {
      const stderr = new TextDecoder().decode(output.stderr).trim().split("\n")
        .slice(-3).join(" / ");
      throw new Error(`exit ${output.code}: ${stderr}`);
    }
    // GNU time's last line; a line before it says if the command was killed.
    const last =
      (await Deno.readTextFile(timeFile)).trim().split("\n").at(-1) ?? "";
    const [user, sys, rssKb] = last.split(" ").map(Number);
    return {
      wall,
      cpu: (user ?? NaN) + (sys ?? NaN),
      rss: (rssKb ?? NaN) * 1024,
    };
  } finally {
    await Deno.remove(timeFile).catch(() => {});
  }
}

const hashBuffer = new Uint8Array(4 * 1024 * 1024);

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  for (;;) {
    const n = await file.read(hashBuffer);
    if (n === null) break;
    hash.update(hashBuffer.subarray(0, n));
  }
  return hash.digest("hex");
}

/** Checks that `out` holds exactly the workload's files, each with its sha256. */
async function verify(out: string, workload: Workload): Promise<void> {
  const names = new Set<string>();
  for await (const entry of Deno.readDir(out)) names.add(entry.name);
  for (const file of workload.files) {
    if (!names.delete(file.name)) throw new Error(`${file.name} missing`);
    if (await sha256(join(out, file.name)) !== file.sha256) {
      throw new Error(`${file.name}: sha256 mismatch`);
    }
  }
  if (names.size > 0) {
    throw new Error(`unexpected files: ${[...names].slice(0, 3).join(", ")}`);
  }
}

async function writeInputs(
  work: string,
  server: Server,
  workload: Workload,
): Promise<Omit<RunPaths, "out">> {
  const urls = workload.files.map((
    file,
  ) => [`${server.base}${workload.id}/${file.name}`, file.name]);
  const list = join(work, `${workload.id}.list`);
  const curlConfig = join(work, `${workload.id}.curl`);
  const ariaInput = join(work, `${workload.id}.aria2`);
  await Deno.writeTextFile(
    list,
    urls.map(([url, name]) => `${url} ${name}\n`).join(""),
  );
  await Deno.writeTextFile(
    curlConfig,
    urls.map(([url, name]) => `url = "${url}"\noutput = "${name}"\n`).join(""),
  );
  await Deno.writeTextFile(
    ariaInput,
    urls.map(([url, name]) => `${url}\n  out=${name}\n`).join(""),
  );
  return { workload, list, curlConfig, ariaInput };
}

let outCount = 0;

/**
 * A new, empty directory for one run's files. Files of the many-files
 * workloads are left in place until the end: ext4 makes creating files right
 * after deleting thousands expensive (its inode allocator skips and re-reads
 * recently deleted inodes), which would time the previous run's cleanup.
 */
async function freshOut(
  outRoot: string,
  contender: Contender,
): Promise<string> {
  const out = join(outRoot, `${++outCount}-${contender.id}`);
  await Deno.mkdir(out, { recursive: true });
  return out;
}

async function cleanUp(out: string, workload: Workload): Promise<void> {
  if (workload.files.length === 1) {
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
}

/** One run of `contender`: measured, then verified. */
async function runOnce(
  contender: Contender,
  inputs: Omit<RunPaths, "out">,
  outRoot: string,
): Promise<Sample> {
  const out = await freshOut(outRoot, contender);
  try {
    // Write back the dirty pages earlier runs left (untimed): else a run pays
    // for its predecessor's writeback in kernel time, and as the order only
    // rotates, the same contender would always follow the same one.
    await run("sync", []);
    const sample = await measure(contender.argv({ ...inputs, out }));
    await verify(out, inputs.workload);
    return sample;
  } finally {
    await cleanUp(out, inputs.workload);
  }
}

/** What strace says of one run: writes to the downloaded files, and syscalls. */
async function traceOnce(
  contender: Contender,
  inputs: Omit<RunPaths, "out">,
  outRoot: string,
  work: string,
): Promise<string[]> {
  const counts = join(work, "strace-counts.txt");
  const writes = join(work, "strace-writes.txt");
  let out = await freshOut(outRoot, contender);
  try {
    await run("strace", [
      "-f",
      "-qq",
      "-c",
      "-o",
      counts,
      ...contender.argv({ ...inputs, out }),
    ]);
    await cleanUp(out, inputs.workload);
    out = await freshOut(outRoot, contender);
    await run("strace", [
      "-f",
      "-qq",
      "-y",
      "-s",
      "0",
      "-e",
      "trace=write,pwrite64,writev,pwritev,pwritev2",
      "-e",
      "signal=none",
      "-o",
      writes,
      ...contender.argv({ ...inputs, out }),
    ]);
  } finally {
    await cleanUp(out, inputs.workload);
  }
  const sizes = new Map<number, number>();
  let fileWrites = 0;
  // With -f a call can be split: "PID write(FD<path>, ... <unfinished ...>",
  // then "PID <... write resumed>...) = N". Keep the path per PID until then.
  const call = /^(\d+)\s+\w+\(\d+<([^>]*)>/;
  const result = /= (\d+)$/;
  const pending = new Map<string, string>();
  for (const line of (await Deno.readTextFile(writes)).split("\n")) {
    const started = call.exec(line);
    const pid = started?.[1] ?? line.split(/\s/, 1)[0] ?? "";
    const path = started?.[2] ?? pending.get(pid);
    if (line.endsWith("<unfinished ...>")) {
      if (path !== undefined) pending.set(pid, path);
      continue;
    }
    pending.delete(pid);
    const bytes = result.exec(line)?.[1];
    if (path === undefined || bytes === undefined || !path.startsWith(out)) {
      continue;
    }
    fileWrites++;
    const size = Number(bytes);
    sizes.set(size, (sizes.get(size) ?? 0) + 1);
  }
  const calls: [string, number][] = [];
  let total = 0;
  for (const line of (await Deno.readTextFile(counts)).split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || !/^\d/.test(fields[0] ?? "")) continue;
    const name = fields.at(-1) as string;
    const count = Number(fields[3]);
    if (name === "total") total = count;
    else calls.push([name, count]);
  }
  calls.sort((a, b) => b[1] - a[1]);
  const files = inputs.workload.files.length;
  const topSizes = [...sizes].sort((a, b) => b[1] - a[1]).slice(0, 3).map((
    [size, n],
  ) => `${n} of ${size} B`).join(", ");
  return [
    contender.label(inputs.workload),
    String(fileWrites),
    topSizes || "–",
    (total / files).toFixed(1),
    calls.slice(0, 6).map(([name, n]) => `${name} ${n}`).join(", "),
  ];
}

const work = await Deno.makeTempDir({
  dir: flags.dir,
  prefix: "dlmanager-bench-",
});
const notes: string[] = [];
let failed = false;
try {
  notes.push(...await ensureTools(!flags["no-install"]));
  for (const tool of ["curl", "aria2c", "/usr/bin/time"]) {
    if (await which(tool) === undefined) {
      throw new Error(`${tool} is required (run as root to have it installed)`);
    }
  }
  const machine = await describeMachine();

  console.log(`generating data in ${work} ...`);
  const workloads = await generateData(join(work, "data"), ["warm", ...only]);
  const warm = workloads.shift() as Workload;

  let server: Server;
  if (flags.server !== "builtin" && await which("nginx") !== undefined) {
    server = await startNginx(join(work, "data"), work);
  } else if (flags.server === "nginx") {
    throw new Error("--server nginx: nginx is not installed");
  } else {
    server = startBuiltin(join(work, "data"));
    notes.push(
      "nginx is not installed: serving with the built-in server instead",
    );
  }
  await using _server = server;
  console.log(`server: ${server.description} at ${server.base}`);

  const lib = await nodeLib(repo, work, flags["node-lib"]);
  nodeLibPath = lib.path;
  console.log(`dlmanager for Node: ${lib.how}`);

  const outRoot = join(work, "out");
  console.log("warm-up: each contender once on 8 small files (not timed)");
  const warmInputs = await writeInputs(work, server, warm);
  for (const contender of CONTENDERS) {
    await runOnce(contender, warmInputs, outRoot);
  }

  const sections: { workload: Workload; table: Table; trace?: Table }[] = [];
  for (const workload of workloads) {
    stop.signal.throwIfAborted();
    const inputs = await writeInputs(work, server, workload);
    const contenders = CONTENDERS.filter((c) => c.runsOn(workload));
    const rows: Row[] = contenders.map((c) => ({
      id: c.id,
      label: c.label(workload),
      baseline: c.baseline,
      samples: [],
      failures: [],
    }));
    console.log(
      `\n${workload.title}: ${runs} rounds of ${
        contenders.map((c) => c.id).join(" ")
      }`,
    );
    for (let round = 1; round <= runs; round++) {
      // Each round starts one contender later (A B C, B C A, C A B, ...): on
      // this kind of VM a run can be slowed by what the run before it left
      // in memory, so no contender always follows the same one.
      for (let k = 0; k < contenders.length; k++) {
        stop.signal.throwIfAborted();
        const i = (k + round - 1) % contenders.length;
        const contender = contenders[i] as Contender;
        const row = rows[i] as Row;
        try {
          const sample = await runOnce(contender, inputs, outRoot);
          row.samples.push({ ...sample, round });
          console.log(
            `  ${round}/${runs} ${contender.id.padEnd(14)} ${
              sample.wall.toFixed(2).padStart(7)
            } s  cpu ${sample.cpu.toFixed(2).padStart(6)} s  rss ${
              (sample.rss / 1e6).toFixed(0).padStart(5)
            } MB  sha256 ok`,
          );
        } catch (error) {
          stop.signal.throwIfAborted();
          failed = true;
          row.failures.push((error as Error).message);
          console.log(
            `  ${round}/${runs} ${contender.id.padEnd(14)} FAILED: ${
              (error as Error).message
            }`,
          );
        }
      }
    }
    const references: Record<string, string> = many(workload)
      ? { "÷ curl --parallel": "curl-parallel", "÷ aria2c": "aria2c" }
      : { "÷ curl": "curl", "÷ aria2c": "aria2c" };
    const table = workloadTable(
      rows,
      workload.bytes,
      workload.files.length,
      references,
    );
    let trace: Table | undefined;
    if (flags.syscalls) {
      console.log(`  tracing each contender once under strace ...`);
      const traced: string[][] = [];
      for (const contender of contenders) {
        traced.push(await traceOnce(contender, inputs, outRoot, work));
      }
      trace = {
        header: [
          "contender",
          "writes to the files",
          "most common sizes",
          "syscalls per file",
          "most frequent syscalls",
        ],
        rows: traced,
      };
    }
    console.log(`\n${workload.title}\n${textTable(table)}`);
    if (trace !== undefined) console.log(`\n${textTable(trace)}`);
    sections.push({ workload, table, ...(trace ? { trace } : {}) });
  }

  const commit =
    (await run("git", ["-C", repo, "rev-parse", "--short", "HEAD"]).catch(() =>
      "?"
    )).trim();
  const dirty = (await run("git", [
    "-C",
    repo,
    "status",
    "--porcelain",
    "--",
    "src",
    "mod.ts",
    "bench",
  ]).catch(() => ""))
    .trim() !== "";
  const fsType = (await run("df", ["-T", work]).catch(() =>
    ""
  )).split("\n")[1]?.split(/\s+/)[1] ?? "?";
  const md = [
    `# dlmanager benchmark, ${
      started.toISOString().slice(0, 16).replace("T", " ")
    } UTC`,
    "",
    `\`${["deno task bench", ...Deno.args].join(" ")}\`, at commit ${commit}${
      dirty ? " (with uncommitted changes)" : ""
    }.`,
    "",
    "| | |",
    "| --- | --- |",
    ...Object.entries(machine).map(([key, value]) =>
      `| ${key} | ${value} |`
    ),
    `| Server | ${server.description}, on 127.0.0.1 |`,
    `| dlmanager on Node | ${lib.how} |`,
    `| Files written to | ${flags.dir} (${fsType}) |`,
    "",
    `Each contender is its own process, timed from spawn to exit (start-up included) under GNU time for CPU (user + system) and peak RSS. ${runs} rounds after one untimed warm-up, contenders interleaved within each round, each round starting one contender later than the one before (A B C, B C A, ...), each run starting after a \`sync\` (untimed), so that none pays for the writeback of the files the one before it wrote; every downloaded file's sha256 is checked. MB = 10^6 bytes. Ratios divide the contender's throughput by the reference's (medians of this run): above 1x is faster; "÷ fetch, per round" divides the two runs of each round instead, and gives the median and range of those ratios, which one slow run moves less. "÷ fetch" is against the plain \`fetch\` piped to a file on the same runtime (Deno: \`response.body.pipeTo(file.writable)\`; Node: \`pipeline(Readable.fromWeb(response.body), createWriteStream(path))\`). For many files, dlmanager and the fetch baseline are fed by one worker pool of the stated size, and the manager's \`concurrency\` is set to it too; curl and aria2c get the same concurrency.`,
    ...notes.map((note) => `\nNote: ${note}.`),
    ...sections.flatMap(({ workload, table, trace }) => [
      "",
      `## ${workload.title}`,
      "",
      markdownTable(table),
      ...(trace
        ? ["", "Under strace (one run each):", "", markdownTable(trace)]
        : []),
    ]),
    "",
  ].join("\n");
  const outFile = flags.out ??
    join(
      bench,
      "results",
      `${
        started.toISOString().slice(0, 16).replaceAll(":", "").replace("T", "-")
      }.md`,
    );
  await Deno.mkdir(dirname(outFile), { recursive: true });
  await Deno.writeTextFile(outFile, md);
  console.log(`\nwritten to ${outFile}`);
} finally {
  Deno.removeSignalListener("SIGINT", onSigint);
  if (flags.keep) console.log(`kept ${work}`);
  else await Deno.remove(work, { recursive: true });
}
if (failed) {
  console.error("some runs failed (see above)");
  Deno.exitCode = 1;
}
