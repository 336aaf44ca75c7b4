// File names: derived from a URL, and checked so that a name can never point
// outside the manager's directory, nor reach a terminal with control
// characters, nor fail at the rename for its length. The manager and the
// command line name files by these rules.

import { basename } from "node:path";

/**
 * The last path segment of `url`, percent-decoded (query and fragment are
 * not part of it), or why it names no file: there is none, or it is not
 * valid percent-encoding.
 */
export function urlFileName(url: URL): { name: string } | { problem: string } {
  const segment = url.pathname.slice(url.pathname.lastIndexOf("/") + 1);
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    return {
      problem: `the file name "${segment}" is not valid percent-encoding`,
    };
  }
  return name === "" ? { problem: "the URL has no file name" } : { name };
}

/**
 * {@linkcode urlFileName}'s name; a `TypeError` when there is none to use,
 * telling to pass one as `fname`.
 */
export function fileNameFromUrl(url: URL): string {
  const found = urlFileName(url);
  if ("name" in found) return found.name;
  throw new TypeError(
    `Cannot download "${url.href}": ${found.problem}, pass one as "fname"`,
  );
}

/** The longest file name, in UTF-8 bytes, that Linux and macOS file systems take. */
export const NAME_MAX = 255;

/**
 * The Unicode bidirectional embedding, override and isolate controls
 * (U+202A to U+202E, U+2066 to U+2069): in a name they make terminals, file
 * managers and logs show its characters reordered, so that
 * `photo<U+202E>gpj.exe` reads as `photoexe.jpg` (the "right-to-left
 * override" spoof). Text in any script, right-to-left ones too, needs none.
 */
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/;

/**
 * Whether `text` takes more than {@linkcode NAME_MAX} bytes in UTF-8. A
 * UTF-16 unit takes at most 3, so a short name is not encoded: each
 * download's name is checked twice, and each check made an encoder and an
 * encoded copy.
 */
function tooLongForName(text: string): boolean {
  return text.length * 3 > NAME_MAX &&
    new TextEncoder().encode(text).byteLength > NAME_MAX;
}

/**
 * Why `name` is not a plain file name, or `undefined` if it is one: not
 * empty, not `.` or `..`, without `/` or `\`, without control characters
 * (C0, DEL and C1: NUL, a newline, an escape or a CSI would be written to
 * terminals and logs as they are), without bidirectional controls (see
 * `BIDI_CONTROLS`), and at most {@linkcode NAME_MAX} UTF-8 bytes.
 */
export function fileNameProblem(name: string): string | undefined {
  if (name === "") return "name must not be empty";
  if (name === "." || name === "..") return `name must not be "${name}"`;
  if (name.includes("/") || name.includes("\\")) {
    return "name must not contain a path separator";
  }
  if (name.includes("\0")) return "name must not contain a NUL character";
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f-\x9f]/.test(name)) {
    return "name must not contain a control character (such as a newline or an escape)";
  }
  if (BIDI_CONTROLS.test(name)) {
    return "name must not contain a bidirectional control character (it would show the name reordered)";
  }
  if (tooLongForName(name)) {
    return `name must not be longer than ${NAME_MAX} bytes`;
  }
  return undefined;
}

/**
 * `text` with its control characters written as escapes (`\n`, `\x1b`,
 * `\u202e`), so that printing it cannot move a terminal's cursor, fake a log
 * line, or show it reordered.
 */
export function printable(text: string): string {
  return text.replace(
    // deno-lint-ignore no-control-regex
    /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g,
    (char) => {
      const named: Record<string, string> = {
        "\n": "\\n",
        "\r": "\\r",
        "\t": "\\t",
      };
      const code = char.charCodeAt(0);
      return named[char] ??
        (code > 0xff
          ? `\\u${code.toString(16)}`
          : `\\x${code.toString(16).padStart(2, "0")}`);
    },
  );
}

/** Throws a `TypeError` unless `name` is a plain file name (see {@linkcode fileNameProblem}). */
export function assertFileName(name: string, url: string): void {
  const problem = fileNameProblem(name);
  if (problem !== undefined) {
    throw new TypeError(
      `Cannot download "${url}" as "${printable(name)}": ${problem}`,
    );
  }
}

/**
 * The error for a destination where something other than a file is: nothing
 * can be renamed onto a directory.
 */
export function notAFileError(
  url: string,
  dest: string,
  isDirectory: boolean,
): TypeError {
  return new TypeError(
    `Cannot download "${url}" to "${dest}": ${
      isDirectory ? "a directory" : "something other than a file"
    } is in the way`,
  );
}

/**
 * Throws a `TypeError` unless `dest`, a download's destination path, is a
 * non-empty path that names a file (not ending in a separator, nor `.` or
 * `..`), whose name file systems take (at most {@linkcode NAME_MAX} bytes):
 * either would fail only at the rename, once the whole body had arrived.
 */
export function assertDestName(url: string, dest: string): void {
  if (typeof dest !== "string" || dest === "") {
    throw new TypeError(
      `Cannot download "${url}": dest must be a non-empty path`,
    );
  }
  if (/(^|[/\\])\.{0,2}$/.test(dest)) {
    throw new TypeError(
      `Cannot download "${url}" to "${dest}": it names a directory, not a file`,
    );
  }
  if (tooLongForName(basename(dest))) {
    throw new TypeError(
      `Cannot download "${url}" to "${dest}": the file name is longer than ${NAME_MAX} bytes, more than file systems take`,
    );
  }
}
