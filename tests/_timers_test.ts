import assert from "node:assert/strict";
import { test } from "node:test";
import { sleep, Watchdog } from "../src/_timers.ts";
import { DownloadInterrupt } from "../src/errors.ts";
import { type ManualClock, useManualClock } from "./_helpers/manual_clock.ts";

/** How early a timer may seem to fire, in milliseconds (the watchdog allows 1). */
const TOLERANCE = 2;

/** The largest delay setTimeout honours (2^31 - 1 ms, about 24.8 days). */
const TIMER_MAX = 2 ** 31 - 1;

/** Resolves after `ms`: the bounded wait these tests measure against. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A watchdog whose timeouts are counted, with a promise for the first. */
function watched(ms: number): {
  watchdog: Watchdog;
  fired: Promise<number>;
  calls: () => number;
} {
  let calls = 0;
  let resolve!: (at: number) => void;
  const fired = new Promise<number>((r) => resolve = r);
  const watchdog = new Watchdog(ms, () => {
    calls++;
    resolve(performance.now());
  });
  return { watchdog, fired, calls: () => calls };
}

/**
 * Runs `fn` with setTimeout recording every delay it is given (and still
 * scheduling the timer), and returns the delays.
 */
function recordTimeouts(fn: () => void): number[] {
  const delays: number[] = [];
  const original = globalThis.setTimeout;
  globalThis.setTimeout = ((
    handler: () => void,
    ms?: number,
  ) => {
    delays.push(ms ?? 0);
    return original(handler, ms);
  }) as typeof setTimeout;
  try {
    fn();
  } finally {
    globalThis.setTimeout = original;
  }
  return delays;
}

/**
 * Runs `fn` with the library's timers on a clock that moves only when told
 * (`tests/_helpers/manual_clock.ts`): what the watchdog does at each
 * moment, however slow the machine.
 */
function withFakeClock(fn: (clock: ManualClock) => void): void {
  using clock = useManualClock();
  fn(clock);
}

test("Watchdog() calls onTimeout once when ms pass without a touch", async () => {
  const start = performance.now();
  const { fired, calls } = watched(30);
  const firedAt = await fired;
  assert.ok(firedAt - start >= 30 - TOLERANCE, `${firedAt - start}`);
  assert.equal(calls(), 1);
  await delay(90);
  assert.equal(calls(), 1);
});

test("Watchdog.touch() does not re-arm it when it already fired", async () => {
  const { watchdog, fired, calls } = watched(20);
  await fired;
  watchdog.touch();
  await delay(60);
  assert.equal(calls(), 1);
});

test("Watchdog.touch() pushes the timeout back when called before it fires", () => {
  withFakeClock((clock) => {
    let calls = 0;
    const watchdog = new Watchdog(50, () => calls++);
    for (let i = 0; i < 4; i++) {
      clock.advance(10);
      watchdog.touch();
    }
    // 40 ms in, touched last at 40: due at 90, not at 50.
    clock.advance(49);
    assert.equal(calls, 0);
    clock.advance(1);
    assert.equal(calls, 1);
    clock.advance(1_000);
    assert.equal(calls, 1);
  });
});

test("Watchdog.stop() prevents the call when called before ms pass", async () => {
  const stopped = watched(20);
  stopped.watchdog.stop();
  // A second, longer watchdog proves 3 × ms passed.
  const { fired } = watched(60);
  await fired;
  assert.equal(stopped.calls(), 0);
});

test("Watchdog.stop() prevents the call when called after touches", () => {
  withFakeClock((clock) => {
    let calls = 0;
    const watchdog = new Watchdog(30, () => calls++);
    clock.advance(10);
    watchdog.touch();
    clock.advance(10);
    watchdog.stop();
    watchdog.touch();
    clock.advance(1_000);
    assert.equal(calls, 0);
  });
});

test("Watchdog.stop() does nothing when called twice or after it fired", async () => {
  const { watchdog, fired, calls } = watched(20);
  await fired;
  watchdog.stop();
  watchdog.stop();
  assert.equal(calls(), 1);
});

test("Watchdog() never calls onTimeout when ms is Infinity or 0", async () => {
  const infinite = watched(Infinity);
  const zero = watched(0);
  infinite.watchdog.touch();
  zero.watchdog.touch();
  await watched(60).fired;
  assert.equal(infinite.calls(), 0);
  assert.equal(zero.calls(), 0);
  infinite.watchdog.stop();
  zero.watchdog.stop();
});

test("Watchdog() arms no timer when ms is Infinity or 0", () => {
  const delays = recordTimeouts(() => {
    const infinite = new Watchdog(Infinity, () => {});
    const zero = new Watchdog(0, () => {});
    infinite.touch();
    zero.touch();
    infinite.stop();
    zero.stop();
  });
  assert.deepEqual(delays, []);
});

test("Watchdog() arms one timer of ms when ms is finite", () => {
  let watchdog: Watchdog | undefined;
  const delays = recordTimeouts(() => {
    watchdog = new Watchdog(40, () => {});
    watchdog.touch();
    watchdog.touch();
  });
  watchdog?.stop();
  assert.deepEqual(delays, [40]);
});

test("Watchdog() arms no timer longer than setTimeout's limit when ms is above it", () => {
  // resolveTransferOptions() accepts any finite idleTimeout/connectTimeout,
  // e.g. 30 days. setTimeout clamps a delay above 2^31 - 1 ms to 1 ms (with a
  // TimeoutOverflowWarning), so the watchdog wakes every millisecond and
  // re-arms for the same too-long delay until it is stopped.
  let watchdog: Watchdog | undefined;
  const delays = recordTimeouts(() => {
    watchdog = new Watchdog(30 * 24 * 3_600_000, () => {});
  });
  watchdog?.stop();
  assert.equal(delays.length, 1);
  assert.ok(
    delays.every((ms) => ms <= TIMER_MAX),
    `delays ${delays.join(", ")}`,
  );
});

test("Watchdog.restart() keeps the timer when the new limit ends later", async () => {
  let first = 0;
  let watchdog: Watchdog | undefined;
  let restartedAt = 0;
  let resolve!: (at: number) => void;
  const fired = new Promise<number>((r) => resolve = r);
  const delays = recordTimeouts(() => {
    watchdog = new Watchdog(20, () => first++);
    restartedAt = performance.now();
    watchdog.restart(60, () => resolve(performance.now()));
  });
  // The 20 ms timer fires early and re-arms itself for what is left.
  assert.deepEqual(delays, [20]);
  const firedAt = await fired;
  assert.ok(
    firedAt - restartedAt >= 60 - TOLERANCE,
    `${firedAt - restartedAt}`,
  );
  assert.equal(first, 0);
  watchdog?.stop();
});

test("Watchdog.restart() re-arms the timer when the new limit ends sooner", () => {
  withFakeClock((clock) => {
    let first = 0;
    let second = 0;
    const watchdog = new Watchdog(10_000, () => first++);
    clock.advance(5);
    watchdog.restart(20, () => second++);
    clock.advance(19);
    assert.equal(second, 0);
    clock.advance(1);
    assert.equal(second, 1);
    clock.advance(20_000);
    assert.deepEqual([first, second], [0, 1]);
  });
});

test("Watchdog.restart() stops the watch when ms is Infinity or 0", async () => {
  const infinite = watched(20);
  const zero = watched(20);
  let calls = 0;
  infinite.watchdog.restart(Infinity, () => calls++);
  zero.watchdog.restart(0, () => calls++);
  await watched(60).fired;
  assert.equal(infinite.calls() + zero.calls() + calls, 0);
});

test("Watchdog.restart() arms the watch again when it was stopped", async () => {
  const { watchdog, calls } = watched(20);
  watchdog.stop();
  const start = performance.now();
  let resolve!: (at: number) => void;
  const fired = new Promise<number>((r) => resolve = r);
  watchdog.restart(30, () => resolve(performance.now()));
  const firedAt = await fired;
  assert.ok(firedAt - start >= 30 - TOLERANCE, `${firedAt - start}`);
  assert.equal(calls(), 0);
});

// sleep

test("sleep() resolves when the time passes and the signal does not abort", async () => {
  const controller = new AbortController();
  assert.equal(await sleep(0, controller.signal), undefined);
  assert.equal(await sleep(1, controller.signal), undefined);
});

test("sleep() rejects with the signal's reason when the signal aborted before", async () => {
  const controller = new AbortController();
  const reason = new Error("canceled");
  controller.abort(reason);
  await assert.rejects(sleep(1, controller.signal), (error) => {
    assert.equal(error, reason);
    return true;
  });
});

test("sleep() rejects with an AbortError when the signal aborted before without a reason", async () => {
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(sleep(0, controller.signal), (error) => {
    assert.ok(error instanceof DOMException);
    assert.equal(error.name, "AbortError");
    assert.equal(error, controller.signal.reason);
    return true;
  });
});

test("sleep() does not add an abort listener when the signal aborted before", async () => {
  const controller = new AbortController();
  controller.abort(new Error("x"));
  const signal = controller.signal;
  let added = 0;
  signal.addEventListener = () => {
    added++;
  };
  await assert.rejects(sleep(0, signal));
  assert.equal(added, 0);
});

test("sleep() rejects with the signal's reason when the signal aborts during the wait", async () => {
  const controller = new AbortController();
  const reason = new DownloadInterrupt();
  // A wait this long would keep the test (and its timer) alive if the abort
  // did not clear it.
  const sleeping = sleep(3_600_000, controller.signal);
  controller.abort(reason);
  await assert.rejects(sleeping, (error) => {
    assert.equal(error, reason);
    return true;
  });
});

test("sleep() clears its timer when the signal aborts during the wait", async () => {
  const controller = new AbortController();
  const cleared: unknown[] = [];
  const originalClear = globalThis.clearTimeout;
  globalThis.clearTimeout = (id) => {
    cleared.push(id);
    originalClear(id);
  };
  try {
    const sleeping = sleep(3_600_000, controller.signal);
    controller.abort(new Error("stop"));
    await assert.rejects(sleeping);
  } finally {
    globalThis.clearTimeout = originalClear;
  }
  assert.equal(cleared.length, 1);
});

test("sleep() removes its abort listener when it resolves", async () => {
  const controller = new AbortController();
  const signal = controller.signal;
  const listeners = new Set<unknown>();
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  // Typed from the methods themselves: DOM-only type names are not in
  // @types/node, which the npm build checks the tests against.
  type Add = Parameters<AbortSignal["addEventListener"]>;
  type Remove = Parameters<AbortSignal["removeEventListener"]>;
  signal.addEventListener = (...args: Add): void => {
    listeners.add(args[1]);
    add(...args);
  };
  signal.removeEventListener = (...args: Remove): void => {
    listeners.delete(args[1]);
    remove(...args);
  };
  const sleeping = sleep(1, signal);
  assert.equal(listeners.size, 1);
  assert.equal(await sleeping, undefined);
  assert.equal(listeners.size, 0);
});

test("sleep() stays resolved when the signal aborts after it resolved", async () => {
  const controller = new AbortController();
  const sleeping = sleep(0, controller.signal);
  let settled: string | undefined;
  sleeping.then(
    () => settled = "resolved",
    () => settled = "rejected",
  );
  await sleeping;
  controller.abort(new Error("late"));
  await sleeping;
  assert.equal(settled, "resolved");
});

test("sleep() schedules no timer longer than setTimeout's limit when ms is above it", async () => {
  // retryDelay() can exceed 2^31 - 1 ms (about 24.8 days) when retryAfterCap
  // or backoffCap is set that high (resolveTransferOptions() accepts
  // Infinity). setTimeout clamps such a delay to 1 ms, so the retry would
  // come at once instead of after the wait.
  const controller = new AbortController();
  const delays: number[] = [];
  const original = globalThis.setTimeout;
  globalThis.setTimeout = ((handler: () => void, ms?: number) => {
    delays.push(ms ?? 0);
    return original(handler, ms);
  }) as typeof setTimeout;
  let sleeping: Promise<void>;
  try {
    sleeping = sleep(30 * 24 * 3_600_000, controller.signal);
  } finally {
    globalThis.setTimeout = original;
  }
  controller.abort(new Error("done"));
  await assert.rejects(sleeping);
  assert.ok(
    delays.every((ms) => ms <= 2 ** 31 - 1),
    `delays ${delays.join(", ")}`,
  );
});
