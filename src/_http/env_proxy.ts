// The proxy a runtime's `fetch` sends a request through, as the environment
// names it: what a failed connection names, since the connection that failed
// was to the proxy, not to the server (see `NetworkError.proxy`). Each
// runtime reads the variables its own way (docs/behaviour.md, "Behind a
// proxy", has what the tests saw), and these rules follow each:
//
// - the variable: `HTTP_PROXY` or `HTTPS_PROXY` by the URL's scheme, each
//   upper-case form first on Deno, the lower-case one first elsewhere;
//   `ALL_PROXY` ahead of them on Deno, for a scheme without its variable on
//   Bun, never for undici (the npm package on Node);
// - `NO_PROXY`: entries separated by commas (and spaces, for undici), each a
//   host that also covers its subdomains (`example.com`, `.example.com`,
//   `*.example.com`); `*` covers every host (on Deno, every name but no
//   address); an entry with a port (`host:8080`) covers that port, but on
//   Deno, where it covers nothing; an IPv4 range (`10.0.0.0/8`) is taken
//   by Deno and Bun.

/** Whose rules to read the variables by (see the module comment). */
export type ProxyRules = "deno" | "bun" | "undici";

/** Reads one environment variable; `undefined` when unset or unreadable. */
export type EnvReader = (name: string) => string | undefined;

/**
 * The proxy `url` is fetched through under `rules`, as an origin without
 * credentials (`http://proxy.corp:3128`), or `undefined` for none.
 */
export function envProxyFor(
  url: string,
  env: EnvReader,
  rules: ProxyRules,
): string | undefined {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return undefined;
  }
  const scheme = target.protocol.slice(0, -1);
  if (scheme !== "http" && scheme !== "https") return undefined;
  const read = (name: string): string | undefined => {
    const [first, second] = rules === "deno"
      ? [name, name.toLowerCase()]
      : [name.toLowerCase(), name];
    return env(first) || env(second) || undefined;
  };
  const own = read(`${scheme.toUpperCase()}_PROXY`);
  const proxy = rules === "deno"
    ? read("ALL_PROXY") ?? own
    : rules === "bun"
    ? own ?? read("ALL_PROXY")
    : own;
  if (proxy === undefined) return undefined;
  if (bypassed(target, read("NO_PROXY") ?? "", rules)) return undefined;
  return originOf(proxy);
}

/**
 * `proxy` as an origin (`http://proxy.corp:3128`, `socks5://proxy:1080`): a
 * scheme added where none is, credentials dropped, also from a value that
 * is not a URL (a password with an unencoded `/`: everything up to the last
 * `@` goes).
 */
function originOf(proxy: string): string {
  const withScheme = /^[a-z][a-z\d+.-]*:\/\//i.test(proxy)
    ? proxy
    : `http://${proxy}`;
  try {
    const { protocol, host } = new URL(withScheme);
    // Not `origin`: a scheme other than http and https has none ("null").
    return `${protocol}//${host}`;
  } catch {
    return withScheme.replace(/^([a-z][a-z\d+.-]*:\/\/).*@/is, "$1");
  }
}

/** Whether `NO_PROXY`'s `list` sends `target` straight to its server. */
function bypassed(target: URL, list: string, rules: ProxyRules): boolean {
  const host = target.hostname.toLowerCase().replace(/^\[|\]$/g, "");
  const port = Number(target.port || (target.protocol === "https:" ? 443 : 80));
  const address = ipv4(host) !== undefined || host.includes(":");
  if (rules === "undici" && list === "*") return true;
  return list.split(rules === "undici" ? /[,\s]/ : ",").some((raw) => {
    const entry = raw.trim().toLowerCase();
    if (entry === "") return false;
    if (entry === "*") return rules === "bun" || (rules === "deno" && !address);
    if (entry.includes("/")) return rules !== "undici" && inRange(host, entry);
    const parsed = /^(.+):(\d+)$/.exec(entry);
    if (parsed !== null && (rules === "deno" || Number(parsed[2]) !== port)) {
      return false;
    }
    const name = (parsed?.[1] ?? entry).replace(/^\*?\./, "")
      .replace(/^\[|\]$/g, "");
    return host === name || host.endsWith(`.${name}`);
  });
}

/** Whether the IPv4 address `host` is in the range `cidr` (`10.0.0.0/8`). */
function inRange(host: string, cidr: string): boolean {
  const [base, bits] = cidr.split("/") as [string, string];
  const address = ipv4(host);
  const network = ipv4(base);
  const length = Number(bits);
  if (address === undefined || network === undefined) return false;
  if (!Number.isInteger(length) || length < 0 || length > 32) return false;
  const mask = length === 0 ? 0 : (~0 << (32 - length)) >>> 0;
  return ((address & mask) >>> 0) === ((network & mask) >>> 0);
}

/** An IPv4 address as a 32-bit number, or `undefined`. */
function ipv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}
