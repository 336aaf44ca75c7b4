// The `-i` list (src/cli/input_list.ts): one job per line, mirrors, names
// and digests, and the UsageError naming the line of each bad one.

import assert from "node:assert/strict";
import { test } from "node:test";
import { parseInputList } from "../../src/cli/input_list.ts";
import { throwsUsage } from "../_helpers/usage.ts";

const URL_A = "https://example.com/a.zip";
const URL_B = "http://example.org/b.tar.gz";
const SHA = "ab".repeat(32);

test("parseInputList() returns one job per line when lines are URL, URL<TAB>name or URL<TAB>name<TAB>sha256", () => {
  assert.deepEqual(
    parseInputList(
      `${URL_A}\n${URL_B}\tb.tgz\n${URL_A}\tc.zip\t${SHA}\n`,
      "list.txt",
    ),
    [
      { url: URL_A },
      { url: URL_B, name: "b.tgz" },
      { url: URL_A, name: "c.zip", sha256: SHA },
    ],
  );
});

test("parseInputList() takes URLs separated by spaces as mirrors of one file", () => {
  assert.deepEqual(
    parseInputList(`${URL_A} ${URL_B}\tx.zip\n${URL_B}  ${URL_A} \n`, "l"),
    [
      { url: URL_A, mirrors: [URL_B], name: "x.zip" },
      { url: URL_B, mirrors: [URL_A] },
    ],
  );
  throwsUsage(
    () => parseInputList(`${URL_A} ftp://example.com/a.zip\n`, "l"),
    'l:1: Invalid URL "ftp://example.com/a.zip": only http and https are supported',
  );
});

// Reported bug: a URL with a space in it failed with 'Invalid URL
// "file.zip"', not saying that a space separates mirrors.
test("parseInputList() says what a space means when a URL with a space in it gives a bad mirror", () => {
  throwsUsage(
    () => parseInputList(`${URL_A}\nhttps://example.com/my file.zip\n`, "l"),
    'l:2: Invalid URL "file.zip" in "https://example.com/my file.zip": URLs separated by spaces are mirrors of one file (write a space in a URL as %20)',
  );
});

// Reported bug: a line of words ("not a url") failed with 'Invalid URL
// "not"', its first word alone, as if the rest were not there.
test("parseInputList() quotes all of a line's URLs when the first of several is no URL", () => {
  throwsUsage(
    () => parseInputList(`${URL_A}\n# urls\nnot a url\tname\n`, "l"),
    'l:3: Invalid URL "not" in "not a url": URLs separated by spaces are mirrors of one file (write a space in a URL as %20)',
  );
  throwsUsage(
    () => parseInputList(`example.com/a ${URL_A}\n`, "l"),
    `l:1: Invalid URL "example.com/a" in "example.com/a ${URL_A}": URLs separated by spaces are mirrors of one file (write a space in a URL as %20)`,
  );
});

test("parseInputList() returns no jobs when the text is empty or only blanks and comments", () => {
  assert.deepEqual(parseInputList("", "l"), []);
  assert.deepEqual(parseInputList("\n\n  \n\t\n# x\n   # y\n", "l"), []);
});

test("parseInputList() skips blank and # lines when they are between URLs", () => {
  assert.deepEqual(
    parseInputList(`# list\n\n${URL_A}\n   \n  # ${URL_B}\n${URL_B}`, "l"),
    [{ url: URL_A }, { url: URL_B }],
  );
});

test("parseInputList() normalises and trims the URL when the line has spaces or CRLF", () => {
  assert.deepEqual(
    parseInputList(`  HTTPS://Example.com/a  \r\n${URL_B}\tb\r\n`, "l"),
    [{ url: "https://example.com/a" }, { url: URL_B, name: "b" }],
  );
});

test("parseInputList() lowercases and trims the sha256 when it is given", () => {
  assert.deepEqual(
    parseInputList(`${URL_A}\ta\t ${SHA.toUpperCase()} `, "l"),
    [{ url: URL_A, name: "a", sha256: SHA }],
  );
});

test("parseInputList() leaves the name out when it is empty before a sha256", () => {
  assert.deepEqual(parseInputList(`${URL_A}\t\t${SHA}`, "l"), [
    { url: URL_A, sha256: SHA },
  ]);
});

test("parseInputList() keeps the name as written when it has spaces", () => {
  assert.deepEqual(parseInputList(`${URL_A}\t my file.zip `, "l"), [
    { url: URL_A, name: " my file.zip " },
  ]);
});

test("parseInputList() throws with the source and line number when a line has more than 3 fields", () => {
  throwsUsage(
    () =>
      parseInputList(`${URL_A}\n\n# c\n${URL_A}\ta\t${SHA}\textra`, "list.txt"),
    "list.txt:4: expected URL, URL<TAB>name or URL<TAB>name<TAB>sha256, got 4 fields",
  );
  throwsUsage(
    () => parseInputList(`${URL_A}\t\t\t\tx`, "stdin"),
    "stdin:1: expected URL, URL<TAB>name or URL<TAB>name<TAB>sha256, got 5 fields",
  );
});

test("parseInputList() throws with the source and line number when a URL is bad", () => {
  throwsUsage(
    () => parseInputList(`${URL_A}\nexample.com/x\n`, "list.txt"),
    'list.txt:2: Invalid URL "example.com/x"',
  );
  throwsUsage(
    () => parseInputList(`\n\nftp://h/x\tname`, "stdin"),
    'stdin:3: Invalid URL "ftp://h/x": only http and https are supported',
  );
  throwsUsage(
    () => parseInputList(`\tname`, "l"),
    'l:1: Invalid URL ""',
  );
});

test("parseInputList() throws with the source and line number when a name is bad", () => {
  const cases: [string, string][] = [
    [".", 'l.txt:2: Invalid name ".": name must not be "."'],
    ["..", 'l.txt:2: Invalid name "..": name must not be ".."'],
    [
      "a/b",
      'l.txt:2: Invalid name "a/b": name must not contain a path separator',
    ],
    [
      "a\\b",
      'l.txt:2: Invalid name "a\\b": name must not contain a path separator',
    ],
    [
      "a\x1bb",
      'l.txt:2: Invalid name "a\\x1bb": name must not contain a control character (such as a newline or an escape)',
    ],
  ];
  for (const [name, message] of cases) {
    throwsUsage(
      () => parseInputList(`${URL_A}\n${URL_A}\t${name}`, "l.txt"),
      message,
    );
  }
});

test("parseInputList() ignores empty fields at the end of a line (a spreadsheet's export), but not an empty name before a tab and text", () => {
  assert.deepEqual(
    parseInputList(`${URL_A}\t\n${URL_B}\tb\t \n${URL_A}\t\t\n`, "l"),
    [{ url: URL_A }, { url: URL_B, name: "b" }, { url: URL_A }],
  );
  throwsUsage(
    () => parseInputList(`${URL_A}\t \tx`, "l.txt"),
    'l.txt:1: Invalid sha256 "x": expected 64 hex digits',
  );
});

test("parseInputList() ends lines at a lone CR too, never joining two URLs", () => {
  assert.deepEqual(
    parseInputList(`${URL_A}\r${URL_B}\tb\r\r# note\r`, "l"),
    [{ url: URL_A }, { url: URL_B, name: "b" }],
  );
  throwsUsage(
    () => parseInputList(`${URL_A}\rnot-a-url`, "l.txt"),
    'l.txt:2: Invalid URL "not-a-url"',
  );
});

test("parseInputList() throws with the source and line number when a sha256 is bad", () => {
  throwsUsage(
    () => parseInputList(`${URL_A}\n\n${URL_A}\ta\tnothex`, "l.txt"),
    'l.txt:3: Invalid sha256 "nothex": expected 64 hex digits',
  );
});

test("parseInputList() counts lines after CRLF and comments when it reports a line number", () => {
  throwsUsage(
    () => parseInputList(`# a\r\n${URL_A}\r\n\r\nbad\r\n`, "l"),
    'l:4: Invalid URL "bad"',
  );
});

// Reported bug: a line whose URL gives no plain file name, or whose name is
// reserved, was an error without its list and line, found only once the
// downloads had started.
test("parseInputList() throws naming the line when its URL gives no plain file name or its name is reserved", () => {
  const cases: [string, string][] = [
    [
      "https://example.com/dir/",
      'l:2: Cannot download "https://example.com/dir/": the URL has no file name (name it with -o, or with URL<TAB>name in an -i list)',
    ],
    [
      "https://example.com/a%0Ab",
      'l:2: Cannot download "https://example.com/a%0Ab": the file name "a\\nb" is not a plain file name: name must not contain a control character (such as a newline or an escape) (name it with -o, or with URL<TAB>name in an -i list)',
    ],
    [
      "https://example.com/y\t.a.bin.4fef9cffec13.dlpart.lock",
      'l:2: Cannot download "https://example.com/y" as ".a.bin.4fef9cffec13.dlpart.lock": the name is reserved for partial downloads',
    ],
  ];
  for (const [line, message] of cases) {
    throwsUsage(() => parseInputList(`${URL_A}\n${line}\n`, "l"), message);
  }
});
