// Connections per host, shared by every download of a manager: each
// download's first connection is always counted (the manager's concurrency
// already bounds those), and a segmented download opens another only while
// the host's count is under the budget.

/** Counts the connections open to each host. */
export class ConnectionBudget {
  #max: number;
  #open = new Map<string, number>();

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
}
