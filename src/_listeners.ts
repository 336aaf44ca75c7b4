// Node warns when an event target gets more than 10 listeners of one type:
// "MaxListenersExceededWarning: Possible EventTarget memory leak detected",
// on stderr, where the user sees it. A segmented download adds one to its
// signals per connection (up to 16), a signal given to several downloads
// gets one from each, and each `events()` loop adds one of each type to its
// download or manager. Where the library knowingly adds that many, it raises
// the target's limit by as many, as undici does for a signal given to
// `fetch`: a leak of the caller's own listeners still shows. Deno has no
// limit for signals (0 here) and Bun does not warn.

import { getMaxListeners, setMaxListeners } from "node:events";

/**
 * Raises `target`'s listener limit (per event type) by `count` (lowers it,
 * if negative), so that the library's own listeners do not count toward it.
 * A target with no limit keeps none.
 */
export function expectListeners(target: EventTarget, count: number): void {
  const max = getMaxListeners(target);
  if (max > 0) setMaxListeners(Math.max(1, max + count), target);
}
