import assert from "node:assert/strict";
import { test } from "node:test";
import { ownerJson, readOwner } from "../../src/_disk/owner_file.ts";
import { fifoAt, HAS_FIFOS } from "../_helpers/fifo.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

test(
  "readOwner() returns undefined, without reading it, when a FIFO is at the lock's path",
  { skip: !HAS_FIFOS && "no FIFOs" },
  async () => {
    await using dir = await tempDir();
    // Read, it would name an owner (and, before, it stopped the process).
    const owner = new TextDecoder().decode(ownerJson("0123456789abcdef-1"));
    await using fifo = fifoAt(dir.join("x.lock"), owner);
    assert.equal(readOwner(fifo.path), undefined);
  },
);
