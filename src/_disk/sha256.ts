// SHA-256 (FIPS 180-4) of a short text, synchronously: what names a partial
// download's files (see `names.ts`). Deno offers no synchronous digest of its
// own (`crypto.subtle` answers with a promise), and loading its `node:crypto`
// for this one hash cost every start-up about 25 ms, more than the rest of
// the library. The digests of files (`integrity.ts`) are the runtime's own.

/** The first 32 bits of the fractional parts of the roots of the primes. */
function rootFractions(count: number, root: number): Int32Array {
  const words = new Int32Array(count);
  let found = 0;
  for (let candidate = 2; found < count; candidate++) {
    let prime = true;
    for (let factor = 2; factor * factor <= candidate; factor++) {
      if (candidate % factor === 0) {
        prime = false;
        break;
      }
    }
    if (!prime) continue;
    const value = candidate ** (1 / root);
    words[found++] = (value - Math.floor(value)) * 0x1_0000_0000;
  }
  return words;
}

// Square roots of the first 8 primes, cube roots of the first 64: exact in
// a double's 52 bits of fraction, which the tests check against known digests.
const INITIAL = rootFractions(8, 2);
const ROUND = rootFractions(64, 3);

/** The message schedule, one block's at a time. */
const schedule = new Int32Array(64);
/** The message and its padding; grown for a longer one. */
let message = new Uint8Array(128);
const encoder = new TextEncoder();
/** Each byte's two hex digits. */
const HEX = Array.from(
  { length: 256 },
  (_, byte) => byte.toString(16).padStart(2, "0"),
);

/**
 * The SHA-256 digest of `text`'s UTF-8 bytes, as 64 lowercase hex digits.
 * Each download makes one, most of a short run's before V8 compiles this
 * function: interpreted, a call per rotation (`(w >>> n) | (w << 32 - n)`,
 * ten per round) cost a third of each digest, so they are written out.
 */
export function sha256Hex(text: string): string {
  // At most 3 bytes a UTF-16 unit, then a 1 bit, zeros, and the length in
  // bits as 64 bits: whole blocks of 64 bytes.
  const room = Math.ceil((text.length * 3 + 9) / 64) * 64;
  if (message.byteLength < room) message = new Uint8Array(room);
  const length = encoder.encodeInto(text, message).written;
  const end = Math.ceil((length + 9) / 64) * 64;
  message.fill(0, length, end);
  message[length] = 0x80;
  const bits = length * 8;
  const high = Math.floor(bits / 0x1_0000_0000);
  for (let i = 0; i < 4; i++) {
    message[end - 8 + i] = high >>> (24 - 8 * i);
    message[end - 4 + i] = bits >>> (24 - 8 * i);
  }

  const hash = INITIAL.slice();
  for (let block = 0; block < end; block += 64) {
    for (let i = 0; i < 16; i++) {
      const at = block + i * 4;
      schedule[i] = ((message[at] as number) << 24) |
        ((message[at + 1] as number) << 16) |
        ((message[at + 2] as number) << 8) | (message[at + 3] as number);
    }
    for (let i = 16; i < 64; i++) {
      const early = schedule[i - 15] as number;
      const late = schedule[i - 2] as number;
      const sigma0 = ((early >>> 7) | (early << 25)) ^
        ((early >>> 18) | (early << 14)) ^ (early >>> 3);
      const sigma1 = ((late >>> 17) | (late << 15)) ^
        ((late >>> 19) | (late << 13)) ^ (late >>> 10);
      schedule[i] = (schedule[i - 16] as number) + sigma0 +
        (schedule[i - 7] as number) + sigma1;
    }
    let a = hash[0] as number;
    let b = hash[1] as number;
    let c = hash[2] as number;
    let d = hash[3] as number;
    let e = hash[4] as number;
    let f = hash[5] as number;
    let g = hash[6] as number;
    let h = hash[7] as number;
    for (let i = 0; i < 64; i++) {
      const sum1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^
        ((e >>> 25) | (e << 7));
      const choice = (e & f) ^ (~e & g);
      const t1 = (h + sum1 + choice + (ROUND[i] as number) +
        (schedule[i] as number)) | 0;
      const sum0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^
        ((a >>> 22) | (a << 10));
      const majority = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (sum0 + majority) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    hash[0] = (hash[0] as number) + a;
    hash[1] = (hash[1] as number) + b;
    hash[2] = (hash[2] as number) + c;
    hash[3] = (hash[3] as number) + d;
    hash[4] = (hash[4] as number) + e;
    hash[5] = (hash[5] as number) + f;
    hash[6] = (hash[6] as number) + g;
    hash[7] = (hash[7] as number) + h;
  }
  let hex = "";
  for (const word of hash) {
    hex += (HEX[word >>> 24] as string) +
      (HEX[(word >>> 16) & 0xff] as string) +
      (HEX[(word >>> 8) & 0xff] as string) + (HEX[word & 0xff] as string);
  }
  return hex;
}
