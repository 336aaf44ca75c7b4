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

/**
 * The proxy variables as Deno's `fetch` reads them: once, for the client its
 * first request makes (a variable set or changed later goes unused by it),
 * so read once here too, each the first time a lookup asks for it. A lookup
 * read them, and asked for its permission, for every request: up to five
 * permission queries where the environment is not granted as a whole.
 */
const denoEnv: Map<string, string | undefined> = new Map();

function denoEnvOnce(name: string): string | undefined {
  if (denoEnv.has(name)) return denoEnv.get(name);
  const value = host.env(name);
  denoEnv.set(name, value);
  return value;
}

/** Whether a variable names a proxy for Deno (so a URL is worth parsing). */
let denoProxyNamed: boolean | undefined;

/** The proxy the runtime's `fetch` sends `url` through, or `undefined`. */
export function runtimeFetchProxy(url: string): EnvProxy | undefined {
  if ("Deno" in globalThis) {
    denoProxyNamed ??= ["ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY"].some(
      (name) => denoEnvOnce(name) || denoEnvOnce(name.toLowerCase()),
    );
    return denoProxyNamed ? envProxyFor(url, denoEnvOnce, "deno") : undefined;
  }
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
