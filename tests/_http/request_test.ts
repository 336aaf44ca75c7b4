import assert from "node:assert/strict";
import { test } from "node:test";
import {
  headersFor,
  isHttp,
  redirectTarget,
  request,
  withoutCredentials,
} from "../../src/_http/request.ts";
import { NetworkError, RedirectError } from "../../src/errors.ts";
import { type Route, startServer } from "../_helpers/server.ts";

const URL_TEXT = "https://example.com/dir/f";

test("isHttp() is true for http: and https: only", () => {
  for (const url of ["http://h/", "https://h/", "HTTP://h/"]) {
    assert.equal(isHttp(new URL(url)), true, url);
  }
  for (
    const url of ["file:///etc/passwd", "data:,x", "ftp://h/", "blob:http://h/"]
  ) {
    assert.equal(isHttp(new URL(url)), false, url);
  }
});

test("redirectTarget() resolves a relative Location against the URL that sent it", () => {
  assert.equal(
    redirectTarget(URL_TEXT, "https://cdn.example/a/b", "../c?x=1"),
    "https://cdn.example/c?x=1",
  );
  assert.equal(
    redirectTarget(URL_TEXT, URL_TEXT, "//mirror.example/f"),
    "https://mirror.example/f",
  );
});

test("redirectTarget() throws a RedirectError for another scheme or an invalid Location", () => {
  assert.throws(
    () => redirectTarget(URL_TEXT, URL_TEXT, "file:///etc/passwd"),
    {
      name: "RedirectError",
      message:
        `Cannot download "${URL_TEXT}": redirected to "file:///etc/passwd", which is not http: or https:`,
    },
  );
  // A later hop is named: it is not the download's URL.
  assert.throws(
    () => redirectTarget(URL_TEXT, "https://mirror.example/f", "ftp://x/f"),
    {
      name: "RedirectError",
      message:
        `Cannot download "${URL_TEXT}": https://mirror.example/f redirected to "ftp://x/f", which is not http: or https:`,
    },
  );
  assert.throws(
    () => redirectTarget(URL_TEXT, URL_TEXT, "http://[bad"),
    RedirectError,
  );
});

test("headersFor() sends the download's headers as they are when nothing changes", () => {
  const base = new Headers({ authorization: "Bearer t" });
  assert.equal(headersFor(URL_TEXT, URL_TEXT, base, undefined), base);
});

test("headersFor() adds a request's own headers to a copy", () => {
  const base = new Headers({ authorization: "Bearer t" });
  const headers = headersFor(URL_TEXT, URL_TEXT, base, [["range", "bytes=5-"]]);
  assert.notEqual(headers, base);
  assert.equal(headers.get("range"), "bytes=5-");
  assert.equal(headers.get("authorization"), "Bearer t");
  assert.equal(base.get("range"), null);
});

test("withoutCredentials() takes a URL's credentials out, as Basic authorization, which a header given wins over", () => {
  assert.deepEqual(withoutCredentials(URL_TEXT), {
    url: URL_TEXT,
    authorization: undefined,
  });
  const at = "https://example.com/f@2x.png";
  assert.deepEqual(withoutCredentials(at), {
    url: at,
    authorization: undefined,
  });
  const { url, authorization } = withoutCredentials(
    "https://us%20er:p%40ss%3A%C3%A9@example.com/dir/f",
  );
  assert.equal(url, URL_TEXT);
  const utf8 = String.fromCharCode(
    ...new TextEncoder().encode("us er:p@ss:\u00e9"),
  );
  assert.equal(authorization, `Basic ${btoa(utf8)}`);
  assert.equal(
    withoutCredentials("https://token@example.com/").authorization,
    `Basic ${btoa("token:")}`,
  );
  const given = new Headers({ authorization: "Bearer t" });
  assert.equal(
    headersFor(URL_TEXT, URL_TEXT, given, undefined, authorization)
      .get("authorization"),
    "Bearer t",
  );
  assert.equal(
    headersFor(URL_TEXT, URL_TEXT, new Headers(), undefined, authorization)
      .get("authorization"),
    authorization,
  );
});

test("headersFor() drops credentials on another origin only", () => {
  const base = new Headers({
    authorization: "Bearer t",
    "proxy-authorization": "Basic cDpw",
    cookie: "c=1",
    "x-trace": "1",
  });
  const same = headersFor(
    URL_TEXT,
    "https://example.com/other",
    base,
    undefined,
  );
  assert.equal(same.get("authorization"), "Bearer t");
  assert.equal(same.get("cookie"), "c=1");
  assert.equal(same.get("proxy-authorization"), "Basic cDpw");
  for (
    const to of [
      "https://cdn.example.com/f",
      "http://example.com/f",
      "https://example.com:8443/f",
    ]
  ) {
    const other = headersFor(URL_TEXT, to, base, undefined);
    assert.equal(other.get("authorization"), null, to);
    assert.equal(other.get("cookie"), null, to);
    assert.equal(other.get("proxy-authorization"), null, to);
    assert.equal(other.get("x-trace"), "1", to);
  }
});

test("request() follows redirects up to maxRedirects and says where the answer came from", async () => {
  const hop = (to: string): Route => (_request, response) => {
    response.writeHead(302, { location: to }).end();
  };
  await using server = await startServer({
    "/a": hop("/b"),
    "/b": hop("/c"),
    "/c": (_request, response) => void response.end("here"),
  });
  const options = {
    fetch,
    headers: new Headers(),
    maxRedirects: 2,
    signal: new AbortController().signal,
  };
  const answer = await request(server.url("/a"), options);
  assert.equal(answer.url, server.url("/c"));
  assert.equal(await answer.response.text(), "here");
  await assert.rejects(
    request(server.url("/a"), { ...options, maxRedirects: 1 }),
    {
      name: "RedirectError",
      message: `Cannot download "${server.url("/a")}": more than 1 redirect`,
    },
  );
});

test("redirectTarget() reads a Location's raw bytes as UTF-8, as browsers and curl do", () => {
  // What `Headers` hands over for the bytes of "/café/ü b": each byte as a
  // character of its own.
  const raw = String.fromCharCode(...new TextEncoder().encode("/café/ü b"));
  assert.equal(
    redirectTarget(URL_TEXT, URL_TEXT, raw),
    "https://example.com/caf%C3%A9/%C3%BC%20b",
  );
  // Bytes that are no UTF-8 are taken one by one, as before.
  assert.equal(
    redirectTarget(URL_TEXT, URL_TEXT, "/caf\xe9"),
    "https://example.com/caf%C3%A9",
  );
});

test("request() follows a Location sent as raw UTF-8 bytes to the file it names", async () => {
  const raw = String.fromCharCode(...new TextEncoder().encode("/café"));
  await using server = await startServer({
    "/a": (_request, response) => {
      // node:http writes a header's characters as latin1 bytes.
      response.writeHead(302, { location: raw }).end();
    },
    "/caf%C3%A9": (_request, response) => void response.end("here"),
  });
  const answer = await request(server.url("/a"), {
    fetch,
    headers: new Headers(),
    maxRedirects: 1,
    signal: new AbortController().signal,
  });
  assert.equal(answer.url, server.url("/caf%C3%A9"));
  assert.equal(answer.response.status, 200);
  assert.equal(await answer.response.text(), "here");
});

test("request() rejects a failed fetch with a NetworkError naming the download's URL", async () => {
  // A port nothing listens on: the server is closed before the request.
  const server = await startServer({});
  const url = server.url("/f");
  await server.close();
  await assert.rejects(
    request(url, {
      fetch,
      headers: new Headers(),
      maxRedirects: 0,
      signal: new AbortController().signal,
    }),
    (error) =>
      error instanceof NetworkError && error.code === "ECONNREFUSED" &&
      error.message === `Cannot download "${url}": connection refused`,
  );
});
