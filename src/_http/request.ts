// One HTTP request of a download: `fetch` with manual redirects, so that only
// `http:` and `https:` URLs are ever fetched (a runtime's `fetch` follows a
// redirect to `data:`, and Deno's reads `file:`), and credentials never
// follow a redirect to another origin.

import { RedirectError } from "../errors.ts";
import { failureOf } from "./failure.ts";

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
  /** The URL it came from, after redirects. */
  url: string;
}

/**
 * Where a redirect from `from` to `location` leads, for a download of `url`:
 * an absolute http(s) URL, else a `RedirectError`.
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
    target = new URL(location, from);
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
 * The headers of a request to `to` for a download of `url`: `base` as it is
 * when nothing changes (`fetch` copies it), else a copy with `extra` set and,
 * on another origin than `url`'s, without `authorization` and `cookie`.
 */
export function headersFor(
  url: string,
  to: string,
  base: Headers,
  extra: [string, string][] | undefined,
): Headers {
  if (extra === undefined && to === url) return base;
  const headers = new Headers(base);
  for (const [name, value] of extra ?? []) headers.set(name, value);
  if (to !== url && new URL(to).origin !== new URL(url).origin) {
    headers.delete("authorization");
    headers.delete("cookie");
  }
  return headers;
}

/**
 * Requests `url`, following redirects up to `maxRedirects`. A failed
 * `fetch` rejects with what it means (see `failureOf`); a redirect loop, a
 * redirect without a usable `Location` or to another scheme, with a
 * `RedirectError`.
 */
export async function request(
  url: string,
  options: RequestOptions,
): Promise<Answer> {
  let at = options.from ?? url;
  for (let redirects = 0;; redirects++) {
    let response: Response;
    try {
      response = await options.fetch(at, {
        headers: headersFor(url, at, options.headers, options.extra),
        signal: options.signal,
        redirect: "manual",
      });
    } catch (error) {
      throw failureOf(url, error, options.signal, at);
    }
    if (!REDIRECT_STATUSES.has(response.status)) return { response, url: at };
    await response.body?.cancel().catch(() => {});
    const location = response.headers.get("location");
    if (location === null) {
      throw new RedirectError(
        `Cannot download "${url}": ${at} redirected (${response.status}) without a Location`,
      );
    }
    if (redirects >= options.maxRedirects) {
      throw new RedirectError(
        `Cannot download "${url}": more than ${options.maxRedirects} redirects`,
      );
    }
    at = redirectTarget(url, at, location);
  }
}
