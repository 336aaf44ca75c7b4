// Closing a connection that a proxy keeps open after it denied a request.
// Squid's `maxconn` answers every request of a client with more connections
// open than its limit with a `403`, and keeps the connection alive; the
// runtime's pool keeps it too, idle, and the proxy counts it against the
// client's limit until either side closes it. No `fetch` lets a caller
// close a connection of its pool; but the pool hands a request an idle
// connection before it opens another, and a request that says `Connection:
// close` closes the connection it went on with its answer. Requests sent at
// once (connections denied together) are each handed one of their own.
// Measured on Deno 2.9.6 and Bun 1.4.5, through squid 5.7. Not so undici
// (Node): it hands such a request the connection the one before it closed,
// opened again, or a new one, and the idle ones stay; the npm package's own
// undici `fetch`es close their pool instead (see `closeDeniedConnection` in
// `fetch.npm.ts`). Node's own `fetch` (with `NODE_USE_ENV_PROXY=1`) keeps
// them until its keep-alive timeout: its pool is the process's.

/**
 * Asks `url` for its head with `Connection: close`, on an idle connection of
 * the pool of `fetch` (one a denial left open): the connection closes with
 * the answer. Whatever the answer, or the failure, it resolves: a
 * connection not closed so is one the proxy may deny again, no more.
 *
 * @example Closing the connection of a proxy's denial
 * ```ts
 * const url = "http://example.com/f.iso";
 * const response = await fetch(url, { headers: { range: "bytes=0-99" } });
 * if (response.status === 403) {
 *   await closeIdleConnection(fetch, url, AbortSignal.timeout(10_000));
 * }
 * ```
 */
export async function closeIdleConnection(
  fetch: typeof globalThis.fetch,
  url: string,
  signal: AbortSignal,
): Promise<void> {
  try {
    const response = await fetch(url, {
      method: "HEAD",
      headers: { connection: "close" },
      redirect: "manual",
      signal,
    });
    await response.body?.cancel();
  } catch {
    // Not closed: the proxy's next denial fails the download, as before.
  }
}
