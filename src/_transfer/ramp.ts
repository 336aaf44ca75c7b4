// How many connections a segmented download uses, when it chooses
// (`connections: "auto"`): one, until the first has shown its rate; then,
// if the rest would take long enough for more connections to pay and the
// server is not on this machine or network, a few (at the first answer
// already, for a file of `EARLY_BYTES` or more: at 64 MB/s, more than one
// connection's second of work); then `STEP` times as
// many each time the rate rose with the last step, until it stops rising or
// the limit is reached. Never fewer: a connection that was opened finishes
// its piece. A rate is measured over a window of a few round trips (the
// first answer's time stands for one); after a step, the new connections
// get the time of a few first answers to connect and leave slow start
// before the next window starts.
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
/** A step paid if the rate rose by this factor. */
export const RISE = 1.2;
/** The shortest window a rate is measured over. */
export const MIN_WINDOW = 150;
/** A window lasts this many first answers, when that is longer. */
export const WINDOW_ANSWERS = 2;
/**
 * After a step, the new connections get this many first answers (a first
 * answer is a connect and a request) to connect and leave slow start
 * before the next window starts.
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
  // Where the current window started (or starts, after a step), and the
  // rate before the last step.
  #since: { time: number; bytes: number } | undefined;
  #startsAt = -Infinity;
  #before: number | undefined;

  /** @param options See {@linkcode RampOptions}. */
  constructor(options: RampOptions) {
    this.#max = Math.max(1, options.max);
    this.#window = Math.max(MIN_WINDOW, WINDOW_ANSWERS * options.firstAnswer);
    this.#settle = SETTLE_ANSWERS * options.firstAnswer;
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
   * network, gets the first step at once (its first window would only show
   * a connection in slow start). Returns the connections to have now.
   */
  begin(time: number, left: number): number {
    if (this.#done || this.#local || left < EARLY_BYTES) {
      return this.#connections;
    }
    this.#connections = Math.min(this.#max, FIRST_STEP);
    if (this.#connections >= this.#max) this.#done = true;
    this.#startsAt = time + this.#settle;
    return this.#connections;
  }

  /**
   * Takes a reading: `bytes` on disk at `time`, `left` still to fetch.
   * Returns the connections to have from now on (never fewer than before).
   */
  observe(time: number, bytes: number, left: number): number {
    if (this.#done || time < this.#startsAt) return this.#connections;
    if (this.#since === undefined) {
      this.#since = { time, bytes };
      return this.#connections;
    }
    const elapsed = time - this.#since.time;
    if (elapsed < this.#window) return this.#connections;
    const rate = (bytes - this.#since.bytes) / elapsed; // bytes per ms
    const rose = this.#before === undefined || rate >= this.#before * RISE;
    const pays = rate > 0 && left / rate >= PAYS_AFTER;
    if (!rose || !pays || (this.#connections === 1 && this.#local)) {
      this.#done = true;
      return this.#connections;
    }
    this.#before = rate;
    this.#connections = Math.min(
      this.#max,
      this.#connections === 1 ? FIRST_STEP : this.#connections * STEP,
    );
    if (this.#connections >= this.#max) this.#done = true;
    // The next window starts once the new connections had time to connect.
    this.#since = undefined;
    this.#startsAt = time + this.#settle;
    return this.#connections;
  }
}
