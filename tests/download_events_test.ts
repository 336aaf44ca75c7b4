// The events of downloads and managers, against a local server: their order
// and content for a download that completes, retries, fails or is canceled;
// `for await` over `events()`; listeners that throw; a manager that relays
// every download's events. Run on Deno, Node and Bun by the test matrix.
// The behaviour lives in src/events.ts, src/download_event_target.ts and
// src/_event_stream.ts.

import assert from "node:assert/strict";
import { getEventListeners, getMaxListeners } from "node:events";
import { test } from "node:test";
import {
  Download,
  DownloadErrorEvent,
  type DownloadEvent,
  DownloadInterrupt,
  type DownloadOptions,
  DownloadProgressEvent,
  DownloadRetryEvent,
  type DownloadState,
  DownloadStateEvent,
  HTTPError,
} from "../mod.ts";
import {
  deferred,
  type FileRouteOptions,
  patternBytes,
  type Route,
  type ServedFile,
  serveFile,
  startServer,
} from "./_helpers/server.ts";
import { type TempDir, tempDir } from "./_helpers/temp_dir.ts";
import { recordWarnings } from "./_helpers/warnings.ts";

const BODY = patternBytes(600_000, 5);
const FAST: DownloadOptions = { backoffBase: 1, backoffCap: 5 };
const TYPES = ["progress", "statechange", "retry", "done", "error"] as const;

function serve(options: Partial<FileRouteOptions> = {}): Promise<ServedFile> {
  return serveFile({ body: BODY, etag: '"e"', ...options }, ["/f", "/g"]);
}

/** Every event `target` dispatches, in order. */
function record(target: EventTarget): DownloadEvent[] {
  const events: DownloadEvent[] = [];
  for (const type of TYPES) {
    target.addEventListener(
      type,
      (event) => events.push(event as DownloadEvent),
    );
  }
  return events;
}

/**
 * The event a `next()` settled with, or "pending" if it has not settled: a
 * promise settled already wins the race with one resolved after it.
 */
function settled(
  next: Promise<IteratorResult<DownloadEvent>>,
): Promise<DownloadEvent | undefined | "pending"> {
  return Promise.race([
    next.then((result) => result.value),
    Promise.resolve().then(() => "pending" as const),
  ]);
}

/** The events as short strings: type, and the state of a statechange. */
function names(events: DownloadEvent[]): string[] {
  return events.map((event) =>
    event instanceof DownloadStateEvent ? event.state : event.type
  ).filter((name, i, all) => name !== "progress" || all[i - 1] !== "progress");
}

test("Download dispatches statechange, progress, done and the last statechange, in order, each naming it", async () => {
  await using server = await serve();
  await using dir = await tempDir();
  // Writes of 100,000 bytes, each reported.
  const download = new Download(server.url(), dir.join("f"), {
    ...FAST,
    chunkSize: 100_000,
  });
  const events = record(download);
  download.start();
  await download.wait();
  assert.deepEqual(names(events), ["running", "progress", "done", "done"]);
  assert.ok(events.every((event) => event.download === download));
  const progress = events.filter((e) => e instanceof DownloadProgressEvent);
  assert.equal(progress[0]?.current, 0);
  assert.deepEqual(progress.map((e) => e.total), progress.map(() => 600_000));
  assert.equal(progress.at(-1)?.current, BODY.byteLength);
  for (let i = 1; i < progress.length; i++) {
    assert.ok(
      (progress[i] as DownloadProgressEvent).current >=
        (progress[i - 1] as DownloadProgressEvent).current,
    );
  }
  assert.equal(progress.length, 7); // 0, then each of the 6 writes
});

test("Download dispatches retry with the attempt, the delay and why, then goes on", async () => {
  await using server = await serve({
    faults: [{ status: 503, retryAfter: "0" }],
  });
  await using dir = await tempDir();
  const download = new Download(server.url(), dir.join("f"), FAST);
  const events = record(download);
  download.start();
  await download.wait();
  const retries = events.filter((e) => e instanceof DownloadRetryEvent);
  assert.equal(retries.length, 1);
  const [retry] = retries;
  assert.equal(retry?.attempt, 1);
  assert.equal(retry?.delay, 0);
  assert.ok(retry?.error instanceof HTTPError);
  assert.match(retry?.reason ?? "", /server answered 503/);
  assert.deepEqual(names(events), [
    "running",
    "retry",
    "progress",
    "done",
    "done",
  ]);
});

test("Download dispatches error with its error, and no done, when it fails", async () => {
  await using server = await serve({ faults: [{ status: 404 }] });
  await using dir = await tempDir();
  const download = new Download(server.url(), dir.join("f"), FAST);
  const events = record(download);
  download.start();
  await download.wait({ raiseIfError: false });
  assert.deepEqual(names(events), ["running", "error", "failed"]);
  const error = events.find((e) => e instanceof DownloadErrorEvent);
  assert.equal(error?.error, download.error());
});

test("Download dispatches only the last statechange when canceled", async () => {
  const release = deferred();
  await using server = await serve({
    faults: [{ stallAfter: 1000, release: release.promise }],
  });
  await using dir = await tempDir();
  const download = new Download(server.url(), dir.join("f"), FAST);
  const events = record(download);
  download.addEventListener("progress", () => download.cancel(), {
    once: true,
  });
  download.start();
  await download.wait({ raiseIfError: false });
  release.resolve();
  assert.deepEqual(names(events), ["running", "progress", "canceled"]);
});

test("Download started with an aborted signal is canceled without running", async () => {
  await using server = await serve();
  await using dir = await tempDir();
  const download = new Download(server.url(), dir.join("f"), {
    ...FAST,
    signal: AbortSignal.abort("not wanted"),
  });
  const events = record(download);
  download.start();
  assert.equal(download.state, "canceled");
  await assert.rejects(
    download.wait(),
    (error) =>
      error instanceof DownloadInterrupt && error.cause === "not wanted",
  );
  assert.deepEqual(names(events), ["canceled"]);
  assert.equal(server.log.ranges.length, 0);
  assert.deepEqual(await dir.list(), []);
});

test("Download's events() yields every event for `for await`, and ends after the last", async () => {
  await using server = await serve();
  await using dir = await tempDir();
  const download = new Download(server.url(), dir.join("f"), FAST);
  const iterator = download.events();
  download.start();
  const seen: DownloadEvent[] = [];
  for await (const event of iterator) seen.push(event);
  assert.equal(seen.at(-1)?.type, "statechange");
  assert.equal((seen.at(-1) as DownloadStateEvent).state, "done");
  assert.ok(seen.some((event) => event.type === "done"));
  // Ended: its events have ended too.
  const after: DownloadEvent[] = [];
  for await (const event of download.events()) after.push(event);
  assert.deepEqual(after, []);
});

test("Download's events() ends when its signal aborts, or the loop breaks", async () => {
  const release = deferred();
  await using server = await serve({
    faults: [{ stallAfter: 1000, release: release.promise }],
  });
  await using dir = await tempDir();
  const download = new Download(server.url(), dir.join("f"), FAST);
  const abort = new AbortController();
  const iterator = download.events({ signal: abort.signal });
  download.start();
  let seen = 0;
  for await (const event of iterator) {
    seen++;
    if (event.type === "progress") abort.abort();
  }
  assert.ok(seen >= 1);
  const broken = download.events();
  download.cancel();
  let first: DownloadEvent | undefined;
  for await (const event of broken) {
    // A report of bytes written before the cancel may come first (the
    // bytes past the first report, on a loaded machine).
    if (event.type === "progress") continue;
    first = event;
    break;
  }
  assert.equal((first as DownloadStateEvent | undefined)?.state, "canceled");
  assert.deepEqual(await broken.next(), { done: true, value: undefined });
  await download.wait({ raiseIfError: false });
  release.resolve();
});

test("Download's events(): 11 loops, ended by one signal, with no leak warning from Node, and the limits as they were", async () => {
  await using server = await serve();
  await using dir = await tempDir();
  using warnings = recordWarnings();
  const download = new Download(server.url(), dir.join("f"), FAST);
  const abort = new AbortController();
  const limits = [getMaxListeners(abort.signal), getMaxListeners(download)];
  const loops = Array.from({ length: 11 }, async () => {
    const seen: string[] = [];
    for await (const event of download.events({ signal: abort.signal })) {
      seen.push(event.type);
    }
    return seen;
  });
  abort.abort();
  assert.deepEqual(await Promise.all(loops), Array(11).fill([]));
  assert.deepEqual(
    [getMaxListeners(abort.signal), getMaxListeners(download)],
    limits,
  );
  await warnings.settled();
  assert.deepEqual(warnings.names, []);
});

test("Download's events() settles next() calls made before any event, each with the next event in turn", async () => {
  await using server = await serve();
  await using dir = await tempDir();
  const download = new Download(server.url(), dir.join("f"), FAST);
  const iterator = download.events();
  // Called at once, as an async generator's may be: each waits its turn.
  const first = iterator.next();
  const second = iterator.next();
  download.start();
  await download.wait();
  // Every event has been dispatched: both have settled (else "pending").
  const [one, two] = [await settled(first), await settled(second)];
  assert.equal(
    (one as DownloadStateEvent | undefined)?.state,
    "running",
    `the first next(): ${String(one)}`,
  );
  assert.ok(two instanceof DownloadProgressEvent, String(two));
  const rest: DownloadEvent[] = [];
  for await (const event of iterator) rest.push(event);
  assert.equal((rest.at(-1) as DownloadStateEvent).state, "done");
  // Ended: more calls at once all end.
  assert.deepEqual(await Promise.all([iterator.next(), iterator.next()]), [
    { done: true, value: undefined },
    { done: true, value: undefined },
  ]);
});

test("Download keeps downloading when a listener throws: the error is logged, the other listeners still hear", async () => {
  await using server = await serve();
  await using dir = await tempDir();
  const logged: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => logged.push(args);
  try {
    const download = new Download(server.url(), dir.join("f"), FAST);
    const boom = new Error("listener bug");
    download.addEventListener("progress", () => {
      throw boom;
    });
    download.addEventListener("statechange", {
      handleEvent: () => {
        throw boom;
      },
    });
    let heard = 0;
    download.addEventListener("done", () => heard++);
    download.start();
    await download.wait();
    assert.equal(download.state, "done");
    assert.equal(heard, 1);
    assert.ok(logged.length >= 2);
    assert.ok(logged.every((args) => args.includes(boom)));
    assert.match(
      String(logged[0]?.[0]),
      /a "(progress|statechange)" listener threw/,
    );
  } finally {
    console.error = original;
  }
});

test("Download's removeEventListener, once and signal stop a listener as EventTarget's do", async () => {
  await using server = await serve();
  await using dir = await tempDir();
  const download = new Download(server.url(), dir.join("f"), {
    ...FAST,
    chunkSize: 100_000,
  });
  let removed = 0;
  let once = 0;
  let signaled = 0;
  const listener = (): void => {
    removed++;
  };
  download.addEventListener("progress", listener);
  download.addEventListener("progress", listener); // the same one: once
  download.removeEventListener("progress", listener);
  download.addEventListener("progress", () => once++, { once: true });
  const stop = new AbortController();
  download.addEventListener("progress", () => {
    signaled++;
    stop.abort();
  }, { signal: stop.signal });
  download.start();
  await download.wait();
  assert.equal(removed, 0);
  assert.equal(once, 1);
  assert.equal(signaled, 1);
});

/**
 * The warnings Node gives for `count` listeners of "progress" added to
 * `target` with one signal, `removed` of them removed again; and whether
 * the signal's listener limit is as it was once it has aborted.
 */
async function signalWarnings(
  target: EventTarget,
  count: number,
  removed = 0,
): Promise<{ names: string[]; limitKept: boolean }> {
  using warnings = recordWarnings();
  const stop = new AbortController();
  const limit = getMaxListeners(stop.signal);
  for (let i = 0; i < count; i++) {
    const listener = (): void => {};
    target.addEventListener("progress", listener, { signal: stop.signal });
    if (i < removed) target.removeEventListener("progress", listener);
  }
  await warnings.settled();
  stop.abort();
  return {
    names: warnings.names,
    limitKept: getMaxListeners(stop.signal) === limit,
  };
}

test("Download's listeners given one signal weigh on it as EventTarget's do: no leak warning of the library's own", async () => {
  await using dir = await tempDir();
  for (const [count, removed] of [[6, 0], [11, 0], [6, 6]] as const) {
    // Node warns at 11 listeners of one signal, or of one type on a target
    // (its own listener on the signal stays after a remove); Deno and Bun
    // do not warn.
    const own = await signalWarnings(
      new Download("http://127.0.0.1:1/f", dir.join("f")),
      count,
      removed,
    );
    const platform = await signalWarnings(new EventTarget(), count, removed);
    assert.deepEqual(own, platform, `${count}, ${removed} removed`);
  }
});

test("Download's listeners given a signal let go of it once the download has ended", async () => {
  // A daemon's one shutdown signal, given to the listeners of every
  // download: an ended download must not stay on it (and in memory) until
  // the signal aborts, however many downloads ran.
  await using server = await serve();
  await using dir = await tempDir();
  const shutdown = new AbortController();
  const manager = dir.manager(FAST, "m");
  manager.addEventListener("done", () => {}, { signal: shutdown.signal });
  let heard = 0;
  for (const path of ["/f", "/g"]) {
    const download = manager.download(server.url(path)) as Download;
    for (const type of TYPES) {
      download.addEventListener(type, () => heard++, {
        signal: shutdown.signal,
      });
    }
    await download.wait();
    download.addEventListener("done", () => heard++, {
      signal: shutdown.signal,
    });
  }
  const direct = new Download(server.url("/f"), dir.join("f"), FAST);
  direct.addEventListener("done", () => heard++, { signal: shutdown.signal });
  direct.start();
  await direct.wait();
  assert.ok(heard > 0);
  // The manager's own listener stays until the signal aborts.
  assert.equal(getEventListeners(shutdown.signal, "abort").length, 1);
  shutdown.abort();
  assert.equal(getEventListeners(shutdown.signal, "abort").length, 0);
});

/**
 * How many times one listener heard "done" from a download of the file,
 * once `arrange` added (and removed) it as the test would.
 */
async function doneHeard(
  arrange: (download: Download, listener: () => void) => void,
): Promise<number> {
  await using server = await serve();
  await using dir = await tempDir();
  const download = new Download(server.url(), dir.join("f"), FAST);
  let heard = 0;
  arrange(download, () => {
    heard++;
  });
  download.start();
  await download.wait();
  return heard;
}

test("Download's listener given an aborted signal is not added, and the same listener added later hears", async () => {
  const heard = await doneHeard((download, listener) => {
    download.addEventListener("done", listener, {
      signal: AbortSignal.abort(),
    });
    download.addEventListener("done", listener);
  });
  assert.equal(heard, 1);
});

test("Download's listener removed and added again without its signal stays removable once that signal aborts", async () => {
  const heard = await doneHeard((download, listener) => {
    const stop = new AbortController();
    download.addEventListener("done", listener, { signal: stop.signal });
    download.removeEventListener("done", listener);
    download.addEventListener("done", listener);
    stop.abort();
    download.removeEventListener("done", listener);
  });
  assert.equal(heard, 0);
});

/**
 * Downloads /f and /g one at a time in `dir`/m, the queued /g canceled by
 * a manager's first `listener` or by its own `onStateChange`: asserts the
 * manager's other listener hears /g's "canceled" after its "queued", last.
 */
async function assertQueuedCancelHeardInOrder(
  server: { url: (path?: string) => string },
  dir: TempDir,
  cancel: {
    listener?: (event: DownloadStateEvent) => void;
    onStateChange?: (download: Download, state: DownloadState) => void;
  },
): Promise<void> {
  const manager = dir.manager({
    ...FAST,
    concurrency: 1,
  }, "m");
  if (cancel.listener) manager.addEventListener("statechange", cancel.listener);
  const heard: string[] = [];
  manager.addEventListener("statechange", ({ state, download }) => {
    heard.push(
      `${download.getDest() === dir.join("m", "g") ? "g" : "f"}: ${state}`,
    );
  });
  manager.download(server.url("/f"));
  manager.download(
    server.url("/g"),
    cancel.onStateChange ? { onStateChange: cancel.onStateChange } : {},
  );
  await manager.wait({ raiseIfError: false });
  assert.deepEqual(heard, [
    "f: running",
    "g: queued",
    "g: canceled",
    "f: done",
  ]);
}

test("Download's listeners hear its states in order when one of them pauses or cancels it", async () => {
  await using server = await serve();
  await using dir = await tempDir();
  const download = new Download(server.url(), dir.join("f"), FAST);
  // The first listener pauses it as it starts: the second hears "running"
  // before "paused", as the state went, not after.
  download.addEventListener("statechange", () => void download.pause(), {
    once: true,
  });
  const states: string[] = [];
  download.addEventListener("statechange", ({ state }) => states.push(state));
  download.start();
  assert.deepEqual(states, ["running", "paused"]);
  download.resume();
  await download.wait();
  assert.deepEqual(states, ["running", "paused", "running", "done"]);
  // A manager's listener that cancels a queued download: the others hear
  // "queued", then "canceled", its last.
  await assertQueuedCancelHeardInOrder(server, dir, {
    listener: ({ state, download }) => {
      if (state === "queued") download.cancel();
    },
  });
});

test("Download's listeners hear its states in order when its onStateChange pauses or cancels it", async () => {
  await using server = await serve();
  await using dir = await tempDir();
  // The callback pauses it as it starts: listeners hear "running" before
  // "paused", as the state went, and the callback was told.
  const told: string[] = [];
  const download = new Download(server.url(), dir.join("f"), {
    ...FAST,
    onStateChange: (download, state) => {
      told.push(state);
      if (told.length === 1) void download.pause();
    },
  });
  const states: string[] = [];
  download.addEventListener("statechange", ({ state }) => states.push(state));
  download.start();
  assert.equal(download.state, "paused");
  assert.deepEqual(told, ["running", "paused"]);
  assert.deepEqual(states, ["running", "paused"]);
  download.resume();
  await download.wait();
  assert.deepEqual(states, ["running", "paused", "running", "done"]);
  // A queued download whose callback cancels it: the manager's listeners
  // hear "queued", then "canceled", its last.
  await assertQueuedCancelHeardInOrder(server, dir, {
    onStateChange: (download, state) => {
      if (state === "queued") download.cancel();
    },
  });
});

test("Download's listeners hear a progress before the pause its progress callback makes", async () => {
  await using server = await serve();
  await using dir = await tempDir();
  // The callback pauses at the first report (0, once the server answered):
  // listeners hear that progress, then "paused", as it went.
  let reports = 0;
  const download = new Download(server.url(), dir.join("f"), {
    ...FAST,
    progress: (download) => {
      if (++reports === 1) void download.pause();
    },
  });
  const heard: string[] = [];
  download.addEventListener("statechange", ({ state }) => heard.push(state));
  download.addEventListener(
    "progress",
    ({ current }) => heard.push(`${current}`),
  );
  const paused = new Promise<void>((resolve) =>
    download.addEventListener("statechange", ({ state }) => {
      if (state === "paused") resolve();
    })
  );
  download.start();
  await paused;
  assert.deepEqual(heard, ["running", "0", "paused"]);
  download.resume();
  await download.wait();
  assert.equal(heard.at(-1), "done");
  assert.equal(heard.at(-2), `${BODY.byteLength}`);
});

// Reported by a hunt: with an onStateChange, a progress callback that
// paused told the callback "paused" before the listeners had heard that
// write's progress.
test("Download's onStateChange and listeners hear a progress before the pause its progress callback makes", async () => {
  await using server = await serve();
  await using dir = await tempDir();
  let reports = 0;
  const heard: string[] = [];
  const download = new Download(server.url(), dir.join("f"), {
    ...FAST,
    progress: (download, current) => {
      heard.push(`callback ${current}`);
      if (++reports === 1) void download.pause();
    },
    onStateChange: (_download, state) => heard.push(`onStateChange ${state}`),
  });
  download.addEventListener("statechange", ({ state }) => {
    heard.push(`statechange ${state}`);
  });
  download.addEventListener("progress", ({ current }) => {
    heard.push(`progress ${current}`);
  });
  const paused = new Promise<void>((resolve) =>
    download.addEventListener("statechange", ({ state }) => {
      if (state === "paused") resolve();
    })
  );
  download.start();
  await paused;
  assert.deepEqual(heard, [
    "onStateChange running",
    "statechange running",
    "callback 0",
    "progress 0",
    "onStateChange paused",
    "statechange paused",
  ]);
  download.resume();
  await download.wait();
  assert.deepEqual(heard.slice(6, 8), [
    "onStateChange running",
    "statechange running",
  ]);
  assert.deepEqual(heard.slice(-4), [
    `callback ${BODY.byteLength}`,
    `progress ${BODY.byteLength}`,
    "onStateChange done",
    "statechange done",
  ]);
});

test("Download's seed callbacks and its events both hear everything", async () => {
  await using server = await serve();
  await using dir = await tempDir();
  const callbacks: string[] = [];
  const download = new Download(server.url(), dir.join("f"), {
    ...FAST,
    progress: (_d, current) => callbacks.push(`progress ${current}`),
    onStateChange: (_d, state) => callbacks.push(state),
  });
  const events = record(download);
  download.start();
  await download.wait();
  assert.deepEqual(
    callbacks.filter((c) => !c.startsWith("progress")),
    ["running", "done"],
  );
  assert.equal(
    callbacks.filter((c) => c.startsWith("progress")).length,
    events.filter((e) => e.type === "progress").length,
  );
});

test("Download whose onStateChange throws at the end tells that it failed, as wait() does", async () => {
  await using server = await serve();
  await using dir = await tempDir();
  const told: string[] = [];
  const download = new Download(server.url(), dir.join("f"), {
    ...FAST,
    onStateChange: (_d, state) => {
      told.push(state);
      if (state === "done") throw new Error("the callback failed");
    },
  });
  const events = record(download);
  download.start();
  await assert.rejects(download.wait(), /the callback failed/);
  assert.equal(download.state, "failed");
  assert.deepEqual(told, ["running", "done", "failed"]);
  assert.deepEqual(names(events), ["running", "progress", "error", "failed"]);
});

test("DownloadManager relays every download's events, and its events() ends when none is left", async () => {
  await using server = await serve();
  await using dir = await tempDir();
  const manager = dir.manager(FAST);
  const heard = record(manager);
  const iterator = manager.events();
  const a = manager.download(server.url("/f")) as Download;
  const b = manager.download(server.url("/g")) as Download;
  const seen: DownloadEvent[] = [];
  for await (const event of iterator) seen.push(event);
  await manager.wait();
  for (const download of [a, b]) {
    const own = seen.filter((event) => event.download === download);
    assert.deepEqual(names(own).slice(-2), ["done", "done"]);
  }
  const done = new Set(
    heard.filter((e) => e.type === "done").map((e) => e.download),
  );
  assert.equal(done.size, 2);
  assert.ok(done.has(a) && done.has(b));
  // Dispatched by the manager (copies: a download's listeners may stop
  // their own event's propagation).
  assert.ok(heard.every((event) => event.target === manager));
});

/**
 * A route that sends BODY in writes of 100,000 bytes, each only once
 * `step()` allows one more: the test decides how downloads interleave.
 */
function steppedRoute(): { route: Route; step: () => void } {
  let allowed = 0;
  let wake = (): void => {};
  const route: Route = async (_request, response) => {
    response.writeHead(200, { "content-length": BODY.byteLength });
    response.flushHeaders();
    for (let sent = 0; sent < BODY.byteLength; sent += 100_000) {
      while (sent / 100_000 >= allowed) {
        await new Promise<void>((resolve) => wake = resolve);
      }
      const part = BODY.subarray(sent, sent + 100_000);
      await new Promise<void>((resolve) =>
        response.write(part, () => resolve())
      );
    }
    response.end();
  };
  return {
    route,
    step: () => {
      allowed++;
      wake();
    },
  };
}

/** Resolves once `download` reports `bytes` or more. */
function reached(download: Download, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    const listener = ({ current }: DownloadProgressEvent): void => {
      if (current < bytes) return;
      download.removeEventListener("progress", listener);
      resolve();
    };
    download.addEventListener("progress", listener);
  });
}

test("DownloadManager's events(): a loop that reads nothing while downloads write in turns sees each one's latest progress only", async () => {
  const [a, b] = [steppedRoute(), steppedRoute()];
  await using server = await startServer({ "/a": a.route, "/b": b.route });
  await using dir = await tempDir();
  const manager = dir.manager({
    ...FAST,
    chunkSize: 100_000,
    connections: 1,
  });
  const iterator = manager.events();
  const downloads = [
    manager.download(server.url("/a")) as Download,
    manager.download(server.url("/b")) as Download,
  ];
  // a, b, a, b...: each write reported before the other download's next.
  for (let bytes = 100_000; bytes <= BODY.byteLength; bytes += 100_000) {
    for (const [i, route] of [a, b].entries()) {
      const written = reached(downloads[i] as Download, bytes);
      route.step();
      await written;
    }
  }
  await manager.wait();
  const seen: DownloadEvent[] = [];
  for await (const event of iterator) seen.push(event);
  for (const download of downloads) {
    const own = seen.filter((event) => event.download === download);
    assert.deepEqual(names(own), ["running", "progress", "done", "done"]);
    const progress = own.filter((e) => e instanceof DownloadProgressEvent);
    assert.deepEqual(progress.map((e) => e.current), [BODY.byteLength]);
  }
});

test("DownloadManager's events(): a loop that reads nothing while 600 downloads run sees every one's events, in order, and each one's latest progress only", async () => {
  const small = patternBytes(1000, 6);
  await using server = await startServer({
    "/": (_request, response) => {
      response.writeHead(200, { "content-length": small.byteLength });
      response.end(small);
    },
  });
  await using dir = await tempDir();
  const manager = dir.manager({ ...FAST, concurrency: 8 });
  const iterator = manager.events();
  // More events wait than the loop's queue keeps before it lets go of
  // what was taken: the order holds across that.
  const downloads = Array.from(
    { length: 600 },
    (_, i) =>
      manager.download(`${server.url("/")}?${i}`, {
        fname: `f${i}`,
      }) as Download,
  );
  await manager.wait();
  const seen: DownloadEvent[] = [];
  for await (const event of iterator) seen.push(event);
  // (Not Map.groupBy: Node 20 has none.)
  const byDownload = new Map<unknown, DownloadEvent[]>();
  for (const event of seen) {
    byDownload.set(event.download, [
      ...byDownload.get(event.download) ?? [],
      event,
    ]);
  }
  assert.equal(byDownload.size, downloads.length);
  for (const [i, download] of downloads.entries()) {
    const own = byDownload.get(download) ?? [];
    // The first 8 take a slot at once; the others wait for one.
    assert.deepEqual(names(own), [
      ...(i < 8 ? [] : ["queued"]),
      "running",
      "progress",
      "done",
      "done",
    ]);
    const progress = own.filter((e) => e instanceof DownloadProgressEvent);
    assert.deepEqual(progress.map((e) => e.current), [small.byteLength]);
  }
  // Each download's events began after the one before it began (a queue,
  // first in, first out).
  const firsts = downloads.map((download) =>
    seen.findIndex((event) => event.download === download)
  );
  assert.deepEqual(firsts, firsts.toSorted((a, b) => a - b));
});
