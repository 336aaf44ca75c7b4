import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { test } from "node:test";
import {
  type Expected,
  IntegrityCheck,
  parseExpected,
} from "../../src/_body/integrity.ts";
import { IntegrityError } from "../../src/errors.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

const URL = "https://example.com/f";
const DATA = new TextEncoder().encode("hello, integrity\n");
const OTHER = new TextEncoder().encode("something else\n");

/** The digest of `data` with `algorithm`, in `encoding`. */
function digest(
  algorithm: string,
  data: Uint8Array,
  encoding: "hex" | "base64",
): string {
  return createHash(algorithm).update(data).digest(encoding);
}

/** Asserts that `fn` throws a TypeError with exactly `message`. */
function assertTypeError(fn: () => unknown, message: string): void {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof TypeError);
    assert.equal(error.message, message);
    return true;
  });
}

// parseExpected

test("parseExpected() returns undefined when neither integrity nor sha256 is given", () => {
  assert.equal(parseExpected(URL, undefined, undefined), undefined);
});

test("parseExpected() throws a TypeError when both integrity and sha256 are given", () => {
  assertTypeError(
    () =>
      parseExpected(
        URL,
        `sha256-${digest("sha256", DATA, "base64")}`,
        digest("sha256", DATA, "hex"),
      ),
    `Cannot download "${URL}": give integrity or sha256, not both`,
  );
});

test("parseExpected() returns a hex sha256 when sha256 is given in lower case", () => {
  const hex = digest("sha256", DATA, "hex");
  assert.deepEqual(parseExpected(URL, undefined, hex), {
    algorithm: "sha256",
    digests: [hex],
    encoding: "hex",
  });
});

test("parseExpected() lower-cases sha256 when it is given in upper or mixed case", () => {
  const hex = digest("sha256", DATA, "hex");
  assert.deepEqual(parseExpected(URL, undefined, hex.toUpperCase()), {
    algorithm: "sha256",
    digests: [hex],
    encoding: "hex",
  });
  const mixed = [...hex].map((c, i) => i % 2 ? c.toUpperCase() : c).join("");
  assert.deepEqual(parseExpected(URL, undefined, mixed)?.digests, [hex]);
});

test("parseExpected() throws a TypeError when sha256 is not 64 hex digits", () => {
  const hex = digest("sha256", DATA, "hex");
  for (
    const bad of [
      "",
      hex.slice(1),
      hex + "0",
      "g" + hex.slice(1),
      ` ${hex}`,
      `${hex}\n`,
      `sha256-${digest("sha256", DATA, "base64")}`,
      "0x" + hex.slice(2),
    ]
  ) {
    assertTypeError(
      () => parseExpected(URL, undefined, bad),
      `Cannot download "${URL}": sha256 must be 64 hex digits, got "${bad}"`,
    );
  }
});

test("parseExpected() returns a base64 digest when integrity is one SRI token", () => {
  for (const algorithm of ["sha256", "sha384", "sha512"]) {
    const b64 = digest(algorithm, DATA, "base64");
    assert.deepEqual(parseExpected(URL, `${algorithm}-${b64}`, undefined), {
      algorithm,
      digests: [b64],
      encoding: "base64",
    });
  }
});

test("parseExpected() ignores surrounding whitespace and options when integrity has them", () => {
  const b64 = digest("sha384", DATA, "base64");
  assert.deepEqual(
    parseExpected(
      URL,
      `  sha384-${b64}?ct=application/octet-stream \n`,
      undefined,
    ),
    { algorithm: "sha384", digests: [b64], encoding: "base64" },
  );
});

test("parseExpected() picks the strongest algorithm when integrity has several tokens", () => {
  const s256 = `sha256-${digest("sha256", DATA, "base64")}`;
  const s384 = `sha384-${digest("sha384", DATA, "base64")}`;
  const s512 = `sha512-${digest("sha512", DATA, "base64")}`;
  const strongest = {
    algorithm: "sha512",
    digests: [digest("sha512", DATA, "base64")],
    encoding: "base64",
  };
  assert.deepEqual(
    parseExpected(URL, `${s256} ${s384} ${s512}`, undefined),
    strongest,
  );
  assert.deepEqual(
    parseExpected(URL, `${s512} ${s256} ${s384}`, undefined),
    strongest,
  );
  assert.deepEqual(
    parseExpected(URL, `${s384}\t${s512}\n${s256}`, undefined),
    strongest,
  );
  assert.deepEqual(parseExpected(URL, `${s256} ${s384}`, undefined), {
    algorithm: "sha384",
    digests: [digest("sha384", DATA, "base64")],
    encoding: "base64",
  });
});

test("parseExpected() skips unknown and malformed tokens when integrity also has a known one", () => {
  const b64 = digest("sha256", DATA, "base64");
  assert.deepEqual(
    parseExpected(
      URL,
      `md5-AAAA sha1-BBBB sha256-${b64} sha512-!!!`,
      undefined,
    ),
    { algorithm: "sha256", digests: [b64], encoding: "base64" },
  );
});

test("parseExpected() throws a TypeError when integrity has only unknown algorithms", () => {
  const md5 = createHash("md5").update(DATA).digest("base64");
  for (const bad of [`md5-${md5}`, "sha1-AAAA sha3-BBBB"]) {
    assertTypeError(
      () => parseExpected(URL, bad, undefined),
      `Cannot download "${URL}": integrity must be "sha256-<base64>", "sha384-..." or "sha512-...", got "${bad}"`,
    );
  }
});

test("parseExpected() throws a TypeError when integrity is empty or malformed", () => {
  for (
    const bad of [
      "",
      "   ",
      "sha256",
      "sha256-",
      "sha256-***",
      digest("sha256", DATA, "hex") + "!",
    ]
  ) {
    assertTypeError(
      () => parseExpected(URL, bad, undefined),
      `Cannot download "${URL}": integrity must be "sha256-<base64>", "sha384-..." or "sha512-...", got "${bad}"`,
    );
  }
});

test("parseExpected() throws a TypeError when an integrity digest is too short or too long for its algorithm", () => {
  for (const algorithm of ["sha256", "sha384", "sha512"]) {
    const b64 = digest(algorithm, DATA, "base64");
    for (
      const bad of [
        `${algorithm}-AAAA`,
        `${algorithm}-${b64.replace(/=+$/, "").slice(0, -1)}`,
        `${algorithm}-${b64.replace(/=+$/, "")}AAAA`,
      ]
    ) {
      const given = bad.slice(algorithm.length + 1);
      assertTypeError(
        () => parseExpected(URL, bad, undefined),
        `Cannot download "${URL}": integrity: a ${algorithm} digest is ${b64.length} base64 characters, got ${given.length} in "${bad}"`,
      );
    }
  }
});

test("parseExpected() skips a digest of the wrong length when integrity also has a good token", () => {
  const b64 = digest("sha256", DATA, "base64");
  assert.deepEqual(
    parseExpected(URL, `sha512-AAAA sha256-${b64}`, undefined),
    { algorithm: "sha256", digests: [b64], encoding: "base64" },
  );
});

test("parseExpected() takes a base64 digest without its padding, padded", () => {
  for (const algorithm of ["sha256", "sha512"]) {
    const b64 = digest(algorithm, DATA, "base64");
    assert.match(b64, /=$/);
    assert.deepEqual(
      parseExpected(URL, `${algorithm}-${b64.replace(/=+$/, "")}`, undefined),
      { algorithm, digests: [b64], encoding: "base64" },
    );
  }
});

test("parseExpected() takes a digest in base64url, as the standard base64 it is hashed in", () => {
  // sha512 and sha384 digests of DATA hold "+" or "/": written "-" or "_".
  let seen = 0;
  for (const algorithm of ["sha256", "sha384", "sha512"]) {
    const b64 = digest(algorithm, DATA, "base64");
    if (!/[+/]/.test(b64)) continue;
    seen++;
    const url = b64.replaceAll("+", "-").replaceAll("/", "_");
    assert.deepEqual(
      parseExpected(URL, `${algorithm}-${url.replace(/=+$/, "")}`, undefined),
      { algorithm, digests: [b64], encoding: "base64" },
    );
  }
  assert.ok(seen > 0);
});

// IntegrityCheck

test("IntegrityCheck.verify() passes when the bytes match a hex sha256", async () => {
  const check = await IntegrityCheck.create({
    algorithm: "sha256",
    digests: [digest("sha256", DATA, "hex")],
    encoding: "hex",
  });
  check.update(DATA);
  assert.equal(check.verify(URL), undefined);
});

test("IntegrityCheck.verify() passes when the bytes match a base64 digest of each algorithm", async () => {
  for (const algorithm of ["sha256", "sha384", "sha512"]) {
    const expected = parseExpected(
      URL,
      `${algorithm}-${digest(algorithm, DATA, "base64")}`,
      undefined,
    );
    assert.ok(expected !== undefined);
    const check = await IntegrityCheck.create(expected);
    check.update(DATA);
    assert.equal(check.verify(URL), undefined, algorithm);
  }
});

test("IntegrityCheck.update() gives the same digest when the bytes come in pieces", async () => {
  const check = await IntegrityCheck.create({
    algorithm: "sha512",
    digests: [digest("sha512", DATA, "base64")],
    encoding: "base64",
  });
  check.update(DATA.subarray(0, 1));
  check.update(DATA.subarray(1, 1));
  check.update(DATA.subarray(1, 7));
  check.update(DATA.subarray(7));
  assert.equal(check.verify(URL), undefined);
});

test("IntegrityCheck.verify() passes when no bytes were hashed and the digest is of nothing", async () => {
  const empty = new Uint8Array(0);
  const check = await IntegrityCheck.create({
    algorithm: "sha256",
    digests: [digest("sha256", empty, "hex")],
    encoding: "hex",
  });
  assert.equal(check.verify(URL), undefined);
});

test("IntegrityCheck.verify() throws an IntegrityError with hex digests when a hex sha256 does not match", async () => {
  const expected = digest("sha256", DATA, "hex");
  const actual = digest("sha256", OTHER, "hex");
  const check = await IntegrityCheck.create({
    algorithm: "sha256",
    digests: [expected],
    encoding: "hex",
  });
  check.update(OTHER);
  assert.throws(() => check.verify(URL), (error) => {
    assert.ok(error instanceof IntegrityError);
    assert.equal(error.name, "IntegrityError");
    assert.equal(error.algorithm, "sha256");
    assert.equal(error.expected, expected);
    assert.equal(error.actual, actual);
    assert.equal(
      error.message,
      `Cannot download "${URL}": sha256 mismatch: expected ${expected}, got ${actual}`,
    );
    return true;
  });
});

test("IntegrityCheck.verify() throws an IntegrityError with base64 digests when an SRI digest does not match", async () => {
  for (const algorithm of ["sha256", "sha384", "sha512"]) {
    const expected = digest(algorithm, DATA, "base64");
    const actual = digest(algorithm, OTHER, "base64");
    const check = await IntegrityCheck.create({
      algorithm,
      digests: [expected],
      encoding: "base64",
    });
    check.update(OTHER);
    assert.throws(() => check.verify(URL), (error) => {
      assert.ok(error instanceof IntegrityError);
      assert.equal(error.algorithm, algorithm);
      assert.equal(error.expected, expected);
      assert.equal(error.actual, actual);
      return true;
    });
  }
});

test("parseExpected() keeps every digest of the strongest algorithm when integrity lists several of it", () => {
  const s384 = `sha384-${digest("sha384", DATA, "base64")}`;
  const mine = digest("sha512", DATA, "base64");
  const other = digest("sha512", OTHER, "base64");
  assert.deepEqual(
    parseExpected(
      URL,
      `sha512-${other} ${s384} sha512-${mine} sha512-${other}`,
      undefined,
    ),
    { algorithm: "sha512", digests: [other, mine], encoding: "base64" },
  );
});

test("IntegrityCheck.verify() passes when the bytes match any of several SRI digests of one algorithm, and names them all when none does", async () => {
  const mine = digest("sha512", DATA, "base64");
  const other = digest("sha512", OTHER, "base64");
  const expected = parseExpected(
    URL,
    `sha512-${other} sha512-${mine}`,
    undefined,
  );
  assert.ok(expected !== undefined);
  const check = await IntegrityCheck.create(expected);
  check.update(DATA);
  check.verify(URL);
  const again = await IntegrityCheck.create(expected);
  again.update(DATA);
  assert.equal(again.matches(), true);
  const neither = await IntegrityCheck.create(expected);
  const third = new TextEncoder().encode("a third file\n");
  neither.update(third);
  assert.throws(() => neither.verify(URL), (error) => {
    assert.ok(error instanceof IntegrityError);
    assert.equal(error.expected, `${other} ${mine}`);
    assert.equal(
      error.message,
      `Cannot download "${URL}": sha512 mismatch: expected ${other} or ${mine}, got ${
        digest("sha512", third, "base64")
      }`,
    );
    return true;
  });
});

test("IntegrityCheck.verify() throws when the bytes are a prefix of the expected ones", async () => {
  const check = await IntegrityCheck.create({
    algorithm: "sha256",
    digests: [digest("sha256", DATA, "hex")],
    encoding: "hex",
  });
  check.update(DATA.subarray(0, DATA.length - 1));
  assert.throws(() => check.verify(URL), (error) => {
    assert.ok(error instanceof IntegrityError);
    assert.equal(
      error.actual,
      digest("sha256", DATA.subarray(0, DATA.length - 1), "hex"),
    );
    return true;
  });
});

test("IntegrityCheck.verify() compares a lower-cased sha256 when it was given in upper case", async () => {
  const expected = parseExpected(
    URL,
    undefined,
    digest("sha256", DATA, "hex").toUpperCase(),
  );
  assert.ok(expected !== undefined);
  const check = await IntegrityCheck.create(expected);
  check.update(DATA);
  assert.equal(check.verify(URL), undefined);
});

test("IntegrityCheck.reset() starts over when bytes were hashed before", async () => {
  const check = await IntegrityCheck.create({
    algorithm: "sha384",
    digests: [digest("sha384", DATA, "base64")],
    encoding: "base64",
  });
  check.update(OTHER);
  check.reset();
  check.update(DATA);
  assert.equal(check.verify(URL), undefined);
});

test("IntegrityCheck.reset() lets the check run again when verify() already failed", async () => {
  const check = await IntegrityCheck.create({
    algorithm: "sha256",
    digests: [digest("sha256", DATA, "hex")],
    encoding: "hex",
  });
  check.update(OTHER);
  assert.throws(() => check.verify(URL), IntegrityError);
  check.reset();
  check.update(DATA);
  assert.equal(check.verify(URL), undefined);
});

test("IntegrityCheck.hashFile() hashes the file, and stops with the signal's reason once it is aborted", async () => {
  await using dir = await tempDir();
  // Three reads of 1 MiB and a short one.
  const bytes = new Uint8Array(3 * 1024 * 1024 + 5).fill(7);
  await writeFile(dir.join("f"), bytes);
  const expected = {
    algorithm: "sha256",
    digests: [digest("sha256", bytes, "hex")],
    encoding: "hex",
  } as const;
  const check = await IntegrityCheck.create(expected);
  await check.hashFile(dir.join("f"), new AbortController().signal);
  assert.equal(check.verify(URL), undefined);
  const reason = new Error("canceled");
  const stopped = await IntegrityCheck.create(expected);
  await assert.rejects(
    stopped.hashFile(dir.join("f"), AbortSignal.abort(reason)),
    (error) => error === reason,
  );
});

test("IntegrityCheck.sri gives the digests expected as an SRI string, a hex sha256 in base64", async () => {
  const bytes = new TextEncoder().encode("hello");
  const hex = createHash("sha256").update(bytes).digest("hex");
  const base64 = createHash("sha256").update(bytes).digest("base64");
  const fromHex = await IntegrityCheck.create(
    parseExpected("u", undefined, hex) as Expected,
  );
  assert.equal(fromHex.sri, `sha256-${base64}`);
  const other = createHash("sha512").update(bytes).digest("base64");
  const sri = `sha512-${other} sha512-${"A".repeat(86)}==`;
  const several = await IntegrityCheck.create(
    parseExpected("u", sri, undefined) as Expected,
  );
  assert.equal(several.sri, sri);
});

test("IntegrityCheck.names() tells whether an SRI string expects one of its digests", async () => {
  const bytes = new TextEncoder().encode("hello");
  const hex = createHash("sha256").update(bytes).digest("hex");
  const base64 = createHash("sha256").update(bytes).digest("base64");
  const check = await IntegrityCheck.create(
    parseExpected("u", undefined, hex) as Expected,
  );
  assert.equal(check.names(`sha256-${base64}`), true);
  assert.equal(check.names(`sha256-${"A".repeat(43)}= sha256-${base64}`), true);
  assert.equal(check.names(`sha256-${"A".repeat(43)}=`), false);
  // Another algorithm names another digest, even of the same bytes.
  const sha512 = createHash("sha512").update(bytes).digest("base64");
  assert.equal(check.names(`sha512-${sha512}`), false);
  assert.equal(check.names("not a digest"), false);
  assert.equal(check.names(""), false);
});
