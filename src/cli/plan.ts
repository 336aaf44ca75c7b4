/**
 * Naming every file before any download starts: a job's own name (`-o`, or
 * an input line's), else its URL's, by the library's rules. The same URL to
 * the same name twice is one download; another URL to a name already taken
 * cannot be downloaded (it would be dropped as the same file, or overwrite
 * it).
 *
 * @module
 */

import { fileNameProblem, printable, urlFileName } from "../_disk/file_name.ts";
import { isReservedName } from "../_disk/names.ts";
import type { Job } from "./input_list.ts";
import { UsageError } from "./usage_error.ts";

/** What a usage message says to do about a URL's file name. */
export const NAME_IT = "(name it with -o, or with URL<TAB>name in an -i list)";

/**
 * The name of the file a job downloads to.
 *
 * @param job The job.
 * @param where What starts an error's message: an `-i` list's
 * `<list>:<line>: `, or nothing.
 * @returns The file name.
 * @throws {UsageError} when the URL gives no plain file name, or the name
 * is reserved for the library's partial downloads.
 *
 * @example
 * ```ts
 * jobFileName({ url: "https://example.com/a%20b.zip?x=1" }); // "a b.zip"
 * ```
 */
export function jobFileName(job: Job, where = ""): string {
  const name = job.name ?? urlName(job.url, where);
  if (isReservedName(name)) {
    throw new UsageError(
      `${where}Cannot download "${job.url}" as "${
        printable(name)
      }": the name is reserved for partial downloads`,
    );
  }
  return name;
}

/** The file name `url` gives; `where` starts the error. */
function urlName(url: string, where: string): string {
  const found = urlFileName(new URL(url));
  const cannot = `${where}Cannot download "${url}"`;
  if ("problem" in found) {
    throw new UsageError(`${cannot}: ${found.problem} ${NAME_IT}`);
  }
  const problem = fileNameProblem(found.name);
  if (problem !== undefined) {
    throw new UsageError(
      `${cannot}: the file name "${
        printable(found.name)
      }" is not a plain file name: ${problem} ${NAME_IT}`,
    );
  }
  return found.name;
}

/** A job with its file name, or the URL that already has that name. */
export interface Planned {
  /** The job. */
  job: Job;
  /** Its file name. */
  name: string;
  /** Another URL downloading to the same name, if any. */
  taken?: string;
}

/**
 * Names every job (see the module comment).
 *
 * @param jobs The jobs, in order.
 * @returns One entry per distinct URL and name, in order.
 * @throws {UsageError} as {@linkcode jobFileName}.
 *
 * @example
 * ```ts
 * plan([{ url: "https://a.example/f.zip" }, { url: "https://b.example/f.zip" }]);
 * // the second: taken by "https://a.example/f.zip"
 * ```
 */
export function plan(jobs: Job[]): Planned[] {
  const planned: Planned[] = [];
  const owners = new Map<string, string>(); // name -> URL
  const seen = new Set<string>();
  for (const job of jobs) {
    const name = jobFileName(job);
    const key = `${name}\0${job.url}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const owner = owners.get(name);
    if (owner === undefined) owners.set(name, job.url);
    planned.push(
      owner === undefined ? { job, name } : { job, name, taken: owner },
    );
  }
  return planned;
}
