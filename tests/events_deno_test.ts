// The events made by another copy of `events.ts` in this process, as a
// process that loads the npm package's ES module and CommonJS builds (or
// two versions of the package) has: a listener checking `instanceof` with
// its own copy's class. Deno only: the second copy is the same file
// imported with a query string (see errors_deno_test.ts).

import assert from "node:assert/strict";
import { test } from "node:test";
import { Download } from "../mod.ts";
import * as events from "../src/events.ts";

const copy: typeof events = await import("../src/events.ts?copy");

/** One of each event class, made by `from`. */
function oneOfEach(from: typeof events): Record<string, Event> {
  const download = new Download("http://127.0.0.1:9/f", "f");
  return {
    DownloadEvent: new from.DownloadEvent("done", download),
    DownloadProgressEvent: new from.DownloadProgressEvent(download, 1, 2),
    DownloadStateEvent: new from.DownloadStateEvent(download, "done"),
    DownloadRetryEvent: new from.DownloadRetryEvent(
      download,
      1,
      0,
      new Error("a"),
    ),
    DownloadErrorEvent: new from.DownloadErrorEvent(download, new Error("a")),
  };
}

test("instanceof recognises each event class's events made by another copy of the module, and its subclasses' as the base class's", () => {
  assert.notEqual(copy.DownloadProgressEvent, events.DownloadProgressEvent);
  for (const [made, event] of Object.entries(oneOfEach(copy))) {
    assert.ok(event instanceof events.DownloadEvent, made);
    assert.ok(event instanceof Event, made);
    for (const name of Object.keys(oneOfEach(events))) {
      if (name === "DownloadEvent") continue;
      const ours = (events as unknown as Record<string, new () => Event>)[name];
      assert.ok(ours !== undefined, name);
      assert.equal(event instanceof ours, made === name, `${made} ${name}`);
    }
  }
  assert.ok(!(new Event("done") instanceof events.DownloadEvent));
  assert.ok(!({} instanceof events.DownloadProgressEvent));
});
