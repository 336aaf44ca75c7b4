// A child process for the default fetch's test, whose failure ends the
// process: fetches argv[2] with the default `fetch`, reads nothing of the
// body until the fetch of argv[3] (the server's gate; none if empty) has
// answered, then reads it all and prints `read <bytes> <sha256 in hex>`.
// Headers are passed as a download passes them: on Node, making them loads
// Node's own undici first. Then prints `undici 8 index loaded` or `undici 8
// index not loaded`: whether the whole of undici 8 was loaded, where its
// `fetch` and `Agent` alone stand in for Node's `fetch`.

import { createHash } from "node:crypto";
import module from "node:module";
import process from "node:process";
import { defaultFetch } from "../../src/_runtime/fetch.ts";

const [url, gate] = process.argv.slice(2) as [string, string];
const fetch = defaultFetch(true);
// No top-level await: the npm build runs this file as CommonJS too.
fetch(url, { headers: new Headers({ accept: "*/*" }) }).then(
  async (response) => {
    if (gate !== "") await (await fetch(gate)).arrayBuffer();
    const body = new Uint8Array(await response.arrayBuffer());
    const digest = createHash("sha256").update(body).digest("hex");
    console.log(`read ${body.byteLength} ${digest}`);
    // The CommonJS modules loaded, by path (also those an ES module imported).
    const { _cache: loaded = {} } = module as unknown as {
      _cache?: Record<string, unknown>;
    };
    const index = Object.keys(loaded).some((path) =>
      /[\\/]undici8[\\/]index\.js$/.test(path)
    );
    console.log(`undici 8 index ${index ? "loaded" : "not loaded"}`);
  },
);
