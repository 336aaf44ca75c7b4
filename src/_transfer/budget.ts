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

/** Counts the connections open to each host, and those transferring. */
export class ConnectionBudget {
  #max: number;
  #open = new Map<string, number>();
  #transferring = new Map<string, number>();
  #waiting = new Map<string, Set<() => void>>();

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

  /** Counts a connection to `host` whose body has begun to flow. */
  startTransferring(host: string): void {
    this.#transferring.set(host, this.transferring(host) + 1);
  }

  /**
   * Uncounts a connection to `host` whose body has stopped (ended, failed,
   * or stopped): every download waiting on `host` is told.
   */
  stopTransferring(host: string): void {
    const transferring = this.transferring(host) - 1;
    if (transferring > 0) this.#transferring.set(host, transferring);
    else this.#transferring.delete(host);
    const waiting = this.#waiting.get(host);
    this.#waiting.delete(host);
    for (const wake of waiting ?? []) wake();
  }

  /** How many connections to `host` have a body flowing. */
  transferring(host: string): number {
    return this.#transferring.get(host) ?? 0;
  }

  /**
   * Resolves when a connection to `host` stops transferring, or rejects
   * with the signal's reason when it aborts (a cancel, a pause).
   */
  transferEnds(host: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const waiting = this.#waiting.get(host) ?? new Set();
      this.#waiting.set(host, waiting);
      const wake = (): void => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = (): void => {
        waiting.delete(wake);
        if (waiting.size === 0 && this.#waiting.get(host) === waiting) {
          this.#waiting.delete(host);
        }
        reject(signal.reason);
      };
      waiting.add(wake);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}
