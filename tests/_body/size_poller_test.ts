import assert from "node:assert/strict";
import { appendFile, writeFile } from "node:fs/promises";
import { test } from "node:test";
import {
  POLL_INTERVAL,
  pollInterval,
  SizePoller,
} from "../../src/_body/size_poller.ts";
import { deferred } from "../_helpers/server.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

/** A poller on `path` whose reports are kept, each resolving a waiter. */
function watch(path: string, size = 0): {
  poller: SizePoller;
  sizes: number[];
  errors: unknown[];
  next: () => Promise<number>;
  failed: Promise<unknown>;
} {
  const sizes: number[] = [];
  const errors: unknown[] = [];
  let grown = deferred<number>();
  const failed = deferred<unknown>();
  const poller = new SizePoller(path, size, 1, (now) => {
    sizes.push(now);
    grown.resolve(now);
  }, (error) => {
    errors.push(error);
    failed.resolve(error);
  });
  return {
    poller,
    sizes,
    errors,
    next: async () => {
      const size = await grown.promise;
      grown = deferred<number>();
      return size;
    },
    failed: failed.promise,
  };
}

test("SizePoller reports each new size once, as the file grows", async () => {
  await using dir = await tempDir();
  const path = dir.join("f");
  await writeFile(path, new Uint8Array(10));
  const watched = watch(path, 10);
  try {
    await appendFile(path, new Uint8Array(5));
    assert.equal(await watched.next(), 15);
    await appendFile(path, new Uint8Array(100));
    assert.equal(await watched.next(), 115);
    assert.deepEqual(watched.sizes, [15, 115]);
    assert.deepEqual(watched.errors, []);
  } finally {
    watched.poller.stop();
  }
});

test("SizePoller waits for a missing file to appear", async () => {
  await using dir = await tempDir();
  const path = dir.join("later");
  const watched = watch(path);
  try {
    await writeFile(path, new Uint8Array(7));
    assert.equal(await watched.next(), 7);
    assert.deepEqual(watched.errors, []);
  } finally {
    watched.poller.stop();
  }
});

test("SizePoller reports nothing once stopped", async () => {
  await using dir = await tempDir();
  const path = dir.join("f");
  await writeFile(path, new Uint8Array(1));
  const stopped = watch(path, 1);
  stopped.poller.stop();
  await appendFile(path, new Uint8Array(1));
  // A second poller sees the growth: the first had every chance to.
  const second = watch(path, 1);
  try {
    assert.equal(await second.next(), 2);
  } finally {
    second.poller.stop();
  }
  assert.deepEqual(stopped.sizes, []);
});

test("SizePoller hands an error thrown by onGrow to onError, once, and stops", async () => {
  await using dir = await tempDir();
  const path = dir.join("f");
  await writeFile(path, new Uint8Array(0));
  const refusal = new Error("too long");
  let calls = 0;
  const failed = deferred<unknown>();
  const errors: unknown[] = [];
  const poller = new SizePoller(path, 0, 1, () => {
    calls++;
    throw refusal;
  }, (error) => {
    errors.push(error);
    failed.resolve(error);
  });
  try {
    await appendFile(path, new Uint8Array(3));
    assert.equal(await failed.promise, refusal);
    assert.equal(calls, 1);
    // Stopped after the error: a second poller sees more growth, this one not.
    await appendFile(path, new Uint8Array(3));
    const second = watch(path, 3);
    try {
      assert.equal(await second.next(), 6);
    } finally {
      second.poller.stop();
    }
    assert.equal(calls, 1);
    assert.deepEqual(errors, [refusal]);
  } finally {
    poller.stop();
  }
});

test("SizePoller hands a failed look to onError", async () => {
  await using dir = await tempDir();
  await writeFile(dir.join("file"), new Uint8Array(1));
  // A path under a regular file: stat fails, and not as "missing".
  const watched = watch(dir.join("file", "f"));
  try {
    const error = await watched.failed;
    assert.ok(error instanceof Error);
    assert.deepEqual(watched.sizes, []);
  } finally {
    watched.poller.stop();
  }
});

test("pollInterval() is a tenth of the idle timeout, at most POLL_INTERVAL", () => {
  assert.equal(POLL_INTERVAL, 100);
  assert.equal(pollInterval(60_000), POLL_INTERVAL);
  assert.equal(pollInterval(300), 30);
  assert.equal(pollInterval(Infinity), POLL_INTERVAL);
  assert.equal(pollInterval(0), POLL_INTERVAL); // no idle timeout
});
