// Which proxy each runtime's `fetch` sends a URL through, by the environment:
// the rules of Deno, Bun and undici (Node), each from its own reading of the
// variables. A real proxy that is down, named by a failed download on each
// runtime, is in tests/download_proxy_test.ts.

import assert from "node:assert/strict";
import { test } from "node:test";
import { envProxyFor, type ProxyRules } from "../../src/_http/env_proxy.ts";

const ALL: ProxyRules[] = ["deno", "bun", "node", "undici"];

/**
 * The proxy for `url` under `rules`, with `variables` as the environment,
 * as an origin.
 */
function proxyFor(
  url: string,
  variables: Record<string, string>,
  rules: ProxyRules,
): string | undefined {
  return envProxyFor(url, (name) => variables[name], rules)?.origin;
}

/** Why `value` of HTTP_PROXY cannot be used under `rules`, or `undefined`. */
function unusable(value: string, rules: ProxyRules): string | undefined {
  const found = envProxyFor(
    "http://example.com/f",
    (name) => name === "HTTP_PROXY" ? value : undefined,
    rules,
  );
  assert.equal(found?.variable, "HTTP_PROXY");
  return found?.unusable;
}

test("envProxyFor() picks the variable of the URL's scheme, as an origin without credentials", () => {
  const env = {
    HTTP_PROXY: "http://user:s3cret@plain.proxy:3128/",
    HTTPS_PROXY: "secure.proxy:8080",
  };
  for (const rules of ALL) {
    assert.equal(
      proxyFor("http://example.com/f", env, rules),
      "http://plain.proxy:3128",
      rules,
    );
    assert.equal(
      proxyFor("https://example.com/f", env, rules),
      "http://secure.proxy:8080",
      rules,
    );
    assert.equal(proxyFor("https://example.com/f", {}, rules), undefined);
    assert.equal(proxyFor("ftp://example.com/f", env, rules), undefined);
    assert.equal(proxyFor("not a URL", env, rules), undefined);
  }
});

test("envProxyFor() names the proxy without credentials when its variable is not a valid URL, or of another scheme", () => {
  for (
    const [value, named] of [
      // A password with an unencoded "/", which no URL parser takes.
      ["http://user:s3cret/pass@proxy.corp:3128", "http://proxy.corp:3128"],
      ["user:s3cret/pass@proxy.corp:3128", "http://proxy.corp:3128"],
      ["http://user:s3cret@pass@proxy.corp:99999", "http://proxy.corp:99999"],
      ["socks5://user:s3cret@proxy.corp:1080", "socks5://proxy.corp:1080"],
    ]
  ) {
    for (const rules of ALL) {
      assert.equal(
        proxyFor("http://example.com/f", { HTTP_PROXY: value ?? "" }, rules),
        named,
        `${rules}: ${value}`,
      );
    }
  }
});

test("envProxyFor() reads the upper-case form first on Deno, the lower-case one elsewhere, skipping an empty one", () => {
  const env = { HTTP_PROXY: "http://upper:1", http_proxy: "http://lower:2" };
  assert.equal(proxyFor("http://a/f", env, "deno"), "http://upper:1");
  for (const rules of ["bun", "node", "undici"] as const) {
    assert.equal(proxyFor("http://a/f", env, rules), "http://lower:2");
  }
  // An empty value is no value, on every runtime.
  for (const rules of ALL) {
    const upper = { HTTP_PROXY: "", http_proxy: "http://lower:2" };
    assert.equal(proxyFor("http://a/f", upper, rules), "http://lower:2");
    const lower: Record<string, string> = {
      http_proxy: "",
      HTTP_PROXY: "http://upper:1",
    };
    assert.equal(proxyFor("http://a/f", lower, rules), "http://upper:1");
    const found = envProxyFor("http://a/f", (name) => lower[name], rules);
    assert.equal(found?.variable, "HTTP_PROXY", rules);
  }
});

test("envProxyFor() takes ALL_PROXY ahead of the scheme's variable on Deno, for a scheme without one on Bun and Node, never for Node's own fetch", () => {
  const env = { ALL_PROXY: "http://every:3", HTTP_PROXY: "http://plain:1" };
  assert.equal(proxyFor("http://a/f", env, "deno"), "http://every:3");
  assert.equal(proxyFor("https://a/f", env, "deno"), "http://every:3");
  for (const rules of ["bun", "node"] as const) {
    assert.equal(proxyFor("http://a/f", env, rules), "http://plain:1");
    assert.equal(proxyFor("https://a/f", env, rules), "http://every:3");
  }
  assert.equal(proxyFor("http://a/f", env, "undici"), "http://plain:1");
  assert.equal(proxyFor("https://a/f", env, "undici"), undefined);
});

test("envProxyFor() says why a value the runtime cannot use is unusable, without its credentials", () => {
  for (const rules of ALL) {
    for (
      const value of [
        "http://pro xy:3128",
        " http://proxy:3128",
        "http://proxy:3128 ",
        "http://proxy:99999",
        "::::",
        ":3128",
      ]
    ) {
      assert.match(
        unusable(value, rules) ?? "",
        /^HTTP_PROXY is not a valid proxy URL \(".*"\)$/,
        `${rules}: ${value}`,
      );
    }
    assert.equal(
      unusable("http://user:s3cret/pass@proxy.corp:3128", rules),
      'HTTP_PROXY is not a valid proxy URL ("http://proxy.corp:3128"; percent-encode "/", "@" and ":" in a user name or password)',
    );
    for (
      const value of [
        "http://proxy:3128",
        "HTTP://proxy:3128",
        "proxy:3128",
        "http://user:s3cret@proxy:3128/",
        "http://user:@proxy:3128",
        "https://proxy:3128",
        "http://[::1]:3128",
      ]
    ) {
      assert.equal(unusable(value, rules), undefined, `${rules}: ${value}`);
    }
    assert.match(
      unusable("socks4://user:s3cret@proxy:1080", rules) ?? "",
      /^HTTP_PROXY names a socks4 proxy \("socks4:\/\/proxy:1080"\), which (Deno|Bun|Node)'s fetch cannot use: it takes http, https/,
    );
  }
  assert.equal(unusable("socks5://proxy:1080", "deno"), undefined);
  assert.equal(unusable("socks5h://proxy:1080", "deno"), undefined);
  assert.equal(unusable("socks5://proxy:1080", "node"), undefined);
  assert.equal(
    unusable("socks5://proxy:1080", "bun"),
    `HTTP_PROXY names a socks5 proxy ("socks5://proxy:1080"), which Bun's fetch cannot use: it takes http, https`,
  );
  // A user name without a password: Deno goes straight to the server.
  assert.equal(
    unusable("http://user@proxy:3128", "deno"),
    `HTTP_PROXY names a user without a password ("http://proxy:3128"), which Deno's fetch takes for no proxy: write "user:@host" for an empty password`,
  );
  assert.equal(unusable("http://user@proxy:3128", "bun"), undefined);
  // A host NO_PROXY lists uses no proxy, whatever the value.
  assert.equal(
    envProxyFor(
      "http://example.com/f",
      (name) =>
        ({ HTTP_PROXY: "http://pro xy:1", NO_PROXY: "example.com" })[name],
      "deno",
    ),
    undefined,
  );
});

test("envProxyFor() leaves out what NO_PROXY lists: a host and its subdomains (but *.host on Deno), everything", () => {
  for (const rules of ALL) {
    const bypass = (url: string, list: string): boolean =>
      proxyFor(url, { HTTP_PROXY: "http://p:1", NO_PROXY: list }, rules) ===
        undefined;
    assert.ok(bypass("http://example.com/f", "*"), rules);
    assert.ok(bypass("http://example.com/f", "other.org,example.com"), rules);
    assert.ok(bypass("http://EXAMPLE.com/f", "Example.COM"), rules);
    assert.ok(bypass("http://a.example.com/f", "example.com"), rules);
    assert.ok(bypass("http://a.example.com/f", ".example.com"), rules);
    if (rules !== "deno") {
      assert.ok(bypass("http://a.example.com/f", "*.example.com"), rules);
    }
    assert.ok(bypass("http://127.0.0.1:8080/f", "127.0.0.1"), rules);
    assert.ok(!bypass("http://example.com/f", "other.org"), rules);
    assert.ok(!bypass("http://notexample.com/f", "example.com"), rules);
    assert.ok(!bypass("http://example.com/f", ""), rules);
  }
});

test("envProxyFor() follows each runtime where NO_PROXY's readings differ", () => {
  const bypass = (url: string, list: string, rules: ProxyRules): boolean =>
    proxyFor(url, { HTTP_PROXY: "http://p:1", no_proxy: list }, rules) ===
      undefined;
  // `*` covers addresses too, but on Deno.
  assert.ok(bypass("http://127.0.0.1/f", "*", "undici"));
  assert.ok(bypass("http://127.0.0.1/f", "*", "bun"));
  assert.ok(!bypass("http://127.0.0.1/f", "*", "deno"));
  // An entry with a port covers that port, but on Deno.
  for (const rules of ["undici", "bun"] as const) {
    assert.ok(bypass("http://example.com:8080/f", "example.com:8080", rules));
    assert.ok(!bypass("http://example.com/f", "example.com:8080", rules));
  }
  assert.ok(!bypass("http://example.com:8080/f", "example.com:8080", "deno"));
  // An IPv4 range, on Deno and Bun.
  assert.ok(bypass("http://10.1.2.3/f", "10.0.0.0/8", "deno"));
  assert.ok(bypass("http://10.1.2.3/f", "10.0.0.0/8", "bun"));
  assert.ok(!bypass("http://11.1.2.3/f", "10.0.0.0/8", "deno"));
  assert.ok(!bypass("http://10.1.2.3/f", "10.0.0.0/8", "undici"));
  // undici and Bun also split on white space, Deno does not.
  for (const rules of ["undici", "node", "bun"] as const) {
    assert.ok(bypass("http://b.org/f", "a.org b.org", rules));
    assert.ok(bypass("http://b.org/f", "b.org\ta.org", rules));
  }
  assert.ok(!bypass("http://b.org/f", "a.org b.org", "deno"));
  // `*.example.com` covers nothing on Deno.
  assert.ok(!bypass("http://a.example.com/f", "*.example.com", "deno"));
  assert.ok(!bypass("http://example.com/f", "*.example.com", "deno"));
  assert.ok(bypass("http://example.com/f", ".example.com", "deno"));
  // A suffix covers an address on Node only.
  assert.ok(bypass("http://127.0.0.1/f", ".0.0.1", "node"));
  assert.ok(!bypass("http://127.0.0.1/f", ".0.0.1", "deno"));
  assert.ok(!bypass("http://127.0.0.1/f", ".0.0.1", "bun"));
});

test("envProxyFor() reads IPv6 entries of NO_PROXY as each runtime does", () => {
  const bypass = (list: string, rules: ProxyRules): boolean =>
    proxyFor("http://[::1]:8080/f", {
      HTTP_PROXY: "http://p:1",
      NO_PROXY: list,
    }, rules) ===
      undefined;
  // Deno and Bun: an address however written, and a range.
  for (const rules of ["deno", "bun"] as const) {
    for (const list of ["::1", "0:0::1", "::1/128", "::/0"]) {
      assert.ok(bypass(list, rules), `${rules}: ${list}`);
    }
    assert.ok(!bypass("::2", rules));
    assert.ok(!bypass("fd00::/8", rules));
    assert.ok(!bypass("[::1]:1", rules));
  }
  // Bun and Node: in brackets, with or without its port.
  for (const rules of ["bun", "node"] as const) {
    assert.ok(bypass("[::1]", rules), rules);
    assert.ok(bypass("[::1]:8080", rules), rules);
  }
  // Deno: never in brackets; Node: never bare, nor a range.
  assert.ok(!bypass("[::1]", "deno"));
  assert.ok(!bypass("[::1]:8080", "deno"));
  for (const list of ["::1", "0:0::1", "::1/128", "::/0"]) {
    assert.ok(!bypass(list, "node"), list);
  }
});

test("envProxyFor() reads NO_PROXY when it is set, even empty, on Deno, and skips an empty one elsewhere", () => {
  const env = { HTTP_PROXY: "http://p:1", NO_PROXY: "", no_proxy: "a.org" };
  assert.equal(proxyFor("http://a.org/f", env, "deno"), "http://p:1");
  const lower = { HTTP_PROXY: "http://p:1", no_proxy: "", NO_PROXY: "a.org" };
  for (const rules of ALL) {
    assert.equal(proxyFor("http://a.org/f", lower, rules), undefined, rules);
  }
});
