// Connections per host, shared by every download of a manager: each
// download's first connection is always counted (the manager's concurrency
// already bounds those), and a segmented download opens another only while
// the host's count is under the budget.
//
// The host is the one the bytes come from: a connection is counted against
// the host its download asks until an answer comes from another, where the
// redirects led (github.com's files come from objects.githubusercontent.com),
// and then there (see `Slot`). It is open there by then, so it moves whatever
// the count there; the download's next connections are counted there at
// once, and held to the budget there. Nothing waits for room, so no two
// downloads sent into each other's hosts wait on each other.
//
// It also counts the connections whose body is flowing (an answer accepted,
// its bytes being written), which a download refused with a 429 or 503
// waits on: see `withRetries`. A connection sleeping in a backoff, or
// waiting so itself, is counted open but not transferring, so no two
// downloads wait on each other: each waits only on a body that is moving,
// which ends (its own timeouts see to that).

import { clock } from "../_clock.ts";
import { MAX_TIMER_DELAY } from "../_timers.ts";

/** Counts the connections open to each host, and those transferring. */
export class ConnectionBudget {
  #max: number;
  #open = new Map<string, number>();
  #transferring = new Map<string, Flow>();
  #waiting = new Map<string, Set<(end: WaitEnd) => void>>();

  /** @param max The most connections to one host (`Infinity`: no budget). */
  constructor(max: number) {
    this.#max = max;
  }

  /** The most connections to one host. */
  get max(): number {
    return this.#max;
  }

  /** Counts a download's first connection to `host`, whatever the count. */
  acquireFirst(host: string): void {
    this.#open.set(host, (this.#open.get(host) ?? 0) + 1);
  }

  /**
   * Counts a download's first connection against `host`, its source's,
   * whatever the count: its slot, to move where its answers come from.
   */
  first(host: string): Slot {
    this.acquireFirst(host);
    return new Slot(this, host, false);
  }

  /**
   * Counts one more connection of the download whose first connection is
   * `first`, against the host that one's answers came from, if the budget
   * allows there: its slot, or `undefined`. None before an answer told
   * that host (the source's may send the bytes elsewhere), unless there is
   * no budget.
   */
  more(first: Slot): Slot | undefined {
    if (!first.known && this.#max !== Infinity) return undefined;
    if (!this.tryAcquire(first.host)) return undefined;
    return new Slot(this, first.host, first.known);
  }

  /** Counts one more connection to `host` if the budget allows; returns whether it did. */
  tryAcquire(host: string): boolean {
    const open = this.#open.get(host) ?? 0;
    if (open >= this.#max) return false;
    this.#open.set(host, open + 1);
    return true;
  }

  /** Uncounts a connection to `host`. */
  release(host: string): void {
    const open = (this.#open.get(host) ?? 0) - 1;
    if (open > 0) this.#open.set(host, open);
    else this.#open.delete(host);
  }

  /** How many connections to `host` are counted. */
  open(host: string): number {
    return this.#open.get(host) ?? 0;
  }

  /**
   * Counts a connection to `host` whose body has begun to flow: what it
   * returns is the host's flow, whose `bytes` the connection adds what it
   * receives to (a waiter tells a moving body from a stalled one by it).
   */
  startTransferring(host: string): Flow {
    let flow = this.#transferring.get(host);
    if (flow === undefined) {
      this.#transferring.set(host, flow = { count: 0, bytes: 0 });
    }
    flow.count++;
    return flow;
  }

  /**
   * Uncounts a connection to `host` whose body has stopped (ended, failed,
   * or stopped): every download waiting on `host` is told.
   */
  stopTransferring(host: string): void {
    const flow = this.#transferring.get(host);
    if (flow !== undefined && --flow.count <= 0) {
      this.#transferring.delete(host);
    }
    const waiting = this.#waiting.get(host);
    this.#waiting.delete(host);
    for (const wake of waiting ?? []) wake("ended");
  }

  /** How many connections to `host` have a body flowing. */
  transferring(host: string): number {
    return this.#transferring.get(host)?.count ?? 0;
  }

  /**
   * Waits for a connection to `host` to stop transferring (`"ended"`), or
   * for `ms` to pass (by default, never): then `"moved"` if the host's bodies received bytes
   * meanwhile, `"stalled"` if none did. Rejects with the signal's reason
   * when it aborts (a cancel, a pause).
   */
  transferEnds(
    host: string,
    signal: AbortSignal,
    ms = Infinity,
  ): Promise<WaitEnd> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const flow = this.#transferring.get(host);
      const before = flow?.bytes ?? 0;
      const waiting = this.#waiting.get(host) ?? new Set();
      this.#waiting.set(host, waiting);
      const leave = (): void => {
        clock.clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        waiting.delete(wake);
        if (waiting.size === 0 && this.#waiting.get(host) === waiting) {
          this.#waiting.delete(host);
        }
      };
      const wake = (end: WaitEnd): void => {
        leave();
        resolve(end);
      };
      const onAbort = (): void => {
        leave();
        reject(signal.reason);
      };
      const timer = ms === Infinity ? undefined : clock.setTimeout(
        () =>
          wake(
            flow !== undefined && flow.bytes > before ? "moved" : "stalled",
          ),
        Math.min(ms, MAX_TIMER_DELAY),
      );
      waiting.add(wake);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/**
 * One connection of a download counted by a {@linkcode ConnectionBudget}:
 * against its source's host until an answer tells where its bytes come from
 * (`answeredFrom`), then there.
 */
export class Slot {
  #budget: ConnectionBudget;
  #host: string;
  #known: boolean;
  #counted = true;

  /**
   * @param budget The budget that counts it (counted there already).
   * @param host The host it is counted against.
   * @param known Whether an answer came from `host`.
   */
  constructor(budget: ConnectionBudget, host: string, known: boolean) {
    this.#budget = budget;
    this.#host = host;
    this.#known = known;
  }

  /** The host it is counted against. */
  get host(): string {
    return this.#host;
  }

  /** Whether an answer came from {@linkcode Slot.host}. */
  get known(): boolean {
    return this.#known;
  }

  /**
   * An answer came from `host` (after redirects): the connection is open
   * there, and counted there from now on, whatever the count.
   */
  answeredFrom(host: string): void {
    this.#known = true;
    this.#moveTo(host);
  }

  /**
   * The download asks another source, of `host`: counted there until an
   * answer tells where its bytes come from.
   */
  asks(host: string): void {
    this.#known = false;
    this.#moveTo(host);
  }

  /** Uncounts it (a pause, or the end); again does nothing. */
  release(): void {
    if (!this.#counted) return;
    this.#counted = false;
    this.#budget.release(this.#host);
  }

  /** Counts it again, whatever the count (a resume); counted, does nothing. */
  acquire(): void {
    if (this.#counted) return;
    this.#counted = true;
    this.#budget.acquireFirst(this.#host);
  }

  #moveTo(host: string): void {
    if (host === this.#host) return;
    if (this.#counted) {
      this.#budget.release(this.#host);
      this.#budget.acquireFirst(host);
    }
    this.#host = host;
  }
}

/** The connections to one host with a body flowing, and their bytes. */
export interface Flow {
  /** How many connections. */
  count: number;
  /** The bytes they (and those before them, of the same flow) received. */
  bytes: number;
}

/**
 * How a wait on a host's transfers ended: one of them stopped, or the
 * time ran out while they moved, or while none did.
 */
export type WaitEnd = "ended" | "moved" | "stalled";
