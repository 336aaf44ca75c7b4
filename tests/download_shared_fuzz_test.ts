// Randomised runs of several processes sharing one managed directory: for
// each seed, a few files, each served by a fault-fuzz server
// (tests/_helpers/fuzz_server.ts), and 2 to 4 child processes
// (tests/_fixtures/fuzz_child.ts), each a DownloadManager under a
// PersistLimit (or none) downloading an overlapping set of them, one
// connection or segmented; some children are killed (SIGKILL: no cleanup
// runs) at a point keyed to an event (a progress report, a change of state)
// or to the bytes a server sent, never to a timer; some start only once
// another has ended. Then one last process downloads every file from the
// servers, faults off. Only invariants are asserted: every file there holds
// one of its versions' bytes, and nothing else is left (no partial file,
// sidecar, lock, owner file or takeover claim); bytes kept by a killed
// process are resumed, not fetched again (the server's byte count); a
// last eviction leaves the directory under its limit; and no download
// fails but with one of the library's errors, of a file whose server
// injected a fault.
//
// A fixed set of seeds runs with the suite. To hunt, give others:
//   FUZZ_SEEDS=0-499 deno test -A tests/download_shared_fuzz_test.ts
// FUZZ_VERBOSE=1 prints each seed's scenario and its children's lines.

import assert from "node:assert/strict";
import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { env } from "node:process";
import { test } from "node:test";
import { DownloadManager, PersistLimit } from "../mod.ts";
import { partialPaths } from "../src/_disk/names.ts";
import { readSidecar } from "../src/_disk/sidecar.ts";
import { type Child, startChild } from "./_helpers/child.ts";
import {
  drawValidator,
  type FuzzServer,
  type FuzzValidator,
  Prng,
  seedsToRun,
  startFuzzServer,
  TYPED_ERRORS,
} from "./_helpers/fuzz_server.ts";
import { patternBytes } from "./_helpers/server.ts";
import { tempDir } from "./_helpers/temp_dir.ts";

/** The seeds run with the suite (a few seconds in all). */
const CI_SEEDS = [0, 3];

const SIZES = [0, 1, 1000, 50_000, 200_000, 300_000, 600_000];

type Connections = 1 | 2 | 4 | "auto";

/** One file the servers serve. */
interface FileScenario {
  name: string;
  sizes: number[];
  validator: FuzzValidator;
  ranges: boolean;
  faultRate: number;
}

/** When a child is killed: the first of its events, or a server's count. */
type Kill =
  | { on: "progress"; file: number; at: number }
  | { on: "sent"; file: number; at: number }
  | { on: "state"; file: number; state: string };

interface ChildScenario {
  jobs: { file: number; connections: Connections }[];
  kill: Kill | undefined;
  /** The child whose end this one waits for before it starts, if any. */
  after: number | undefined;
}

interface Scenario {
  seed: number;
  files: FileScenario[];
  children: ChildScenario[];
  limit: [number, number] | null;
  chunkSize: number;
  retries: number;
  last: Connections[];
}

function draw(seed: number): Scenario {
  const prng = new Prng(seed * 6151 + 5);
  const connections = (): Connections =>
    prng.pick<Connections>([1, 1, 2, 4, "auto"]);
  const files = Array.from({ length: 2 + prng.below(4) }, (_, i) => {
    const first = prng.pick(SIZES);
    return {
      name: `f${i}`,
      sizes: prng.chance(0.2) ? [first, prng.pick(SIZES)] : [first],
      validator: drawValidator(prng),
      ranges: prng.chance(0.85),
      faultRate: prng.pick([0, 0, 0.1, 0.2, 0.35]),
    };
  });
  const children = Array.from({ length: 2 + prng.below(3) }, (_, i) => {
    const picked = files.map((_, file) => file).filter(() => prng.chance(0.6));
    const order = picked.length > 0 ? picked : [prng.below(files.length)];
    order.sort(() => prng.next() - 0.5);
    const file = prng.pick(order);
    const size = files[file]?.sizes[0] as number;
    const kills: (Kill | undefined)[] = [
      undefined,
      { on: "progress", file, at: Math.floor(prng.next() * size) },
      { on: "sent", file, at: Math.floor(prng.next() * size * 1.5) },
      { on: "state", file, state: prng.pick(["waiting", "done"]) },
    ];
    return {
      jobs: order.map((file) => ({ file, connections: connections() })),
      kill: prng.chance(0.5) ? prng.pick(kills) : undefined,
      after: i > 0 && prng.chance(0.3) ? prng.below(i) : undefined,
    };
  });
  const total = files.reduce((sum, file) => sum + Math.max(...file.sizes), 0);
  return {
    seed,
    files,
    children,
    limit: prng.chance(0.2) ? null : [
      Math.max(1, Math.floor(total * prng.pick([0.3, 0.6, 1.2]))),
      prng.pick([1, 2]),
    ],
    chunkSize: prng.pick([4096, 16_384]),
    retries: 4 + prng.below(3),
    last: files.map(connections),
  };
}

/** A child's run: its lines, and how it ended. */
interface Run {
  child: Child;
  killed: boolean;
  exited: number | string | null;
}

/** Every name in `dir` with the size of each file. */
async function sizesIn(dir: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (const name of await readdir(dir)) {
    sizes.set(name, (await stat(join(dir, name))).size);
  }
  return sizes;
}

/**
 * The bytes a partial download of `dir/name` keeps for the version with
 * `validator` (those its sidecar vouches for), if any.
 */
async function keptBytes(
  dir: string,
  name: string,
  validator: string | undefined,
): Promise<number> {
  const sidecar = readSidecar(partialPaths(join(dir, name)).sidecar);
  if (sidecar === undefined || sidecar.validator !== validator) return 0;
  if (sidecar.ranges !== undefined) {
    return sidecar.ranges.reduce((sum, [start, end]) => sum + end - start, 0);
  }
  return (await stat(join(dir, sidecar.partial)).catch(() => undefined))
    ?.size ?? 0;
}

/**
 * The takeover claims in `dir` of a killed child (cut short): each
 * group's, `.<name>.<hash>.dlpart`.
 */
async function cutShort(dir: string, runs: Run[]): Promise<string[]> {
  const killed = runs.filter((run) => run.killed).map((run) =>
    run.child.process.pid
  );
  const groups: string[] = [];
  for (const name of await readdir(dir)) {
    if (!name.endsWith(".lock.takeover")) continue;
    const { pid } = JSON.parse(await readFile(join(dir, name), "utf8"));
    if (killed.includes(pid)) {
      groups.push(name.slice(0, -".lock.takeover".length));
    }
  }
  return groups;
}

/** What each lock or owner file of `names` in `dir` holds (whose it is), for a failure. */
async function describe(dir: string, names: string[]): Promise<string> {
  const parts: string[] = [];
  for (const name of names) {
    if (!/\.(lock|owner)(\.|$)/.test(name)) continue;
    const text = await readFile(join(dir, name), "utf8").catch(String);
    parts.push(`${name}: ${text}`);
  }
  return parts.join("; ");
}

function startRun(
  dir: string,
  scenario: Scenario,
  servers: FuzzServer[],
  jobs: ChildScenario["jobs"],
): Child {
  return startChild("fuzz_child", [
    dir,
    JSON.stringify({
      jobs: jobs.map(({ file, connections }) => ({
        url: servers[file]?.urls[0],
        name: scenario.files[file]?.name,
        connections,
      })),
      limit: scenario.limit,
      options: {
        chunkSize: scenario.chunkSize,
        retries: scenario.retries,
        backoffBase: 1,
        backoffCap: 5,
        retryAfterCap: 20,
        // Short, for the servers' stalls: a stall is retried as any fault.
        connectTimeout: 500,
        idleTimeout: 500,
      },
    }),
  ]);
}

/** Resolves once `child` exits; a child that never does fails the seed. */
async function ended(child: Child, what: string): Promise<number | string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Not a timing assertion: a child that never ends would hang the run.
  const hung = new Promise<"hung">((resolve) => {
    timer = setTimeout(() => resolve("hung"), 90_000);
  });
  const how = await Promise.race([child.exited, hung]);
  clearTimeout(timer);
  if (how === "hung") {
    child.process.kill("SIGKILL");
    await child.exited;
    assert.fail(`${what} did not end: ${child.lines.slice(-5).join(" | ")}`);
  }
  return how ?? "none";
}

/** Runs the children, killing each at its point. */
async function runChildren(
  dir: string,
  scenario: Scenario,
  servers: FuzzServer[],
): Promise<Run[]> {
  const runs: Promise<Run>[] = [];
  for (const [index, plan] of scenario.children.entries()) {
    runs.push((async () => {
      if (plan.after !== undefined) await runs[plan.after];
      const child = startRun(dir, scenario, servers, plan.jobs);
      const run: Run = { child, killed: false, exited: null };
      const kill = (): void => {
        if (run.killed || child.process.exitCode !== null) return;
        run.killed = child.process.kill("SIGKILL");
      };
      const { kill: point } = plan;
      const name = point === undefined
        ? undefined
        : scenario.files[point.file]?.name;
      if (point?.on === "sent") {
        const server = servers[point.file] as FuzzServer;
        const from = server.sent();
        server.onSent((sent) => {
          if (sent - from >= point.at) kill();
        });
      } else if (point !== undefined) {
        child.onLine((line) => {
          const [kind, of, value] = line.split(" ");
          if (of !== name) return;
          if (
            point.on === "progress" && kind === "progress" &&
              Number(value) >= point.at ||
            point.on === "state" && kind === "state" && value === point.state
          ) {
            kill();
          }
        });
      }
      run.exited = await ended(child, `child ${index}`);
      return run;
    })());
  }
  // Every child ended before a failure of one is thrown: none goes on
  // writing into the directory as it is removed.
  return (await Promise.allSettled(runs)).map((settled) => {
    if (settled.status === "rejected") throw settled.reason;
    return settled.value;
  });
}

/** Asserts a child's lines: each failure a typed one, from a fault. */
function checkChild(
  run: Run,
  index: number,
  scenario: Scenario,
  servers: FuzzServer[],
): void {
  const where = `child ${index}`;
  if (!run.killed) {
    assert.equal(run.exited, 0, `${where} exited ${run.exited}`);
    assert.equal(run.child.lines.at(-1), "exit", `${where} ended`);
  }
  const typed = TYPED_ERRORS.map((type) => type.name);
  let failed = false;
  for (const line of run.child.lines) {
    const [kind, name, outcome, error] = line.split(" ");
    if (kind === "end" && outcome === "failed") {
      failed = true;
      assert.ok(typed.includes(error as string), `${where}: ${line}`);
      const file = scenario.files.findIndex((file) => file.name === name);
      assert.ok(
        servers[file]?.log.some((request) => request.answer !== "normal"),
        `${where} failed with no fault injected: ${line}`,
      );
    } else if (kind === "wait" && name === "failed") {
      assert.ok(failed, `${where}'s manager failed: ${line}`);
      assert.ok(typed.includes(outcome as string), `${where}: ${line}`);
    }
  }
}

async function runSeed(seed: number): Promise<void> {
  const scenario = draw(seed);
  const versions = scenario.files.map((file, i) =>
    file.sizes.map((size, version) => patternBytes(size, i * 31 + version))
  );
  const servers: FuzzServer[] = [];
  try {
    for (const [i, file] of scenario.files.entries()) {
      servers.push(
        await startFuzzServer(new Prng(seed * 104_729 + i), {
          versions: versions[i] as Uint8Array[],
          validator: file.validator,
          ranges: file.ranges,
          faultRate: file.faultRate,
          sources: 1,
          ownValidators: false,
          lag: 0,
        }),
      );
    }
    await using root = await tempDir();
    const dir = root.join("dl");
    await mkdir(dir);
    const runs = await runChildren(dir, scenario, servers);
    const context = (): string =>
      `seed ${seed}: ${JSON.stringify(scenario)}\n${
        runs.map((run, i) =>
          `child ${i} (pid ${run.child.process.pid}${
            run.killed ? ", killed" : ""
          }): ${
            run.child.lines.filter((line) => !line.startsWith("progress"))
              .join(" | ")
          }`
        ).join("\n")
      }`;
    try {
      runs.forEach((run, i) => checkChild(run, i, scenario, servers));
      // What the killed children kept, for the version served now.
      const present = await sizesIn(dir);
      const kept: number[] = [];
      for (const [i, file] of scenario.files.entries()) {
        const server = servers[i] as FuzzServer;
        kept.push(
          present.has(file.name) ? 0 : await keptBytes(
            dir,
            file.name,
            server.validator(),
          ),
        );
        server.faulty = false;
      }
      const before = servers.map((server) => server.sent());
      const last = startRun(
        dir,
        scenario,
        servers,
        scenario.last.map((connections, file) => ({ file, connections })),
      );
      assert.equal(await ended(last, "the last process"), 0);
      const lines = last.lines.filter((line) => !line.startsWith("progress"));
      if (env.FUZZ_VERBOSE) {
        console.error(`${context()}\nlast: ${lines.join(" | ")}`);
      }
      for (const file of scenario.files) {
        assert.ok(
          ["present", "skipped", "done"].some((end) =>
            lines.includes(`end ${file.name} ${end}`)
          ),
          `the last process's download of ${file.name}: ${lines.join(" | ")}`,
        );
      }
      assert.deepEqual(lines.slice(-2), ["wait ok", "exit"]);
      // Every file there holds one version; nothing else is left, but what
      // a child killed in the moment it took a lock over left (its claim,
      // and the partial file of the dead owner it took over from, which
      // no download finds, as it takes the lock as free): a leftover
      // cleanup removes it.
      const claimed = await cutShort(dir, runs);
      const isLeftover = (name: string, left: Map<string, number>): boolean =>
        !(name.endsWith(".dlpart.record") &&
          left.has(name.slice(1).replace(/\.[0-9a-f]{12}\.dlpart.*/, "")));
      const names = scenario.files.map((file) => file.name);
      const leftovers = (left: Map<string, number>): string[] =>
        [...left.keys()].filter((name) =>
          !names.includes(name) && isLeftover(name, left)
        );
      const found = leftovers(await sizesIn(dir));
      assert.deepEqual(
        found.filter((name) =>
          !claimed.some((group) => name.startsWith(group))
        ),
        [],
        `left behind (in ${found.join(", ")}): ${await describe(dir, found)}`,
      );
      if (found.length > 0) {
        await using cleanup = new DownloadManager(dir, { leftoverMaxAge: 0 });
        await cleanup.wait();
      }
      const left = await sizesIn(dir);
      assert.deepEqual(leftovers(left), [], "left after a leftover cleanup");
      for (const [name] of left) {
        const file = names.indexOf(name);
        if (file === -1) continue;
        const bytes = new Uint8Array(await readFile(join(dir, name)));
        assert.ok(
          versions[file]?.some((version) =>
            version.byteLength === bytes.byteLength &&
            version.every((byte, i) => byte === bytes[i])
          ),
          `${name} holds none of its versions (${bytes.byteLength} bytes)`,
        );
      }
      // Bytes kept were resumed: the server sent no more than the rest.
      for (const [i, file] of scenario.files.entries()) {
        const size = versions[i]?.[servers[i]?.version() ?? 0]?.byteLength ??
          0;
        const sent = (servers[i]?.sent() ?? 0) - (before[i] ?? 0);
        if ((kept[i] ?? 0) > 0 && file.ranges) {
          assert.ok(
            sent <= size - (kept[i] ?? 0),
            `${file.name}: ${
              kept[i]
            } bytes kept, ${sent} sent again of ${size}`,
          );
        }
      }
      // A last eviction leaves the directory under its limit.
      if (scenario.limit !== null) {
        const [sizeLimit, fileLimit] = scenario.limit;
        const limit = new PersistLimit(sizeLimit, { fileLimit });
        await limit.registerDirContent(dir);
        await limit.removeOldFiles();
        const files = [...(await sizesIn(dir))].filter(([name]) =>
          !name.startsWith(".")
        );
        const total = files.reduce((sum, [, size]) => sum + size, 0);
        assert.ok(
          files.length <= fileLimit || total < sizeLimit,
          `${files.length} files of ${total} bytes after eviction`,
        );
      }
    } catch (error) {
      if (error instanceof Error) error.message += `\n${context()}`;
      throw error;
    }
  } finally {
    await Promise.all(servers.map((server) => server[Symbol.asyncDispose]()));
  }
}

for (const seed of seedsToRun(CI_SEEDS)) {
  test(
    `DownloadManager processes sharing a directory keep its invariants under fault seed ${seed}`,
    { timeout: 120_000 },
    async () => {
      await runSeed(seed);
    },
  );
}
