// Builds the npm package in `npm/` and tests it under Node, doing dnt's job
// (dnt lives only on JSR, which our machines cannot reach) with the
// TypeScript compiler from npm; `_tsc.ts` is the glue.
//
//   deno run -A scripts/build_npm.ts [version] [--quick] [--runtimes=node22,bun]
//                                                   (deno task build:npm)
//
// 1. Compiles `mod.ts` and `cli.ts` (the `dlmanager` bin) to ES modules (`npm/esm/`) and CommonJS
//    (`npm/script/`), each with `.d.ts` types, and `tests/` with them.
// 2. Writes `package.json`, copies README.md and LICENSE.
// 3. Packs the package and installs the tarball into a scratch project in a
//    temp dir, where it runs the whole test suite (as ES modules, then as
//    CommonJS, each importing the installed package) on every runtime of the
//    matrix (`_runtimes.ts`: Node 20, 22, 24 and 26, and Bun, each installed
//    from npm at a pinned version), or with `--quick` on this machine's Node
//    alone; `--runtimes=` picks some of the matrix. Then, under this
//    machine's Node, a small download as an ESM and a CommonJS consumer,
//    the two builds sharing one file's lock and error classes in one process,
//    `dlmanager --version` through the installed bin, and a type check of the
//    code examples of README.md and docs/, and of a CommonJS consumer
//    (`nodenext` and `bundler`).

import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import denoJson from "../deno.json" with { type: "json" };
import devPackage from "../package.json" with { type: "json" };
import { compile, type JsonCompilerOptions, typeCheck } from "./_tsc.ts";
import {
  counts,
  failures,
  install,
  label,
  type Runtime,
  RUNTIMES,
  testCommand,
} from "./_runtimes.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const flags = Deno.args.filter((arg) => arg.startsWith("--"));
const quick = flags.includes("--quick");
const picked = flags.find((flag) => flag.startsWith("--runtimes="))
  ?.slice("--runtimes=".length).split(",");
const unknownFlags = flags.filter((flag) =>
  flag !== "--quick" && !flag.startsWith("--runtimes=")
);
const unknownRuntimes = (picked ?? []).filter((name) =>
  !RUNTIMES.some((runtime) => runtime.name === name)
);
if (unknownFlags.length > 0 || unknownRuntimes.length > 0) {
  throw new Error(
    `Unknown ${unknownFlags.length > 0 ? "option" : "runtime"}: ${
      [...unknownFlags, ...unknownRuntimes].join(", ")
    } (runtimes: ${RUNTIMES.map((runtime) => runtime.name).join(", ")})`,
  );
}
// Where the matrix's runtimes are installed, kept between runs (gitignored).
const runtimesDir = join(root, ".runtimes");
const name = denoJson.name;
// `cli.ts` is the `dlmanager` command (`bin`), not an export: importing it
// runs it.
const entryPoints = { [name]: "mod.ts", [`${name}/cli`]: "cli.ts" };
const bin = "esm/cli.js";
// `_runtime/fs.ts` picks Deno's or Node's file APIs at load; the package holds
// only Node's (see `src/_runtime/fs.npm.ts` for why): a file named
// `<name>.npm.ts` is compiled in place of `<name>.ts`. So is the default fetch
// (`src/_runtime/fetch.npm.ts`), which honours the proxy variables on Node
// too, with undici, where Deno's needs nothing. `dlmanager --version` prints
// the version this build is given (written to the scratch directory below).
const swaps: Record<string, string> = Object.fromEntries(
  readdirSync(join(root, "src"), { recursive: true, encoding: "utf8" })
    .filter((path) => path.endsWith(".npm.ts"))
    .map((path) => [
      join("src", path.replace(/\.npm\.ts$/, ".ts")),
      join("src", path),
    ]),
);
const compilerOptions: JsonCompilerOptions = {
  ...denoJson.compilerOptions, // the same strictness as on Deno
  target: "es2022", // so tsc downlevels `await using`, which Node 20 cannot parse
  lib: ["es2023"], // Node 20's, with @types/node 20 (which has Symbol.asyncDispose)
  types: ["node"],
  esModuleInterop: true,
  isolatedModules: true,
};
const packageJson = {
  name,
  version: Deno.args.find((arg) => !arg.startsWith("--")) ?? denoJson.version,
  description:
    "A download manager for Deno and Node: background downloads that never leave a half-written file, clean cancel, progress, and a size-limited cache",
  license: denoJson.license,
  homepage: "https://jsr.io/@x/dlmanager",
  repository: { type: "git", url: "git+https://github.com/x/dlmanager.git" },
  type: "module",
  main: "./script/mod.js",
  module: "./esm/mod.js",
  types: "./esm/mod.d.ts",
  exports: {
    ".": {
      import: { types: "./esm/mod.d.ts", default: "./esm/mod.js" },
      require: { types: "./script/mod.d.ts", default: "./script/mod.js" },
    },
  },
  bin: { dlmanager: `./${bin}` },
  files: ["esm/", "script/"],
  // Loaded only on Node (see `src/_runtime/fetch.npm.ts`): undici 7 when a
  // proxy variable is set, before Node 22.19; undici 8 from Node 22.19 on
  // for a proxy, and in place of Node's own `fetch` where that can end the
  // process. undici 8 is optional: it does not run on Node 20, and a package
  // manager that enforces `engines` (yarn 1) would refuse to install the
  // package there if it were not. The versions the tests run with are the
  // lockfile's.
  dependencies: { undici: `^${devPackage.devDependencies.undici}` },
  optionalDependencies: {
    undici8: devPackage.devDependencies.undici8.replace("@", "@^"),
  },
  engines: { node: ">=20" },
  sideEffects: false,
};
const formats = ["esm", "script"] as const;

const npm = join(root, "npm");
const scratch = Deno.makeTempDirSync({ prefix: "dlmanager-npm-" });
const project = join(scratch, "project");
swaps["src/cli/version.ts"] = writeFile(
  join(scratch, "version.ts"),
  `/** The package version. */\nexport const VERSION = ${
    JSON.stringify(packageJson.version)
  };\n`,
);
try {
  console.log(`Building ${name}@${packageJson.version} in npm/`);
  rmSync(npm, { recursive: true, force: true });
  for (const format of formats) {
    compile({
      root,
      entryPoints,
      testsDir: "tests",
      swaps,
      compilerOptions,
      format,
      outDir: join(npm, format),
      testsOutDir: join(project, format),
      installedOutDir: join(project, "node_modules", name, format),
    });
  }
  const cli = join(npm, bin);
  writeFileSync(cli, "#!/usr/bin/env node\n" + readFileSync(cli, "utf8"));
  chmodSync(cli, 0o755);
  // Nothing imports the CLI (importing it runs it): the bin needs neither
  // its types nor a CommonJS build of it.
  for (const file of ["esm/cli.d.ts", "script/cli.js", "script/cli.d.ts"]) {
    rmSync(join(npm, file));
  }
  writeJson(join(npm, "package.json"), packageJson);
  writeJson(join(npm, "script", "package.json"), { type: "commonjs" });
  for (const file of ["README.md", "LICENSE"]) {
    copyFileSync(join(root, file), join(npm, file));
  }

  const [packed] = JSON.parse(
    await run("npm", ["pack", "--json", "--pack-destination", scratch], npm, {
      capture: true,
    }),
  ) as { filename: string; files: { path: string }[] }[];
  if (packed === undefined) throw new Error("npm pack reported no package");
  const shipped = packed.files.map((file) => file.path).sort();
  console.log(`Packed ${packed.filename}:\n  ${shipped.join("\n  ")}`);
  // The CLI is the bin (esm/cli.js) and no export: no other build of it.
  const unexpected = shipped.filter((path) =>
    !/^(package\.json|README\.md|LICENSE|script\/package\.json|(esm|script)\/.*\.(js|d\.ts))$/
      .test(path) || (/^(esm|script)\/cli\./.test(path) && path !== bin)
  );
  if (unexpected.length > 0) throw new Error(`Unexpected: ${unexpected}`);

  // Offline: the package's dependencies, undici 7 and 8 (`undici8`), are
  // installed from the copies `npm ci` put in node_modules (packed again),
  // whose versions satisfy the package's ranges; npm then asks no registry
  // for them. The optional one, not found, would be left out without a word:
  // the install is checked.
  const dependencies = ["undici", "undici8"];
  const tarballs: string[] = [];
  for (const dependency of dependencies) {
    const [tarball] = JSON.parse(
      await run(
        "npm",
        [
          "pack",
          "--json",
          "--ignore-scripts",
          "--pack-destination",
          scratch,
          join(root, "node_modules", dependency),
        ],
        root,
        { capture: true },
      ),
    ) as { filename: string }[];
    if (tarball === undefined) {
      throw new Error(`npm pack reported no ${dependency}`);
    }
    tarballs.push(`${dependency}@file:${join(scratch, tarball.filename)}`);
  }
  writeJson(join(project, "package.json"), { private: true, type: "module" });
  writeJson(join(project, "script", "package.json"), { type: "commonjs" });
  await run("npm", [
    "install",
    "--offline",
    "--ignore-scripts",
    "--no-audit",
    "--no-fund",
    join(scratch, packed.filename),
    ...tarballs,
  ], project);
  for (const dependency of dependencies) {
    const installed = join(project, "node_modules", dependency, "package.json");
    if (!existsSync(installed)) throw new Error(`${dependency} not installed`);
  }

  await testMatrix(project);

  for (const format of formats) {
    writeFileSync(join(project, format, "smoke.js"), smokeScript(format));
    await run("node", ["smoke.js"], join(project, format));
  }
  // Both formats in one process (an ES module app with a CommonJS
  // dependency): two copies of the library, which must still see each
  // other's locks.
  writeFileSync(join(project, "esm", "dual.js"), dualScript());
  await run("node", ["dual.js"], join(project, "esm"));
  // The bin as npx finds it: node_modules/.bin/dlmanager, run by its shebang.
  const version = await run(
    join(project, "node_modules", ".bin", "dlmanager"),
    ["--version"],
    project,
    { capture: true },
  );
  if (version !== `dlmanager ${packageJson.version}\n`) {
    throw new Error(`dlmanager --version printed ${JSON.stringify(version)}`);
  }
  console.log(`Smoke test (bin): ${version.trim()}`);

  const types = join(project, "types");
  // Every ```ts block of the README and docs/, as a consumer would write it.
  const documents = [
    "README.md",
    ...readdirSync(join(root, "docs")).filter((name) => name.endsWith(".md"))
      .map((name) => `docs/${name}`),
  ];
  const examples = documents.flatMap((document) =>
    [
      ...readFileSync(join(root, document), "utf8").matchAll(
        /^```ts\n(.*?)^```$/gms,
      ),
    ].map(([, code], i) =>
      writeFile(
        join(types, `${document.replace(/[/.]/g, "_")}_${i}.ts`),
        code ?? "",
      )
    )
  );
  const cjs = writeFile(join(types, "require.cts"), cjsConsumer());
  const consumer = {
    strict: true,
    target: "es2022",
    lib: ["es2023"],
    types: ["node"],
    typeRoots: [join(root, "node_modules", "@types")], // ours: no download
  };
  typeCheck([...examples, cjs], {
    ...consumer,
    module: "nodenext",
    moduleResolution: "nodenext",
  }, types);
  typeCheck(examples, {
    ...consumer,
    module: "esnext",
    moduleResolution: "bundler",
  }, types);
  console.log(
    `Type-checked ${examples.length} examples of README.md and docs/, and require.cts (nodenext, bundler)`,
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

/**
 * Runs the compiled test suite, in each format, on each runtime picked; a
 * failure does not stop the others. Prints a summary, then throws if any run
 * failed.
 */
async function testMatrix(project: string): Promise<void> {
  const runtimes: Runtime[] = quick
    ? [{
      name: "node",
      kind: "node",
      package: "",
      bin: "",
      formats,
      version: (await run("node", ["--version"], project, { capture: true }))
        .trim().replace(/^v/, ""),
    }]
    : RUNTIMES.filter((runtime) => picked?.includes(runtime.name) ?? true);
  const results: {
    run: string;
    passed?: number;
    failed?: number;
    failures: string[];
    ok: boolean;
  }[] = [];
  const started = performance.now();
  for (const runtime of runtimes) {
    const binary = quick ? "node" : await install(runtime, runtimesDir);
    for (const format of runtime.formats) {
      const dir = join(project, format);
      const tests = readdirSync(dir, { recursive: true, encoding: "utf8" })
        .filter((file) => file.endsWith("_test.js")).sort();
      const name = `${label(runtime)}, ${format}`;
      console.log(`\nThe test suite on ${name}:`);
      const [command, args] = testCommand(runtime, binary, tests);
      const { ok, output } = await tee(command, args, dir);
      // A run that printed no counts ran no test, whatever its exit code.
      const tally = counts(runtime.kind, output);
      results.push({
        run: name,
        ...tally,
        failures: failures(runtime.kind, output),
        ok: ok && tally !== undefined,
      });
    }
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  console.log(`\nThe test suite on ${results.length} runs (${seconds} s):`);
  const width = Math.max(...results.map((result) => result.run.length));
  for (const result of results) {
    const tally = result.passed === undefined
      ? "no counts printed"
      : `${result.passed} passed, ${result.failed} failed`;
    console.log(
      `  ${result.run.padEnd(width)}  ${tally}${result.ok ? "" : "  FAILED"}`,
    );
    // Named here too, as CI may keep only the end of a long log.
    for (const failure of result.failures) console.log(`    ✖ ${failure}`);
  }
  const sum = (key: "passed" | "failed"): number =>
    results.reduce((total, result) => total + (result[key] ?? 0), 0);
  console.log(`Total: ${sum("passed")} passed, ${sum("failed")} failed`);
  const failed = results.filter((result) => !result.ok);
  if (failed.length > 0) {
    throw new Error(
      `The test suite failed on ${
        failed.map((result) => result.run).join("; ")
      }`,
    );
  }
}

/** Runs `command`, passing its output through and returning it too. */
async function tee(
  command: string,
  args: string[],
  cwd: string,
): Promise<{ ok: boolean; output: string }> {
  const child = new Deno.Command(command, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const pass = async (
    stream: ReadableStream<Uint8Array>,
    to: { write(bytes: Uint8Array): Promise<number> },
  ): Promise<void> => {
    const decoder = new TextDecoder();
    for await (const bytes of stream) {
      output += decoder.decode(bytes, { stream: true });
      for (let done = 0; done < bytes.byteLength;) {
        done += await to.write(bytes.subarray(done));
      }
    }
  };
  const [status] = await Promise.all([
    child.status,
    pass(child.stdout, Deno.stdout),
    pass(child.stderr, Deno.stderr),
  ]);
  return { ok: status.success, output };
}

function smokeScript(format: "esm" | "script"): string {
  const load = format === "esm"
    ? `import { DownloadManager } from "${name}";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";`
    : `const { DownloadManager } = require("${name}");
const { readFileSync } = require("node:fs");
const { createServer } = require("node:http");`;
  return `${load}

const body = "dlmanager smoke test\\n".repeat(50000);
const server = createServer((_request, response) => response.end(body));
server.listen(0, "127.0.0.1", async () => {
  const manager = new DownloadManager("downloads");
  manager.download(\`http://127.0.0.1:\${server.address().port}/smoke.txt\`);
  await manager.wait();
  server.close();
  if (readFileSync("downloads/smoke.txt", "utf8") !== body) {
    throw new Error("downloads/smoke.txt differs from what was served");
  }
  console.log("Smoke test (${format}): downloaded " + body.length + " bytes");
});
`;
}

function dualScript(): string {
  return `import { createServer } from "node:http";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import * as esm from "${name}";

const cjs = createRequire(import.meta.url)("${name}");
const body = "dlmanager dual smoke test\\n".repeat(100000);
let requests = 0;
let release;
const released = new Promise((resolve) => (release = resolve));
let onSecondRequest;
const server = createServer(async (request, response) => {
  if (request.url === "/missing") return response.writeHead(404).end();
  if (++requests === 2) onSecondRequest();
  response.writeHead(200, { "content-length": body.length, etag: '"v1"' });
  response.write(body.slice(0, body.length / 2));
  await released;
  response.end(body.slice(body.length / 2));
});
server.listen(0, "127.0.0.1", async () => {
  const url = \`http://127.0.0.1:\${server.address().port}/dual.txt\`;
  const first = new esm.DownloadManager("dual", { connections: 1 });
  const second = new cjs.DownloadManager("dual", { connections: 1 });
  const running = first.download(url);
  await new Promise((resolve) =>
    running.addEventListener("progress", (event) => {
      if (event.current > 0) resolve();
    })
  );
  // The other copy must wait for the lock this one holds, not take it
  // over and ask for the rest of the file.
  const other = second.download(url);
  // What one copy dispatches is an instance of the other's event classes.
  let eventsOfBoth = true;
  const seen = await new Promise((resolve) => {
    onSecondRequest = () => resolve("asked the server");
    other.addEventListener("statechange", (event) => {
      eventsOfBoth &&= event instanceof esm.DownloadStateEvent &&
        event instanceof esm.DownloadEvent;
      if (other.state === "waiting") resolve("waited");
    });
  });
  release();
  await Promise.allSettled([first.wait(), second.wait()]);
  if (seen !== "waited" || requests !== 1 || !other.skipped) {
    throw new Error(
      \`While the ES module copy held the lock, the CommonJS copy \${seen} (\${requests} requests in all, ended \${other.state})\`,
    );
  }
  await first.wait();
  if (readFileSync("dual/dual.txt", "utf8") !== body) {
    throw new Error("dual/dual.txt differs from what was served");
  }
  // What one copy rejects with is an instance of the other's class.
  second.download(\`http://127.0.0.1:\${server.address().port}/missing\`);
  const error = await second.wait().then(() => undefined, (error) => error);
  if (!(error instanceof esm.HTTPError) || !(error instanceof cjs.HTTPError)) {
    throw new Error(\`The CommonJS copy's \${error} is no esm.HTTPError\`);
  }
  if (!eventsOfBoth) {
    throw new Error("The CommonJS copy's statechange event is no esm.DownloadStateEvent");
  }
  server.close();
  console.log(
    "Smoke test (esm and script in one process): one download, the other waited; errors and events are instances of both",
  );
});
`;
}

function cjsConsumer(): string {
  return `// In a .cts file, import compiles to require(): the "require" types.
import { Download, DownloadManager, HTTPError, PersistLimit } from "${name}";

export function fetchInto(dir: string, url: string): Download | null {
  const manager = new DownloadManager(dir, {
    persistLimit: new PersistLimit(1024 ** 3, { fileLimit: 3 }),
  });
  return manager.download(url, { fname: "file.bin" });
}

export function isRefusal(error: unknown): error is HTTPError {
  return error instanceof HTTPError && error.status >= 400;
}
`;
}

function writeJson(path: string, value: unknown): void {
  writeFile(path, JSON.stringify(value, null, 2) + "\n");
}

function writeFile(path: string, text: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

// Runs `command`, throwing if it fails; returns its output if captured.
async function run(
  command: string,
  args: string[],
  cwd: string,
  { capture = false } = {},
): Promise<string> {
  const output = await new Deno.Command(command, {
    args,
    cwd,
    stdout: capture ? "piped" : "inherit",
  }).output();
  const stdout = capture ? new TextDecoder().decode(output.stdout) : "";
  if (!output.success) {
    console.log(stdout);
    throw new Error(`"${command} ${args.join(" ")}" failed (${output.code})`);
  }
  return stdout;
}
