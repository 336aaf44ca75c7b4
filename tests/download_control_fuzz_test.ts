// Randomised user control over a faulty server: for each seed, the fault
// server of tests/_helpers/fuzz_server.ts, one or two DownloadManagers on one
// directory (sharing a PersistLimit, or each its own, or none), a few names of
// the file, and a script drawn from the seed of what the user does, each step
// on the Nth event (progress, statechange or retry) of any download, never
// after a time: pause and resume a download or a whole manager, cancel with or
// without keepPartial and download the same name again (from either manager),
// change a download's or a manager's bandwidth limit, evict with the
// PersistLimit while downloads run, 1 to 8 connections, one or two sources.
// Only invariants are asserted: every promise settles; each download ends
// once, its statechange last, done or error told as it ended; progress never
// passes the total, goes back only to 0 (a start over), and is not reported
// while paused; once the managers are closed the directory holds only final
// names, each one version's whole bytes: no partial file, sidecar or lock.
//
// A fixed set of seeds runs with the suite. To hunt, give others:
//   FUZZ_SEEDS=0-1999 deno test -A tests/download_control_fuzz_test.ts
//   FUZZ_SEEDS=17,42 ...  (FUZZ_VERBOSE=1 prints each seed's script)

import assert from "node:assert/strict";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { basename } from "node:path";
import { env } from "node:process";
import { test } from "node:test";
import {
  type Download,
  DownloadInterrupt,
  DownloadManager,
  PersistLimit,
} from "../mod.ts";
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
import { partialPaths } from "../src/_disk/names.ts";
import { readSidecar } from "../src/_disk/sidecar.ts";

/** The seeds run with the suite (a few seconds in all). */
const CI_SEEDS = Array.from({ length: 30 }, (_, i) => i);

/** What the user does at a step. */
type Action =
  | "pause-resume"
  | "manager-pause-resume"
  | "cancel-again"
  | "cancel-keep-again"
  | "rate"
  | "manager-rate"
  | "evict"
  | "other-manager"
  | "manager-cancel-keep"
  | "close";

interface Step {
  /** The event (counted over every download) it is taken on. */
  at: number;
  action: Action;
  /** Which name (an index), which manager. */
  name: number;
  manager: number;
  /** For "rate": bytes per second, or undefined to lift the limit. */
  rate: number | undefined;
  /** For a pause: how many events later it is resumed. */
  hold: number;
}

interface Scenario {
  seed: number;
  sizes: number[];
  validator: FuzzValidator;
  ranges: boolean;
  faultRate: number;
  sources: number;
  lag: number;
  managers: number;
  /** "shared": one PersistLimit for both managers, "own": one each. */
  persist: "none" | "shared" | "own";
  concurrency: number;
  perHost: number;
  names: number;
  /** Per name: which managers download it at the start. */
  starts: number[][];
  connections: (number | "auto")[];
  chunkSize: number | undefined;
  steps: Step[];
}

const SIZES = [0, 1, 1000, 100_000, 262_145, 1_000_000, 2_200_000, 3_500_000];
const ACTIONS: Action[] = [
  "pause-resume",
  "pause-resume",
  "manager-pause-resume",
  "cancel-again",
  "cancel-keep-again",
  "cancel-keep-again",
  "rate",
  "manager-rate",
  "evict",
  "other-manager",
  "manager-cancel-keep",
  "close",
];

function draw(seed: number): Scenario {
  const prng = new Prng(seed * 6151 + 5);
  const first = prng.pick(SIZES);
  const sizes = [first];
  if (prng.chance(0.3)) sizes.push(prng.chance(0.5) ? first : prng.pick(SIZES));
  const managers = prng.chance(0.5) ? 2 : 1;
  const names = 1 + prng.below(3);
  const starts = Array.from({ length: names }, () => {
    const by = [prng.below(managers)];
    if (managers === 2 && prng.chance(0.4)) by.push(1 - (by[0] as number));
    return by;
  });
  const steps: Step[] = Array.from({ length: prng.below(11) }, () => ({
    at: 1 + prng.below(prng.pick([10, 40, 120])),
    action: prng.pick(ACTIONS),
    name: prng.below(names),
    manager: prng.below(managers),
    // Low limits are lifted again by the end: never slower than 512 KiB/s.
    rate: prng.pick([undefined, 512 * 1024, 2 * 1024 * 1024, 8 * 1024 * 1024]),
    hold: prng.pick([0, 0, 1, 3, 10]),
  })).sort((a, b) => a.at - b.at);
  return {
    seed,
    sizes,
    validator: drawValidator(prng),
    ranges: prng.chance(0.85),
    faultRate: prng.pick([0, 0, 0.1, 0.2, 0.35]),
    sources: prng.chance(0.3) ? 2 : 1,
    lag: prng.pick([0, 0, 1]),
    managers,
    persist: prng.pick(["none", "none", "shared", "own"] as const),
    concurrency: prng.pick([1, 2, 6]),
    perHost: prng.pick([1, 2, 16]),
    names,
    starts,
    connections: Array.from(
      { length: names },
      () => prng.chance(0.2) ? "auto" as const : 1 + prng.below(8),
    ),
    chunkSize: prng.pick([undefined, undefined, 4096, 65_536]),
    steps,
  };
}

const FINAL = ["done", "failed", "canceled"];

/** One Download and what was seen of it. */
interface Seen {
  download: Download;
  name: string;
  events: string[];
  reports: [number, number | undefined][];
  /** Set between a pause() that left it paused and the resume asked. */
  paused: boolean;
  misreports: string[];
  canceledByStep: boolean;
  /** The manager that made it (an index). */
  by: number;
}

async function runSeed(seed: number): Promise<void> {
  const scenario = draw(seed);
  const versions = scenario.sizes.map((size, i) =>
    patternBytes(size, i * 101 + 7)
  );
  await using server: FuzzServer = await startFuzzServer(
    new Prng(seed * 7307 + 11),
    {
      versions,
      validator: scenario.validator,
      ranges: scenario.ranges,
      faultRate: scenario.faultRate,
      sources: scenario.sources,
      ownValidators: false,
      lag: scenario.lag,
    },
  );
  await using root = await tempDir();
  const dir = root.join("dl");
  await mkdir(dir);
  const source = server.urls.length === 1
    ? server.urls[0] as string
    : server.urls;
  const shared = new PersistLimit(Math.max(1, scenario.sizes[0] as number), {
    fileLimit: 1,
  });
  const limits = Array.from(
    { length: scenario.managers },
    () =>
      scenario.persist === "none"
        ? null
        : scenario.persist === "shared"
        ? shared
        : new PersistLimit(Math.max(1, scenario.sizes[0] as number), {
          fileLimit: 1,
        }),
  );
  // Closed with the directory on every path, an assertion failed mid-run
  // too: none goes on into its removal.
  const managers = limits.map((persistLimit) =>
    root.manager({
      persistLimit,
      concurrency: scenario.concurrency,
      maxConnectionsPerHost: scenario.perHost,
      retries: 5,
      backoffBase: 1,
      backoffCap: 5,
      retryAfterCap: 20,
      connectTimeout: 1000,
      idleTimeout: 1000,
      // A paused download of the other manager holds its file until resumed.
      lockTimeout: 30_000,
      chunkSize: scenario.chunkSize,
    }, "dl")
  );
  const seen: Seen[] = [];
  const pending: Promise<unknown>[] = [];
  // Resumes due once `events` reaches `at`.
  const toResume: { at: number; resume: () => void }[] = [];
  const closed = new Set<number>();
  const rated: (Download | DownloadManager)[] = [];
  let events = 0;
  let next = 0;
  let settling = false;
  const log: string[] = [];

  const live = (name: number): Seen | undefined =>
    seen.findLast((one) =>
      one.name === `f${name}` && !FINAL.includes(one.download.state)
    );
  const start = (name: number, by: number): void => {
    const manager = managers[by] as DownloadManager;
    const made = manager.download(source, {
      fname: `f${name}`,
      connections: scenario.connections[name],
    });
    log.push(
      `${events}: f${name} by m${by}: ${made === null ? "null" : "made"}`,
    );
    if (made === null || seen.some((one) => one.download === made)) return;
    const one: Seen = {
      download: made,
      name: `f${name}`,
      events: [],
      reports: [],
      paused: false,
      misreports: [],
      canceledByStep: false,
      by,
    };
    seen.push(one);
    const onEvent = (event: string): void => {
      one.events.push(event);
      events++;
      if (!settling) act();
    };
    made.addEventListener("progress", (event) => {
      one.reports.push([event.current, event.total]);
      if (one.paused) one.misreports.push(`${event.current} while paused`);
      if (FINAL.includes(made.state)) {
        one.misreports.push(`${event.current} after ${made.state}`);
      }
      onEvent("progress");
    });
    made.addEventListener("statechange", (event) => onEvent(event.state));
    made.addEventListener("retry", () => onEvent("retry"));
    made.addEventListener("done", () => one.events.push("done-event"));
    made.addEventListener("error", () => one.events.push("error-event"));
    pending.push(made.wait({ raiseIfError: false }));
  };
  const pauseThenResume = (
    pause: () => Promise<void>,
    resume: () => void,
    who: Seen[],
    hold: number,
  ): void => {
    pending.push(
      pause().then(() => {
        for (const one of who) {
          if (one.download.state === "paused") one.paused = true;
        }
        toResume.push({
          at: events + hold,
          resume: () => {
            for (const one of who) one.paused = false;
            resume();
          },
        });
        flush(idle());
      }),
    );
  };
  // No download running: no event may come to resume the paused ones.
  const idle = (): boolean =>
    !seen.some((one) => one.download.state === "running");
  // Resumes those due, or all.
  const flush = (all: boolean): void => {
    const due = toResume.filter((entry) => all || entry.at <= events);
    for (const entry of due) {
      toResume.splice(toResume.indexOf(entry), 1);
      entry.resume();
    }
  };
  const act = (): void => {
    flush(idle());
    while (next < scenario.steps.length) {
      const step = scenario.steps[next] as Step;
      if (step.at > events) return;
      next++;
      if (closed.has(step.manager)) continue;
      const manager = managers[step.manager] as DownloadManager;
      const one = live(step.name);
      log.push(`${events}: ${step.action} f${step.name} m${step.manager}`);
      switch (step.action) {
        case "pause-resume":
          if (one !== undefined) {
            const { download } = one;
            pauseThenResume(
              () => download.pause(),
              () => download.resume(),
              [one],
              step.hold,
            );
          }
          break;
        case "manager-pause-resume":
          pauseThenResume(
            () => manager.pause(),
            () => manager.resume(),
            seen.filter((other) => other.by === step.manager),
            step.hold,
          );
          break;
        case "cancel-again":
        case "cancel-keep-again":
          if (one !== undefined) {
            one.canceledByStep = true;
            one.paused = false;
            one.download.cancel({
              keepPartial: step.action === "cancel-keep-again",
            });
          }
          start(step.name, step.manager);
          break;
        case "rate":
          if (one !== undefined) {
            one.download.setRateLimit(step.rate);
            rated.push(one.download);
          }
          break;
        case "manager-rate":
          manager.setRateLimit(step.rate);
          rated.push(manager);
          break;
        case "evict": {
          const limit = limits[step.manager];
          if (limit) pending.push(limit.removeOldFiles());
          break;
        }
        case "other-manager":
          start(step.name, step.manager);
          break;
        case "manager-cancel-keep": {
          // Every download of the manager, then each name again, by the
          // other manager where there is one open.
          const mine = seen.filter((other) =>
            other.by === step.manager && !FINAL.includes(other.download.state)
          );
          for (const other of mine) {
            other.canceledByStep = true;
            other.paused = false;
          }
          manager.cancel(undefined, { keepPartial: true });
          const by = closed.has(1 - step.manager) || managers.length === 1
            ? step.manager
            : 1 - step.manager;
          for (const other of mine) start(Number(other.name.slice(1)), by);
          break;
        }
        case "close":
          // Its downloads are canceled: nothing of theirs is left.
          closed.add(step.manager);
          for (const other of seen) {
            if (other.by !== step.manager) continue;
            if (!FINAL.includes(other.download.state)) {
              other.canceledByStep = true;
              other.paused = false;
            }
          }
          pending.push(manager[Symbol.asyncDispose]());
          break;
      }
    }
  };
  const context = (): string =>
    `seed ${seed}: ${JSON.stringify(scenario)}\nsteps taken: ${
      log.join("; ")
    }\nevents: ${
      JSON.stringify(seen.map((one) => [one.name, one.events.join(",")]))
    }\nrequests: ${JSON.stringify(server.log.slice(0, 60))}`;

  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    // Not a timing assertion: a run that never ends would hang the suite.
    const hung = new Promise<"hung">((resolve) => {
      timer = setTimeout(() => resolve("hung"), 120_000);
    });
    for (let name = 0; name < scenario.names; name++) {
      for (const by of scenario.starts[name] as number[]) start(name, by);
    }
    // Until nothing is left to settle: downloads started by a step too.
    let settled = 0;
    while (settled < pending.length) {
      const batch = pending.slice(settled);
      settled = pending.length;
      const how = await Promise.race([Promise.allSettled(batch), hung]);
      if (how === "hung") {
        assert.fail(
          `a promise did not settle: states ${
            seen.map((one) => `${one.name} ${one.download.state}`).join(", ")
          }`,
        );
      }
      if (settled === pending.length) {
        // The steps left are not taken; a limit set low is lifted.
        settling = true;
        flush(true);
        for (const limited of rated.splice(0)) {
          limited.setRateLimit(undefined);
        }
      }
    }
    const closed = Promise.all(
      managers.map((manager) => manager[Symbol.asyncDispose]()),
    );
    if (await Promise.race([closed, hung]) === "hung") {
      assert.fail("the managers did not close");
    }
    clearTimeout(timer);
    if (env.FUZZ_VERBOSE) console.error(`STAT ${context()}`);
    for (const one of seen) checkDownload(one);
    assert.deepEqual(
      await root.list(),
      ["dl"],
      "written outside the directory",
    );
    // What a cancel with keepPartial kept, and no download adopted since:
    // a clean run resumes it where the file is not there, and leaves only
    // the file; where it is, it stays to be resumed, whole (its sidecar
    // names it, and its lock is marked released), and nothing else does.
    const kept = new Set<string>();
    for (const name of await readdir(dir)) {
      if (/^f\d$/.test(name)) continue;
      const of = /^\.(f\d)\./.exec(name)?.[1];
      assert.ok(
        seen.some((one) => one.name === of && one.download.partialKept),
        `left behind: ${name}`,
      );
      kept.add(of as string);
    }
    const files = await readdir(dir);
    const resumed = [...kept].filter((name) => !files.includes(name));
    if (resumed.length > 0) {
      server.faulty = false;
      await using clean = new DownloadManager(dir);
      for (const name of resumed) clean.download(source, { fname: name });
      await clean.wait();
    }
    for (const name of await readdir(dir)) {
      if (!/^f\d$/.test(name)) continue;
      const bytes = new Uint8Array(await readFile(`${dir}/${name}`));
      assert.ok(
        versions.some((version) =>
          version.byteLength === bytes.byteLength &&
          version.every((byte, i) => byte === bytes[i])
        ),
        `${name}: ${bytes.byteLength} bytes, not a version's`,
      );
    }
    const groups = [...kept].filter((name) => !resumed.includes(name));
    const whole = groups.flatMap((name) => {
      const paths = partialPaths(`${dir}/${name}`);
      const partial = readSidecar(paths.sidecar)?.partial;
      return [paths.sidecar, paths.lock, `${dir}/${partial}`].map((path) =>
        basename(path)
      );
    });
    assert.deepEqual(
      (await readdir(dir)).filter((name) => !/^f\d$/.test(name)).sort(),
      whole.sort(),
      "left behind",
    );
    // A name whose last download is done, with no limit to evict it, is there.
    if (scenario.persist === "none") {
      const files = await readdir(dir);
      for (const one of seen) {
        if (one.download.state !== "done") continue;
        assert.ok(files.includes(one.name), `${one.name} done, but not there`);
      }
    }
  } catch (error) {
    if (error instanceof Error) error.message += `\n${context()}`;
    throw error;
  } finally {
    clearTimeout(timer);
    // No step more: the events of the downloads the managers' closing
    // cancels would otherwise start others, on managers already closed.
    settling = true;
  }
}

function checkDownload(one: Seen): void {
  const { download, events, name } = one;
  const where = `${name} (${events.join(",")})`;
  assert.ok(
    FINAL.includes(download.state),
    `${where}: ended ${download.state}`,
  );
  const states = events.filter((event) =>
    !["progress", "retry", "done-event", "error-event"].includes(event)
  );
  assert.equal(
    states.filter((state) => FINAL.includes(state)).length,
    1,
    `${where}: one final state`,
  );
  assert.equal(states.at(-1), download.state, `${where}: the last state`);
  // Nothing after the final statechange but what tells the same end.
  const last = events.lastIndexOf(download.state);
  assert.deepEqual(
    events.slice(last + 1),
    [],
    `${where}: events after the end`,
  );
  const told = events.filter((event) => event.endsWith("-event"));
  assert.deepEqual(
    told,
    download.state === "done"
      ? ["done-event"]
      : download.state === "failed"
      ? ["error-event"]
      : [],
    `${where}: done and error events`,
  );
  assert.deepEqual(one.misreports, [], `${where}: progress not written`);
  let before = 0;
  for (const [current, total] of one.reports) {
    if (total !== undefined) {
      assert.ok(current <= total, `${where}: ${current} over total ${total}`);
    }
    assert.ok(
      current >= before || current === 0,
      `${where}: progress went back from ${before} to ${current}`,
    );
    before = current;
  }
  let error: unknown;
  try {
    download.raiseIfError();
  } catch (caught) {
    error = caught;
  }
  if (download.state === "done") {
    assert.equal(error, undefined, where);
    const last = one.reports.at(-1);
    if (last !== undefined && !download.skipped) {
      assert.equal(last[0], download.bytesWritten, `${where}: last report`);
    }
  } else if (download.state === "canceled") {
    assert.ok(one.canceledByStep, `${where}: canceled without a cancel`);
    assert.ok(error instanceof DownloadInterrupt, `${where}: ${String(error)}`);
  } else {
    assert.ok(
      TYPED_ERRORS.some((type) => error instanceof type),
      `${where}: failed with an untyped error: ${
        (error as Error)?.stack ?? String(error)
      }`,
    );
  }
}

for (const seed of seedsToRun(CI_SEEDS)) {
  test(`DownloadManager keeps its invariants under control seed ${seed}`, async () => {
    await runSeed(seed);
  });
}
