// Connections per host, shared by every download of a manager: each
// download's first connection is always counted (the manager's concurrency
// already bounds those), and a segmented download opens another only while
// the host's count is under the budget.
//
// It also counts the connections whose body is flowing (an answer accepted,
// its bytes being written), which a download refused with a 429 or 503
// waits on: see `withRetries`. A connection sleeping in a backoff, or
// waiting so itself, is counted open but not transferring, so no two
// downloads wait on each other: each waits only on a body that is moving,
// which ends (its own timeouts see to that).

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
        clearTimeout(timer);
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
      const timer = ms === Infinity ? undefined : setTimeout(
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
