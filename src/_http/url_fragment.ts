// A URL's fragment, which no server sees: left out where a URL is compared
// with the one a server answered for, or given as where an answer came from.

/**
 * `url` (serialized) without its fragment.
 *
 * @example
 * ```ts
 * withoutFragment("https://example.com/a.zip#top"); // "https://example.com/a.zip"
 * ```
 */
export function withoutFragment(url: string): string {
  const hash = url.indexOf("#");
  return hash === -1 ? url : url.slice(0, hash);
}
