import assert from "node:assert/strict";
import { test } from "node:test";
import { deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { brotliCompressSync } from "node:zlib";
import { decoder } from "../../src/_body/decoders.ts";

const CODINGS = {
  gzip: gzipSync,
  "x-gzip": gzipSync,
  deflate: deflateSync,
  br: brotliCompressSync,
} as const;

/**
 * Feeds `encoded` to a new decoder of `encoding` in one write, then reads
 * it to its end, one chunk per turn of the loop; returns how many bytes it
 * decoded and the most it ever held unread.
 */
async function drain(
  encoding: string,
  encoded: Uint8Array,
): Promise<{ decoded: number; mostHeld: number }> {
  const stream = decoder(encoding);
  stream.end(encoded);
  let decoded = 0;
  let mostHeld = 0;
  for await (const chunk of stream) {
    decoded += (chunk as Uint8Array).byteLength;
    mostHeld = Math.max(mostHeld, stream.readableLength);
  }
  return { decoded, mostHeld };
}

test("decoder() decodes each coding when the body is one write", async () => {
  const plain = new TextEncoder().encode("dlmanager ".repeat(10_000));
  for (const [encoding, compress] of Object.entries(CODINGS)) {
    const { decoded } = await drain(encoding, compress(plain));
    assert.equal(decoded, plain.byteLength, encoding);
  }
  const { decoded } = await drain("deflate", deflateRawSync(plain));
  assert.equal(decoded, plain.byteLength, "raw deflate");
});

test("decoder() decodes an empty body to nothing, whatever the coding", async () => {
  for (const encoding of Object.keys(CODINGS)) {
    assert.deepEqual(
      await drain(encoding, new Uint8Array(0)),
      { decoded: 0, mostHeld: 0 },
      encoding,
    );
  }
});

test("decoder() holds little unread when a small body decodes to much (a bomb)", async () => {
  // 16 MiB of zeros in about 16 KiB: one write. A decoder that decodes
  // ahead of its reader holds all of it.
  const zeros = new Uint8Array(16 * 1024 * 1024);
  for (const [encoding, compress] of Object.entries(CODINGS)) {
    const { decoded, mostHeld } = await drain(encoding, compress(zeros));
    assert.equal(decoded, zeros.byteLength, encoding);
    assert.ok(mostHeld <= 1024 * 1024, `${encoding}: held ${mostHeld} bytes`);
  }
});

test("decoder() throws a RangeError when the coding has no decoder", () => {
  assert.throws(() => decoder("zstd"), {
    name: "RangeError",
    message: 'No decoder of "zstd"',
  });
});
