// The benchmark: this library against a plain `fetch` piped to a file, curl,
// wget, aria2c and axel, on data served by nginx from 127.0.0.1 or through a
// modelled network. Each contender runs as its own process under GNU time
// (wall, CPU seconds, peak RSS), interleaved within each round (each round
// in its own order); every output file's sha256 is checked, and nginx's access log
// tells how many connections and requests each run made. Prints a table per
// workload and writes them as Markdown to bench/results/. The default (5
// rounds of the three loopback workloads) takes about 10 minutes on a 2-core
// machine.
//
//   deno task bench [--runs 5] [--only 1g,64k,4k] [--server auto|nginx|builtin]
//                   [--node-lib path/to/esm/mod.js] [--dir /tmp] [--out FILE]
//                   [--syscalls] [--chunk-sizes 65536,262144] [--no-install] [--keep]
//                   [--lib-options '{"connections":8}' ...] [--baseline REF]
//                   [--delay-ms 20] [--mtu 1500] [--no-gso]
//                   [--contenders lib-deno,ceiling,...]
//   deno task bench:net       (= --only a,b,c8,c32,1g, as root)
//
// The network workloads (a, b, c8, c32; see WORKLOADS in _setup.ts) run the
// contenders in a network namespace whose only route to the server's is the
// delay line of _delay_line.c (20 ms each way, so 40 ms RTT), with nginx in
// the other namespace (its `limit_rate 20m` caps each connection for a). They
// need root (namespaces; tools are installed with apt-get when missing) and a
// kernel with network namespaces and TUN devices (no netem). Before timing,
// the bench measures the delay line without delay (its own ceiling) and pings
// through it (the RTT TCP sees). For single files, "ceiling" is the path's
// own ceiling in each round: 16 ranged transfers of the same file at once
// (curl --parallel to /dev/null). The namespaces and the delay line are
// removed at exit, on Ctrl-C too, and left-overs of a killed run at start.
//
// --baseline REF adds dlmanager as it was at the git revision REF, on each
// runtime, on every workload: a before/after of a change in one interleaved
// run (its "÷ fetch" ratios, round by round, are the figures to compare). REF
// is checked out into the run's temporary directory (git worktree); the
// drivers are this checkout's, importing that revision's library.
//
// --lib-options adds dlmanager on each runtime given those options (JSON, as
// the `DownloadManager`'s options; unknown ones are passed all the same), on
// every workload, beside dlmanager with its defaults.
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
  type Net,
  SERVER_IP,
  startNet,
  trackPid,
  untrackPid,
} from "./_netns.ts";
import {
  markdownTable,
  type Reference,
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
    "lib-options": { type: "string", multiple: true, default: [] },
    baseline: { type: "string" },
    "delay-ms": { type: "string", default: "20" },
    mtu: { type: "string", default: "1500" },
    "no-gso": { type: "boolean", default: false },
    contenders: { type: "string" },
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
// --contenders: only these (by id), for a quick look; the full table needs
// them all.
const chosen = flags.contenders === undefined
  ? undefined
  : new Set(flags.contenders.split(",").filter((id) => id !== ""));
const delayMs = Number(flags["delay-ms"]);
if (!(delayMs >= 0)) {
  throw new RangeError(
    `--delay-ms must be a number >= 0, got "${flags["delay-ms"]}"`,
  );
}
const mtu = Number(flags.mtu);
if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) {
  throw new RangeError(
    `--mtu must be an integer in 576..65535, got "${flags.mtu}"`,
  );
}
for (const options of flags["lib-options"]) {
  const parsed: unknown = JSON.parse(options);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new RangeError(`--lib-options must be a JSON object, got ${options}`);
  }
}
const needsNet = only.some((id) => WORKLOADS[id]?.net === true);
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
  /** The files' URLs and names. */
  urls: [url: string, name: string][];
  /** A curl config of 16 ranged transfers of the first file to /dev/null. */
  ceilingConfig: string;
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
  /**
   * Whether it writes no files (it is checked by the bytes the server sent,
   * which must be the workload's, instead of by the files' sha256).
   */
  discards?: boolean;
}

let nodeLibPath = "";
// The library at --baseline's revision: a worktree, and its build for Node.
let baselineRepo = "";
let baselineNodeLibPath = "";
const denoRun = [
  Deno.execPath(),
  "run",
  `--allow-net=127.0.0.1,${SERVER_IP}`,
  "--allow-read",
  "--allow-write",
  "--no-prompt",
];
const many = (workload: Workload): boolean => workload.files.length > 1;
const single = (workload: Workload): boolean => !many(workload);
const always = (): boolean => true;
const loopback = (workload: Workload): boolean => !workload.net;
/**
 * The order of `count` contenders in round `round`: a shuffle seeded by the
 * round (mulberry32), so a bench run can be repeated as it was.
 */
function roundOrder(count: number, round: number): number[] {
  let seed = round * 0x9e3779b9;
  const random = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

/** aria2c's arguments to download a run's input list into its directory. */
function ariaInto(p: RunPaths): string[] {
  return [
    "--file-allocation=none",
    "--allow-overwrite=true",
    "--auto-file-renaming=false",
    "-d",
    p.out,
    "-i",
    p.ariaInput,
  ];
}

// Single-file downloaders that split a file over several connections.
const splitting = (connections: number, extra: string[]): Contender => ({
  id: `aria2c-x${connections}`,
  label: () => `aria2c -x${connections} -s${connections} -k1M`,
  runsOn: single,
  argv: (p) => [
    "aria2c",
    "-q",
    `-x${connections}`,
    `-s${connections}`,
    "-k1M",
    ...extra,
    ...ariaInto(p),
  ],
});
/**
 * The argv of a hand-written baseline (`fetch` or `rename`) of the Deno or
 * Node driver, for a run's list, directory and pool.
 */
function baselineArgv(
  runtime: "deno" | "node",
  mode: "fetch" | "rename",
): (p: RunPaths) => string[] {
  const driver = runtime === "deno"
    ? [...denoRun, join(bench, "_drive_deno.ts")]
    : ["node", join(bench, "_drive_node.mjs")];
  return (p) => [
    ...driver,
    mode,
    p.list,
    p.out,
    String(p.workload.concurrency),
  ];
}
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
    // On the modelled network, for many files: the runtime's own ceiling
    // there (a single file's is the 16 ranges below).
    runsOn: (w) => loopback(w) || many(w),
    argv: baselineArgv("deno", "fetch"),
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
    // On the modelled network, for many files: the runtime's own ceiling
    // there (a single file's is the 16 ranges below).
    runsOn: (w) => loopback(w) || many(w),
    argv: baselineArgv("node", "fetch"),
  },
  // The least a downloader that never leaves a half-written file under its
  // final name does on top of the baselines above: write each file under a
  // temporary name, and rename it once complete. curl, wget and the
  // baselines above write under the final name.
  {
    id: "rename-deno",
    label: (w) => `fetch → file → rename, Deno${pool(w)}`,
    baseline: "fetch-deno",
    runsOn: many,
    argv: baselineArgv("deno", "rename"),
  },
  {
    id: "rename-node",
    label: (w) => `fetch → file → rename, Node${pool(w)}`,
    baseline: "fetch-node",
    runsOn: many,
    argv: baselineArgv("node", "rename"),
  },
  {
    id: "curl",
    label: (w) => many(w) ? "curl, one at a time" : "curl",
    // One at a time, 1,000 files take a minute at 40 ms RTT: loopback only.
    runsOn: (w) => single(w) || loopback(w),
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
    runsOn: (w) => many(w) || loopback(w),
    argv: (p) => [
      "aria2c",
      "-q",
      "-x1",
      "-j",
      String(p.workload.concurrency),
      ...ariaInto(p),
    ],
  },
  {
    id: "wget",
    label: () => "wget",
    runsOn: single,
    argv: (p) => [
      "wget",
      "-q",
      "-O",
      join(p.out, p.urls[0]?.[1] ?? ""),
      p.urls[0]?.[0] ?? "",
    ],
  },
  splitting(8, []),
  splitting(16, []),
  {
    id: "axel",
    label: () => "axel -n 8",
    runsOn: single,
    argv: (p) => [
      "axel",
      "-q",
      "-n",
      "8",
      "-o",
      join(p.out, p.urls[0]?.[1] ?? ""),
      p.urls[0]?.[0] ?? "",
    ],
  },
  {
    id: "ranges-deno",
    label: () => "fetch: 16 ranges at once, dropped, Deno (no file)",
    runsOn: (w) => single(w) && w.net,
    discards: true,
    argv: (
      p,
    ) => [...denoRun, join(bench, "_drive_ranges.mjs"), p.urls[0]?.[0] ?? ""],
  },
  {
    id: "ranges-node",
    label: () => "fetch: 16 ranges at once, dropped, Node (no file)",
    runsOn: (w) => single(w) && w.net,
    discards: true,
    argv: (
      p,
    ) => ["node", join(bench, "_drive_ranges.mjs"), p.urls[0]?.[0] ?? ""],
  },
  {
    id: "ranges-file-node",
    label: () => "fetch: 16 ranges at once, written to the file, Node",
    runsOn: (w) => single(w) && w.net,
    argv: (p) => [
      "node",
      join(bench, "_drive_ranges.mjs"),
      p.urls[0]?.[0] ?? "",
      join(p.out, p.urls[0]?.[1] ?? ""),
    ],
  },
  {
    id: "ranges-http-node",
    label: () => "node:http: 16 ranges at once, written to the file, Node",
    runsOn: (w) => single(w) && w.net,
    argv: (p) => [
      "node",
      join(bench, "_drive_ranges_http.mjs"),
      p.urls[0]?.[0] ?? "",
      join(p.out, p.urls[0]?.[1] ?? ""),
    ],
  },
  {
    id: "ceiling",
    label: () => "ceiling: 16 ranged transfers at once (curl --parallel)",
    runsOn: (w) => single(w) && w.net,
    discards: true,
    argv: (p) => [
      "curl",
      "--parallel",
      "--parallel-immediate",
      "--parallel-max",
      "16",
      "-K",
      p.ceilingConfig,
    ],
  },
];

const libDeno = CONTENDERS.find((c) => c.id === "lib-deno") as Contender;
const libNode = CONTENDERS.find((c) => c.id === "lib-node") as Contender;
for (const [i, options] of flags["lib-options"].entries()) {
  const shown = JSON.stringify(JSON.parse(options));
  CONTENDERS.push({
    id: `lib-deno-options-${i + 1}`,
    label: (w) => `dlmanager, Deno${pool(w)}, ${shown}`,
    baseline: "fetch-deno",
    runsOn: always,
    argv: (p) => [...libDeno.argv(p), shown],
  }, {
    id: `lib-node-options-${i + 1}`,
    label: (w) => `dlmanager, Node${pool(w)}, ${shown}`,
    baseline: "fetch-node",
    runsOn: always,
    argv: (p) => [...libNode.argv(p), shown],
  });
}
if (flags.baseline !== undefined) {
  const ref = flags.baseline;
  CONTENDERS.push({
    id: "lib-deno-baseline",
    label: (w) => `dlmanager @${ref}, Deno${pool(w)}`,
    baseline: "fetch-deno",
    runsOn: always,
    argv: (p) =>
      libDeno.argv(p).map((arg) =>
        arg === join(bench, "_drive_deno.ts")
          ? join(baselineRepo, "bench", "_drive_deno.ts")
          : arg
      ),
  }, {
    id: "lib-node-baseline",
    label: (w) => `dlmanager @${ref}, Node${pool(w)}`,
    baseline: "fetch-node",
    runsOn: always,
    argv: (p) =>
      libNode.argv(p).map((arg) =>
        arg === nodeLibPath ? baselineNodeLibPath : arg
      ),
  });
}
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
  if (argv.length === 0) throw new Error("nothing to run");
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
  ): [string, string] => [
    `${server.base}${workload.path.slice(1)}${file.name}`,
    file.name,
  ]);
  const list = join(work, `${workload.id}.list`);
  const curlConfig = join(work, `${workload.id}.curl`);
  const ariaInput = join(work, `${workload.id}.aria2`);
  const ceilingConfig = join(work, `${workload.id}.ceiling.curl`);
  // The ceiling: the first file in 16 ranges, each its own transfer (`next`
  // starts another), all at once with `--parallel`.
  const [first] = workload.files;
  const ranges = 16;
  const part = Math.ceil((first?.size ?? 0) / ranges);
  await Deno.writeTextFile(
    ceilingConfig,
    Array.from(
      { length: ranges },
      (_, i) =>
        `url = "${urls[0]?.[0]}"\nrange = "${i * part}-${
          Math.min((i + 1) * part, first?.size ?? 0) - 1
        }"\noutput = "/dev/null"\nsilent\nshow-error\nfail\n`,
    ).join("next\n"),
  );
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
  return { workload, urls, ceilingConfig, list, curlConfig, ariaInput };
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

/** Where the workloads are served, and how the client's side runs. */
interface Side {
  server: Server;
  /** The argv prefix of the client's network namespace, if any. */
  exec: string[];
}

/** The argv of `contender` for `inputs`, in the workload's network. */
function argvOf(
  contender: Contender,
  paths: RunPaths,
  sides: Map<boolean, Side>,
): string[] {
  return [
    ...(sides.get(paths.workload.net)?.exec ?? []),
    ...contender.argv(paths),
  ];
}

/** One run of `contender`: measured, then verified. */
async function runOnce(
  contender: Contender,
  inputs: Omit<RunPaths, "out">,
  outRoot: string,
  sides: Map<boolean, Side>,
): Promise<Sample> {
  const out = await freshOut(outRoot, contender);
  const server = sides.get(inputs.workload.net)?.server;
  try {
    // Write back the dirty pages earlier runs left (untimed): else a run pays
    // for its predecessor's writeback in kernel time.
    await run("sync", []);
    // What earlier runs left in the server's log is not this run's.
    await server?.served?.();
    const sample = await measure(argvOf(contender, { ...inputs, out }, sides));
    const served = await server?.served?.();
    if (served !== undefined) {
      sample.connections = served.connections;
      sample.requests = served.requests;
    }
    if (contender.discards) {
      if (served === undefined) throw new Error("the server cannot tell");
      if (served.bytes !== inputs.workload.bytes) {
        throw new Error(
          `the server sent ${served.bytes} bytes, not ${inputs.workload.bytes}`,
        );
      }
    } else {
      await verify(out, inputs.workload);
    }
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
  sides: Map<boolean, Side>,
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
      ...argvOf(contender, { ...inputs, out }, sides),
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
      ...argvOf(contender, { ...inputs, out }, sides),
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

/** The ratios a workload's table shows (see `workloadTable`). */
function referencesOf(
  workload: Workload,
): {
  references: Record<string, Reference>;
  perRound: Record<string, Reference>;
} {
  const best = ["aria2c-x8", "aria2c-x16", "axel"];
  if (workload.net && !many(workload)) {
    return {
      references: {
        "÷ ceiling": "ceiling",
        "÷ best of aria2c/axel": best,
        "÷ curl": "curl",
      },
      perRound: { "÷ ceiling": "ceiling", "÷ best of aria2c/axel": best },
    };
  }
  if (workload.net) {
    return {
      references: {
        "÷ curl --parallel": "curl-parallel",
        "÷ aria2c": "aria2c",
      },
      perRound: { "÷ curl --parallel": "curl-parallel" },
    };
  }
  if (!many(workload)) {
    return {
      references: {
        "÷ curl": "curl",
        "÷ aria2c": "aria2c",
        "÷ best of aria2c/axel": best,
      },
      perRound: {},
    };
  }
  return {
    references: { "÷ curl --parallel": "curl-parallel", "÷ aria2c": "aria2c" },
    perRound: {},
  };
}

async function uptime(): Promise<string> {
  return (await run("uptime", []).catch(() => "?")).trim().replace(/\s+/g, " ");
}

/** How the modelled network did: its setup, and what was measured of it. */
interface NetReport {
  rows: [string, string][];
}

/**
 * Measures the delay line itself: its options restarted without delay, the
 * ceiling transfer of `inputs` 3 times (the best is its ceiling here; its
 * own CPU seconds per GB too), then restarted as it was and pinged.
 */
async function measureNet(
  net: Net,
  inputs: Omit<RunPaths, "out"> | undefined,
  outRoot: string,
  sides: Map<boolean, Side>,
): Promise<NetReport> {
  const options = net.options;
  const rows: [string, string][] = [];
  const ceiling = CONTENDERS.find((c) => c.id === "ceiling") as Contender;
  for (const gso of inputs === undefined ? [] : [options.gso, !options.gso]) {
    await net.restart({ ...options, delayUs: 0, gso });
    const rates: number[] = [];
    let cpu = NaN;
    for (let i = 0; i < 3; i++) {
      const cpu0 = await net.cpuSeconds();
      const sample = await runOnce(
        ceiling,
        inputs as Omit<RunPaths, "out">,
        outRoot,
        sides,
      );
      const bytes = (inputs as Omit<RunPaths, "out">).workload.bytes;
      rates.push(bytes / 1e6 / sample.wall);
      cpu = (await net.cpuSeconds() - cpu0) / (bytes / 1e9);
    }
    const counters = await net.counters();
    const packets = counters.b_to_a.packets;
    const perPacket = packets === 0 ? NaN : counters.b_to_a.bytes / packets;
    rows.push([
      `Delay line without delay, ${gso ? "GSO" : "no GSO"}, MTU ${options.mtu}`,
      `${Math.max(...rates).toFixed(0)} MB/s (best of ${
        rates.map((r) => r.toFixed(0)).join(", ")
      }: the 16 ranged transfers of the ceiling, so the whole path on this machine; the delay line itself used ${
        cpu.toFixed(2)
      } CPU s per GB, so ${
        (1000 / cpu).toFixed(0)
      } MB/s if it had a core to itself; ${
        (perPacket / 1024).toFixed(1)
      } KiB per packet on average, ${counters.b_to_a.drops} dropped)`,
    ]);
    console.log(`  ${rows.at(-1)?.join(": ")}`);
  }
  await net.restart(options);
  const rtt = await net.ping(10);
  rows.push([
    "RTT through the delay line (ping -c 10)",
    `min ${rtt.min.toFixed(1)} / avg ${rtt.avg.toFixed(1)} / max ${
      rtt.max.toFixed(1)
    } ms, ${rtt.lost} of ${rtt.sent} lost`,
  ]);
  console.log(`  ${rows.at(-1)?.join(": ")}`);
  return { rows };
}

const work = await Deno.makeTempDir({
  dir: flags.dir,
  prefix: "dlmanager-bench-",
});
const notes: string[] = [];
let failed = false;
try {
  notes.push(...await ensureTools(!flags["no-install"], needsNet));
  for (const tool of ["curl", "aria2c", "/usr/bin/time"]) {
    if (await which(tool) === undefined) {
      throw new Error(`${tool} is required (run as root to have it installed)`);
    }
  }
  const machine = await describeMachine();
  const loadBefore = await uptime();

  console.log(`generating data in ${work} ...`);
  const warmIds = [
    ...(only.some((id) => !WORKLOADS[id]?.net) ? ["warm"] : []),
    ...(needsNet ? ["warm-net"] : []),
  ];
  const all = await generateData(join(work, "data"), [...warmIds, ...only]);
  const warms = all.splice(0, warmIds.length);
  const workloads = all;

  const sides = new Map<boolean, Side>();
  const serverRows: [string, string][] = [];
  await using stack = new AsyncDisposableStack();
  if (warms.some((w) => !w.net)) {
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
    stack.use(server);
    sides.set(false, { server, exec: [] });
    serverRows.push(["Server", `${server.description}, on 127.0.0.1`]);
    console.log(`server: ${server.description} at ${server.base}`);
  }
  let net: Net | undefined;
  if (needsNet) {
    if (await which("nginx") === undefined) {
      throw new Error("the network workloads need nginx");
    }
    net = stack.use(
      await startNet(bench, work, {
        delayUs: Math.round(delayMs * 1000),
        gso: !flags["no-gso"],
        mtu,
        queueMib: 128,
        fifo: 10,
      }),
    );
    const server = stack.use(
      await startNginx(join(work, "data"), work, {
        host: SERVER_IP,
        port: 80,
        exec: net.serverExec,
        onStart: trackPid,
        onExit: untrackPid,
      }),
    );
    sides.set(true, { server, exec: net.clientExec });
    console.log(`server: ${server.description} at ${server.base}`);
    serverRows.push(
      [
        "Server (network workloads)",
        `${server.description}, in the namespace dlbench-server; \`location /capped/\` has \`limit_rate 20m\``,
      ],
      [
        "Network",
        `namespaces dlbench-client and dlbench-server, joined by bench/_delay_line.c (TUN devices, ${
          net.options.gso ? "GSO segments through IFF_VNET_HDR" : "no GSO"
        }, MTU ${mtu}, txqueuelen 10000, FIFO queues of ${net.options.queueMib} MiB each way, running as SCHED_FIFO ${net.options.fifo}) with ${delayMs} ms one-way delay; no qdisc cap`,
      ],
      [
        "TCP in the namespaces",
        `${await net.sysctl(
          "net.ipv4.tcp_congestion_control",
        )}; tcp_rmem ${await net
          .sysctl("net.ipv4.tcp_rmem")}; tcp_wmem ${await net.sysctl(
            "net.ipv4.tcp_wmem",
          )}; tcp_slow_start_after_idle ${await net.sysctl(
            "net.ipv4.tcp_slow_start_after_idle",
          )}`,
      ],
    );
  }

  const lib = await nodeLib(repo, work, flags["node-lib"]);
  nodeLibPath = lib.path;
  console.log(`dlmanager for Node: ${lib.how}`);
  if (flags.baseline !== undefined) {
    baselineRepo = join(work, "baseline");
    await run("git", [
      "-C",
      repo,
      "worktree",
      "add",
      "--detach",
      baselineRepo,
      flags.baseline,
    ]);
    stack.defer(async () => {
      await run("git", [
        "-C",
        repo,
        "worktree",
        "remove",
        "--force",
        baselineRepo,
      ])
        .catch(() => {});
    });
    // This checkout's driver, importing that revision's library.
    for (const driver of ["_drive_deno.ts", "_drive_lib.mjs"]) {
      await Deno.copyFile(
        join(bench, driver),
        join(baselineRepo, "bench", driver),
      );
    }
    const base = await nodeLib(repo, join(work, "baseline-build"), undefined, {
      source: baselineRepo,
    });
    baselineNodeLibPath = base.path;
    const commit =
      (await run("git", ["-C", baselineRepo, "log", "-1", "--format=%h %s"]))
        .trim();
    notes.push(
      `"@${flags.baseline}" is the library at ${commit}, built the same way.`,
    );
  }

  const outRoot = join(work, "out");
  if (net !== undefined) {
    console.log(
      "measuring the delay line (no delay, with a single-file workload), then pinging through it",
    );
    const big = workloads.find((w) => w.net && !many(w));
    // Without the per-connection cap of `capped/`.
    const bigInputs = big === undefined
      ? undefined
      : await writeInputs(work, sides.get(true)?.server as Server, {
        ...big,
        id: `${big.id}-uncapped`,
        path: big.path.replace(/^\/capped\//, "/"),
      });
    serverRows.push(...(await measureNet(net, bigInputs, outRoot, sides)).rows);
  }
  console.log("warm-up: each contender once on 8 small files (not timed)");
  for (const warm of warms) {
    const side = sides.get(warm.net) as Side;
    const warmInputs = await writeInputs(work, side.server, warm);
    for (const contender of CONTENDERS.filter((c) => c.runsOn(warm))) {
      await runOnce(contender, warmInputs, outRoot, sides);
    }
  }

  const sections: { workload: Workload; table: Table; trace?: Table }[] = [];
  for (const workload of workloads) {
    stop.signal.throwIfAborted();
    const side = sides.get(workload.net) as Side;
    const inputs = await writeInputs(work, side.server, workload);
    const contenders = CONTENDERS.filter((c) =>
      c.runsOn(workload) && (chosen === undefined || chosen.has(c.id))
    );
    const present = new Set(contenders.map((c) => c.id));
    const rows: Row[] = contenders.map((c) => ({
      id: c.id,
      label: c.label(workload),
      baseline: c.baseline !== undefined && present.has(c.baseline)
        ? c.baseline
        : undefined,
      samples: [],
      failures: [],
    }));
    console.log(
      `\n${workload.title}: ${runs} rounds of ${
        contenders.map((c) => c.id).join(" ")
      }`,
    );
    for (let round = 1; round <= runs; round++) {
      // Each round in its own order (the same in every bench run): on this
      // kind of VM a run can be slowed by what the run before it left in
      // memory, so no contender always follows the same one. (A rotation,
      // A B C then B C A, keeps the neighbours: each follows the same one.)
      const order = roundOrder(contenders.length, round);
      for (let k = 0; k < contenders.length; k++) {
        stop.signal.throwIfAborted();
        const i = order[k] as number;
        const contender = contenders[i] as Contender;
        const row = rows[i] as Row;
        try {
          const sample = await runOnce(contender, inputs, outRoot, sides);
          row.samples.push({ ...sample, round });
          const rate = many(workload)
            ? `${(workload.files.length / sample.wall).toFixed(0)} files/s`
            : `${(workload.bytes / 1e6 / sample.wall).toFixed(0)} MB/s`;
          console.log(
            `  ${round}/${runs} ${contender.id.padEnd(18)} ${
              sample.wall.toFixed(2).padStart(7)
            } s ${rate.padStart(12)}  cpu ${
              sample.cpu.toFixed(2).padStart(6)
            } s  rss ${(sample.rss / 1e6).toFixed(0).padStart(5)} MB${
              sample.connections === undefined
                ? ""
                : `  ${sample.connections} conn ${sample.requests} req`
            }  ${contender.discards ? "bytes ok" : "sha256 ok"}`,
          );
        } catch (error) {
          stop.signal.throwIfAborted();
          failed = true;
          row.failures.push((error as Error).message);
          console.log(
            `  ${round}/${runs} ${contender.id.padEnd(18)} FAILED: ${
              (error as Error).message
            }`,
          );
        }
      }
    }
    const { references, perRound } = referencesOf(workload);
    const table = workloadTable(
      rows,
      workload.bytes,
      workload.files.length,
      references,
      perRound,
    );
    let trace: Table | undefined;
    if (flags.syscalls) {
      console.log(`  tracing each contender once under strace ...`);
      const traced: string[][] = [];
      for (const contender of contenders.filter((c) => !c.discards)) {
        traced.push(await traceOnce(contender, inputs, outRoot, work, sides));
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
  if (net !== undefined) {
    const counters = await net.counters();
    const directions = [
      ["client → server", counters.a_to_b],
      ["server → client", counters.b_to_a],
    ] as const;
    serverRows.push([
      "Delay line during the timed runs",
      directions.map(([name, c]) =>
        `${name}: ${
          (c.bytes / 1e9).toFixed(1)
        } GB in ${c.packets} packets, ${c.drops} dropped, ${c.write_errors} not written, at most ${
          (c.max_queued / 1e6).toFixed(1)
        } MB queued, passed on ${c.mean_late_us} µs late on average, ${c.late_over_1ms} more than 1 ms late (at most ${
          (c.max_late_us / 1000).toFixed(1)
        } ms)`
      ).join("; "),
    ]);
  }
  const loadAfter = await uptime();

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
  const minutes = (Date.now() - started.getTime()) / 60_000;
  const md = [
    `# dlmanager benchmark, ${
      started.toISOString().slice(0, 16).replace("T", " ")
    } UTC`,
    "",
    `\`${["deno task bench", ...Deno.args].join(" ")}\`, at commit ${commit}${
      dirty ? " (with uncommitted changes)" : ""
    }; the run took ${minutes.toFixed(0)} minutes.`,
    "",
    "| | |",
    "| --- | --- |",
    ...Object.entries(machine).map(([key, value]) =>
      `| ${key} | ${value} |`
    ),
    `| Load before (uptime) | ${loadBefore} |`,
    `| Load after (uptime) | ${loadAfter} |`,
    ...serverRows.map(([key, value]) =>
      `| ${key} | ${value.replaceAll("|", "\\|")} |`
    ),
    `| dlmanager on Node | ${lib.how} |`,
    `| Files written to | ${flags.dir} (${fsType}) |`,
    "",
    `Each contender is its own process, timed from spawn to exit (start-up included) under GNU time for CPU (user + system) and peak RSS. ${runs} rounds after one untimed warm-up, contenders interleaved within each round, each round in its own order (a shuffle seeded by the round, so that no contender always follows the same one), each run starting after a \`sync\` (untimed), so that none pays for the writeback of the files the one before it wrote; every downloaded file's sha256 is checked (the ceiling writes to /dev/null: the bytes nginx sent are checked instead). MB = 10^6 bytes. Ratios divide the contender's throughput by the reference's (medians of this run): above 1x is faster; "per round" ratios divide the runs of each round instead, and give the median and range of those ratios, which one slow run moves less; "best of" takes the fastest of those contenders (in each round, for per-round ratios). "÷ fetch" is against the plain \`fetch\` piped to a file on the same runtime (Deno: \`response.body.pipeTo(file.writable)\`; Node: \`pipeline(Readable.fromWeb(response.body), createWriteStream(path))\`). For many files, dlmanager and the fetch baseline are fed by one worker pool of the stated size, and the manager's \`concurrency\` is set to it too; curl and aria2c get the same concurrency. Connections and requests are what nginx's access log says of each run (medians).`,
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
