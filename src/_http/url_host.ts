// The host a URL names, read from the string a `URL` serialized: a
// download's URLs are parsed once (`parseSources`, `redirectTarget`), and
// each connection asked again for the host of the one it fetched, a parse
// per download the small file's path paid twice.

/**
 * The host, with its port if not the default, of `href`: an `http:` or
 * `https:` URL as `URL` serializes it (its `href`), which always has a path
 * after its host and percent-encodes any `@` of its credentials. The same as
 * `new URL(href).host`, without parsing it again.
 *
 * @example
 * ```ts
 * hostOf("https://user:pw@example.com:8443/a.zip?x#y"); // "example.com:8443"
 * ```
 */
export function hostOf(href: string): string {
  const start = href.indexOf("//") + 2;
  const end = href.indexOf("/", start);
  const authority = href.slice(start, end === -1 ? undefined : end);
  return authority.slice(authority.lastIndexOf("@") + 1);
}
