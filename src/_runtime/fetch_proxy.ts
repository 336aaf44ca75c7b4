// The proxy the runtime's own `fetch` sends a request through, as the
// environment names it (see `_http/env_proxy.ts` for each runtime's rules):
// Deno's and Bun's read the variables; Node's only when Node is told to
// (`NODE_USE_ENV_PROXY=1`, from Node 22.21 and 24), through undici's rules.

import {
  type EnvProxy,
  envProxyFor,
  type EnvReader,
} from "../_http/env_proxy.ts";
import { host } from "./fs.ts";

const env: EnvReader = (name) => host.env(name);

/** The proxy the runtime's `fetch` sends `url` through, or `undefined`. */
export function runtimeFetchProxy(url: string): EnvProxy | undefined {
  // Up to six variables read: their permission asked once (see
  // `Host.envReader`).
  if ("Deno" in globalThis) return envProxyFor(url, host.envReader(), "deno");
  if ("Bun" in globalThis) return envProxyFor(url, env, "bun");
  return env("NODE_USE_ENV_PROXY") === "1"
    ? envProxyFor(url, env, "undici")
    : undefined;
}

/**
 * The proxy the npm package's default `fetch` on Node (`fetch.npm.ts`)
 * sends `url` through, or `undefined`.
 */
export function npmNodeProxy(url: string): EnvProxy | undefined {
  return envProxyFor(url, env, "node");
}
