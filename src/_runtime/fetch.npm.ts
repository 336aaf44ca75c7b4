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
// fails in the `fetch` of another (Node 20 to 26 bundle undici 6 to 8).
// undici 8 where it runs (Node 22.19 on), undici 7 before.
//
// Node's own `fetch` is not used at all where its undici ends the process
// when a server closes a `Connection: close` answer while the body waits to
// be read (an `AssertionError` thrown from the socket's `end` event, which no
// code can catch: undici #5360, from 6.26 and 7.26, fixed in 8.4.1; Node 22
// and 24 bundle such an undici): there, undici 8's `fetch` takes its place.
//
// Each is loaded on the first request that needs it, so a process that
// makes none never loads it. Under Deno and Bun (running this package), the
// runtime's `fetch` does it all already.

import process from "node:process";
import type { Client, Dispatcher } from "undici";
import type { EnvProxy } from "../_http/env_proxy.ts";
import { npmNodeProxy, runtimeFetchProxy } from "./fetch_proxy.ts";
import { TUNNEL_ANSWER_NOT_HTTP } from "../_http/network_failure.ts";
import { closeIdleConnection } from "../_http/close_connection.ts";

/** What the package takes from undici, 7 or 8: the same for both. */
type Undici = Pick<
  typeof import("undici"),
  "fetch" | "Agent" | "EnvHttpProxyAgent" | "Client"
>;

// One of each for the process, like the runtime's own: the proxy variables
// are read when the first download that needs them is created.
let direct: typeof fetch | undefined;
let proxied: typeof fetch | undefined;
// The `fetch`es made here whose pool of connections can be put aside for a
// new one (see `closeDeniedConnection`): each resolves whether it did so.
const renewers = new WeakMap<typeof fetch, () => Promise<boolean>>();

/**
 * An undici pool of connections (an agent) that `renew` replaces with a new
 * one, `make`'s, closing the old one: its idle connections at once, the
 * others as their answers end.
 */
class RenewablePool {
  #make: () => Dispatcher;
  /** The pool requests go through now. */
  dispatcher: Dispatcher;

  constructor(make: () => Dispatcher) {
    this.#make = make;
    this.dispatcher = make();
  }

  renew(): void {
    const old = this.dispatcher;
    this.dispatcher = this.#make();
    // A turn later: a request that took the old one has reached it by
    // then, and is answered before it closes.
    setTimeout(() => old.close().catch(() => {}), 0);
  }
}

/**
 * The default `fetch`: through the proxy the environment names, on Node as
 * on Deno and Bun, unless `useEnvProxy` is false (the runtime's `fetch` as
 * it is, or undici 8's in place of a Node `fetch` that can end the process).
 */
export function defaultFetch(useEnvProxy: boolean): typeof fetch {
  if ("Deno" in globalThis || "Bun" in globalThis) return globalThis.fetch;
  direct ??= nodeFetchCrashes() ? undici8Fetch() : globalThis.fetch;
  if (!useEnvProxy) return direct;
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
  if (!proxies["http:"] && !proxies["https:"]) return direct;
  return proxied = proxiedFetch(proxies, direct);
}

/**
 * The proxy the environment names for `url`, when `used` (the `fetch` a
 * download uses) sends it there: the runtime's own `fetch` (see
 * `fetch_proxy.ts`) or undici 8's in its place, or the default one made
 * here on Node, through undici's `EnvHttpProxyAgent`; `undefined` for any
 * other.
 */
export function envProxyOf(
  used: typeof fetch,
  url: string,
): EnvProxy | undefined {
  if (used === globalThis.fetch || used === direct) {
    return runtimeFetchProxy(url);
  }
  return used === proxied && proxied !== undefined
    ? npmNodeProxy(url)
    : undefined;
}

/**
 * Closes the connection a proxy's denial of a request to `url`, made with
 * `used`, left idle in its pool (see `_http/close_connection.ts`). Through
 * an undici agent made here (`proxied`'s, or that of undici 8's `fetch` in
 * place of Node's, with `NODE_USE_ENV_PROXY=1`), a new pool takes the place
 * of the one it was in, which is closed: its idle connections at once, the
 * others as their answers end. undici's pool would hand a request that says
 * `Connection: close` the connection it has just closed, opened again,
 * before an idle one, and leave the idle ones open. Elsewhere (Node's own
 * `fetch`, whose pool is the process's), such a request is sent. Resolves
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
  const renew = renewers.get(used);
  if (renew === undefined || !await renew()) {
    await closeIdleConnection(used, url, signal);
  }
}

/** Whether undici 8 runs on this Node: 22.19 or later (its `engines`). */
function undici8Runs(): boolean {
  return atLeast(process.versions.node, [22, 19]);
}

/**
 * Whether Node's own `fetch` can end the process (see the module comment):
 * its undici is older than 8.4.1, on a Node that undici 8 runs on (Node 20
 * bundles undici 6.24, which does not have the fault).
 */
function nodeFetchCrashes(): boolean {
  const bundled = process.versions["undici"];
  return undici8Runs() && bundled !== undefined && !atLeast(bundled, [8, 4, 1]);
}

/** Whether `version` (`22.19.0`) is `least` (`[22, 19]`) or later. */
function atLeast(version: string, least: number[]): boolean {
  const parts = version.split(".").map(Number);
  for (const [i, part] of least.entries()) {
    const own = parts[i] ?? 0;
    if (own !== part) return own > part;
  }
  return true;
}

// The slot of undici's global dispatcher that Node's own `fetch` takes its
// agent from (undici 8's own is `undici.globalDispatcher.2`).
const NODE_DISPATCHER = Symbol.for("undici.globalDispatcher.1");
// undici 8's modules of its `fetch` and of its `Agent`, which are all that
// stands in for Node's `fetch`: about 40 of the 110 modules its index loads,
// which takes a third less time to start (see `loadUndici8Fetch`). Named
// by strings, not in the `import`, as they come without types; undici 8's
// `package.json` has no `exports`, which would forbid them.
const UNDICI8_FETCH = "undici8/lib/web/fetch/index.js";
const UNDICI8_AGENT = "undici8/lib/dispatcher/agent.js";
let undici8: Promise<Undici | undefined> | undefined;
let undici8Fetcher:
  | Promise<Pick<Undici, "fetch" | "Agent"> | undefined>
  | undefined;

/**
 * `load()`'s result, leaving Node's own `fetch` as it was: undici 8, unless
 * it was loaded before, puts its own agent in the slot Node's `fetch` takes
 * its dispatcher from, in place of Node's or the one the application set
 * there.
 */
async function keepingNodeDispatcher<T>(load: () => Promise<T>): Promise<T> {
  const slots = globalThis as unknown as Record<symbol, unknown>;
  const nodes = slots[NODE_DISPATCHER];
  try {
    return await load();
  } finally {
    if (slots[NODE_DISPATCHER] !== nodes) slots[NODE_DISPATCHER] = nodes;
  }
}

/**
 * undici 8's `fetch` and `Agent` alone, loaded once from their own modules;
 * `undefined` where undici 8 is not installed, or no longer has them there
 * (a later undici 8 may move them: then `loadUndici8` loads all of it).
 */
function loadUndici8Fetch(): Promise<
  Pick<Undici, "fetch" | "Agent"> | undefined
> {
  return undici8Fetcher ??= keepingNodeDispatcher(async () => {
    try {
      const [fetchModule, agentModule] = await Promise.all([
        import(UNDICI8_FETCH),
        import(UNDICI8_AGENT),
      ]);
      // CommonJS modules: `module.exports` is the `default`.
      const fetch = fetchModule.default?.fetch;
      const Agent = agentModule.default;
      return typeof fetch === "function" && typeof Agent === "function"
        ? { fetch, Agent }
        : undefined;
    } catch {
      return undefined;
    }
  });
}

/**
 * undici 8, all of it, loaded once; `undefined` where it is not installed
 * (an optional dependency: a package manager that enforces `engines` leaves
 * it out on Node 20, and one can be told to leave out every optional one).
 * After `loadUndici8Fetch` has settled, so that the slot each puts back is
 * the one from before either ran.
 */
function loadUndici8(): Promise<Undici | undefined> {
  return undici8 ??= loadUndici8Fetch().then(() =>
    keepingNodeDispatcher(async () => {
      try {
        // Typed as undici 7: the same for what the package takes, but for
        // the names of undici 8's own types.
        return await import("undici8") as unknown as Undici;
      } catch {
        return undefined;
      }
    })
  );
}

/**
 * undici 8's `fetch`, in place of a Node `fetch` that can end the process,
 * loaded on the first request, with an undici 8 agent of its own: its
 * global one can be Node's (Node 24's undici fills undici 8's slot too, once
 * loaded), whose connections have the fault. Through undici's
 * `EnvHttpProxyAgent` when Node was told to use the proxy variables
 * (`NODE_USE_ENV_PROXY=1`), as Node's own would go (from the whole of undici
 * 8, then). Node's own, where undici 8 is not installed.
 */
function undici8Fetch(): typeof fetch {
  let loaded:
    | Promise<{ fetch: Undici["fetch"]; pool: RenewablePool } | undefined>
    | undefined;
  const fetcher: typeof fetch = async (input, init) => {
    loaded ??= (async () => {
      if (process.env.NODE_USE_ENV_PROXY === "1") {
        const module = await loadUndici8();
        return module && {
          fetch: module.fetch,
          pool: new RenewablePool(() => new module.EnvHttpProxyAgent()),
        };
      }
      const module = await loadUndici8Fetch() ?? await loadUndici8();
      return module && {
        fetch: module.fetch,
        pool: new RenewablePool(() => new module.Agent()),
      };
    })();
    const undici = await loaded;
    if (undici === undefined) return await globalThis.fetch(input, init);
    return await fetchBy(undici.fetch, input, init, undici.pool.dispatcher);
  };
  renewers.set(fetcher, async () => {
    const undici = await loaded;
    undici?.pool.renew();
    return undici !== undefined;
  });
  return fetcher;
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

/**
 * Through undici's `EnvHttpProxyAgent` (8's where it runs, else 7's) for a
 * scheme with a proxy; by `direct` for the other.
 */
function proxiedFetch(
  proxies: Record<string, string | undefined>,
  direct: typeof fetch,
): typeof fetch {
  let undici:
    | Promise<{ fetch: Undici["fetch"]; pool: RenewablePool }>
    | undefined;
  const fetcher: typeof fetch = async (input, init) => {
    if (!proxies[new URL(urlOf(input)).protocol]) {
      return await direct(input, init);
    }
    undici ??= (async () => {
      const module = (undici8Runs() ? await loadUndici8() : undefined) ??
        await import("undici");
      const agent = () =>
        // The proxies are ours (with their scheme; "" for none), and so is
        // NO_PROXY: undici would take an empty `no_proxy` for none, and
        // ignore `NO_PROXY`, where Bun skips it.
        new module.EnvHttpProxyAgent({
          httpProxy: proxies["http:"] ?? "",
          httpsProxy: proxies["https:"] ?? "",
          noProxy: process.env.no_proxy || process.env.NO_PROXY || "",
          // An http URL's request is forwarded to the proxy (`GET
          // http://host/path`), as Deno, Bun and curl send it, never
          // tunnelled: undici 7 would ask for a tunnel (undici 8 does not),
          // which squid as installed refuses to any port but 443 (its
          // `http_access deny CONNECT !SSL_ports`), and a caching proxy
          // cannot cache.
          proxyTunnel: false,
          clientFactory: tunnelClientFactory(module.Client),
        });
      return { fetch: module.fetch, pool: new RenewablePool(agent) };
    })();
    const { fetch, pool } = await undici;
    return await fetchBy(fetch, input, init, pool.dispatcher);
  };
  renewers.set(fetcher, async () => {
    if (undici === undefined) return false;
    (await undici).pool.renew();
    return true;
  });
  return fetcher;
}

/** The URL `input` names. */
function urlOf(input: Parameters<typeof fetch>[0]): string {
  return typeof input === "string"
    ? input
    : input instanceof URL
    ? input.href
    : input.url;
}

/**
 * `input` fetched by `by`, an undici `fetch` from npm, through `dispatcher`.
 */
async function fetchBy(
  by: Undici["fetch"],
  input: Parameters<typeof fetch>[0],
  init: RequestInit | undefined,
  dispatcher: Dispatcher,
): Promise<Response> {
  // Downloads pass the URL as a string, and init as a plain object of
  // Headers, AbortSignal and strings, which undici's fetch takes as Node's
  // does; its Response has the same shape (and body stream class).
  const response = await by(
    urlOf(input),
    { ...init, dispatcher } as Parameters<Undici["fetch"]>[1],
  );
  return response as unknown as Response;
}

/**
 * The client of undici's `ProxyAgent` to the proxy, made by
 * `tunnelClientFactory`: a `CONNECT` that the proxy answers by closing the
 * connection fails the request, as it does on Deno and Bun. undici 7 takes
 * the closed connection (`UND_ERR_SOCKET`) for one to open again, and asks
 * the proxy again at once, hundreds of times a second: each attempt ended
 * by the download's `connectTimeout` (a `TimeoutError`), and the asking went
 * on after it, for as long as the process lived, which it then did for ever
 * (fixed in undici 8, nodejs/undici#5441, which the package uses from Node
 * 22.19 on). The error that fails it holds undici's in its `cause`: a
 * connection reset or closed (`NetworkError`, `ECONNRESET`), through the
 * proxy. An answer to `CONNECT` that is not HTTP is the proxy's refusal of
 * the tunnel, its status unknown, as on Deno (see `TUNNEL_ANSWER_NOT_HTTP`).
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
