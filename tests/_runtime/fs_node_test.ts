// The runtime adapter's Node side, on both runtimes.

import { openSync } from "node:fs";
import { NodeFileWriter, nodeFs } from "../../src/_runtime/fs_node.ts";
import { fsCases } from "../_helpers/fs_cases.ts";

fsCases("nodeFs", nodeFs, {
  readOnlyWriter: (path) => new NodeFileWriter(openSync(path, "r")),
  pipeEndsPendingReads: true,
});
