// A child process for the adapter's test of a file it creates but cannot
// write: creates the path in argv with `fs.writeNewSync` (the test runs it
// under a file-size limit of 0, so every write fails), and prints "threw
// <message>" or "written".

import process from "node:process";
import { fs } from "../../src/_runtime/fs.ts";

try {
  fs.writeNewSync(process.argv.at(-1) as string, new Uint8Array(16));
  process.stdout.write("written\n");
} catch (error) {
  process.stdout.write(`threw ${(error as Error).message}\n`);
}
