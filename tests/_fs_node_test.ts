// The runtime adapter's Node side, on both runtimes.

import { nodeFs } from "../src/_fs_node.ts";
import { fsCases } from "./_fs_cases.ts";

fsCases("nodeFs", nodeFs);
