/**
 * The `-i` list: one file per line (its URL, or its mirrors separated by
 * spaces; then, after tabs, a name and a sha256), checked line by line so
 * that a bad line is one {@linkcode UsageError} naming it: its file name
 * too, the one given or its URL's.
 *
 * @module
 */

import { fileNameProblem, printable } from "../_disk/file_name.ts";
import { INTEGRITY_FORMAT, parseIntegrity } from "../_body/integrity.ts";
import { jobFileName } from "./plan.ts";
import { UsageError } from "./usage_error.ts";

/** One file to download. */
export interface Job {
  /** The URL, normalised. */
  url: string;
  /** Other sources of the same file, tried in order when one fails. */
  mirrors?: string[] | undefined;
  /** The file name (`-o`, or an input line's second field). */
  name?: string | undefined;
  /** The expected sha256 in hex. */
  sha256?: string | undefined;
  /** The expected digest as an SRI string. */
  integrity?: string | undefined;
}

/**
 * Parses an input list: one URL per line (or several, separated by spaces:
 * mirrors of one file, tried in order), optionally followed by a tab and a
 * file name, and another tab and a sha256. Blank lines and lines starting
 * with `#` are skipped; lines may end in LF, CRLF or CR, and empty fields
 * after the last one given are ignored.
 *
 * @param text The list's contents.
 * @param source The list's name for messages (a path, or `stdin`).
 * @returns The jobs, in order.
 * @throws {UsageError} naming the source and line number of a malformed line.
 *
 * @example
 * ```ts
 * parseInputList("https://example.com/a\ta.zip\n", "list.txt");
 * ```
 */
export function parseInputList(text: string, source: string): Job[] {
  const jobs: Job[] = [];
  // Lines end as on any system (an old Mac's lone CR too): a CR left inside
  // a line would vanish from its URL, which would then be another.
  const lines = text.split(/\r\n|\r|\n/);
  for (const [index, line] of lines.entries()) {
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const where = `${source}:${index + 1}: `;
    const fields = line.split("\t");
    // Empty fields at the end (a spreadsheet's export) say nothing.
    while (fields.length > 1 && fields.at(-1)?.trim() === "") fields.pop();
    if (fields.length > 3) {
      throw new UsageError(
        `${where}expected URL, URL<TAB>name or URL<TAB>name<TAB>sha256, got ${fields.length} fields`,
      );
    }
    const [urls = "", name, sha256] = fields;
    // Mirrors of one file: its URLs, separated by spaces.
    const field = urls.trim();
    const [url = "", ...mirrors] = field.split(/ +/);
    const several = mirrors.length > 0 ? field : undefined;
    const job: Job = { url: checkLineUrl(url, several, where) };
    if (mirrors.length > 0) {
      job.mirrors = mirrors.map((mirror) => checkLineUrl(mirror, field, where));
    }
    if (name !== undefined && !(name === "" && sha256 !== undefined)) {
      job.name = checkName(name, where, "name");
    }
    if (sha256 !== undefined) {
      job.sha256 = checkSha256(sha256.trim(), where, "sha256");
    }
    // The name the line downloads to (its own, or its URL's), checked here
    // to name the line.
    jobFileName(job, where);
    jobs.push(job);
  }
  return jobs;
}

/**
 * One of a line's URLs, as {@linkcode checkUrl}. Where the line gives
 * several (`field`, all of them), one that is no URL at all is most likely a
 * piece of a URL with a space in it (`…/my file.zip`), or of words: the
 * error quotes them all, and says what a space means in a list.
 */
function checkLineUrl(
  text: string,
  field: string | undefined,
  where: string,
): string {
  if (field !== undefined) {
    try {
      new URL(text);
    } catch {
      throw new UsageError(
        `${where}Invalid URL "${printable(text)}" in "${
          printable(field)
        }": URLs separated by spaces are mirrors of one file (write a space in a URL as %20)`,
      );
    }
  }
  return checkUrl(text, where);
}

/** `text` as a normalised `http:` or `https:` URL; `where` starts the error. */
export function checkUrl(text: string, where: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${where}Invalid URL "${text}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(
      `${where}Invalid URL "${text}": only http and https are supported`,
    );
  }
  return url.href;
}

/** `name` if it is a plain file name; `what` names it in the error. */
export function checkName(name: string, where: string, what: string): string {
  const problem = fileNameProblem(name);
  if (problem !== undefined) {
    throw new UsageError(
      `${where}Invalid ${what} "${printable(name)}": ${problem}`,
    );
  }
  return name;
}

/** `hex`, lowercased, if it is 64 hex digits; `what` names it in the error. */
export function checkSha256(hex: string, where: string, what: string): string {
  if (!/^[0-9a-f]{64}$/i.test(hex)) {
    throw new UsageError(
      `${where}Invalid ${what} "${hex}": expected 64 hex digits`,
    );
  }
  return hex.toLowerCase();
}

/**
 * `sri` if it names a digest the library checks (a token `sha256-`,
 * `sha384-` or `sha512-` and a base64 digest of that algorithm's length);
 * `what` names it in the error.
 */
export function checkIntegrity(
  sri: string,
  where: string,
  what: string,
): string {
  const parsed = parseIntegrity(sri);
  if ("problem" in parsed) {
    throw new UsageError(
      `${where}Invalid ${what} "${printable(sri)}": ${
        parsed.problem ?? `expected ${INTEGRITY_FORMAT}`
      }`,
    );
  }
  return sri;
}
