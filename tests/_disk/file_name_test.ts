import assert from "node:assert/strict";
import { test } from "node:test";
import { assertFileName, fileNameFromUrl } from "../../src/_disk/file_name.ts";

test("fileNameFromUrl() returns the last path segment when the URL has several", () => {
  assert.equal(
    fileNameFromUrl(new URL("https://example.com/a/b/file.tar.gz")),
    "file.tar.gz",
  );
  assert.equal(fileNameFromUrl(new URL("https://example.com/file")), "file");
});

test("fileNameFromUrl() drops the query and the fragment when the URL has them", () => {
  assert.equal(
    fileNameFromUrl(new URL("https://example.com/dir/file.bin?x=1&y=/z#part")),
    "file.bin",
  );
  assert.equal(
    fileNameFromUrl(new URL("https://example.com/file.bin#a/b")),
    "file.bin",
  );
});

test("fileNameFromUrl() percent-decodes the segment when it is encoded", () => {
  assert.equal(
    fileNameFromUrl(new URL("https://example.com/my%20file%2B1.txt")),
    "my file+1.txt",
  );
  assert.equal(fileNameFromUrl(new URL("https://example.com/%C3%A9")), "é");
  // The URL parser encodes the raw "é" and " "; the name comes back decoded.
  assert.equal(fileNameFromUrl(new URL("https://example.com/é x")), "é x");
});

test("fileNameFromUrl() returns a name containing / when the segment has %2F, which assertFileName() then rejects", () => {
  const url = new URL("https://example.com/dir/a%2Fb");
  const name = fileNameFromUrl(url);
  assert.equal(name, "a/b");
  assert.throws(() => assertFileName(name, url.href), {
    name: "TypeError",
    message:
      'Cannot download "https://example.com/dir/a%2Fb" as "a/b": name must not contain a path separator',
  });
});

test("fileNameFromUrl() throws a TypeError mentioning fname when the last segment is empty", () => {
  assert.throws(() => fileNameFromUrl(new URL("https://example.com/dir/")), {
    name: "TypeError",
    message:
      'Cannot download "https://example.com/dir/": the URL has no file name, pass one as "fname"',
  });
  assert.throws(
    () => fileNameFromUrl(new URL("https://example.com?file.bin")),
    {
      name: "TypeError",
      message:
        'Cannot download "https://example.com/?file.bin": the URL has no file name, pass one as "fname"',
    },
  );
});

test("fileNameFromUrl() throws a TypeError when the segment is not valid percent-encoding", () => {
  assert.throws(() => fileNameFromUrl(new URL("https://example.com/a%ZZb")), {
    name: "TypeError",
    message:
      'Cannot download "https://example.com/a%ZZb": the file name "a%ZZb" is not valid percent-encoding, pass one as "fname"',
  });
  assert.throws(() => fileNameFromUrl(new URL("https://example.com/%C3")), {
    name: "TypeError",
    message:
      'Cannot download "https://example.com/%C3": the file name "%C3" is not valid percent-encoding, pass one as "fname"',
  });
});

const URL_TEXT = "https://example.com/f";

test('assertFileName() throws a TypeError when the name is ""', () => {
  assert.throws(() => assertFileName("", URL_TEXT), {
    name: "TypeError",
    message:
      'Cannot download "https://example.com/f" as "": name must not be empty',
  });
});

test('assertFileName() throws a TypeError when the name is "." or ".."', () => {
  assert.throws(() => assertFileName(".", URL_TEXT), {
    name: "TypeError",
    message:
      'Cannot download "https://example.com/f" as ".": name must not be "."',
  });
  assert.throws(() => assertFileName("..", URL_TEXT), {
    name: "TypeError",
    message:
      'Cannot download "https://example.com/f" as "..": name must not be ".."',
  });
});

test("assertFileName() throws a TypeError when the name contains / or \\", () => {
  assert.throws(() => assertFileName("a/b", URL_TEXT), {
    name: "TypeError",
    message:
      'Cannot download "https://example.com/f" as "a/b": name must not contain a path separator',
  });
  assert.throws(() => assertFileName("a\\b", URL_TEXT), {
    name: "TypeError",
    message:
      'Cannot download "https://example.com/f" as "a\\b": name must not contain a path separator',
  });
  assert.throws(() => assertFileName("../etc", URL_TEXT), {
    name: "TypeError",
    message:
      'Cannot download "https://example.com/f" as "../etc": name must not contain a path separator',
  });
});

test("assertFileName() throws a TypeError when the name contains NUL", () => {
  assert.throws(() => assertFileName("a\0b", URL_TEXT), {
    name: "TypeError",
    message:
      'Cannot download "https://example.com/f" as "a\\x00b": name must not contain a NUL character',
  });
});

test("assertFileName() returns when the name is a plain file name", () => {
  for (const name of ["a.tar.gz", "..a", "a..", "...", ".hidden", "a b", "é"]) {
    assert.equal(assertFileName(name, URL_TEXT), undefined);
  }
});
