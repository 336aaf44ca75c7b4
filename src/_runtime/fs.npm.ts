// The runtime adapter as the npm package ships it: `scripts/build_npm.ts`
// compiles this file in place of `fs.ts`, with the same exports, so the
// package holds only the Node side (`node:fs/promises`, which Node, Bun and
// Deno's Node compatibility all provide).
//
// Why swap rather than ship both sides: `fs_deno.ts` needs the `Deno` global's
// types, which tsc only gets from Deno itself (`deno types`, which clashes with
// `@types/node`) or from a hand-written copy that would drift; and on Node it
// would be dead code behind a `globalThis.Deno` probe.

import { nodeFs, nodeHost } from "./fs_node.ts";
import type { Fs, Host } from "./fs_types.ts";

export {
  AlreadyExistsError,
  NotAFileError,
  NotFoundError,
} from "./fs_errors.ts";
export type { DirEntry, FileStat, FileWriter, Fs, Host } from "./fs_types.ts";

/** The file system: Node's, the only one in the npm package. */
export const fs: Fs = nodeFs;

/** The machine and its processes, as Node sees them. */
export const host: Host = nodeHost;
