// Which proxy each runtime's `fetch` sends a URL through, by the environment:
// the rules of Deno, Bun and undici (Node), each from its own reading of the
// variables. A real proxy that is down, named by a failed download on each
// runtime, is in tests/download_proxy_test.ts.

import assert from "node:assert/strict";
import { test } from "node:test";
import { envProxyFor, type ProxyRules } from "../../src/_http/env_proxy.ts";

const ALL: ProxyRules[] = ["deno", "bun", "undici"];

/** The proxy for `url` under `rules`, with `variables` as the environment. */
function proxyFor(
  url: string,
  variables: Record<string, string>,
  rules: ProxyRules,
): string | undefined {
  return envProxyFor(url, (name) => variables[name], rules);
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

test("envProxyFor() reads the upper-case form first on Deno, the lower-case one on Bun and for undici", () => {
  const env = { HTTP_PROXY: "http://upper:1", http_proxy: "http://lower:2" };
  assert.equal(proxyFor("http://a/f", env, "deno"), "http://upper:1");
  assert.equal(proxyFor("http://a/f", env, "bun"), "http://lower:2");
  assert.equal(proxyFor("http://a/f", env, "undici"), "http://lower:2");
  // An empty value is no value.
  const empty = { HTTP_PROXY: "", http_proxy: "http://lower:2" };
  assert.equal(proxyFor("http://a/f", empty, "deno"), "http://lower:2");
});

test("envProxyFor() takes ALL_PROXY ahead of the scheme's variable on Deno, for a scheme without one on Bun, never for undici", () => {
  const env = { ALL_PROXY: "http://every:3", HTTP_PROXY: "http://plain:1" };
  assert.equal(proxyFor("http://a/f", env, "deno"), "http://every:3");
  assert.equal(proxyFor("https://a/f", env, "deno"), "http://every:3");
  assert.equal(proxyFor("http://a/f", env, "bun"), "http://plain:1");
  assert.equal(proxyFor("https://a/f", env, "bun"), "http://every:3");
  assert.equal(proxyFor("http://a/f", env, "undici"), "http://plain:1");
  assert.equal(proxyFor("https://a/f", env, "undici"), undefined);
});

test("envProxyFor() leaves out what NO_PROXY lists: a host and its subdomains, everything", () => {
  for (const rules of ALL) {
    const bypass = (url: string, list: string): boolean =>
      proxyFor(url, { HTTP_PROXY: "http://p:1", NO_PROXY: list }, rules) ===
        undefined;
    assert.ok(bypass("http://example.com/f", "*"), rules);
    assert.ok(bypass("http://example.com/f", "other.org,example.com"), rules);
    assert.ok(bypass("http://EXAMPLE.com/f", "Example.COM"), rules);
    assert.ok(bypass("http://a.example.com/f", "example.com"), rules);
    assert.ok(bypass("http://a.example.com/f", ".example.com"), rules);
    assert.ok(bypass("http://a.example.com/f", "*.example.com"), rules);
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
  // undici also splits on spaces.
  assert.ok(bypass("http://b.org/f", "a.org b.org", "undici"));
});
