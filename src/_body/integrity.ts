// Checking the downloaded bytes against an expected digest, hashed while they
// stream: an SRI string (`sha256-<base64>`, `sha384-...`, `sha512-...`; of
// several, the strongest is used) or a sha256 in hex. `node:crypto` hashes
// incrementally on Deno and Node alike.

import { createHash, type Hash } from "node:crypto";
import { IntegrityError } from "../errors.ts";

const STRENGTH: Record<string, number> = { sha256: 1, sha384: 2, sha512: 3 };

/** An expected digest. */
export interface Expected {
  /** `"sha256"`, `"sha384"` or `"sha512"`. */
  algorithm: string;
  /** The digest as given. */
  digest: string;
  /** How `digest` is encoded. */
  encoding: "hex" | "base64";
}

/**
 * Parses the `integrity` and `sha256` options (at most one may be given);
 * `undefined` if neither. Throws a `TypeError` for a malformed value.
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
      digest: sha256.toLowerCase(),
      encoding: "hex",
    };
  }
  if (integrity === undefined) return undefined;
  let best: Expected | undefined;
  for (const token of integrity.trim().split(/\s+/)) {
    const match = /^(sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})(\?.*)?$/.exec(
      token,
    );
    if (match === null) continue;
    const [, algorithm = "", digest = ""] = match;
    if (
      best === undefined ||
      (STRENGTH[algorithm] ?? 0) > (STRENGTH[best.algorithm] ?? 0)
    ) {
      best = { algorithm, digest, encoding: "base64" };
    }
  }
  if (best === undefined) {
    throw new TypeError(
      `Cannot download "${url}": integrity must be "sha256-<base64>", "sha384-..." or "sha512-...", got "${integrity}"`,
    );
  }
  return best;
}

/** Hashes bytes as they come, then compares with the expected digest. */
export class IntegrityCheck {
  #expected: Expected;
  #hash: Hash;

  /** Starts an empty hash for `expected`. */
  constructor(expected: Expected) {
    this.#expected = expected;
    this.#hash = createHash(expected.algorithm);
  }

  /** Adds `bytes` to the hash. */
  update(bytes: Uint8Array): void {
    this.#hash.update(bytes);
  }

  /** Starts over from no bytes. */
  reset(): void {
    this.#hash = createHash(this.#expected.algorithm);
  }

  /** Throws an {@linkcode IntegrityError} unless the bytes hashed match. */
  verify(url: string): void {
    const actual = this.#hash.digest(this.#expected.encoding);
    if (actual !== this.#expected.digest) {
      throw new IntegrityError(url, {
        algorithm: this.#expected.algorithm,
        expected: this.#expected.digest,
        actual,
      });
    }
  }
}
