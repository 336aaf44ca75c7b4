// The runtime adapter: the only way the library touches the file system.
//
// On Deno it uses Deno's own file APIs (`fs_deno.ts`); elsewhere
// `node:fs/promises` (`fs_node.ts`). The choice is made once, when this module
// loads, and only the chosen side is loaded: Deno's Node compatibility
// modules cost its start-up more than the library itself. Both sides throw
// the same errors for the conditions the library reacts to
// (`NotFoundError`, `AlreadyExistsError`, `NotAFileError`, in
// `fs_errors.ts`); anything else is passed through unchanged. The interface
// is in `fs_types.ts`.
//
// The npm package compiles `fs.npm.ts` in this file's place (see
// `scripts/build_npm.ts`): the same exports, with the Node side only.

import type { Fs, Host } from "./fs_types.ts";

export {
  AlreadyExistsError,
  NotAFileError,
  NotFoundError,
} from "./fs_errors.ts";
export type { DirEntry, FileStat, FileWriter, Fs, Host } from "./fs_types.ts";

const side: { fs: Fs; host: Host } = "Deno" in globalThis
  ? await import("./fs_deno.ts").then((deno) => ({
    fs: deno.denoFs,
    host: deno.denoHost,
  }))
  : await import("./fs_node.ts").then((node) => ({
    fs: node.nodeFs,
    host: node.nodeHost,
  }));

/** The file system of the running runtime. */
export const fs: Fs = side.fs;

/** The machine and its processes, as the running runtime may see them. */
export const host: Host = side.host;
