// The `fetch` a download uses when it is given none: the runtime's own.
//
// Deno's and Bun's `fetch` send each request through the proxy that the
// environment names (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`, and their
// lower-case forms, read by the runtime itself); Node's ignores them. The npm
// package compiles `fetch.npm.ts` in this file's place (see
// `scripts/build_npm.ts`), which makes Node do as Deno and Bun do. This side
// needs no npm dependency: from JSR on Node, requests go straight to the
// server unless Node itself is told to use the proxy (`NODE_USE_ENV_PROXY=1`,
// from Node 22.21 and 24).

import type { EnvProxy } from "../_http/env_proxy.ts";
import { closeIdleConnection } from "../_http/close_connection.ts";
import { runtimeFetchProxy } from "./fetch_proxy.ts";

/**
 * The default `fetch`. `useEnvProxy` (see
 * `TransferOptions.useEnvProxy`) changes nothing here: Deno's `fetch` always
 * reads the proxy variables (it offers no way not to), and Node's never does.
 */
export function defaultFetch(_useEnvProxy: boolean): typeof fetch {
  return globalThis.fetch;
}

/**
 * The proxy the environment names for `url`, when `used` (the `fetch` a
 * download uses) sends it there: the runtime's own `fetch` (see
 * `fetch_proxy.ts`); `undefined` for any other.
 */
export function envProxyOf(
  used: typeof fetch,
  url: string,
): EnvProxy | undefined {
  return used === globalThis.fetch ? runtimeFetchProxy(url) : undefined;
}

/**
 * Closes the connection a proxy's denial of a request to `url`, made with
 * `used`, left idle in its pool (see `_http/close_connection.ts`): with a
 * request that says `Connection: close`, which the pool hands it. Resolves
 * whatever becomes of it.
 *
 * @example After squid's `maxconn` denied a forwarded request
 * ```ts
 * await closeDeniedConnection(fetch, "http://example.com/f", new AbortController().signal);
 * ```
 */
export async function closeDeniedConnection(
  used: typeof fetch,
  url: string,
  signal: AbortSignal,
): Promise<void> {
  await closeIdleConnection(used, url, signal);
}
