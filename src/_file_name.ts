// File names for the manager: derived from a URL, and checked so that a name
// can never point outside the manager's directory.

/**
 * Returns the last path segment of `url`, percent-decoded (query and fragment
 * are not part of it). Throws a `TypeError` when there is none or it cannot be
 * decoded.
 */
export function fileNameFromUrl(url: URL): string {
  const segment = url.pathname.slice(url.pathname.lastIndexOf("/") + 1);
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    throw new TypeError(
      `Cannot download "${url.href}": the file name "${segment}" is not valid percent-encoding`,
    );
  }
  if (name === "") {
    throw new TypeError(
      `Cannot download "${url.href}": the URL has no file name, pass one as "fname"`,
    );
  }
  return name;
}

/**
 * Throws a `TypeError` unless `name` is a plain file name: not empty, not `.`
 * or `..`, without `/`, `\` or NUL.
 */
export function assertFileName(name: string, url: string): void {
  let problem: string | undefined;
  if (name === "") problem = "name must not be empty";
  else if (name === "." || name === "..") {
    problem = `name must not be "${name}"`;
  } else if (name.includes("/") || name.includes("\\")) {
    problem = "name must not contain a path separator";
  } else if (name.includes("\0")) {
    problem = "name must not contain a NUL character";
  }
  if (problem !== undefined) {
    throw new TypeError(`Cannot download "${url}" as "${name}": ${problem}`);
  }
}
