// The proxy a runtime's `fetch` sends a request through, as the environment
// names it: what a failed connection names, since the connection that failed
// was to the proxy, not to the server (see `NetworkError.proxy`), and what
// fails a download at once when the runtime cannot use it. Each runtime
// reads the variables its own way (docs/behaviour.md, "Behind a proxy", has
// what the tests saw), and these rules follow each:
//
// - the variable: `HTTP_PROXY` or `HTTPS_PROXY` by the URL's scheme, each
//   upper-case form first on Deno, the lower-case one first elsewhere, an
//   empty one skipped; `ALL_PROXY` ahead of them on Deno, for a scheme
//   without its variable on Bun and for the npm package on Node (as curl
//   takes it), never for Node's own `fetch` (`NODE_USE_ENV_PROXY=1`);
// - its value: one the runtime cannot use is `unusable`, where the runtime
//   would go straight to the server (Deno), or fail naming what it is not
//   (a host name "pro xy"): a value that is no URL (a space in it, a port
//   out of range, a `/` in a password), a scheme the runtime has no proxy
//   of (`socks5` on Bun, `socks4` anywhere), and, on Deno, a user name
//   without a password;
// - `NO_PROXY`: entries separated by commas (and white space, but on Deno),
//   each a host that also covers its subdomains (`example.com`,
//   `.example.com`, and `*.example.com` but on Deno, where it covers
//   nothing), a name covering names only (but on Node, where `.0.0.1`
//   covers `127.0.0.1`); `*` covers every host (on Deno, every name but no
//   address); an entry with a port (`host:8080`) covers that port, but on
//   Deno, where it covers nothing; an address range (`10.0.0.0/8`,
//   `fd00::/8`) is taken by Deno and Bun, which also take an IPv6 address
//   however written (`::1`, `0:0::1`), and Bun `[::1]` too. On Deno, a `NO_PROXY` that is set, even empty, hides
//   `no_proxy`.

/**
 * Whose rules to read the variables by (see the module comment): Deno's
 * `fetch`, Bun's, the npm package's on Node (undici's `EnvHttpProxyAgent`,
 * see `fetch.npm.ts`), or Node's own (`NODE_USE_ENV_PROXY=1`).
 */
export type ProxyRules = "deno" | "bun" | "node" | "undici";

/** Reads one environment variable; `undefined` when unset or unreadable. */
export type EnvReader = (name: string) => string | undefined;

/** The proxy a request goes through, as the environment names it. */
export interface EnvProxy {
  /** The variable that names it: `HTTPS_PROXY`, `http_proxy`, `ALL_PROXY`. */
  variable: string;
  /** The proxy as an origin without credentials (`http://proxy.corp:3128`). */
  origin: string;
  /**
   * Why the runtime cannot use the variable's value, when it cannot, said
   * without its credentials (`HTTP_PROXY is not a valid URL ("...")`).
   */
  unusable?: string;
}

/** The proxy schemes each runtime's `fetch` takes. */
const SCHEMES: Record<ProxyRules, readonly string[]> = {
  deno: ["http", "https", "socks5", "socks5h"],
  bun: ["http", "https"],
  // undici 7's ProxyAgent: `socks` is SOCKS5 there.
  node: ["http", "https", "socks5", "socks"],
  undici: ["http", "https"],
};

/** Whose `fetch` each rules are, as a message names it. */
const RUNTIME: Record<ProxyRules, string> = {
  deno: "Deno",
  bun: "Bun",
  node: "Node",
  undici: "Node",
};

const SCHEME = /^[a-z][a-z\d+.-]*:\/\//i;

/**
 * The proxy `url` is fetched through under `rules`, or `undefined` for
 * none.
 */
export function envProxyFor(
  url: string,
  env: EnvReader,
  rules: ProxyRules,
): EnvProxy | undefined {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return undefined;
  }
  const scheme = target.protocol.slice(0, -1);
  if (scheme !== "http" && scheme !== "https") return undefined;
  // The first of a variable's two forms that is set and not empty.
  const read = (name: string): [string, string] | undefined => {
    const forms = rules === "deno"
      ? [name, name.toLowerCase()]
      : [name.toLowerCase(), name];
    for (const form of forms) {
      const value = env(form);
      if (value) return [form, value];
    }
    return undefined;
  };
  const own = read(`${scheme.toUpperCase()}_PROXY`);
  const found = rules === "deno"
    ? read("ALL_PROXY") ?? own
    : rules === "undici"
    ? own
    : own ?? read("ALL_PROXY");
  if (found === undefined) return undefined;
  // Deno reads NO_PROXY when it is set, even empty; the others skip an
  // empty form.
  const noProxy = rules === "deno"
    ? env("NO_PROXY") ?? env("no_proxy")
    : read("NO_PROXY")?.[1];
  if (bypassed(target, noProxy ?? "", rules)) return undefined;
  const [variable, value] = found;
  const unusable = unusableValue(variable, value, rules);
  return {
    variable,
    origin: originOf(value),
    ...(unusable === undefined ? {} : { unusable }),
  };
}

/**
 * Why `value`, of the proxy variable `variable`, is no proxy the `fetch` of
 * `rules` can use, or `undefined` when it is one. Never says the value's
 * credentials.
 */
function unusableValue(
  variable: string,
  value: string,
  rules: ProxyRules,
): string | undefined {
  const shown = `"${withoutCredentials(value)}"`;
  const withScheme = SCHEME.test(value) ? value : `http://${value}`;
  let parsed: URL | undefined;
  try {
    parsed = new URL(withScheme);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || parsed.hostname === "" || /\s/.test(value)) {
    const hint = value.includes("@")
      ? `; percent-encode "/", "@" and ":" in a user name or password`
      : "";
    return `${variable} is not a valid proxy URL (${shown}${hint})`;
  }
  const scheme = parsed.protocol.slice(0, -1).toLowerCase();
  if (!SCHEMES[rules].includes(scheme)) {
    return `${variable} names a ${scheme} proxy (${shown}), which ${
      RUNTIME[rules]
    }'s fetch cannot use: it takes ${SCHEMES[rules].join(", ")}`;
  }
  // Deno's fetch takes `user@host` for no proxy at all, and goes straight
  // to the server.
  const authority = withScheme.replace(SCHEME, "").split(/[/?#]/)[0] ?? "";
  const userinfo = authority.includes("@")
    ? authority.slice(0, authority.lastIndexOf("@"))
    : undefined;
  if (rules === "deno" && userinfo !== undefined && !userinfo.includes(":")) {
    return `${variable} names a user without a password (${shown}), which Deno's fetch takes for no proxy: write "user:@host" for an empty password`;
  }
  return undefined;
}

/**
 * `proxy` as an origin (`http://proxy.corp:3128`, `socks5://proxy:1080`): a
 * scheme added where none is, credentials dropped, also from a value that
 * is not a URL (a password with an unencoded `/`: everything up to the last
 * `@` goes).
 */
function originOf(proxy: string): string {
  const withScheme = SCHEME.test(proxy) ? proxy : `http://${proxy}`;
  try {
    const { protocol, host } = new URL(withScheme);
    // Not `origin`: a scheme other than http and https has none ("null").
    return `${protocol}//${host}`;
  } catch {
    return withoutCredentials(withScheme);
  }
}

/** `value` without what comes up to its last `@`, but its scheme. */
function withoutCredentials(value: string): string {
  return value.replace(/^([a-z][a-z\d+.-]*:\/\/)?.*@/is, "$1");
}

/** Whether `NO_PROXY`'s `list` sends `target` straight to its server. */
function bypassed(target: URL, list: string, rules: ProxyRules): boolean {
  const host = target.hostname.toLowerCase().replace(/^\[|\]$/g, "");
  const port = Number(target.port || (target.protocol === "https:" ? 443 : 80));
  const address = ipv4(host) !== undefined || host.includes(":");
  const undici = rules === "node" || rules === "undici";
  if (undici && list === "*") return true;
  return list.split(rules === "deno" ? "," : /[,\s]/).some((raw) => {
    const entry = raw.trim().toLowerCase();
    if (entry === "") return false;
    if (entry === "*") return rules === "bun" || (rules === "deno" && !address);
    if (entry.includes("/")) return !undici && inRange(host, entry);
    // Deno and Bun take `::1` for an address; undici, for `:` and a port.
    if (!undici && !entry.startsWith("[") && entry.split(":").length > 2) {
      return sameAddress(host, entry);
    }
    const parsed = /^(.+):(\d+)$/.exec(entry);
    if (parsed !== null && (rules === "deno" || Number(parsed[2]) !== port)) {
      return false;
    }
    const bare = parsed?.[1] ?? entry;
    // Deno takes `[::1]` and `*.example.com` for no host at all.
    if (rules === "deno" && /^[[*]/.test(bare)) return false;
    const name = bare.replace(/^\[|\]$/g, "").replace(/^\*?\./, "");
    // Deno and Bun match an address to an address only, never to a suffix.
    if (address && !undici) return sameAddress(host, name);
    return host === name || host.endsWith(`.${name}`);
  });
}

/** Whether the address `host` is `entry`, however `entry` writes it. */
function sameAddress(host: string, entry: string): boolean {
  return host === (ipv6Of(entry) ?? entry);
}

/** The IPv6 address `text` as `URL` writes it (`::1`), or `undefined`. */
function ipv6Of(text: string): string | undefined {
  try {
    return new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

/** The IPv6 address `text` as a 128-bit number, or `undefined`. */
function ipv6Value(text: string): bigint | undefined {
  const written = ipv6Of(text);
  if (written === undefined) return undefined;
  const [head = "", tail] = written.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = [
    ...left,
    ...Array(8 - left.length - right.length).fill("0"),
    ...right,
  ];
  return groups.reduce(
    (value, group) => value * 65536n + BigInt(`0x${group}`),
    0n,
  );
}

/**
 * Whether the address `host` is in the range `cidr` (`10.0.0.0/8`,
 * `fd00::/8`).
 */
function inRange(host: string, cidr: string): boolean {
  const [base, bits] = cidr.split("/") as [string, string];
  const length = Number(bits);
  const four = [ipv4(host), ipv4(base)];
  const [address, network, size] =
    four[0] !== undefined && four[1] !== undefined
      ? [BigInt(four[0]), BigInt(four[1]), 32]
      : [ipv6Value(host), ipv6Value(base), 128];
  if (address === undefined || network === undefined) return false;
  if (!Number.isInteger(length) || length < 0 || length > size) return false;
  const shift = BigInt(size - length);
  return address >> shift === network >> shift;
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
