// The runtime adapter's Deno side. Deno only: it needs Deno's own APIs, so
// the npm build leaves it out of the Node run (files ending in _deno_test.ts).

import { DenoFileWriter, denoFs } from "../../src/_runtime/fs_deno.ts";
import { fsCases } from "../_helpers/fs_cases.ts";

fsCases("denoFs", denoFs, {
  readOnlyWriter: async (path) => new DenoFileWriter(await Deno.open(path)),
  pipeEndsPendingReads: false,
});
