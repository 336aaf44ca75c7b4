// Type-checks the JSDoc examples of the public API as a user would paste them
// (part of `deno task check`):
//
//   deno run -A scripts/check_examples.ts
//
// `deno check --doc` checks a JSDoc example with the exports of the file it is
// in imported for it, so an example that forgets to import what it uses
// passes there and fails in a user's file. Here each example of `mod.ts` and
// of the files it re-exports is copied into one Markdown file, which
// `deno check --doc-only` checks with nothing imported but what the example
// imports (`@x/dlmanager` is this package, by deno.json's name), and no
// example of those files may be `ignore`d. An error is told at the line of its
// example in the source file. Nothing is run, and nothing fetched.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";

const root = resolve(import.meta.dirname ?? ".", "..");

/** `mod.ts` and the files it re-exports. */
function publicFiles(): string[] {
  const mod = readFileSync(join(root, "mod.ts"), "utf8");
  const files = [...mod.matchAll(/from "\.\/(src\/[^"]+\.ts)"/g)]
    .map((match) => match[1] as string);
  return ["mod.ts", ...new Set(files)];
}

/** A code block of a JSDoc comment. */
interface Example {
  file: string;
  /** The line of its opening fence, from 1. */
  line: number;
  attributes: string;
  code: string;
}

/** The fenced code blocks of the JSDoc comments of `file`. */
function examplesOf(file: string): Example[] {
  const lines = readFileSync(join(root, file), "utf8").split("\n");
  const examples: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*\* ?```(\S*)(.*)$/.exec(lines[i] as string);
    if (open === null) continue;
    const start = i;
    const code: string[] = [];
    while (!/^\s*\* ?```\s*$/.test(lines[++i] ?? "```")) {
      code.push((lines[i] as string).replace(/^\s*\* ?/, ""));
    }
    examples.push({
      file,
      line: start + 1,
      attributes: `${open[1]}${open[2]}`.trim(),
      code: code.join("\n"),
    });
  }
  return examples;
}

const examples = publicFiles().flatMap(examplesOf)
  .filter(({ attributes }) => /^(ts|typescript)\b/.test(attributes));
const ignored = examples.filter(({ attributes }) =>
  /\bignore\b/.test(attributes)
);
for (const { file, line } of ignored) {
  console.error(
    `${file}:${line}: an example of the public API is "ignore"d: it must type-check as a user would paste it`,
  );
}

// Each example's fence in the Markdown file, by its line there.
const bySpot = new Map<number, Example>();
const markdown: string[] = [];
for (const example of examples) {
  markdown.push(`<!-- ${example.file}:${example.line} -->`, "");
  bySpot.set(markdown.length + 1, example);
  markdown.push("```ts", ...example.code.split("\n"), "```", "");
}

const dir = mkdtempSync(join(tmpdir(), "dlmanager-examples-"));
let status: number;
try {
  const path = join(dir, "examples.md");
  writeFileSync(path, markdown.join("\n"));
  const run = spawnSync(process.execPath, [
    "check",
    "--quiet",
    "--config",
    join(root, "deno.json"),
    "--doc-only",
    path,
  ], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  // `examples.md#12-20.ts:3:7`: the example fenced at line 12 (its line 3
  // as Deno rewrote it, imports first: not the line of the source file).
  const where = /file:\/\/\S*examples\.md#(\d+)-\d+\.ts:\d+:\d+/g;
  const told = `${run.stdout}${run.stderr}`.replace(where, (spot, fence) => {
    const example = bySpot.get(Number(fence));
    return example === undefined
      ? spot
      : `${example.file}:${example.line} (the example there)`;
  });
  process.stderr.write(told);
  status = run.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.error(
  `${examples.length} examples of ${publicFiles().length} files checked`,
);
process.exit(status === 0 && ignored.length === 0 ? 0 : 1);
