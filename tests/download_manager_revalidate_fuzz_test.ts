// Randomised revalidation: for each seed, a server whose file moves on to a
// new version between rounds (a strong ETag, a weak one, `W/` or `w/`, a
// Last-Modified date only, or no validator), and whose answers to
// conditional requests are drawn from the seed (the right 304, one naming
// another version, one without validators, a 200 of the version it has or
// a newer one, a body cut, a whole 206, a 412, no Date, busy:
// tests/_helpers/revalidation_server.ts); and a client that, over 3 to 6
// rounds, downloads the file with a DownloadManager that revalidates
// ("always", or an age), on 1, 2 or "auto" connections, sometimes canceling
// (mostly with keepPartial), sometimes with two managers on the one
// directory. After each round only invariants are asserted, never timing:
// the file holds exactly one version's bytes (never a splice), the newest
// when the round asked the server and no answer lied; its record names that
// version's validator; a download that failed, was canceled or found the
// file fresh leaves the file as it was; nothing is left beside them but
// what a cancel kept (which a later round resumes or removes); only the
// library's errors; nothing outside the directory.
//
// A fixed set of seeds runs with the suite. To hunt, give others:
//   FUZZ_SEEDS=0-499 deno test -A tests/download_manager_revalidate_fuzz_test.ts

import assert from "node:assert/strict";
import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import { env } from "node:process";
import { test } from "node:test";
import { type Download, DownloadManager, type Revalidate } from "../mod.ts";
import { isReservedName, partialPaths } from "../src/_disk/names.ts";
import { isSameFile, recordPath } from "../src/_disk/record.ts";
import {
  assertEndedWell,
  type FuzzValidator,
  Prng,
  seedsToRun,
} from "./_helpers/fuzz_server.ts";
import {
  type RevalidationServer,
  startRevalidationServer,
} from "./_helpers/revalidation_server.ts";
import { patternBytes } from "./_helpers/server.ts";
import { tempDir } from "./_helpers/temp_dir.ts";

/** The seeds run with the suite (a few seconds in all). */
const CI_SEEDS = Array.from({ length: 12 }, (_, i) => i);

const HOUR = 60 * 60 * 1000;

/** What one round does. */
interface Round {
  /** Whether the file moves on to its next version first. */
  change: boolean;
  revalidate: Revalidate;
  /** A `revalidate` given to `download()` instead, if any. */
  perDownload: Revalidate | undefined;
  connections: 1 | 2 | "auto";
  /** Cancel past this fraction of the file, if at all. */
  cancelAt: number | undefined;
  /** Whether the cancel keeps the partial file for a later round. */
  keep: boolean;
  /** Two managers of the directory download the file at once. */
  two: boolean;
}

/** Everything a seed decides. */
interface Scenario {
  seed: number;
  sizes: number[];
  kind: FuzzValidator;
  faultRate: number;
  /** Small writes leave bytes on disk for a cut or a kept cancel. */
  chunkSize: number | undefined;
  rounds: Round[];
}

const SIZES = [1, 1000, 70_000, 300_000];

function draw(seed: number): Scenario {
  const prng = new Prng(seed);
  const count = 3 + prng.below(4);
  const revalidates: Revalidate[] = ["always", "always", 0, HOUR];
  const scenario: Omit<Scenario, "chunkSize"> = {
    seed,
    sizes: Array.from({ length: count + 2 }, () => prng.pick(SIZES)),
    kind: prng.pick<FuzzValidator>([
      "etag",
      "etag",
      "weak-etag",
      "lower-weak-etag",
      "last-modified",
      "last-modified",
      "none",
    ]),
    faultRate: prng.pick([0, 0.3, 0.5, 0.8]),
    rounds: Array.from({ length: count }, (_, i) => ({
      change: i > 0 && prng.chance(0.5),
      revalidate: prng.pick(revalidates),
      perDownload: prng.chance(0.3)
        ? prng.pick([...revalidates, "never"])
        : undefined,
      connections: prng.pick([1, 1, 2, "auto"] as const),
      cancelAt: prng.chance(0.25) ? prng.next() : undefined,
      keep: prng.chance(0.75),
      two: prng.chance(0.25),
    })),
  };
  return {
    ...scenario,
    chunkSize: env.FUZZ_NOCHUNK
      ? undefined
      : prng.pick([undefined, 4096, 16_384]),
  };
}

/** How one download of a round ended. */
interface Outcome {
  /** `"hit"`: `download()` found the file fresh, and made no download. */
  state: "hit" | "done" | "failed" | "canceled";
  error: unknown;
  revalidation: "fresh" | "updated" | undefined;
  partialKept: boolean;
}

async function downloadOnce(
  dir: string,
  server: RevalidationServer,
  round: Round,
  size: number,
  chunkSize: number | undefined,
): Promise<Outcome> {
  const manager = new DownloadManager(dir, {
    retries: 8,
    backoffBase: 1,
    backoffCap: 5,
    retryAfterCap: 20,
    revalidate: round.revalidate,
    connections: round.connections,
    chunkSize,
  });
  try {
    const download: Download | null = manager.download(server.url, {
      fname: "f",
      ...(round.perDownload === undefined
        ? {}
        : { revalidate: round.perDownload }),
    });
    if (download === null) {
      return {
        state: "hit",
        error: undefined,
        revalidation: undefined,
        partialKept: false,
      };
    }
    const { cancelAt } = round;
    if (cancelAt !== undefined) {
      download.addEventListener("progress", (event) => {
        if (event.current >= cancelAt * size) {
          download.cancel({ keepPartial: round.keep });
        }
      });
    }
    let error: unknown;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Not a timing assertion: a download that never ends would hang the run.
    const hung = new Promise<"hung">((resolve) => {
      timer = setTimeout(() => resolve("hung"), 60_000);
    });
    const how = await Promise.race([
      download.wait().then(() => "ended" as const, (caught) => {
        error = caught;
        return "ended" as const;
      }),
      hung,
    ]);
    clearTimeout(timer);
    if (how === "hung") {
      download.cancel();
      assert.fail(`the download did not end (state ${download.state})`);
    }
    const state = download.state;
    assert.ok(
      state === "done" || state === "failed" || state === "canceled",
      `ended ${state}`,
    );
    return {
      state,
      error,
      revalidation: download.revalidation,
      partialKept: download.partialKept,
    };
  } finally {
    await manager[Symbol.asyncDispose]();
  }
}

/** The version whose bytes `bytes` are, or a failure: a splice, a part. */
function versionOf(bytes: Uint8Array, versions: Uint8Array[]): number {
  const found = versions.findIndex((version) =>
    version.byteLength === bytes.byteLength &&
    version.every((byte, i) => byte === bytes[i])
  );
  assert.ok(
    found >= 0,
    `the file's ${bytes.byteLength} bytes are no version's (sizes ${
      versions.map((version) => version.byteLength).join(", ")
    })`,
  );
  return found;
}

async function readIfThere(path: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(path));
  } catch {
    return undefined;
  }
}

/**
 * Checks a partial file kept to be resumed: its sidecar names the validator
 * of the version whose bytes it holds, where it says it holds them.
 */
async function checkKept(
  dir: string,
  server: RevalidationServer,
  versions: Uint8Array[],
): Promise<void> {
  const paths = partialPaths(`${dir}/f`);
  let sidecar;
  try {
    sidecar = JSON.parse(await readFile(paths.sidecar, "utf8"));
  } catch {
    return; // none: the partial file is not resumed, only removed
  }
  const version = versions.findIndex((_, i) =>
    server.validatorOf(i) === sidecar.validator
  );
  assert.ok(version >= 0, `a sidecar of validator ${sidecar.validator}`);
  const body = versions[version] as Uint8Array;
  assert.equal(sidecar.total, body.byteLength, "the sidecar's total");
  const bytes = await readIfThere(`${dir}/${sidecar.partial}`);
  assert.ok(bytes !== undefined, "a sidecar without its partial file");
  const ranges: [number, number][] = sidecar.ranges ??
    [[0, bytes.byteLength]];
  for (const [start, end] of ranges) {
    for (let at = start; at < end; at++) {
      if (bytes[at] === body[at]) continue;
      assert.fail(
        `the kept partial file's byte ${at} is not version ${version}'s`,
      );
    }
  }
}

/** Checks the directory after a round; the version on disk, if any. */
async function checkDir(
  dir: string,
  server: RevalidationServer,
  versions: Uint8Array[],
  kept: boolean,
): Promise<number | undefined> {
  const left = (await readdir(dir)).sort();
  const record = recordPath("f");
  const others = left.filter((name) => name !== "f" && name !== record);
  if (kept) {
    assert.ok(others.every(isReservedName), `left behind: ${others}`);
    await checkKept(dir, server, versions);
  } else {
    assert.deepEqual(others, [], "left behind");
  }
  const bytes = await readIfThere(`${dir}/f`);
  if (bytes === undefined) {
    assert.ok(!left.includes(record), "a record without its file");
    return undefined;
  }
  const version = versionOf(bytes, versions);
  if (left.includes(record)) {
    const written = JSON.parse(await readFile(`${dir}/${record}`, "utf8"));
    // A record of another file (its size or time differs) is disowned:
    // harmless.
    const file = await stat(`${dir}/f`);
    if (isSameFile(written, { size: file.size, mtime: file.mtimeMs })) {
      assert.equal(
        written.validator,
        server.validatorOf(version),
        `the record names another validator than that of version ${version} on disk`,
      );
    }
  }
  return version;
}

async function runSeed(seed: number): Promise<void> {
  const scenario = draw(seed);
  const versions = scenario.sizes.map((size, i) =>
    patternBytes(size, seed * 13 + i * 101 + 7)
  );
  const prng = new Prng(seed * 104_729 + 5);
  await using server = await startRevalidationServer(
    prng,
    versions,
    scenario.kind,
    scenario.faultRate,
  );
  await using root = await tempDir();
  const dir = root.join("dl");
  await mkdir(dir);
  let round = -1;
  const context = (): string =>
    `seed ${seed}, round ${round}: ${JSON.stringify(scenario)}\nrequests: ${
      JSON.stringify(server.log)
    }`;
  let before: number | undefined;
  let kept = false;
  try {
    const clean: Round = {
      change: false,
      revalidate: "always",
      perDownload: undefined,
      connections: 1,
      cancelAt: undefined,
      keep: false,
      two: false,
    };
    for (const step of [...scenario.rounds, clean]) {
      round++;
      const last = step === clean;
      server.faulty = !last;
      if (step.change) server.change();
      const from = server.log.length;
      const size = (versions[server.version()] as Uint8Array).byteLength;
      // Both settled before a failure of one is thrown: the other's
      // download goes on into no later round, nor the directory's removal.
      const outcomes = (await Promise.allSettled(
        Array.from(
          { length: step.two ? 2 : 1 },
          () => downloadOnce(dir, server, step, size, scenario.chunkSize),
        ),
      )).map((settled) => {
        if (settled.status === "rejected") throw settled.reason;
        return settled.value;
      });
      if (env.FUZZ_VERBOSE) {
        console.error(`ROUND ${JSON.stringify(outcomes)} ${context()}`);
      }
      for (const outcome of outcomes) {
        assertEndedWell(
          outcome.state === "hit" ? "done" : outcome.state,
          outcome.error,
          step.cancelAt !== undefined,
        );
      }
      assert.deepEqual(await root.list(), ["dl"], "written outside");
      const asked = server.log.slice(from);
      // What a cancel kept stays until a download opens it: a round that
      // asked nothing (the file fresh) leaves it for the next.
      kept = outcomes.some((outcome) => outcome.partialKept) ||
        kept && asked.length === 0;
      const version = await checkDir(dir, server, versions, kept);
      const lied = asked.some((request) => request.lie);
      const asksAlways = (step.perDownload ?? step.revalidate) !== HOUR;
      for (const outcome of outcomes) {
        // Failed, canceled, found fresh: the file is as it was.
        const unchanged = outcome.state !== "done" ||
          outcome.revalidation === "fresh";
        if (unchanged && outcomes.length === 1) {
          assert.equal(
            version,
            before,
            `${outcome.state} (${outcome.revalidation}), yet the file changed`,
          );
        }
        if (
          outcome.state === "done" && !lied &&
          (asksAlways || outcome.revalidation !== "fresh")
        ) {
          assert.equal(
            version,
            server.version(),
            `done (${outcome.revalidation}) with version ${version} on disk, ${server.version()} served`,
          );
        }
      }
      if (last) {
        assert.equal(outcomes[0]?.state, "done", String(outcomes[0]?.error));
      }
      before = version;
    }
  } catch (error) {
    if (error instanceof Error) error.message += `\n${context()}`;
    throw error;
  }
}

for (const seed of seedsToRun(CI_SEEDS)) {
  test(`DownloadManager keeps its revalidation invariants under seed ${seed}`, async () => {
    await runSeed(seed);
  });
}
