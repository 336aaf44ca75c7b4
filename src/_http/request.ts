// One HTTP request of a download: `fetch` with manual redirects, so that only
// `http:` and `https:` URLs are ever fetched (a runtime's `fetch` follows a
// redirect to `data:`, and Deno's reads `file:`), credentials never follow
// a redirect to another origin, and a URL's own credentials are sent as
// `Authorization` on every runtime.

import { ProxyError, RedirectError } from "../errors.ts";
import { failureOf, invalidAnswer } from "./failure.ts";
import { framingFault } from "./framing.ts";
import { withoutFragment } from "./url_fragment.ts";
import { isLengthRefused } from "./network_failure.ts";
import { envProxyOf } from "../_runtime/fetch.ts";

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Whether `url` is one a download fetches: `http:` or `https:`. */
export function isHttp(url: URL): boolean {
  return url.protocol === "http:" || url.protocol === "https:";
}

/** What {@linkcode request} sends, and how. */
export interface RequestOptions {
  /** The `fetch` to use. */
  fetch: typeof fetch;
  /** The download's headers, sent as they are when nothing is added. */
  headers: Headers;
  /** Headers for this request only (e.g. `Range`), set over `headers`. */
  extra?: [string, string][] | undefined;
  /**
   * The `Basic` authorization of `from`'s credentials, taken out of its URL
   * (see {@linkcode withoutCredentials}): sent to it, and where it
   * redirects on the same origin.
   */
  authorization?: string | undefined;
  /** How many redirects to follow. */
  maxRedirects: number;
  /** Aborts the request (and its body). */
  signal: AbortSignal;
  /**
   * Where to ask: a mirror of `url` (the download's identity, which
   * messages name and whose origin the headers' credentials are for).
   *
   * @default {url}
   */
  from?: string | undefined;
}

/** An answer, and the URL that gave it. */
export interface Answer {
  /** The response, not a redirect. */
  response: Response;
  /**
   * The URL it came from, after redirects, without a fragment (which no
   * server sees), as `fetch`'s `response.url`.
   */
  url: string;
}

/**
 * Where a redirect from `from` to `location` leads, for a download of `url`:
 * an absolute http(s) URL, else a `RedirectError`. A `Location` sent as raw
 * UTF-8 bytes (`/café`, as some servers send a path they were given) is read
 * as UTF-8, as browsers, curl and `fetch`'s own redirects read it: `Headers`
 * hands each byte over as a character of its own.
 */
export function redirectTarget(
  url: string,
  from: string,
  location: string,
): string {
  // The URL named once: "redirected to" alone when the download's own did.
  const head = `Cannot download "${url}": ${
    from === url ? "" : `${from} `
  }redirected to`;
  let target: URL;
  try {
    target = new URL(utf8(location), from);
  } catch {
    throw new RedirectError(`${head} an invalid URL "${location}"`);
  }
  if (!isHttp(target)) {
    throw new RedirectError(
      `${head} "${target.href}", which is not http: or https:`,
    );
  }
  return target.href;
}

/**
 * A header value read as the UTF-8 its bytes are (each character one
 * byte), if they are UTF-8 and not all ASCII; else as it is.
 */
function utf8(value: string): string {
  // Most Locations are ASCII: nothing to decode.
  // deno-lint-ignore no-control-regex
  if (/^[\x00-\x7f]*$/.test(value) || /[^\x00-\xff]/.test(value)) {
    return value;
  }
  const bytes = Uint8Array.from(value, (char) => char.charCodeAt(0));
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return value;
  }
}

/**
 * The headers of a request to `to` for a download of `url`: `base` as it is
 * when nothing changes (`fetch` copies it), else a copy with `extra` set and,
 * on another origin than `url`'s, without `authorization`,
 * `proxy-authorization` and `cookie`; then
 * `authorization` (the Basic credentials of the source asked, or of a
 * `Location`: see {@linkcode request}) if none is left.
 */
export function headersFor(
  url: string,
  to: string,
  base: Headers,
  extra: [string, string][] | undefined,
  authorization?: string | undefined,
): Headers {
  if (extra === undefined && to === url && authorization === undefined) {
    return base;
  }
  const headers = new Headers(base);
  for (const [name, value] of extra ?? []) headers.set(name, value);
  if (to !== url && new URL(to).origin !== new URL(url).origin) {
    // As undici drops them: a `Proxy-Authorization` of the headers is the
    // caller's, which a server would see (a proxy named by the environment
    // gets its own, from its URL, from the runtime's `fetch`).
    headers.delete("authorization");
    headers.delete("proxy-authorization");
    headers.delete("cookie");
  }
  if (authorization !== undefined && !headers.has("authorization")) {
    headers.set("authorization", authorization);
  }
  return headers;
}

/** What a URL with credentials (`http://user:pass@host/`) is fetched as. */
export interface WithoutCredentials {
  /** The URL without them (the same string when it has none). */
  url: string;
  /** Their `Basic` authorization, if it had any. */
  authorization: string | undefined;
}

/**
 * `url` without its credentials, and the `Basic` authorization they make,
 * sent as curl, Deno and Bun send them: Node's `fetch` refuses a URL with
 * credentials.
 */
export function withoutCredentials(url: string): WithoutCredentials {
  // Most URLs hold no "@": not parsed again.
  if (!url.includes("@")) return { url, authorization: undefined };
  const parsed = new URL(url);
  if (parsed.username === "" && parsed.password === "") {
    return { url, authorization: undefined };
  }
  const pair = `${decoded(parsed.username)}:${decoded(parsed.password)}`;
  parsed.username = "";
  parsed.password = "";
  const bytes = new TextEncoder().encode(pair);
  return {
    url: parsed.href,
    authorization: `Basic ${btoa(String.fromCharCode(...bytes))}`,
  };
}

/** A URL's percent-encoded part, decoded (as it is, if it does not decode). */
function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/**
 * Requests `url`, following redirects up to `maxRedirects`. A failed
 * `fetch` rejects with what it means (see `failureOf`), a proxy's `407`
 * with a `ProxyError`, as does a proxy variable the runtime's `fetch`
 * cannot use, before any request (see `envProxyFor`); a redirect loop, a
 * redirect without a usable `Location` or to another scheme, with a
 * `RedirectError`; an answer whose framing cannot be trusted (see
 * `framingFault`), with a `ProtocolError` that is not retried.
 */
export async function request(
  url: string,
  options: RequestOptions,
): Promise<Answer> {
  let next = options.from ?? url;
  let authorization = options.authorization;
  for (let redirects = 0;; redirects++) {
    let response: Response;
    // A Location may carry credentials too: they go where it points.
    const target = withoutCredentials(next);
    const at = target.url;
    authorization = target.authorization ?? authorization;
    const proxy = envProxyOf(options.fetch, at);
    if (proxy?.unusable !== undefined) {
      throw new ProxyError(url, undefined, undefined, {
        variable: proxy.variable,
        reason: proxy.unusable,
      });
    }
    try {
      response = await options.fetch(at, {
        headers: headersFor(
          url,
          at,
          options.headers,
          options.extra,
          authorization,
        ),
        signal: options.signal,
        redirect: "manual",
      });
    } catch (error) {
      if (isLengthRefused(error) && !options.signal.aborted) {
        throw invalidAnswer(url, "its Content-Length does not frame its body");
      }
      throw failureOf(
        url,
        error,
        options.signal,
        at,
        proxy?.origin,
      );
    }
    if (response.status === 407) {
      // Only a proxy answers 407 (RFC 9110): Deno and Bun forward a plain
      // `http:` request to it and hand over its answer as the server's.
      await response.body?.cancel().catch(() => {});
      throw new ProxyError(url, 407, proxy?.origin);
    }
    if (!REDIRECT_STATUSES.has(response.status)) {
      const fault = framingFault(response.headers);
      if (fault !== undefined) {
        await response.body?.cancel().catch(() => {});
        throw invalidAnswer(url, fault);
      }
      return { response, url: withoutFragment(at) };
    }
    await response.body?.cancel().catch(() => {});
    const location = response.headers.get("location");
    if (location === null) {
      throw new RedirectError(
        `Cannot download "${url}": ${at} redirected (${response.status}) without a Location`,
      );
    }
    if (redirects >= options.maxRedirects) {
      throw new RedirectError(
        `Cannot download "${url}": more than ${options.maxRedirects} redirect${
          options.maxRedirects === 1 ? "" : "s"
        }`,
      );
    }
    next = redirectTarget(url, at, location);
    // Credentials go on to their own origin only.
    if (new URL(next).origin !== new URL(at).origin) authorization = undefined;
  }
}
