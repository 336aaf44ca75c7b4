// The temp file a download writes before it is renamed onto its destination:
// a dotfile beside the destination (same directory, so the rename is atomic),
// created exclusively so that it never overwrites anything.

import { basename, dirname, join } from "node:path";
import { AlreadyExistsError, type FileWriter, fs } from "./_fs.ts";

/** The suffix of every temp file, so that leftovers are recognisable. */
export const TEMP_SUFFIX = ".dlpart";

const NAME_PREFIX_CHARS = 64;
const ATTEMPTS = 8;

function randomHex(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(
    "",
  );
}

/** A created temp file, open for writing. */
export interface TempFile {
  /** Where it is. */
  path: string;
  /** Its open handle. */
  file: FileWriter;
}

/**
 * Creates a new, empty temp file for `dest`: `.<name>.<random>.dlpart` in the
 * directory of `dest` (the name cut to 64 characters).
 */
export async function createTempFile(dest: string): Promise<TempFile> {
  const prefix = Array.from(basename(dest)).slice(0, NAME_PREFIX_CHARS).join(
    "",
  );
  for (let attempt = 1;; attempt++) {
    const path = join(dirname(dest), `.${prefix}.${randomHex()}${TEMP_SUFFIX}`);
    try {
      return { path, file: await fs.createNew(path) };
    } catch (error) {
      if (!(error instanceof AlreadyExistsError) || attempt === ATTEMPTS) {
        throw error;
      }
    }
  }
}
