// How many connections a segmented download uses, when it chooses
// (`connections: "auto"`): one, until the first has shown its rate; then,
// if the rest would take long enough for more connections to pay and the
// server is not on this machine or network, a few; then `STEP` times as
// many each time the rate rose with the last step, until it stops rising or
// the limit is reached. Never fewer: a connection that was opened finishes
// its piece.
//
// A rate is measured over a window of a few round trips (the first
// answer's time stands for one). After a step, windows start once the new
// connections have answered. Connections still in slow start make a rate
// lower than it will be, so such an early window may show that the step
// paid (and the next is taken at once), but not that it did not: only a
// window that starts `SETTLE_ANSWERS` first answers after the step, when
// they had time to leave slow start, can stop the ramp.
//
// A file of `EARLY_BYTES` or more (at 64 MB/s, more than a second of work)
// from a server that is not on this machine or network gets the first two
// steps at its first answer, `EARLY_STEP` connections. The second step
// was never judged by a rise (no rate comes before the first to compare
// with), only by whether the rest pays, which so much always does. Taken
// at once, the connections leave slow start together: a 512 MiB file on
// Deno came 1.13 times as fast with a cap per connection and 1.28 times
// without, on a 40 ms path (bench/results/2026-12-01-0452.md).
// Pure: it sees the clock and the bytes on disk as it is told them.

/** The ramp's settings, in milliseconds and bytes. */
export interface RampOptions {
  /** The most connections (the download's and the host's budget). */
  max: number;
  /** How long the server took to answer the first request. */
  firstAnswer: number;
  /**
   * Whether the server is this machine by its name (see
   * {@linkcode isLoopback}): left to one connection however slow its first
   * answer (a runtime's first request can take longer than `LOCAL_ANSWER`:
   * Node's loads its HTTP client).
   */
  loopback?: boolean | undefined;
}

/** Whether `hostname` (as `URL` gives it) names this machine. */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname.endsWith(".localhost") ||
    /^127(\.\d{1,3}){3}$/.test(hostname) || hostname === "[::1]";
}

/**
 * The ramp of a download from `source` (its URL), up to `max` connections,
 * whose first answer took `firstAnswer` ms.
 */
export function rampFor(
  source: string,
  max: number,
  firstAnswer: number,
): Ramp {
  return new Ramp({
    max,
    firstAnswer,
    loopback: isLoopback(new URL(source).hostname),
  });
}

/** An answer faster than this comes from this machine or its network. */
export const LOCAL_ANSWER = 10;
/** More connections pay when the rest would take at least this long. */
export const PAYS_AFTER = 1000;
/** A file with this much left gets the first step at its first answer. */
export const EARLY_BYTES = 64 * 1024 * 1024;
/** How many connections the first step opens. */
export const FIRST_STEP = 4;
/** How many times more connections each later step opens. */
export const STEP = 4;
/**
 * How many connections a file of `EARLY_BYTES` or more gets at once: the
 * first two steps. No more are added after them (no rate came before them
 * to judge a further step by).
 */
export const EARLY_STEP = FIRST_STEP * STEP;
/** A step paid if the rate rose by this factor. */
export const RISE = 1.2;
/** The shortest window a rate is measured over. */
export const MIN_WINDOW = 150;
/** A window lasts this many first answers, when that is longer. */
export const WINDOW_ANSWERS = 2;
/**
 * After a step, the new connections get this many first answers (a first
 * answer is a connect and a request) to connect and leave slow start
 * before a window that shows no rise stops the ramp.
 */
export const SETTLE_ANSWERS = 3;

/** Decides the number of connections over time (see the module comment). */
export class Ramp {
  #max: number;
  #window: number;
  #settle: number;
  #local: boolean;
  #connections = 1;
  #done = false;
  // Where the current window started, when the next may start (after a
  // step, once the new connections have answered), from when a window may
  // stop the ramp, and the rate before the last step.
  #since: { time: number; bytes: number } | undefined;
  #startsAt = -Infinity;
  #judgedFrom = -Infinity;
  #before: number | undefined;
  #answer: number;

  /** @param options See {@linkcode RampOptions}. */
  constructor(options: RampOptions) {
    this.#max = Math.max(1, options.max);
    this.#window = Math.max(MIN_WINDOW, WINDOW_ANSWERS * options.firstAnswer);
    this.#settle = SETTLE_ANSWERS * options.firstAnswer;
    this.#answer = options.firstAnswer;
    this.#local = options.loopback === true ||
      options.firstAnswer < LOCAL_ANSWER;
    this.#done = this.#max === 1;
  }

  /** The connections decided so far. */
  get connections(): number {
    return this.#connections;
  }

  /** Whether it will decide no more. */
  get settled(): boolean {
    return this.#done;
  }

  /** No more connections than `max` from now on (a server refused more). */
  cap(max: number): void {
    this.#max = Math.max(1, Math.min(this.#max, max));
    if (this.#connections >= this.#max) this.#done = true;
  }

  /**
   * At the first answer, with `left` bytes to fetch: a file of
   * `EARLY_BYTES` or more, from a server that is not on this machine or
   * network, gets `EARLY_STEP` connections at once, and the ramp settles
   * (see the module comment). Returns the connections to have now.
   */
  begin(time: number, left: number): number {
    if (this.#done || this.#local || left < EARLY_BYTES) {
      return this.#connections;
    }
    this.#step(time, EARLY_STEP);
    this.#done = true;
    return this.#connections;
  }

  /**
   * Takes a reading: `bytes` on disk at `time`, `left` still to fetch.
   * Returns the connections to have from now on (never fewer than before).
   */
  observe(time: number, bytes: number, left: number): number {
    if (this.#done || time < this.#startsAt) return this.#connections;
    const since = this.#since;
    if (since === undefined) {
      this.#since = { time, bytes };
      return this.#connections;
    }
    const elapsed = time - since.time;
    if (elapsed < this.#window) return this.#connections;
    const rate = (bytes - since.bytes) / elapsed; // bytes per ms
    const rose = this.#before === undefined || rate >= this.#before * RISE;
    const pays = rate > 0 && left / rate >= PAYS_AFTER;
    const local = this.#connections === 1 && this.#local;
    if (rose && pays && !local) {
      this.#before = rate;
      this.#step(
        time,
        this.#connections === 1 ? FIRST_STEP : this.#connections * STEP,
      );
    } else if (since.time < this.#judgedFrom && !local) {
      // Too early to tell that the step did not pay: measure on.
      this.#since = { time, bytes };
    } else {
      this.#done = true;
    }
    return this.#connections;
  }

  /** Goes to `connections` at `time`; windows start once they answered. */
  #step(time: number, connections: number): void {
    this.#connections = Math.min(this.#max, connections);
    if (this.#connections >= this.#max) this.#done = true;
    this.#since = undefined;
    this.#startsAt = time + this.#answer;
    this.#judgedFrom = time + this.#settle;
  }
}
