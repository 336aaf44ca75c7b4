// Randomised fault combinations: for each seed, a server whose every answer
// is drawn from the seed (served, cut, busy, busy for an hour, ignoring the
// Range, another range, a new version of the file, trickled, compressed:
// tests/_helpers/fuzz_server.ts) and a client drawn from it too (Download or
// DownloadManager, 1, 2, 4 or "auto" connections, one or two sources, a
// digest or not, a rate limit or not, a pause and resume or a cancel on a
// progress event). Only invariants are asserted, never timing: the download
// ends, done with exactly one version's bytes, or failed with one of the
// library's errors, or canceled; progress never passes the total and goes
// back only to 0 (a start over); nothing is left under the final name unless
// done, nor any partial file, sidecar or lock unless kept to be resumed (and
// then a clean run resumes it); nothing is written outside the directory.
//
// A fixed set of seeds runs with the suite. To hunt, give others:
//   FUZZ_SEEDS=0-1999 deno test -A tests/download_fuzz_test.ts
//   FUZZ_SEEDS=17,42 ...

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { env } from "node:process";
import { test } from "node:test";
import { Download, DownloadManager, type DownloadOptions } from "../mod.ts";
import {
  assertEndedWell,
  drawValidator,
  endsInTime,
  type FuzzServer,
  type FuzzValidator,
  Prng,
  seedsToRun,
  startFuzzServer,
  TYPED_ERRORS,
  waitEnded,
} from "./_helpers/fuzz_server.ts";
import { patternBytes } from "./_helpers/server.ts";
import { assertSameBytes } from "./_helpers/file_bytes.ts";
import { tempDir } from "./_helpers/temp_dir.ts";

/** The seeds run with the suite (a few seconds in all). */
const CI_SEEDS = Array.from({ length: 40 }, (_, i) => i);

/** The states a download ends in. */
const FINAL: string[] = ["done", "failed", "canceled"];

/** What a seed's client does on a progress event. */
type Step = "pause-resume" | "pause-cancel" | "cancel" | "cancel-keep";

/** Everything a seed decides. */
interface Scenario {
  seed: number;
  sizes: number[];
  validator: FuzzValidator;
  ranges: boolean;
  faultRate: number;
  manager: boolean;
  /** The names of the manager's other downloads of the file. */
  extras: string[];
  concurrency: number;
  perHost: number;
  connections: 1 | 2 | 4 | "auto";
  sources: number;
  ownValidators: boolean;
  lag: number;
  /** The source whose first version the digest names. */
  digestOf: number;
  digest: "none" | "sha256" | "integrity";
  rateLimit: number | undefined;
  chunkSize: number | undefined;
  retries: number;
  /** What it does, each on the first progress event past its point. */
  steps: Step[];
  /** The fraction of the file after which each step is taken. */
  stepsAt: number[];
}

const SIZES = [
  0,
  1,
  1000,
  100_000,
  300_000,
  262_144,
  262_145,
  2_097_152,
  2_097_153,
  2_200_000,
  3_500_000,
  3_500_000,
];

function draw(seed: number): Scenario {
  const prng = new Prng(seed * 7919 + 1);
  const first = prng.pick(SIZES);
  const sizes = [first];
  const versions = prng.below(3); // how many new versions it may change to
  for (let i = 0; i < versions; i++) {
    sizes.push(prng.chance(0.5) ? first : prng.pick(SIZES));
  }
  return {
    seed,
    sizes,
    validator: drawValidator(prng),
    ranges: prng.chance(0.85),
    faultRate: prng.pick([0, 0.15, 0.3, 0.45, 0.6]),
    manager: prng.chance(0.4),
    extras: ["g", "h"].slice(0, prng.pick([0, 0, 1, 2])),
    concurrency: prng.pick([1, 2, 6]),
    perHost: prng.pick([1, 2, 3, 16]),
    connections: prng.pick([1, 2, 4, "auto"] as const),
    sources: prng.chance(0.3) ? 2 : 1,
    ownValidators: prng.chance(0.5),
    lag: prng.pick([-1, 0, 0, 1]),
    digestOf: prng.below(2),
    digest: prng.pick(["none", "none", "sha256", "integrity"] as const),
    rateLimit: prng.chance(0.2)
      ? Math.max(64 * 1024, Math.max(...sizes) * 8)
      : undefined,
    chunkSize: prng.pick([undefined, undefined, 4096, 65_536]),
    retries: 4 + prng.below(3),
    ...drawSteps(prng),
  };
}

function drawSteps(prng: Prng): { steps: Step[]; stepsAt: number[] } {
  const steps: Step[] = [];
  const count = prng.pick([0, 0, 1, 1, 2, 3]);
  for (let i = 0; i < count; i++) {
    const step = prng.pick<Step>([
      "pause-resume",
      "pause-resume",
      "pause-cancel",
      "cancel",
      "cancel-keep",
    ]);
    steps.push(step);
    if (step !== "pause-resume") break;
  }
  // Sometimes at the last report: the whole file on disk.
  const stepsAt = steps.map(() => prng.chance(0.15) ? 1 : prng.next())
    .sort((a, b) => a - b);
  return { steps, stepsAt };
}

const bodies = new Map<string, Uint8Array>();
function bodyOf(size: number, version: number): Uint8Array {
  const key = `${size}/${version}`;
  let body = bodies.get(key);
  if (body === undefined) {
    body = patternBytes(size, version * 101 + 7);
    bodies.set(key, body);
  }
  return body;
}

interface Outcome {
  state: string;
  error: unknown;
  reports: [number, number | undefined][];
  partialKept: boolean;
  bytesWritten: number;
  paused: [number, number | undefined][];
  total: number | undefined;
  /** The manager's other downloads of the file. */
  extras: { name: string; state: string; error: unknown }[];
}

/** The size of the partial file of `dir/f`, if there is one. */
async function partialSize(dir: string): Promise<number | undefined> {
  const names = (await readdir(dir)).filter((name) =>
    /^\.f\.[0-9a-f]{12}\.dlpart\.[0-9a-f]{16}-\d+$/.test(name)
  );
  if (names.length !== 1) return undefined;
  return (await stat(`${dir}/${names[0]}`)).size;
}

/** One run of a download of `urls` into dir/f, with `action` on progress. */
async function runOnce(
  scenario: Scenario,
  dir: string,
  urls: string[],
  options: DownloadOptions,
  steps: Step[],
  stepsAt: number[],
): Promise<Outcome> {
  const reports: [number, number | undefined][] = [];
  let next = 0;
  let busy = false;
  let download: Download | undefined;
  let manager: DownloadManager | undefined;
  let actionDone: Promise<void> = Promise.resolve();
  // Set while a pause has resolved and no resume was asked for, and once
  // the download ended: no byte is written then.
  let still: string | undefined;
  const misreports: string[] = [];
  // Per pause: the bytes written, and the partial file's size on disk.
  const paused: [number, number | undefined][] = [];
  const progress = (d: Download, current: number, total?: number): void => {
    reports.push([current, total]);
    if (still !== undefined) misreports.push(`${current} ${still}`);
    const step = steps[next];
    if (busy || step === undefined || current < (stepsAt[next] as number)) {
      return;
    }
    next++;
    busy = true;
    const byManager = manager !== undefined && scenario.seed % 2 === 0;
    actionDone = (async () => {
      if (step === "pause-resume" || step === "pause-cancel") {
        if (byManager) await manager?.pause();
        else await d.pause();
        if (d.state === "paused") {
          still ??= "while paused";
          paused.push([d.bytesWritten, await partialSize(dir)]);
        }
        if (step === "pause-cancel") {
          d.cancel();
          // The manager's others, paused too, go on.
          if (byManager) manager?.resume();
        } else {
          if (still === "while paused") still = undefined;
          if (byManager) manager?.resume();
          else d.resume();
        }
      } else {
        d.cancel({ keepPartial: step === "cancel-keep" });
      }
      busy = false;
    })();
  };
  const all = { ...options, progress };
  const extras: Download[] = [];
  try {
    if (scenario.manager) {
      manager = new DownloadManager(dir, {
        ...options,
        concurrency: scenario.concurrency,
        maxConnectionsPerHost: scenario.perHost,
      });
      // Others of the same file first: the manager shares its slots and
      // connections between them.
      for (const name of scenario.extras) {
        const other = manager.download(
          urls.length === 1 ? urls[0] as string : urls,
          {
            fname: name,
            integrity: options.integrity,
            sha256: options.sha256,
            connections: options.connections,
            rateLimit: options.rateLimit,
          },
        );
        assert.ok(other !== null);
        extras.push(other);
      }
      const made = manager.download(
        urls.length === 1 ? urls[0] as string : urls,
        {
          fname: "f",
          progress,
          integrity: options.integrity,
          sha256: options.sha256,
          connections: options.connections,
          rateLimit: options.rateLimit,
        },
      );
      assert.ok(made !== null, "the manager found a file there");
      download = made;
    } else {
      download = new Download(
        urls.length === 1 ? urls[0] as string : urls,
        `${dir}/f`,
        all,
      );
      download.start();
    }
    const states: string[] = [];
    let ends = 0;
    download.addEventListener("statechange", (event) => {
      states.push(event.state);
      if (["done", "failed", "canceled"].includes(event.state)) {
        still = `after ${event.state}`;
      }
    });
    download.addEventListener("done", () => ends++);
    download.addEventListener("error", () => ends++);
    const error = await waitEnded(download);
    await actionDone.catch(() => {});
    if (manager !== undefined) {
      if (!await endsInTime(manager.wait({ raiseIfError: false }))) {
        await manager[Symbol.asyncDispose]();
        assert.fail(
          `the manager's downloads did not end (${
            extras.map((extra) => extra.state).join(", ")
          })`,
        );
      }
      await manager[Symbol.asyncDispose]();
    }
    assert.deepEqual(misreports, [], "progress where no byte is written");
    assert.equal(
      states.filter((state) => FINAL.includes(state)).length,
      1,
      `states ${states.join(",")}`,
    );
    assert.equal(states.at(-1), download.state, `states ${states.join(",")}`);
    assert.equal(
      ends,
      download.state === "canceled" ? 0 : 1,
      "done and error events",
    );
    return {
      state: download.state,
      error,
      reports,
      partialKept: download.partialKept,
      paused,
      total: download.total,
      extras: extras.map((extra) => ({
        name: extra.getDest().slice(dir.length + 1),
        state: extra.state,
        error: (() => {
          try {
            extra.raiseIfError();
            return undefined;
          } catch (error) {
            return error;
          }
        })(),
      })),
      bytesWritten: download.bytesWritten,
    };
  } finally {
    // On every path, an assertion failed mid-run too: nothing of this run
    // goes on into the next one, or into the directory's removal.
    await actionDone.catch(() => {});
    if (manager !== undefined) await manager[Symbol.asyncDispose]();
    else if (download !== undefined && !FINAL.includes(download.state)) {
      download.cancel();
      await download.wait({ raiseIfError: false });
    }
  }
}

function checkProgress(outcome: Outcome, scenario: Scenario): void {
  // A source whose bytes, joined to another's, did not match the digest
  // keeps those it sent (docs/behaviour.md, "A file with several sources"):
  // progress goes back to them, not to 0.
  const rejoins = scenario.sources > 1 && scenario.digest !== "none";
  let before = 0;
  for (const [current, total] of outcome.reports) {
    if (total !== undefined) {
      assert.ok(current <= total, `progress ${current} over total ${total}`);
    }
    assert.ok(
      current >= before || current === 0 || rejoins,
      `progress went back from ${before} to ${current}: ${
        JSON.stringify(outcome.reports.map(([c]) => c))
      }`,
    );
    before = current;
  }
}

async function checkDone(
  scenario: Scenario,
  outcome: Outcome,
  file: string,
  versions: Uint8Array[],
  named: number,
): Promise<void> {
  const bytes = await checkBytes(scenario, file, versions, named);
  assert.equal(outcome.bytesWritten, bytes.byteLength, "bytesWritten");
  if (outcome.total !== undefined) {
    assert.equal(outcome.total, bytes.byteLength, "total");
  }
  for (const [written, size] of outcome.paused) {
    if (size !== undefined) {
      assert.ok(written <= size, `paused at ${written} bytes, ${size} on disk`);
    }
  }
  const last = outcome.reports.at(-1);
  if (last !== undefined) {
    assert.equal(last[0], bytes.byteLength, "last report");
  }
}

/** Asserts that `file` holds one version (the one named, with a digest). */
async function checkBytes(
  scenario: Scenario,
  file: string,
  versions: Uint8Array[],
  named: number,
): Promise<Uint8Array> {
  const bytes = new Uint8Array(await readFile(file));
  const wanted = scenario.digest === "none"
    ? versions.filter((version) => version.byteLength === bytes.byteLength)
    : [versions[named] as Uint8Array];
  let matched = false;
  for (const version of wanted) {
    if (version.byteLength !== bytes.byteLength) continue;
    if (version.every((byte, i) => byte === bytes[i])) matched = true;
  }
  if (!matched) {
    assertSameBytes(bytes, wanted[0] ?? versions[0] as Uint8Array, "done");
  }
  return bytes;
}

async function runSeed(seed: number): Promise<void> {
  const scenario = draw(seed);
  const versions = scenario.sizes.map((size, i) => bodyOf(size, i));
  const prng = new Prng(seed * 104_729 + 3);
  await using server: FuzzServer = await startFuzzServer(prng, {
    versions,
    validator: scenario.validator,
    ranges: scenario.ranges,
    faultRate: scenario.faultRate,
    sources: scenario.sources,
    ownValidators: scenario.ownValidators,
    lag: scenario.lag,
  });
  await using root = await tempDir();
  const dir = root.join("dl");
  await mkdir(dir);
  const urls = server.urls;
  const first = versions[0] as Uint8Array;
  const servedBy = (source: number, version: number): number =>
    source === 0
      ? version
      : Math.min(versions.length - 1, Math.max(0, version + scenario.lag));
  // The version the digest names: the first one of a source.
  const named = servedBy(
    scenario.sources === 2 ? scenario.digestOf : 0,
    0,
  );
  const digested = versions[named] as Uint8Array;
  const options: DownloadOptions = {
    retries: scenario.retries,
    backoffBase: 1,
    backoffCap: 5,
    // The server's Retry-After, up to an hour: waited out, but capped.
    retryAfterCap: 20,
    // Short, for the server's stalls: a stall is retried as any fault.
    connectTimeout: 500,
    idleTimeout: 500,
    connections: scenario.connections,
    rateLimit: scenario.rateLimit,
    chunkSize: scenario.chunkSize,
  };
  if (scenario.digest === "sha256") {
    options.sha256 = createHash("sha256").update(digested).digest("hex");
  } else if (scenario.digest === "integrity") {
    options.integrity = `sha256-${
      createHash("sha256").update(digested).digest("base64")
    }`;
  }
  const context = (): string =>
    `seed ${seed}: ${JSON.stringify(scenario)}\nrequests: ${
      JSON.stringify(server.log)
    }`;
  try {
    const outcome = await runOnce(
      scenario,
      dir,
      urls,
      options,
      scenario.steps,
      scenario.stepsAt.map((at) => Math.floor(at * first.byteLength)),
    );
    if (env.FUZZ_VERBOSE) console.error(`STAT ${outcome.state} ${context()}`);
    const canceled = scenario.steps.some((step) => step !== "pause-resume");
    assertEndedWell(outcome.state, outcome.error, canceled);
    checkProgress(outcome, scenario);
    assert.deepEqual(
      await root.list(),
      ["dl"],
      "written outside the directory",
    );
    for (const extra of outcome.extras) {
      const where = `the manager's download ${extra.name}`;
      if (extra.state === "done") {
        assert.equal(extra.error, undefined, where);
        await checkBytes(scenario, `${dir}/${extra.name}`, versions, named);
        await rm(`${dir}/${extra.name}`);
      } else {
        assert.equal(extra.state, "failed", where);
        assert.ok(
          TYPED_ERRORS.some((type) => extra.error instanceof type),
          `${where} failed with an untyped error: ${String(extra.error)}`,
        );
      }
    }
    const left = await readdir(dir);
    if (outcome.state === "done") {
      assert.deepEqual(left, ["f"]);
      await checkDone(scenario, outcome, `${dir}/f`, versions, named);
      return;
    }
    assert.ok(!left.includes("f"), "a file under the final name");
    if (!outcome.partialKept) {
      assert.deepEqual(left, [], "left behind");
      return;
    }
    assert.equal(outcome.state, "canceled");
    assert.ok(left.length > 0, "partialKept, but nothing kept");
    // A clean run resumes it (a faulty one, for some seeds: then only the
    // invariants hold).
    const clean = seed % 3 !== 0;
    server.faulty = !clean;
    const before = server.log.length;
    const kept = await partialSize(dir);
    const other = new Prng(seed + 1);
    const second: Scenario = {
      ...scenario,
      manager: other.chance(0.5),
      extras: [],
    };
    const again = await runOnce(
      second,
      dir,
      urls,
      {
        ...options,
        connections: other.pick([1, 2, 4, "auto"] as const),
        // A clean server never stalls: the defaults, so that a loaded
        // machine does not make the clean run time out.
        ...(clean ? { connectTimeout: undefined, idleTimeout: undefined } : {}),
      },
      [],
      [],
    );
    checkProgress(again, scenario);
    const now = server.version();
    const digestFits = scenario.digest === "none" ||
      [0, 1].slice(0, scenario.sources).some((source) =>
        servedBy(source, now) === named
      );
    if (!clean) {
      assertEndedWell(again.state, again.error, false);
      const left = await readdir(dir);
      assert.deepEqual(left, again.state === "done" ? ["f"] : []);
      if (again.state === "done") {
        await checkDone(scenario, again, `${dir}/f`, versions, named);
      }
    } else if (digestFits) {
      assert.equal(
        again.state,
        "done",
        `the clean run ended ${again.state}: ${String(again.error)}`,
      );
      assert.deepEqual(await readdir(dir), ["f"]);
      await checkDone(scenario, again, `${dir}/f`, versions, named);
      if (
        server.version() === 0 && kept !== undefined && scenario.ranges &&
        (scenario.sources === 1 || scenario.lag === 0) &&
        (scenario.validator === "etag" ||
          scenario.validator === "last-modified")
      ) {
        // The bytes on disk: at least those told, at most the file's
        // length (a file in parts has holes).
        const resumed = again.reports[0]?.[0] ?? 0;
        assert.ok(
          outcome.bytesWritten <= resumed && resumed <= kept,
          `resumed at ${resumed}, ${outcome.bytesWritten} told, ${kept} kept`,
        );
        assert.ok(
          server.log.slice(before).some((request) => request.range !== null),
          "the kept partial file was not resumed",
        );
      }
    } else {
      assertEndedWell(again.state, again.error, false);
      if (again.state !== "done") assert.deepEqual(await readdir(dir), []);
    }
    assert.deepEqual(
      await root.list(),
      ["dl"],
      "written outside the directory",
    );
  } catch (error) {
    if (error instanceof Error) error.message += `\n${context()}`;
    throw error;
  }
}

for (const seed of seedsToRun(CI_SEEDS)) {
  test(`Download keeps its invariants under fault seed ${seed}`, async () => {
    await runSeed(seed);
  });
}
