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
import { runtimeFetchProxy, undiciProxy } from "./fetch_proxy.ts";
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
  // reads them). An https URL does not fall back to HTTP_PROXY, as it does
  // in undici's agent: it does not on Deno and Bun (nor in curl).
  const proxies: Record<string, string | undefined> = {
    "http:": withScheme(env.http_proxy ?? env.HTTP_PROXY),
    "https:": withScheme(env.https_proxy ?? env.HTTPS_PROXY),
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
): string | undefined {
  if (used === globalThis.fetch) return runtimeFetchProxy(url);
  return used === proxied && proxied !== undefined
    ? undiciProxy(url)
    : undefined;
}

/**
 * A proxy variable's value as a URL: `proxy.corp:3128`, without a scheme,
 * is `http://proxy.corp:3128`, as Deno, Bun and curl read it (undici would
 * refuse it, and every request with it).
 */
function withScheme(proxy: string | undefined): string | undefined {
  return !proxy || /^[a-z][a-z\d+.-]*:\/\//i.test(proxy)
    ? proxy
    : `http://${proxy}`;
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
      // It reads NO_PROXY itself, as Deno does; the proxies are ours (with
      // their scheme; "" for none).
      dispatcher: new module.EnvHttpProxyAgent({
        httpProxy: proxies["http:"] ?? "",
        httpsProxy: proxies["https:"] ?? "",
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
