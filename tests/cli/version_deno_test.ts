// `dlmanager --version` prints src/cli/version.ts's VERSION: it must be the
// package's, deno.json's. Deno only (it imports deno.json as JSON, which the
// npm build's test compilation does not carry).

import assert from "node:assert/strict";
import { test } from "node:test";
import denoJson from "../../deno.json" with { type: "json" };
import { VERSION } from "../../src/cli/version.ts";

test("VERSION is deno.json's version", () => {
  assert.equal(VERSION, denoJson.version);
});
