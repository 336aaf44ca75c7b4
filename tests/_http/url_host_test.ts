import assert from "node:assert/strict";
import { test } from "node:test";
import { hostOf } from "../../src/_http/url_host.ts";

test("hostOf() reads the host URL.host gives, from a serialized URL", () => {
  const given = [
    "http://example.com/a.zip",
    "https://example.com:443/a.zip",
    "http://EXAMPLE.com:8080/a/b?c=d#e",
    "http://example.com?x",
    "https://user:p%40ss@files.example.com:8443/f",
    "http://us@er:pw@example.com/f",
    "http://[::1]:8080/f",
    "http://[0:0::1]/f",
    "http://127.0.0.1:42/f@g",
    "https://xn--bcher-kva.example/f",
    "https://bücher.example/f",
  ];
  for (const url of given) {
    const { href, host } = new URL(url);
    assert.equal(hostOf(href), host, href);
  }
});
