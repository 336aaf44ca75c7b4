// What a manager shares with each of its downloads: the connection budget,
// the bandwidth limit, its events, its revalidation, and its slots.

import type { Download } from "./download.ts";
import type { DownloadEvent, DownloadEventMap } from "./events.ts";
import type { Revalidation } from "./_revalidation.ts";
import type { ConnectionBudget } from "./_transfer/budget.ts";
import type { RateLimiter } from "./_transfer/rate_limiter.ts";

/** What a manager shares with each of its downloads. */
export interface Membership {
  /** The connections per host, shared. */
  budget: ConnectionBudget;
  /** The manager's bandwidth limit, shared. */
  limiter: RateLimiter;
  /**
   * Hears of every event of the download, after its own listeners: its
   * type, and how to make a copy.
   */
  relay: (type: keyof DownloadEventMap, make: () => DownloadEvent) => void;
  /** With a revalidation: the file's record is kept, a file there asked again. */
  cache: { revalidation: Revalidation } | undefined;
  /** The manager's slots (its queue), as a paused download leaves and asks again. */
  slots: Slots;
}

/**
 * A manager's `concurrency` slots, as its paused downloads give theirs up
 * and ask again (see `_queue.ts`).
 */
export interface Slots {
  /** `download` has ended, or is paused and has stopped: its slot goes to the next. */
  release(download: Download): void;
  /**
   * `download`, started, held after a resume, asks for a slot: it goes on
   * (its pause resumed) at once if it kept its slot or one is free, else
   * first when one frees.
   */
  request(download: Download): void;
  /** `download`, held, was paused or canceled again: it asks no more. */
  withdraw(download: Download): void;
  /** Starts what the free slots allow (a queued download was resumed). */
  startNext(): void;
}
