// Checking the downloaded bytes against an expected digest, hashed while they
// stream: an SRI string (`sha256-<base64>`, `sha384-...`, `sha512-...`; of
// several, the strongest algorithm's, any of whose digests matches, as the
// SRI spec says) or a sha256 in hex. `node:crypto` hashes
// incrementally on Deno and Node alike; it is loaded with the first check,
// as loading it costs Deno's start-up about 25 ms, which a download without a
// digest need not pay.

import type { Hash } from "node:crypto";
import { IntegrityError } from "../errors.ts";
import { fs } from "../_runtime/fs.ts";

/** Bytes per read when a file on disk is hashed. */
const HASH_READ_SIZE = 1024 * 1024;

const STRENGTH: Record<string, number> = { sha256: 1, sha384: 2, sha512: 3 };

/** An expected digest. */
export interface Expected {
  /** `"sha256"`, `"sha384"` or `"sha512"`. */
  algorithm: string;
  /**
   * The digests as given: the bytes match if they match any (an SRI string
   * may list several of one algorithm, as for a file served in two
   * versions); one for `sha256`.
   */
  digests: readonly string[];
  /** How `digest` is encoded. */
  encoding: "hex" | "base64";
}

/** Each algorithm's digest length in bytes. */
const DIGEST_BYTES: Record<string, number> = {
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

/** What an `integrity` string must look like, for messages. */
export const INTEGRITY_FORMAT =
  `"sha256-<base64>", "sha384-..." or "sha512-..."`;

/**
 * The digests an SRI string expects (of several tokens, those of the
 * strongest algorithm, any of which the bytes may match; tokens of other
 * algorithms, not base64, or whose digest is not their
 * algorithm's length, are skipped), or, when no token is left, what is wrong
 * with it: `problem` says a digest's length was wrong, or is `undefined`
 * (no token of a known algorithm: the caller says what the string must look
 * like). A digest without its `=` padding is taken, padded, and one in
 * base64url, in standard base64.
 */
export function parseIntegrity(
  integrity: string,
): Expected | { problem: string | undefined } {
  let best: { algorithm: string; digests: string[] } | undefined;
  let problem: string | undefined;
  for (const token of integrity.trim().split(/\s+/)) {
    const match = /^(sha256|sha384|sha512)-([A-Za-z0-9+/_-]+={0,2})(\?.*)?$/
      .exec(
        token,
      );
    if (match === null) continue;
    const [, algorithm = "", given = ""] = match;
    // Base64 without its padding: 4 characters for every 3 bytes.
    const bytes = DIGEST_BYTES[algorithm] as number;
    const unpadded = given.replace(/=+$/, "");
    if (unpadded.length !== Math.ceil(bytes * 4 / 3)) {
      problem ??= `a ${algorithm} digest is ${
        Math.ceil(bytes / 3) * 4
      } base64 characters, got ${given.length} in "${token}"`;
      continue;
    }
    // The URL-safe alphabet (`-`, `_`) too, which CSP's grammar of these
    // digests allows: compared in the standard one, as hashed.
    const digest = unpadded.replaceAll("-", "+").replaceAll("_", "/")
      .padEnd(Math.ceil(bytes / 3) * 4, "=");
    if (best?.algorithm === algorithm) {
      if (!best.digests.includes(digest)) best.digests.push(digest);
    } else if (
      best === undefined ||
      (STRENGTH[algorithm] ?? 0) > (STRENGTH[best.algorithm] ?? 0)
    ) {
      best = { algorithm, digests: [digest] };
    }
  }
  return best === undefined ? { problem } : { ...best, encoding: "base64" };
}

/**
 * Parses the `integrity` and `sha256` options (at most one may be given);
 * `undefined` if neither. Throws a `TypeError` for a malformed value,
 * a digest of the wrong length included.
 */
export function parseExpected(
  url: string,
  integrity: string | undefined,
  sha256: string | undefined,
): Expected | undefined {
  if (integrity !== undefined && sha256 !== undefined) {
    throw new TypeError(
      `Cannot download "${url}": give integrity or sha256, not both`,
    );
  }
  if (sha256 !== undefined) {
    if (!/^[0-9a-fA-F]{64}$/.test(sha256)) {
      throw new TypeError(
        `Cannot download "${url}": sha256 must be 64 hex digits, got "${sha256}"`,
      );
    }
    return {
      algorithm: "sha256",
      digests: [sha256.toLowerCase()],
      encoding: "hex",
    };
  }
  if (integrity === undefined) return undefined;
  const parsed = parseIntegrity(integrity);
  if (!("problem" in parsed)) return parsed;
  throw new TypeError(
    parsed.problem === undefined
      ? `Cannot download "${url}": integrity must be ${INTEGRITY_FORMAT}, got "${integrity}"`
      : `Cannot download "${url}": integrity: ${parsed.problem}`,
  );
}

type CreateHash = typeof import("node:crypto").createHash;

/** `node:crypto`'s `createHash`, once loaded. */
let loading: Promise<CreateHash> | undefined;

/** Hashes bytes as they come, then compares with the expected digest. */
export class IntegrityCheck {
  #expected: Expected;
  #createHash: CreateHash;
  #hash: Hash;

  private constructor(expected: Expected, createHash: CreateHash) {
    this.#expected = expected;
    this.#createHash = createHash;
    this.#hash = createHash(expected.algorithm);
  }

  /** Starts an empty hash for `expected`. */
  static async create(expected: Expected): Promise<IntegrityCheck> {
    loading ??= import("node:crypto").then((module) => module.createHash);
    return new IntegrityCheck(expected, await loading);
  }

  /** Adds `bytes` to the hash. */
  update(bytes: Uint8Array): void {
    this.#hash.update(bytes);
  }

  /** Starts over from no bytes. */
  reset(): void {
    this.#hash = this.#createHash(this.#expected.algorithm);
  }

  /**
   * Feeds the bytes of the file at `path` to the hash, in file order.
   * Aborting `signal` stops it before the next read, rejecting with the
   * signal's reason: a file of many gigabytes takes seconds to hash, and a
   * cancel must not wait for them.
   */
  async hashFile(path: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    for await (const bytes of fs.readChunks(path, HASH_READ_SIZE)) {
      this.update(bytes);
      signal?.throwIfAborted();
    }
  }

  /** Whether the bytes hashed match (the hash is then used up). */
  matches(): boolean {
    return this.#expected.digests.includes(
      this.#hash.digest(this.#expected.encoding),
    );
  }

  /**
   * The digests expected, as an SRI string (`<algorithm>-<base64>`, several
   * space-separated; a sha256 given in hex, in base64): what a sidecar
   * records of the file its bytes are for.
   */
  get sri(): string {
    const { algorithm, digests, encoding } = this.#expected;
    return digests.map((digest) =>
      `${algorithm}-${encoding === "hex" ? hexToBase64(digest) : digest}`
    ).join(" ");
  }

  /**
   * Whether the SRI string `sri` (see {@linkcode IntegrityCheck.sri})
   * expects a digest this check expects: the same file.
   */
  names(sri: string): boolean {
    const other = parseIntegrity(sri);
    if ("problem" in other || other.algorithm !== this.#expected.algorithm) {
      return false;
    }
    const prefix = `${other.algorithm}-`;
    const own = this.sri.split(" ").map((token) => token.slice(prefix.length));
    return other.digests.some((digest) => own.includes(digest));
  }

  /**
   * Throws an {@linkcode IntegrityError} unless the bytes hashed match (its
   * `expected` lists every digest expected, space-separated, as an SRI
   * string does).
   */
  verify(url: string): void {
    const actual = this.#hash.digest(this.#expected.encoding);
    if (!this.#expected.digests.includes(actual)) {
      throw new IntegrityError(url, {
        algorithm: this.#expected.algorithm,
        expected: this.#expected.digests.join(" "),
        actual,
      });
    }
  }
}

/** A digest in hex as base64. */
function hexToBase64(hex: string): string {
  let binary = "";
  for (let i = 0; i < hex.length; i += 2) {
    binary += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  }
  return btoa(binary);
}
