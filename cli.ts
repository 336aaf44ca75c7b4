/**
 * `dlmanager`, the command-line downloader: downloads URLs into a directory
 * with live progress on a terminal, plain log lines elsewhere, or JSON lines
 * for scripts (`--json`). Run `dlmanager --help` for the options.
 *
 * ```sh
 * deno run -A jsr:@x/dlmanager/cli -d downloads https://example.com/a.zip
 * npx @x/dlmanager -j 4 -i urls.txt
 * ```
 *
 * This file is the process's side of the CLI: arguments, standard streams,
 * Ctrl-C, and the only file access the library does not do (reading the `-i`
 * list, and checking the directory can be written to). It lives outside
 * `src/`, where nothing but the runtime adapter touches the file system;
 * `node:fs/promises` and `node:process` behave the same under Deno and Node.
 * The logic is in `src/cli/run.ts`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { access, constants, mkdir, readFile } from "node:fs/promises";
import process from "node:process";
import { runCli } from "./src/cli/run.ts";

async function readStdin(): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Uint8Array);
  return new TextDecoder().decode(Buffer.concat(chunks));
}

// No top-level await: the npm package runs this file as CommonJS too.
runCli({
  args: process.argv.slice(2),
  stdout: process.stdout,
  stderr: process.stderr,
  env: (name) => process.env[name],
  readInput: (path) => path === "-" ? readStdin() : readFile(path, "utf8"),
  async prepareDir(dir): Promise<void> {
    await mkdir(dir, { recursive: true });
    // Deno asks for --allow-sys (uid, gid) for this check; without it, an
    // unwritable directory shows as each download's error instead.
    await access(dir, constants.W_OK).catch((error) => {
      if ((error as Error).name !== "NotCapable") throw error;
    });
  },
  onInterrupt(handler): () => void {
    process.on("SIGINT", handler);
    return () => process.off("SIGINT", handler);
  },
}).then((code) => {
  process.exitCode = code;
}, (error) => {
  console.error(error);
  process.exitCode = 1;
});
