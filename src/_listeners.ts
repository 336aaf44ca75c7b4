// Node warns when an event target gets more than 10 listeners of one type:
// "MaxListenersExceededWarning: Possible EventTarget memory leak detected",
// on stderr, where the user sees it. A segmented download adds one to its
// signals per connection (up to 16), and a signal given to several
// downloads gets one from each. Where the library knowingly adds that many,
// it raises the signal's limit by as many, as undici does for a signal given
// to `fetch`: a leak of the caller's own listeners still shows. Deno has no
// limit (0 here) and Bun does not warn.

import { getMaxListeners, setMaxListeners } from "node:events";

/**
 * Raises `signal`'s listener limit by `count` (lowers it, if negative), so
 * that the library's own listeners do not count toward it. A signal with no
 * limit keeps none.
 */
export function expectListeners(signal: AbortSignal, count: number): void {
  const max = getMaxListeners(signal);
  if (max > 0) setMaxListeners(Math.max(1, max + count), signal);
}
