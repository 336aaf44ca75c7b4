// The default `fetch` as the npm package ships it: `scripts/build_npm.ts`
// compiles this file in place of `fetch.ts`, with the same exports.
//
// Node's `fetch` ignores `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` (and
// their lower-case forms), which Deno's and Bun's honour: the same command
// would work behind a proxy on one runtime and not on another. On Node, when
// a proxy variable is set, requests go through undici's `fetch` (the library
// Node's own `fetch` is built on, from npm) with its `EnvHttpProxyAgent`,
// which reads the variables as Deno does. undici's own `fetch`, not Node's
// with undici's agent as `dispatcher`: an agent from one undici major version
// fails in the `fetch` of another (Node 20 to 26 bundle undici 6 to 8). It is
// loaded on the first proxied request, so a process without a proxy never
// loads it. Under Deno and Bun (running this package), the runtime's `fetch`
// does it already.

import process from "node:process";
import type {
  Client,
  Dispatcher,
  EnvHttpProxyAgent,
  fetch as undiciFetch,
} from "undici";
import type { EnvProxy } from "../_http/env_proxy.ts";
import { npmNodeProxy, runtimeFetchProxy } from "./fetch_proxy.ts";
import { TUNNEL_ANSWER_NOT_HTTP } from "../_http/network_failure.ts";

// One for the process, like the runtime's own: the proxy variables are read
// when the first download that needs them is created.
let proxied: typeof fetch | undefined;

/**
 * The default `fetch`: through the proxy the environment names, on Node as
 * on Deno and Bun, unless `useEnvProxy` is false (the runtime's `fetch` as
 * it is).
 */
export function defaultFetch(useEnvProxy: boolean): typeof fetch {
  if (!useEnvProxy || "Deno" in globalThis || "Bun" in globalThis) {
    return globalThis.fetch;
  }
  if (proxied !== undefined) return proxied;
  const { env } = process;
  // Each scheme has its own variable, the lower-case form first (as undici
  // reads them), an empty one skipped (as Deno and Bun do: undici would take
  // an empty `http_proxy` for no proxy, and ignore `HTTP_PROXY`), then
  // ALL_PROXY (as Bun and curl do; undici ignores it). An https URL does not
  // fall back to HTTP_PROXY, as it does in undici's agent: it does not on
  // Deno and Bun (nor in curl). A value the runtime cannot use fails the
  // download before it gets here (see `envProxyFor`).
  const all = env.all_proxy || env.ALL_PROXY;
  const proxies: Record<string, string | undefined> = {
    "http:": proxyUrl(env.http_proxy || env.HTTP_PROXY || all),
    "https:": proxyUrl(env.https_proxy || env.HTTPS_PROXY || all),
  };
  if (!proxies["http:"] && !proxies["https:"]) return globalThis.fetch;
  return proxied = proxiedFetch(proxies);
}

/**
 * The proxy the environment names for `url`, when `used` (the `fetch` a
 * download uses) sends it there: the runtime's own `fetch` (see
 * `fetch_proxy.ts`), or the default one made here on Node, through undici's
 * `EnvHttpProxyAgent`; `undefined` for any other.
 */
export function envProxyOf(
  used: typeof fetch,
  url: string,
): EnvProxy | undefined {
  if (used === globalThis.fetch) return runtimeFetchProxy(url);
  return used === proxied && proxied !== undefined
    ? npmNodeProxy(url)
    : undefined;
}

/**
 * A proxy variable's value as the URL undici takes: `proxy.corp:3128`,
 * without a scheme, is `http://proxy.corp:3128`, as Deno, Bun and curl read
 * it, and a path (`http://proxy.corp:3128/`) goes, as Deno and Bun ignore it
 * (undici would refuse either, and every request with it).
 */
function proxyUrl(proxy: string | undefined): string | undefined {
  if (!proxy) return undefined;
  const withScheme = /^[a-z][a-z\d+.-]*:\/\//i.test(proxy)
    ? proxy
    : `http://${proxy}`;
  try {
    const { protocol, username, password, host } = new URL(withScheme);
    const userinfo = username === ""
      ? ""
      : `${username}${password === "" ? "" : `:${password}`}@`;
    return `${protocol}//${userinfo}${host}`;
  } catch {
    return withScheme;
  }
}

function proxiedFetch(
  proxies: Record<string, string | undefined>,
): typeof fetch {
  let undici:
    | Promise<{ fetch: typeof undiciFetch; dispatcher: EnvHttpProxyAgent }>
    | undefined;
  return async (input, init) => {
    const url = typeof input === "string"
      ? input
      : input instanceof URL
      ? input.href
      : input.url;
    if (!proxies[new URL(url).protocol]) {
      return await globalThis.fetch(input, init);
    }
    undici ??= import("undici").then((module) => ({
      fetch: module.fetch,
      // The proxies are ours (with their scheme; "" for none), and so is
      // NO_PROXY: undici would take an empty `no_proxy` for none, and
      // ignore `NO_PROXY`, where Bun skips it.
      dispatcher: new module.EnvHttpProxyAgent({
        httpProxy: proxies["http:"] ?? "",
        httpsProxy: proxies["https:"] ?? "",
        noProxy: process.env.no_proxy || process.env.NO_PROXY || "",
        clientFactory: tunnelClientFactory(module.Client),
      }),
    }));
    const { fetch, dispatcher } = await undici;
    // Downloads pass the URL as a string, and init as a plain object of
    // Headers, AbortSignal and strings, which undici's fetch takes as Node's
    // does; its Response has the same shape (and body stream class).
    const response = await fetch(
      url,
      { ...init, dispatcher } as Parameters<typeof undiciFetch>[1],
    );
    return response as unknown as Response;
  };
}

/**
 * The client of undici's `ProxyAgent` to the proxy, made by
 * `tunnelClientFactory`: a `CONNECT` that the proxy answers by closing the
 * connection fails the request, as it does on Deno and Bun. undici 7 takes
 * the closed connection (`UND_ERR_SOCKET`) for one to open again, and asks
 * the proxy again at once, hundreds of times a second: each attempt ended
 * by the download's `connectTimeout` (a `TimeoutError`), and the asking went
 * on after it, for as long as the process lived, which it then did for ever
 * (fixed in undici 8, nodejs/undici#5441, which needs Node 22). The error that fails it holds undici's in its `cause`: a connection
 * reset or closed (`NetworkError`, `ECONNRESET`), through the proxy. An
 * answer to `CONNECT` that is not HTTP is the proxy's refusal of the tunnel,
 * its status unknown, as on Deno (see `TUNNEL_ANSWER_NOT_HTTP`).
 */
function tunnelClientFactory(
  base: typeof Client,
): (origin: URL, options: object) => Dispatcher {
  type Options = Omit<Dispatcher.ConnectOptions, "origin">;
  type Callback = (error: Error | null, data: Dispatcher.ConnectData) => void;
  class TunnelClient extends base {
    override connect(options: Options): Promise<Dispatcher.ConnectData>;
    override connect(options: Options, callback: Callback): void;
    override connect(
      options: Options,
      callback?: Callback,
    ): Promise<Dispatcher.ConnectData> | void {
      if (callback !== undefined) return super.connect(options, callback);
      return super.connect(options).catch((error: unknown) => {
        const { code, name } = (error ?? {}) as {
          code?: unknown;
          name?: unknown;
        };
        if (code === "UND_ERR_SOCKET") {
          throw new Error("The proxy closed the connection while tunneling", {
            cause: error,
          });
        }
        if (name === "HTTPParserError") {
          throw new Error(TUNNEL_ANSWER_NOT_HTTP, { cause: error });
        }
        throw error;
      });
    }
  }
  return (origin, options) => new TunnelClient(origin, options);
}
