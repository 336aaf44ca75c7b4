/**
 * The command line's arguments: tokenized with `node:util`'s
 * `parseArgs` and checked here, so that every bad input is one
 * {@linkcode UsageError}, worded the same on every runtime, before anything
 * is downloaded.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseSize } from "./units.ts";
import {
  LIBRARY_HEADERS,
  MAX_CONNECTIONS,
  refusedHeader,
} from "../transfer_options.ts";
import { printable } from "../_disk/file_name.ts";
import {
  checkIntegrity,
  checkName,
  checkSha256,
  checkUrl,
  type Job,
} from "./input_list.ts";
import { UsageError } from "./usage_error.ts";

/** What a `run` command line asks for. */
export interface CliOptions {
  /** The directory to download into. */
  dir: string;
  /** How many downloads run at once (`-j`); `undefined`: the library's default. */
  concurrency: number | undefined;
  /** `--retries`. */
  retries: number | undefined;
  /** `-x`: connections per file, or `"auto"`; `undefined`: the library's default. */
  connections: number | "auto" | undefined;
  /** `--timeout`, in milliseconds: both the connect and the idle timeout. */
  timeout: number | undefined;
  /** `--limit-rate`, in bytes per second, for the whole run. */
  limitRate: number | undefined;
  /**
   * `--revalidate` (`"always"`) or `--max-age` (milliseconds): files already
   * there are asked of the server again; `undefined`: never.
   */
  revalidate: "always" | number | undefined;
  /** `--header` values, as name-value pairs. */
  headers: [string, string][];
  /** `--max-size` in bytes. */
  maxSize: number | undefined;
  /** `--keep`: files always kept by the size limit. */
  keep: number | undefined;
  /** `--quiet`: only errors and the summary. */
  quiet: boolean;
  /** `--json`: one JSON line per event on stdout. */
  json: boolean;
  /** The URLs given as arguments. */
  jobs: Job[];
  /** `-i`: the input list's path, or `-` for stdin. */
  inputFile: string | undefined;
}

/** What the command line asks for. */
export type Command =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "run"; options: CliOptions };

/** The most downloads `-j` runs at once (each holds a few file descriptors). */
export const MAX_JOBS = 1000;
/** The most `--retries`. */
export const MAX_RETRIES = 1000;
/** The most files `--keep` keeps. */
export const MAX_KEEP = 1_000_000;

const OPTIONS = {
  dir: { type: "string", short: "d" },
  "input-file": { type: "string", short: "i" },
  output: { type: "string", short: "o" },
  jobs: { type: "string", short: "j" },
  connections: { type: "string", short: "x" },
  retries: { type: "string" },
  timeout: { type: "string" },
  header: { type: "string", multiple: true },
  sha256: { type: "string" },
  integrity: { type: "string" },
  "limit-rate": { type: "string" },
  mirror: { type: "string", multiple: true },
  revalidate: { type: "boolean" },
  "max-age": { type: "string" },
  "max-size": { type: "string" },
  keep: { type: "string" },
  quiet: { type: "boolean", short: "q" },
  json: { type: "boolean" },
  version: { type: "boolean", short: "V" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * Parses and checks the arguments (without the program name).
 *
 * @param args e.g. `process.argv.slice(2)`.
 * @returns The command.
 * @throws {UsageError} for an unknown option, a missing or bad value, a bad
 * URL, or options that do not go together.
 *
 * @example
 * ```ts
 * parseCliArgs(["-d", "out", "https://example.com/a.zip"]);
 * ```
 */
export function parseCliArgs(args: string[]): Command {
  const { values, positionals, typed } = readArgs(args);
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };

  const inputFile = values["input-file"];
  if (positionals.length === 0 && inputFile === undefined) {
    throw new UsageError("No URL given: pass URLs or -i FILE (see --help)");
  }
  const jobs = positionals.map((url) => ({ url: checkUrl(url, "") }));
  const single: Omit<Job, "url"> = {};
  for (const option of ["output", "sha256", "integrity"] as const) {
    const value = values[option];
    if (value === undefined) continue;
    if (jobs.length !== 1 || inputFile !== undefined) {
      throw new UsageError(
        `${typed(option)} needs exactly one URL and no -i`,
      );
    }
    single[option === "output" ? "name" : option] = value;
  }
  if (single.name !== undefined) checkName(single.name, "", typed("output"));
  if (single.sha256 !== undefined) {
    single.sha256 = checkSha256(single.sha256, "", "--sha256");
  }
  if (single.sha256 !== undefined && single.integrity !== undefined) {
    throw new UsageError("Give --sha256 or --integrity, not both");
  }
  // Here, before anything is downloaded: the library checks it only when
  // the file is not there yet.
  if (single.integrity !== undefined) {
    checkIntegrity(single.integrity, "", "--integrity");
  }
  if (values.mirror !== undefined) {
    if (jobs.length !== 1 || inputFile !== undefined) {
      throw new UsageError("--mirror needs exactly one URL and no -i");
    }
    single.mirrors = values.mirror.map((mirror) => checkUrl(mirror, ""));
  }
  if (jobs[0] !== undefined) Object.assign(jobs[0], single);

  const maxSize = values["max-size"] === undefined
    ? undefined
    : size("--max-size", values["max-size"], "500M or 2G");
  const limitRate = values["limit-rate"] === undefined
    ? undefined
    : size("--limit-rate", values["limit-rate"], "500K or 5M", 1);
  const keep = integer("--keep", values.keep, 0, MAX_KEEP);
  if (keep !== undefined && maxSize === undefined) {
    throw new UsageError("--keep needs --max-size");
  }
  // A limit removes any file of the directory, not only downloaded ones:
  // the current one (the default) may be a home directory.
  if (
    maxSize !== undefined && maxSize > 0 && keep !== 0 &&
    values.dir === undefined
  ) {
    throw new UsageError(
      "--max-size removes any file of the directory, downloaded or not: name it with -d DIR (-d . for this one)",
    );
  }
  const timeout = values.timeout === undefined
    ? undefined
    : seconds(values.timeout);
  const maxAge = values["max-age"] === undefined
    ? undefined
    : duration("--max-age", values["max-age"]);
  return {
    kind: "run",
    options: {
      dir: values.dir ?? ".",
      concurrency: integer(typed("jobs"), values.jobs, 1, MAX_JOBS),
      retries: integer("--retries", values.retries, 0, MAX_RETRIES),
      connections: connections(values.connections, typed("connections")),
      timeout,
      limitRate,
      revalidate: maxAge ?? (values.revalidate ? "always" : undefined),
      headers: (values.header ?? []).map(header),
      maxSize,
      keep,
      quiet: values.quiet ?? false,
      json: values.json ?? false,
      jobs,
      inputFile,
    },
  };
}

/** The parsed options, by long name. */
type Values = {
  -readonly [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends
    { type: "boolean" } ? boolean
    : (typeof OPTIONS)[K] extends { multiple: true } ? string[]
    : string;
};

// A value that starts with "-" is another option, unless it is a negative
// number: `--retries -1` is a bad number, not a missing value.
const NEGATIVE_NUMBER = /^-\.?\d/;

/**
 * Splits the arguments into options and positionals. `parseArgs` only
 * tokenizes (`strict: false`): its error messages differ between runtimes
 * (Bun's leaves the dash out of an unknown short option's name), so the
 * checks, and every message, are made here from the tokens. `typed` gives
 * an option's name as the user last typed it (`-o` or `--output`), for
 * messages to name it so.
 */
function readArgs(
  args: string[],
): {
  values: Values;
  positionals: string[];
  typed: (name: keyof typeof OPTIONS) => string;
} {
  const { tokens } = parseArgs({
    args,
    options: OPTIONS,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const values: Record<string, string | boolean | string[]> = {};
  const rawNames: Record<string, string> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === "positional") positionals.push(token.value);
    if (token.kind !== "option") continue;
    const { name, rawName, value } = token;
    if (!Object.hasOwn(OPTIONS, name)) {
      throw new UsageError(unknownOption(rawName, args[token.index] ?? ""));
    }
    rawNames[name] = rawName;
    const spec: { type: string; multiple?: boolean } =
      OPTIONS[name as keyof typeof OPTIONS];
    if (spec.type === "boolean") {
      if (value !== undefined) {
        throw new UsageError(`Option ${rawName} does not take a value`);
      }
      values[name] = true;
      continue;
    }
    if (value === undefined) {
      throw new UsageError(`Option ${rawName} needs a value`);
    }
    if (
      !token.inlineValue && value.length > 1 && value.startsWith("-") &&
      !NEGATIVE_NUMBER.test(value)
    ) {
      throw new UsageError(`Option ${rawName} needs a value`);
    }
    if (token.inlineValue && !rawName.startsWith("--") && value[0] === "=") {
      throw new UsageError(
        value === "="
          ? `Option ${rawName} needs a value`
          : shortWithEquals(rawName, name, value),
      );
    }
    if (spec.multiple) {
      const list = values[name];
      values[name] = [...(Array.isArray(list) ? list : []), value];
    } else {
      values[name] = value;
    }
  }
  return {
    values: values as Values,
    positionals,
    typed: (name) => rawNames[name] ?? `--${name}`,
  };
}

/**
 * What is wrong with `-d=x`: a short option takes what follows it, `=`
 * too (as curl and GNU tools read it), so it would name a directory `=x`.
 * Nobody means that; a name that starts with `=` can still be given as
 * `-d ./=x` or `--dir==x`.
 */
function shortWithEquals(rawName: string, name: string, value: string): string {
  const meant = printable(value.slice(1));
  return `Option ${rawName} would read "${
    printable(value)
  }" as its value: write "${rawName} ${meant}" or "--${name}=${meant}"`;
}

/**
 * What is wrong with `rawName`, an option `parseArgs` does not know, read
 * from `arg`, where it was found. In a group of short flags, `=` and what
 * follows are taken for more flags (`-q=1` for `-q`, `-=` and `-1`): the
 * flag before the `=` was given a value, which no flag of a group takes
 * (one taking a value would have taken `=1` as its value).
 */
function unknownOption(rawName: string, arg: string): string {
  const equals = arg.indexOf("=");
  if (rawName === "-=" && !arg.startsWith("--") && equals > 1) {
    return `Option -${arg[equals - 1]} does not take a value ("${
      printable(arg)
    }")`;
  }
  return `Unknown option ${rawName} (see --help)`;
}

function integer(
  name: string,
  text: string | undefined,
  min: number,
  max: number,
  orElse = "",
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
    throw new UsageError(
      `Invalid ${name} "${text}": expected a whole number from ${min} to ${max}${orElse}`,
    );
  }
  return value;
}

/** `-x`: a number of connections, or `auto` (which its message names too). */
function connections(
  text: string | undefined,
  name: string,
): number | "auto" | undefined {
  return text === "auto"
    ? "auto"
    : integer(name, text, 1, MAX_CONNECTIONS, ", or auto");
}

function size(
  option: string,
  text: string,
  example: string,
  least = 0,
): number {
  let value: number;
  try {
    value = parseSize(text);
  } catch {
    value = -1;
  }
  // A size, but too small: `--limit-rate 0`, meant as "no limit" as some
  // tools take it.
  if (value >= 0 && value < least) {
    throw new UsageError(
      `Invalid ${option} "${text}": expected at least ${least} byte (leave ${option} out for no limit)`,
    );
  }
  if (!(value >= least)) {
    throw new UsageError(
      `Invalid ${option} "${text}": expected a size such as ${example}`,
    );
  }
  return value;
}

/** `--timeout`: positive seconds, in decimal (`30`, `2.5`, `.5`). */
function seconds(text: string): number {
  const value = Number(text);
  if (!/^\s*(\d+(\.\d+)?|\.\d+)\s*$/.test(text) || !(value > 0)) {
    throw new UsageError(
      `Invalid --timeout "${text}": expected a positive number of seconds`,
    );
  }
  return value * 1000;
}

const DURATION_UNITS: Record<string, number> = {
  "": 1000,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** A duration such as `90s`, `30m`, `12h` or `7d` (seconds without a unit), in ms. */
function duration(option: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim());
  if (match === null) {
    throw new UsageError(
      `Invalid ${option} "${text}": expected a duration such as 90s, 30m, 12h or 7d`,
    );
  }
  return Number(match[1]) * (DURATION_UNITS[match[2] ?? ""] as number);
}

function header(text: string): [string, string] {
  const colon = text.indexOf(":");
  const name = colon < 0 ? "" : text.slice(0, colon).trim();
  const invalid = `Invalid --header "${printable(text)}"`;
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
    throw new UsageError(`${invalid}: expected 'Name: value'`);
  }
  const value = text.slice(colon + 1).trim();
  // What a request can carry (RFC 9110's field-value): a value with
  // anything else fails only once sent, worded by the runtime, and every
  // download retries it as a connection error.
  if (/[^\t\x20-\x7e\x80-\xff]/.test(value)) {
    throw new UsageError(
      `${invalid}: a header value must not contain control characters or characters beyond U+00FF`,
    );
  }
  if (LIBRARY_HEADERS.includes(name.toLowerCase())) {
    throw new UsageError(
      `${invalid}: dlmanager sets the ${name} header itself (it asks for the ranges it resumes and fetches in parts)`,
    );
  }
  const refused = refusedHeader(name, value);
  if (refused !== undefined) throw new UsageError(`${invalid}: ${refused}`);
  return [name, value];
}
