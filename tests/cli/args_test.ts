// The CLI's command line (src/cli/args.ts), parsed in
// process: every option, its default, and the one UsageError each bad input
// gives. The command as a subprocess is tested in cli_run_test.ts.

import assert from "node:assert/strict";
import { test } from "node:test";
import { type CliOptions, parseCliArgs } from "../../src/cli/args.ts";
import type { Job } from "../../src/cli/input_list.ts";
import { UsageError } from "../../src/cli/usage_error.ts";
import { throwsUsage } from "../_helpers/usage.ts";

const URL_A = "https://example.com/a.zip";
const URL_B = "http://example.org/b.tar.gz";
const SHA = "ab".repeat(32);

/** The `run` options of `args`, failing if they are not a `run` command. */
function options(args: string[]): CliOptions {
  const command = parseCliArgs(args);
  assert.equal(command.kind, "run");
  if (command.kind !== "run") throw new Error("unreachable");
  return command.options;
}

/** The defaults, for one URL argument. */
function defaults(jobs: Job[]): CliOptions {
  return {
    dir: ".",
    concurrency: undefined,
    retries: undefined,
    connections: undefined,
    timeout: undefined,
    limitRate: undefined,
    revalidate: undefined,
    headers: [],
    maxSize: undefined,
    keep: undefined,
    quiet: false,
    json: false,
    jobs,
    inputFile: undefined,
  };
}

// parseCliArgs: commands

test("parseCliArgs() returns help when given -h or --help", () => {
  assert.deepEqual(parseCliArgs(["-h"]), { kind: "help" });
  assert.deepEqual(parseCliArgs(["--help"]), { kind: "help" });
});

test("parseCliArgs() returns help before checking the rest when given --help with bad values", () => {
  assert.deepEqual(parseCliArgs(["--help", "-j", "0", "not a url"]), {
    kind: "help",
  });
  assert.deepEqual(parseCliArgs(["--help", "--version"]), { kind: "help" });
});

test("parseCliArgs() returns version when given -V or --version", () => {
  assert.deepEqual(parseCliArgs(["-V"]), { kind: "version" });
  assert.deepEqual(parseCliArgs(["--version"]), { kind: "version" });
  assert.deepEqual(parseCliArgs(["--version", "-o", "x"]), { kind: "version" });
});

// `--version x`, as `--help x`: printed whatever else is given, as git, curl
// and GNU tools do (docs/cli.md says so); a bad option still fails first.
test("parseCliArgs() returns version whatever else is given, as it returns help", () => {
  for (
    const [args, kind] of [
      [["--version", "x"], "version"],
      [["x", "-V", "y"], "version"],
      [["--help", "x"], "help"],
      [["x", "-h"], "help"],
    ] as const
  ) {
    assert.deepEqual(parseCliArgs([...args]), { kind }, `${args}`);
  }
  throwsUsage(
    () => parseCliArgs(["--version", "--frobnicate"]),
    "Unknown option --frobnicate (see --help)",
  );
});

// parseCliArgs: defaults and options

test("parseCliArgs() returns the defaults when given only a URL", () => {
  assert.deepEqual(parseCliArgs([URL_A]), {
    kind: "run",
    options: defaults([{ url: URL_A }]),
  });
});

test("parseCliArgs() keeps every URL in order when given several", () => {
  assert.deepEqual(options([URL_A, URL_B, URL_A]).jobs, [
    { url: URL_A },
    { url: URL_B },
    { url: URL_A },
  ]);
});

test("parseCliArgs() normalises a URL when given one in another spelling", () => {
  assert.deepEqual(options(["HTTPS://Example.COM"]).jobs, [
    { url: "https://example.com/" },
  ]);
  assert.deepEqual(options(["http://example.com:80/a b?x=1#f"]).jobs, [
    { url: "http://example.com/a%20b?x=1#f" },
  ]);
});

test("parseCliArgs() sets every option when given each in long form", () => {
  assert.deepEqual(
    options([
      "--dir",
      "out",
      "--output",
      "x.zip",
      "--jobs",
      "3",
      "--retries",
      "0",
      "--connections",
      "8",
      "--timeout",
      "1.5",
      "--limit-rate",
      "5M",
      "--max-age",
      "12h",
      "--header",
      "X-A: 1",
      "--sha256",
      SHA,
      "--max-size",
      "500M",
      "--keep",
      "2",
      "--quiet",
      "--json",
      URL_A,
    ]),
    {
      dir: "out",
      concurrency: 3,
      retries: 0,
      connections: 8,
      timeout: 1500,
      limitRate: 5 * 1024 * 1024,
      revalidate: 12 * 3_600_000,
      headers: [["X-A", "1"]],
      maxSize: 524_288_000,
      keep: 2,
      quiet: true,
      json: true,
      jobs: [{ url: URL_A, name: "x.zip", sha256: SHA }],
      inputFile: undefined,
    },
  );
});

test("parseCliArgs() sets the options when given the short forms and = values", () => {
  assert.deepEqual(
    options(["-d", "out", "-o", "x.zip", "-j", "2", "-q", URL_A]),
    {
      ...defaults([{ url: URL_A, name: "x.zip" }]),
      dir: "out",
      concurrency: 2,
      quiet: true,
    },
  );
  assert.deepEqual(options(["--dir=o", "--jobs=4", "-j5", URL_A]), {
    ...defaults([{ url: URL_A }]),
    dir: "o",
    concurrency: 5, // the last wins
  });
});

test("parseCliArgs() accepts options after the URLs when given them there", () => {
  assert.deepEqual(options([URL_A, "-d", "out", URL_B, "--json"]), {
    ...defaults([{ url: URL_A }, { url: URL_B }]),
    dir: "out",
    json: true,
  });
});

test("parseCliArgs() sets inputFile with no jobs when given only -i", () => {
  assert.deepEqual(options(["-i", "list.txt"]), {
    ...defaults([]),
    inputFile: "list.txt",
  });
  assert.deepEqual(options(["--input-file", "-"]).inputFile, "-");
  assert.deepEqual(options(["-i", "-"]).inputFile, "-");
});

test("parseCliArgs() keeps the URLs too when given -i and URLs", () => {
  assert.deepEqual(options(["-i", "l.txt", URL_A]), {
    ...defaults([{ url: URL_A }]),
    inputFile: "l.txt",
  });
});

test("parseCliArgs() sets integrity as given when given --integrity", () => {
  const sri = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
  assert.deepEqual(options(["--integrity", sri, URL_A]).jobs, [
    { url: URL_A, integrity: sri },
  ]);
});

test("parseCliArgs() lowercases the sha256 when given one in upper case", () => {
  assert.deepEqual(options(["--sha256", SHA.toUpperCase(), URL_A]).jobs, [
    { url: URL_A, sha256: SHA },
  ]);
});

test("parseCliArgs() treats an argument as a URL when it follows --", () => {
  throwsUsage(
    () => parseCliArgs([URL_A, "--", "--foo"]),
    'Invalid URL "--foo"',
  );
});

// --header

test("parseCliArgs() collects every --header in order when given it repeatedly", () => {
  assert.deepEqual(
    options([
      "--header",
      "Authorization: Bearer a:b",
      "--header=X-Empty:",
      "--header",
      "  Accept  :  text/plain  ",
      "--header",
      "X-A: 1",
      "--header",
      "X-A: 2",
      URL_A,
    ]).headers,
    [
      ["Authorization", "Bearer a:b"],
      ["X-Empty", ""],
      ["Accept", "text/plain"],
      ["X-A", "1"],
      ["X-A", "2"],
    ],
  );
});

test("parseCliArgs() throws when given a --header that is not 'Name: value'", () => {
  for (const text of ["NoColon", ": v", "Bad Name: v", "Bad/Name: v", ""]) {
    throwsUsage(
      () => parseCliArgs(["--header", text, URL_A]),
      `Invalid --header "${text}": expected 'Name: value'`,
    );
  }
});

// Reported bug: a header value a request cannot carry (a control character,
// a character beyond U+00FF) or a Range header passed the checks, and every
// download then failed with it: retried as a connection error (4 attempts
// each), or worded by the runtime, and exit 1 instead of a usage error.
test("parseCliArgs() throws when given a --header a request cannot carry or that dlmanager sets itself", () => {
  const cases: [string, string][] = [
    [
      "X-A: a\x01b",
      `Invalid --header "X-A: a\\x01b": a header value must not contain control characters or characters beyond U+00FF`,
    ],
    [
      "X-A: a\x7fb",
      `Invalid --header "X-A: a\\x7fb": a header value must not contain control characters or characters beyond U+00FF`,
    ],
    [
      "X-Name: 日本",
      `Invalid --header "X-Name: 日本": a header value must not contain control characters or characters beyond U+00FF`,
    ],
    [
      "Range: bytes=0-9",
      `Invalid --header "Range: bytes=0-9": dlmanager sets the Range header itself (it asks for the ranges it resumes and fetches in parts)`,
    ],
    [
      "if-range: x",
      `Invalid --header "if-range: x": dlmanager sets the if-range header itself (it asks for the ranges it resumes and fetches in parts)`,
    ],
  ];
  for (const [text, message] of cases) {
    throwsUsage(() => parseCliArgs(["--header", text, URL_A]), message);
  }
  assert.deepEqual(
    options(["--header", "X-L: café\tau lait", URL_A]).headers,
    [["X-L", "café\tau lait"]],
  );
});

// Options for a single URL

test("parseCliArgs() throws when given -o, --sha256 or --integrity with no URL, two URLs or -i", () => {
  const cases: [string, string, string][] = [
    ["-o", "x.zip", "-o"],
    ["--output", "x.zip", "--output"],
    ["--sha256", SHA, "--sha256"],
    ["--integrity", "sha256-x", "--integrity"],
  ];
  for (const [flag, value, name] of cases) {
    const message = `${name} needs exactly one URL and no -i`;
    throwsUsage(() => parseCliArgs([flag, value, URL_A, URL_B]), message);
    throwsUsage(() => parseCliArgs([flag, value, "-i", "l.txt"]), message);
    throwsUsage(
      () => parseCliArgs([flag, value, "-i", "l.txt", URL_A]),
      message,
    );
  }
});

test("parseCliArgs() throws when given both --sha256 and --integrity", () => {
  throwsUsage(
    () => parseCliArgs(["--sha256", SHA, "--integrity", "sha256-x", URL_A]),
    "Give --sha256 or --integrity, not both",
  );
});

test("parseCliArgs() throws when given an -o that is not a plain file name", () => {
  const cases: [string, string][] = [
    ["", 'Invalid -o "": name must not be empty'],
    [".", 'Invalid -o ".": name must not be "."'],
    ["..", 'Invalid -o "..": name must not be ".."'],
    ["a/b", 'Invalid -o "a/b": name must not contain a path separator'],
    ["a\\b", 'Invalid -o "a\\b": name must not contain a path separator'],
    ["/x", 'Invalid -o "/x": name must not contain a path separator'],
    ["a\0b", 'Invalid -o "a\\x00b": name must not contain a NUL character'],
    [
      "a\x1b[2Jb",
      'Invalid -o "a\\x1b[2Jb": name must not contain a control character (such as a newline or an escape)',
    ],
    [
      "n".repeat(256),
      `Invalid -o "${"n".repeat(256)}": name must not be longer than 255 bytes`,
    ],
  ];
  for (const [name, message] of cases) {
    throwsUsage(() => parseCliArgs(["-o", name, URL_A]), message);
  }
});

test("parseCliArgs() accepts an -o when it has spaces, dots or Unicode", () => {
  for (const name of ["a b.zip", ".hidden", "...", "файл.zip", " x "]) {
    assert.deepEqual(options(["-o", name, URL_A]).jobs, [
      { url: URL_A, name },
    ]);
  }
});

test("parseCliArgs() throws when given an --integrity of no known algorithm, or a digest of the wrong length", () => {
  const cases: [string, string][] = [
    [
      "garbage",
      `Invalid --integrity "garbage": expected "sha256-<base64>", "sha384-..." or "sha512-..."`,
    ],
    [
      "md5-AAAA",
      `Invalid --integrity "md5-AAAA": expected "sha256-<base64>", "sha384-..." or "sha512-..."`,
    ],
    [
      "sha256-AAAA",
      `Invalid --integrity "sha256-AAAA": a sha256 digest is 44 base64 characters, got 4 in "sha256-AAAA"`,
    ],
    [
      "sha512-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
      `Invalid --integrity "sha512-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=": a sha512 digest is 88 base64 characters, got 44 in "sha512-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="`,
    ],
  ];
  for (const [sri, message] of cases) {
    throwsUsage(() => parseCliArgs(["--integrity", sri, URL_A]), message);
  }
});

test("parseCliArgs() throws when given a --sha256 that is not 64 hex digits", () => {
  for (const hex of ["", "abc", SHA + "0", SHA.slice(1), "g".repeat(64)]) {
    throwsUsage(
      () => parseCliArgs(["--sha256", hex, URL_A]),
      `Invalid --sha256 "${hex}": expected 64 hex digits`,
    );
  }
});

// Numbers

test("parseCliArgs() accepts -j from 1 up when given a whole number", () => {
  assert.equal(options(["-j", "1", URL_A]).concurrency, 1);
  assert.equal(options(["-j", "64", URL_A]).concurrency, 64);
  assert.equal(options(["-j", "007", URL_A]).concurrency, 7);
});

test("parseCliArgs() throws when given a -j below 1, above 1000 or not a whole number", () => {
  for (
    const text of [
      "0",
      "00",
      "1.5",
      "abc",
      "",
      "1e2",
      "0x10",
      "+2",
      "1001",
      "99999999999999999999",
    ]
  ) {
    throwsUsage(
      () => parseCliArgs([`--jobs=${text}`, URL_A]),
      `Invalid --jobs "${text}": expected a whole number from 1 to 1000`,
    );
  }
  throwsUsage(
    () => parseCliArgs(["--jobs=-1", URL_A]),
    'Invalid --jobs "-1": expected a whole number from 1 to 1000',
  );
  assert.equal(options(["-j", "1000", URL_A]).concurrency, 1000);
});

test("parseCliArgs() accepts --retries from 0 to 1000 and throws when given anything else", () => {
  assert.equal(options(["--retries", "0", URL_A]).retries, 0);
  assert.equal(options(["--retries", "10", URL_A]).retries, 10);
  assert.equal(options(["--retries", "1000", URL_A]).retries, 1000);
  for (const text of ["-1", "1.5", "x", "", "1001", "99999999999999999999"]) {
    throwsUsage(
      () => parseCliArgs([`--retries=${text}`, URL_A]),
      `Invalid --retries "${text}": expected a whole number from 0 to 1000`,
    );
  }
});

// Reported bug: `--retries -1` said "needs a value".

test("parseCliArgs() reads a negative number as the value when it follows an option that takes one", () => {
  throwsUsage(
    () => parseCliArgs(["--retries", "-1", URL_A]),
    'Invalid --retries "-1": expected a whole number from 0 to 1000',
  );
  throwsUsage(
    () => parseCliArgs(["-j", "-2", URL_A]),
    'Invalid -j "-2": expected a whole number from 1 to 1000',
  );
  throwsUsage(
    () => parseCliArgs(["--timeout", "-.5", URL_A]),
    'Invalid --timeout "-.5": expected a positive number of seconds',
  );
  throwsUsage(
    () => parseCliArgs(["--max-size", "1G", "--keep", "-1", URL_A]),
    'Invalid --keep "-1": expected a whole number from 0 to 1000000',
  );
});

test("parseCliArgs() converts --timeout to milliseconds when given positive seconds", () => {
  assert.equal(options(["--timeout", "30", URL_A]).timeout, 30_000);
  assert.equal(options(["--timeout", "0.25", URL_A]).timeout, 250);
  assert.equal(options(["--timeout", "2.5", URL_A]).timeout, 2500);
  assert.equal(options(["--timeout", ".5", URL_A]).timeout, 500);
});

test("parseCliArgs() throws when given a --timeout that is not a positive number", () => {
  // Written as seconds are, in decimal: not as JavaScript reads numbers.
  const notSeconds = ["0x10", "1e3", "0b1", "1_000", "+5", "5."];
  for (
    const text of ["0", "-5", "x", "", " ", "Infinity", "NaN", ...notSeconds]
  ) {
    throwsUsage(
      () => parseCliArgs([`--timeout=${text}`, URL_A]),
      `Invalid --timeout "${text}": expected a positive number of seconds`,
    );
  }
});

// --limit-rate

test("parseCliArgs() parses --limit-rate as bytes per second when given a size", () => {
  assert.equal(options(["--limit-rate", "500K", URL_A]).limitRate, 512_000);
  assert.equal(options(["--limit-rate=1.5M", URL_A]).limitRate, 1_572_864);
  assert.equal(options(["--limit-rate", "100", URL_A]).limitRate, 100);
});

test("parseCliArgs() throws when given a --limit-rate that is not a positive size", () => {
  for (const text of ["", "fast", "-1M", "1P"]) {
    throwsUsage(
      () => parseCliArgs([`--limit-rate=${text}`, URL_A]),
      `Invalid --limit-rate "${text}": expected a size such as 500K or 5M`,
    );
  }
});

// Reported bug: `--limit-rate 0`, "no limit" to some tools, was told to be
// "a size such as 500K or 5M", which 0 is.
test("parseCliArgs() throws saying the least rate and how to have none when given --limit-rate 0", () => {
  for (const text of ["0", "0K", "0.4"]) {
    throwsUsage(
      () => parseCliArgs(["--limit-rate", text, URL_A]),
      `Invalid --limit-rate "${text}": expected at least 1 byte (leave --limit-rate out for no limit)`,
    );
  }
});

// --revalidate and --max-age

test("parseCliArgs() revalidates always with --revalidate, by age with --max-age, never without", () => {
  assert.equal(options(["--revalidate", URL_A]).revalidate, "always");
  assert.equal(options(["--max-age", "90s", URL_A]).revalidate, 90_000);
  assert.equal(options(["--max-age=30m", URL_A]).revalidate, 1_800_000);
  assert.equal(options(["--max-age", "7d", URL_A]).revalidate, 604_800_000);
  assert.equal(options(["--max-age", "2", URL_A]).revalidate, 2000);
  assert.equal(
    options(["--revalidate", "--max-age", "1h", URL_A]).revalidate,
    3_600_000,
  );
  assert.equal(options([URL_A]).revalidate, undefined);
});

test("parseCliArgs() throws when given a --max-age that is not a duration", () => {
  for (const text of ["", "soon", "-1h", "1w", "h"]) {
    throwsUsage(
      () => parseCliArgs([`--max-age=${text}`, URL_A]),
      `Invalid --max-age "${text}": expected a duration such as 90s, 30m, 12h or 7d`,
    );
  }
});

// --max-size and --keep

test("parseCliArgs() parses --max-size as a size when given one", () => {
  const maxSize = (size: string): number | undefined =>
    options(["-d", "c", "--max-size", size, URL_A]).maxSize;
  assert.equal(maxSize("2G"), 2 * 1024 ** 3);
  assert.equal(maxSize("10k"), 10_240);
  assert.equal(maxSize("1000"), 1000);
  assert.equal(maxSize("1.5M"), 1_572_864);
});

test("parseCliArgs() throws when given --max-size without -d, which would limit the current directory", () => {
  for (
    const args of [["--max-size", "2G"], ["--max-size", "2G", "--keep", "3"]]
  ) {
    throwsUsage(
      () => parseCliArgs([...args, URL_A]),
      "--max-size removes any file of the directory, downloaded or not: name it with -d DIR (-d . for this one)",
    );
  }
  assert.equal(options(["-d", ".", "--max-size", "2G", URL_A]).dir, ".");
  // A limit that removes nothing needs no directory named.
  assert.equal(options(["--max-size", "0", URL_A]).maxSize, 0);
  assert.equal(options(["--max-size", "2G", "--keep", "0", URL_A]).keep, 0);
});

test("parseCliArgs() throws when given a --max-size that is not a size", () => {
  for (const text of ["", "big", "-1G", "1P", "1e3"]) {
    throwsUsage(
      () => parseCliArgs([`--max-size=${text}`, URL_A]),
      `Invalid --max-size "${text}": expected a size such as 500M or 2G`,
    );
  }
});

test("parseCliArgs() sets keep when given --keep with --max-size", () => {
  const parsed = options(["--max-size", "1G", "--keep", "0", URL_A]);
  assert.equal(parsed.maxSize, 1024 ** 3);
  assert.equal(parsed.keep, 0);
  assert.equal(
    options(["-d", "c", "--max-size", "1G", "--keep", "12", URL_A]).keep,
    12,
  );
  assert.equal(options(["-d", "c", "--max-size", "1G", URL_A]).keep, undefined);
});

test("parseCliArgs() throws when given --keep without --max-size", () => {
  throwsUsage(
    () => parseCliArgs(["--keep", "3", URL_A]),
    "--keep needs --max-size",
  );
});

test("parseCliArgs() throws when given a --keep that is not a whole number", () => {
  throwsUsage(
    () => parseCliArgs(["--max-size", "1G", "--keep=-1", URL_A]),
    'Invalid --keep "-1": expected a whole number from 0 to 1000000',
  );
  throwsUsage(
    () => parseCliArgs(["--max-size", "1G", "--keep", "two", URL_A]),
    'Invalid --keep "two": expected a whole number from 0 to 1000000',
  );
  throwsUsage(
    () => parseCliArgs(["--max-size", "1G", "--keep", "1000001", URL_A]),
    'Invalid --keep "1000001": expected a whole number from 0 to 1000000',
  );
});

// Bad command lines

test("parseCliArgs() throws when given no URL and no -i", () => {
  const message = "No URL given: pass URLs or -i FILE (see --help)";
  throwsUsage(() => parseCliArgs([]), message);
  throwsUsage(() => parseCliArgs(["-d", "out", "-q"]), message);
});

test("parseCliArgs() throws when given an unknown option", () => {
  throwsUsage(
    () => parseCliArgs(["--foo", URL_A]),
    "Unknown option --foo (see --help)",
  );
  // (-x is --connections since segmented downloads: -z stands in for it.)
  throwsUsage(
    () => parseCliArgs(["-z", URL_A]),
    "Unknown option -z (see --help)",
  );
  throwsUsage(
    () => parseCliArgs(["-qz", URL_A]),
    "Unknown option -z (see --help)",
  );
  throwsUsage(
    () => parseCliArgs(["--output-file", "x", URL_A]),
    "Unknown option --output-file (see --help)",
  );
});

test("parseCliArgs() throws naming the option as typed when given one without its value at the end", () => {
  for (
    const flag of [
      "-d",
      "--dir",
      "-i",
      "--input-file",
      "-o",
      "--output",
      "-j",
      "--jobs",
      "--retries",
      "--timeout",
      "--header",
      "--sha256",
      "--integrity",
      "--max-size",
      "--keep",
    ]
  ) {
    throwsUsage(
      () => parseCliArgs([URL_A, flag]),
      `Option ${flag} needs a value`,
    );
  }
});

test("parseCliArgs() throws naming the option as typed when its value would be another option", () => {
  throwsUsage(
    () => parseCliArgs(["-j", "-q", URL_A]),
    "Option -j needs a value",
  );
  throwsUsage(
    () => parseCliArgs(["--dir", "--json", URL_A]),
    "Option --dir needs a value",
  );
});

// Reported bug: a value given to a flag is reported as a missing value.

test("parseCliArgs() does not say 'needs a value' when given a value for a flag that takes none", () => {
  const cases: [string, string][] = [
    ["--quiet=yes", "--quiet"],
    ["--json=1", "--json"],
  ];
  for (const [arg, name] of cases) {
    assert.throws(
      () => parseCliArgs([arg, URL_A]),
      (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.ok(error.message.includes(name), error.message);
        assert.doesNotMatch(error.message, /needs a value/);
        return true;
      },
    );
  }
});

test("parseCliArgs() names the flag exactly when given a value for a flag that takes none", () => {
  throwsUsage(
    () => parseCliArgs(["--quiet=yes", URL_A]),
    "Option --quiet does not take a value",
  );
  throwsUsage(
    () => parseCliArgs(["--json=", URL_A]),
    "Option --json does not take a value",
  );
});

// Reported bug: `-q=1` said "Unknown option -=": in a group of short
// flags, `=` and what follows are read as more flags.
test("parseCliArgs() names the flag and the argument when given a value with = for a short flag that takes none", () => {
  throwsUsage(
    () => parseCliArgs(["-q=1", URL_A]),
    'Option -q does not take a value ("-q=1")',
  );
  throwsUsage(
    () => parseCliArgs(["-qV=", URL_A]),
    'Option -V does not take a value ("-qV=")',
  );
  throwsUsage(
    () => parseCliArgs(["-q=\x1b[2J", URL_A]),
    'Option -q does not take a value ("-q=\\x1b[2J")',
  );
  throwsUsage(
    () => parseCliArgs(["-=x", URL_A]),
    "Unknown option -= (see --help)",
  );
});

// `-d=x` named a directory "=x" and `-o=f` a file "=f" (a short option takes
// what follows it, as curl and GNU getopt read it), where the user meant x.
test("parseCliArgs() refuses a short option's value written after =, showing how to write it", () => {
  throwsUsage(
    () => parseCliArgs(["-d=x", URL_A]),
    'Option -d would read "=x" as its value: write "-d x" or "--dir=x"',
  );
  throwsUsage(
    () => parseCliArgs(["-o=f", URL_A]),
    'Option -o would read "=f" as its value: write "-o f" or "--output=f"',
  );
  throwsUsage(
    () => parseCliArgs(["-qj=3", URL_A]),
    'Option -j would read "=3" as its value: write "-j 3" or "--jobs=3"',
  );
  throwsUsage(() => parseCliArgs(["-d=", URL_A]), "Option -d needs a value");
  // What it suggests reads the same: a directory named "=x" is still given.
  const given = (args: string[]) => {
    const command = parseCliArgs([...args, URL_A]);
    assert.ok(command.kind === "run");
    return command.options.dir;
  };
  assert.equal(given(["-d", "x"]), "x");
  assert.equal(given(["-dx"]), "x");
  assert.equal(given(["--dir=x"]), "x");
  assert.equal(given(["--dir==x"]), "=x");
  assert.equal(given(["-d", "=x"]), "=x");
});

// Reported bug: `-o x` with two URLs named --output, `--jobs 0` named -j:
// the user looked for an option they had not typed.
test("parseCliArgs() names an option as typed, short or long, in what it says of its value", () => {
  const cases: [string[], string][] = [
    [["-o", "x", URL_A, URL_B], "-o needs exactly one URL and no -i"],
    [["--output=x", URL_A, URL_B], "--output needs exactly one URL and no -i"],
    [
      ["--output", "a/b", URL_A],
      'Invalid --output "a/b": name must not contain a path separator',
    ],
    [
      ["-j", "0", URL_A],
      'Invalid -j "0": expected a whole number from 1 to 1000',
    ],
    [
      ["--connections", "0", URL_A],
      'Invalid --connections "0": expected a whole number from 1 to 16, or auto',
    ],
    [
      ["-x", "0", URL_A],
      'Invalid -x "0": expected a whole number from 1 to 16, or auto',
    ],
    [[URL_A, "-x"], "Option -x needs a value"],
    [[URL_A, "--connections"], "Option --connections needs a value"],
  ];
  for (const [args, message] of cases) {
    throwsUsage(() => parseCliArgs(args), message);
  }
});

test("parseCliArgs() takes - as a value when it follows an option that takes one", () => {
  assert.equal(options(["-i", "-"]).inputFile, "-");
  assert.equal(options(["-d", "-", URL_A]).dir, "-");
});

test("parseCliArgs() throws naming the first unknown option when given one in a group or with a value", () => {
  throwsUsage(
    () => parseCliArgs(["-qj5", URL_A, "--foo"]),
    "Unknown option --foo (see --help)",
  );
  throwsUsage(
    () => parseCliArgs([URL_A, "-qj"]),
    "Option -j needs a value",
  );
  throwsUsage(
    () => parseCliArgs(["-Vqz", "--foo"]),
    "Unknown option -z (see --help)",
  );
  throwsUsage(
    () => parseCliArgs(["--no-such=1", URL_A]),
    "Unknown option --no-such (see --help)",
  );
  throwsUsage(
    () => parseCliArgs(["--constructor", URL_A]),
    "Unknown option --constructor (see --help)",
  );
});

test("parseCliArgs() throws when given a URL that does not parse", () => {
  for (const url of ["example.com/a.zip", "not a url", "-", "http://", ""]) {
    throwsUsage(() => parseCliArgs([url]), `Invalid URL "${url}"`);
  }
  throwsUsage(
    () => parseCliArgs([URL_A, "//x"]),
    'Invalid URL "//x"',
  );
});

test("parseCliArgs() throws when given a URL that is not http or https", () => {
  for (
    const url of ["ftp://example.com/a", "file:///etc/passwd", "data:,x"]
  ) {
    throwsUsage(
      () => parseCliArgs([url]),
      `Invalid URL "${url}": only http and https are supported`,
    );
  }
});

test("parseCliArgs() takes --mirror, repeated, for a single URL", () => {
  assert.deepEqual(
    options(["--mirror", URL_B, "--mirror=http://example.net/b", URL_A]).jobs,
    [{ url: URL_A, mirrors: [URL_B, "http://example.net/b"] }],
  );
  throwsUsage(
    () => parseCliArgs(["--mirror", URL_B, URL_A, URL_B]),
    "--mirror needs exactly one URL and no -i",
  );
});

test("parseCliArgs() takes -x and --connections as a number from 1 to 16, or auto", () => {
  const connections = (args: string[]): unknown => {
    const command = parseCliArgs([...args, URL_A]);
    assert.equal(command.kind, "run");
    return command.kind === "run" ? command.options.connections : undefined;
  };
  assert.equal(connections([]), undefined);
  assert.equal(connections(["-x", "4"]), 4);
  assert.equal(connections(["--connections", "16"]), 16);
  assert.equal(connections(["--connections=auto"]), "auto");
  assert.equal(connections(["-x1"]), 1);
  // The message names every value -x takes: auto too (as --help does).
  for (const text of ["0", "17", "auto8", "AUTO", "2.5", "-1"]) {
    throwsUsage(
      () => parseCliArgs(["-x", text, URL_A]),
      `Invalid -x "${text}": expected a whole number from 1 to 16, or auto`,
    );
  }
});
