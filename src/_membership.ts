// What a manager shares with each of its downloads: the connection budget,
// the bandwidth limit, its events, and its revalidation.

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
}
