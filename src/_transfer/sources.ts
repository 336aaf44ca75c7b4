// A file with several sources (mirrors): the download's first URL is its
// identity (names, messages, the sidecar, the record); requests go to one
// source at a time, in order. When a source fails (after its own retries:
// refused, a 5xx, a timeout, a broken body), the next goes on with what is
// on disk, and resumes it only where its validator proves it is the same
// file (`If-Range`: a 206); else it starts the file over, and only if its
// length is the one the file was first given: a source serving a file of
// another length serves another file, and is refused (`SourceMismatch`),
// never spliced in (a source that does not say its length is judged by the
// bytes it sends, and stopped once they pass it: `single_stream.ts`). With
// a digest, a source whose bytes do not match it fails too (`_job.ts`
// checks after each), and the next starts over; and since the digest, not
// the first length given, names the file, a source refused for its length
// is asked again, judged by its bytes, once every other has failed.
//
// Revalidating a file in place, a validator is the server's own that gave
// it: a 200 to `If-None-Match` says only "another version", and a mirror's
// may be older than the file (a stale mirror). So a whole answer is taken as
// the new version only from the source that vouched for the file or one
// listed before it (which a download would ask first); from a source after
// it, it is refused (`UnprovenVersion`) and the file kept, never replaced by
// bytes of unknown age. Its 304 still counts: it holds the file's version.

import { ProtocolError, RetriesExhaustedError } from "../errors.ts";
import type { Transfer } from "./strategy.ts";

/** A source serves a file of another length than the download's. */
export class SourceMismatch extends ProtocolError {
  /**
   * @param url The download's URL.
   * @param source The source that answered.
   * @param total The length it gave, or `undefined` for a body that went
   * on past `expected` bytes without saying its length.
   * @param expected The file's length, as the first source gave it.
   */
  constructor(
    url: string,
    source: string,
    total: number | undefined,
    expected: number,
  ) {
    super(
      `Cannot download "${url}": ${source} serves another file (${
        total === undefined ? `more than ${expected} bytes` : `${total} bytes`
      }, not ${expected})`,
    );
  }
}

/**
 * Revalidating, a source after the one that vouched for the file in place
 * answered with a whole version of its own: it cannot be told newer than
 * the file (see the module comment), so it is not taken.
 */
export class UnprovenVersion extends ProtocolError {
  /**
   * @param url The download's URL.
   * @param source The source that answered.
   */
  constructor(url: string, source: string) {
    super(
      `Cannot download "${url}": ${source} serves a version that cannot be told newer than the file in place (its validator is another server's), so the file is kept`,
    );
  }
}

/**
 * Runs `run` with each of `sources` in turn until one completes the file.
 * An error that `isFinal` says ends it (a cancel, a pause, a 304) ends it;
 * when every source failed, a single source's error is thrown as it is, and
 * several's as a {@linkcode RetriesExhaustedError} naming each source. With
 * a digest, a source refused for its length is asked again once every
 * other failed, with no length to match: the digest names the file, and the
 * source that gave the length may be the one serving another.
 */
export async function fromSources(
  transfer: Transfer,
  sources: readonly string[],
  isFinal: (error: unknown) => boolean,
  run: (transfer: Transfer) => Promise<void>,
): Promise<void> {
  // Each source's last error, in the sources' order.
  const errors = new Map<string, unknown>();
  const refused: string[] = [];
  let knownTotal: number | undefined;
  for (const source of sources) {
    try {
      return await run({ ...transfer, source, knownTotal });
    } catch (error) {
      if (isFinal(error) || sources.length === 1) throw error;
      errors.set(source, error);
      if (error instanceof SourceMismatch && transfer.integrity !== undefined) {
        refused.push(source);
      }
      // What the failed source said the file is, for the next to match.
      knownTotal ??= transfer.partial.total;
    }
  }
  for (const source of refused) {
    try {
      return await run({ ...transfer, source });
    } catch (error) {
      if (isFinal(error)) throw error;
      errors.set(source, error);
    }
  }
  throw new RetriesExhaustedError(transfer.url, [...errors.values()], {
    sources,
  });
}
