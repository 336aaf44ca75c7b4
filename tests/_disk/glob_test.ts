import assert from "node:assert/strict";
import { test } from "node:test";
import { globToRegExp } from "../../src/_disk/glob.ts";

/** The names among `names` that `pattern` matches, in order. */
function matches(pattern: string, names: string[]): string[] {
  const regExp = globToRegExp(pattern);
  return names.filter((name) => regExp.test(name));
}

test("globToRegExp() matches only the name itself when the pattern has no special characters", () => {
  assert.deepEqual(
    matches("file.txt", ["file.txt", "file.txt2", "xfile.txt", "filextxt", ""]),
    ["file.txt"],
  );
});

test("globToRegExp() lets * match any run of characters, including none", () => {
  assert.deepEqual(
    matches("*.log", [".log", "a.log", "abc.log", "a.b.log", "a.log.1", "log"]),
    ["a.log", "abc.log", "a.b.log"],
  );
  assert.deepEqual(matches("a*b", ["ab", "axb", "axxb", "abx", "xab"]), [
    "ab",
    "axb",
    "axxb",
  ]);
});

test("globToRegExp() lets * match a newline when the name contains one", () => {
  assert.deepEqual(matches("a*b", ["a\nb"]), ["a\nb"]);
});

test("globToRegExp() lets ? match exactly one character", () => {
  assert.deepEqual(
    matches("file?.txt", ["file.txt", "file1.txt", "file12.txt", "fileX.txt"]),
    ["file1.txt", "fileX.txt"],
  );
});

test("globToRegExp() lets ? and [...] match one character when that character is outside the BMP", () => {
  assert.deepEqual(matches("a?b", ["a\u{1F600}b", "aéb"]), [
    "a\u{1F600}b",
    "aéb",
  ]);
  assert.deepEqual(matches("[\u{1F600}x]", ["\u{1F600}", "x", "y"]), [
    "\u{1F600}",
    "x",
  ]);
});

test("globToRegExp() matches one listed character when the pattern has [abc]", () => {
  assert.deepEqual(
    matches("file[abc].txt", [
      "filea.txt",
      "fileb.txt",
      "filec.txt",
      "filed.txt",
      "fileab.txt",
      "file.txt",
    ]),
    ["filea.txt", "fileb.txt", "filec.txt"],
  );
});

test("globToRegExp() matches one character of the range when the pattern has [a-z]", () => {
  assert.deepEqual(
    matches("v[0-9]", ["v0", "v5", "v9", "va", "v10", "v-"]),
    ["v0", "v5", "v9"],
  );
  assert.deepEqual(matches("[a-c]x", ["ax", "bx", "cx", "dx", "Ax", "-x"]), [
    "ax",
    "bx",
    "cx",
  ]);
});

test("globToRegExp() matches one unlisted character when the pattern has [!abc]", () => {
  assert.deepEqual(
    matches("file[!abc].txt", [
      "filea.txt",
      "filec.txt",
      "filed.txt",
      "file1.txt",
      "file.txt",
      "filedd.txt",
    ]),
    ["filed.txt", "file1.txt"],
  );
});

test("globToRegExp() negates the class when it starts with ^ as well as !", () => {
  assert.deepEqual(matches("[^ab]", ["a", "b", "c", "^"]), ["c", "^"]);
});

test("globToRegExp() takes ] literally when it comes first in the class", () => {
  assert.deepEqual(matches("[]a]", ["]", "a", "b"]), ["]", "a"]);
});

test("globToRegExp() takes ] literally when it comes first in a [! class", () => {
  assert.deepEqual(matches("[!]a]", ["]", "a", "b", "ba]"]), ["b"]);
  assert.deepEqual(matches("[!]", ["[!]", "x"]), ["[!]"]);
});

test("globToRegExp() takes ^ literally when it is inside a class but not first", () => {
  assert.deepEqual(matches("[a^]", ["a", "^", "b"]), ["a", "^"]);
});

test("globToRegExp() takes the next character literally when it is escaped with \\", () => {
  assert.deepEqual(matches("a\\*b", ["a*b", "ab", "axb"]), ["a*b"]);
  assert.deepEqual(matches("a\\?b", ["a?b", "axb"]), ["a?b"]);
  assert.deepEqual(matches("\\[ab]", ["[ab]", "a", "b"]), ["[ab]"]);
  assert.deepEqual(matches("a\\\\b", ["a\\b", "ab"]), ["a\\b"]);
});

test("globToRegExp() takes a trailing \\ literally", () => {
  assert.deepEqual(matches("a\\", ["a\\", "a"]), ["a\\"]);
});

test("globToRegExp() takes regex metacharacters literally when they are in the pattern", () => {
  assert.deepEqual(
    matches("a+b.(1)", ["a+b.(1)", "aab.(1)", "ab.(1)", "a+bx(1)", "a+b.1"]),
    ["a+b.(1)"],
  );
  assert.deepEqual(matches("^x$|{2}", ["^x$|{2}", "x", "xx"]), ["^x$|{2}"]);
  assert.deepEqual(matches("a/b-c", ["a/b-c"]), ["a/b-c"]);
});

test("globToRegExp() takes [ literally when it is never closed", () => {
  assert.deepEqual(matches("[abc", ["[abc", "a", "abc"]), ["[abc"]);
  assert.deepEqual(matches("x[", ["x[", "x"]), ["x["]);
  assert.deepEqual(matches("[]", ["[]", "]", ""]), ["[]"]);
});

test("globToRegExp() never lets * or ? match a leading dot when the pattern starts otherwise", () => {
  assert.deepEqual(matches("*", [".hidden", ".", "..", "visible", "a.b"]), [
    "visible",
    "a.b",
  ]);
  assert.deepEqual(matches("?hidden", [".hidden", "xhidden"]), ["xhidden"]);
  assert.deepEqual(matches("[.]hidden", [".hidden"]), []);
  assert.deepEqual(matches("*.dlpart", [".a.1234.dlpart", "a.dlpart"]), [
    "a.dlpart",
  ]);
});

test("globToRegExp() matches dotfiles when the pattern starts with a dot", () => {
  assert.deepEqual(matches(".*", [".hidden", ".a.dlpart", "visible", "."]), [
    ".hidden",
    ".a.dlpart",
    ".",
  ]);
  assert.deepEqual(matches(".*.dlpart", [".a.123.dlpart", "a.dlpart"]), [
    ".a.123.dlpart",
  ]);
});

test("globToRegExp() matches dotfiles when the pattern starts with an escaped dot", () => {
  assert.deepEqual(matches("\\.hidden", [".hidden", "xhidden"]), [".hidden"]);
});

test("globToRegExp() matches the whole name when the pattern would match a part of it", () => {
  assert.deepEqual(matches("b", ["abc", "ab", "bc", "b"]), ["b"]);
  assert.deepEqual(matches("a?", ["abc", "ab"]), ["ab"]);
});
