import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { sha256Hex } from "../../src/_disk/sha256.ts";

/** The runtime's own SHA-256 of `text`, in hex. */
function runtimeSha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

test("sha256Hex() gives FIPS 180-4's digests of its examples", () => {
  assert.equal(
    sha256Hex(""),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  // Two blocks.
  assert.equal(
    sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
});

test("sha256Hex() agrees with the runtime's SHA-256 at every length across the block edges", () => {
  // 55 bytes is the most one block holds with its padding; 56 to 63 spill
  // the length into a second block; 64 and 119-120 likewise one block on.
  for (let length = 0; length <= 200; length++) {
    const text = "x".repeat(length);
    assert.equal(sha256Hex(text), runtimeSha256(text), `length ${length}`);
  }
});

test("sha256Hex() hashes a text's UTF-8 bytes, as the runtime does", () => {
  for (
    const text of [
      "\u00e9t\u00e9.tar.gz",
      "\u{1F600}.txt",
      "\u65e5\u672c\u8a9e\u306e\u30d5\u30a1\u30a4\u30eb\u540d.zip",
      "a\u0000b",
      "\u{10FFFF}".repeat(40),
    ]
  ) {
    assert.equal(sha256Hex(text), runtimeSha256(text), JSON.stringify(text));
  }
});
