// The map of a segmented download: which bytes of the file are on disk,
// which a connection is fetching, and which nobody has claimed. A connection
// claims a piece (a range it alone writes), writes it from its start, and
// records each write that has landed; when no piece is free, a connection
// takes the far half of the largest piece still being fetched (work
// stealing): that piece's owner then stops at the new end. A byte is only
// ever written by the connection whose piece holds it.

/** A range of the file one connection fetches: bytes `[start, end)`. */
export interface Piece {
  /** The first byte. */
  readonly start: number;
  /** One past the last byte; lowered when another connection steals the rest. */
  end: number;
  /** Bytes written from `start`, landed on disk. */
  written: number;
}

/** A range `[start, end)` of bytes. */
export type Range = [start: number, end: number];

/** Merges `ranges` into sorted, disjoint, non-empty ranges. */
export function mergeRanges(ranges: Iterable<Range>): Range[] {
  const sorted = [...ranges].filter(([start, end]) => end > start)
    .sort((a, b) => a[0] - b[0]);
  const merged: Range[] = [];
  for (const [start, end] of sorted) {
    const last = merged.at(-1);
    if (last !== undefined && start <= last[1]) {
      last[1] = Math.max(last[1], end);
    } else merged.push([start, end]);
  }
  return merged;
}

/** The map of a file of `total` bytes, some of which are on disk already. */
export class Pieces {
  readonly total: number;
  #done: Range[];
  #free: Range[];
  #active = new Set<Piece>();

  /**
   * @param total The file's length.
   * @param done Ranges already on disk (from a resumed partial file).
   */
  constructor(total: number, done: Range[] = []) {
    this.total = total;
    this.#done = mergeRanges(
      done.map(([s, e]): Range => [Math.max(0, s), Math.min(total, e)]),
    );
    this.#free = [];
    let at = 0;
    for (const [start, end] of this.#done) {
      if (start > at) this.#free.push([at, start]);
      at = end;
    }
    if (at < total) this.#free.push([at, total]);
  }

  /** Whether every byte is on disk. */
  get complete(): boolean {
    return this.#free.length === 0 && this.#active.size === 0;
  }

  /** Bytes on disk: ranges done and what active pieces have written. */
  get bytesDone(): number {
    let bytes = 0;
    for (const [start, end] of this.#done) bytes += end - start;
    for (const piece of this.#active) bytes += piece.written;
    return bytes;
  }

  /** The pieces being fetched now. */
  get active(): readonly Piece[] {
    return [...this.#active];
  }

  /** Ranges on disk, merged: what a sidecar records. */
  doneRanges(): Range[] {
    return mergeRanges([
      ...this.#done,
      ...[...this.#active].map((p): Range => [p.start, p.start + p.written]),
    ]);
  }

  /**
   * Claims a piece: the first free range, at most `maxSize` long (longer
   * by what it would leave of the range if that is less than `minSize`);
   * else the far half of the largest active piece's remaining bytes, if that
   * half is at least `minSize` (the owner stops at its new end). `undefined`
   * if there is nothing worth a connection.
   */
  claim(maxSize: number, minSize: number): Piece | undefined {
    const free = this.#free[0];
    if (free !== undefined) {
      const [start, end] = free;
      let cut = Math.min(end, start + Math.max(1, maxSize));
      // A rest too small to be worth a connection goes with this piece.
      if (end - cut < minSize) cut = end;
      if (cut === end) this.#free.shift();
      else free[0] = cut;
      return this.#activate({ start, end: cut, written: 0 });
    }
    let largest: Piece | undefined;
    for (const piece of this.#active) {
      const left = piece.end - piece.start - piece.written;
      if (
        largest === undefined ||
        left > largest.end - largest.start - largest.written
      ) {
        largest = piece;
      }
    }
    if (largest === undefined) return undefined;
    const from = largest.start + largest.written;
    const half = Math.floor((largest.end - from) / 2);
    if (half < minSize) return undefined;
    const stolen = { start: largest.end - half, end: largest.end, written: 0 };
    largest.end = stolen.start;
    return this.#activate(stolen);
  }

  /** Records `bytes` more written (landed) at the end of `piece`'s written part. */
  wrote(piece: Piece, bytes: number): void {
    piece.written += bytes;
    if (piece.start + piece.written > piece.end) {
      throw new RangeError(
        `A write passed the end of its piece [${piece.start}, ${piece.end})`,
      );
    }
  }

  /**
   * Ends `piece`: what it wrote is done; the rest (if it stopped early) is
   * free again, for another connection to claim.
   */
  release(piece: Piece): void {
    if (!this.#active.delete(piece)) return;
    const written: Range = [piece.start, piece.start + piece.written];
    this.#done = mergeRanges([...this.#done, written]);
    if (written[1] < piece.end) {
      this.#free = mergeRanges([...this.#free, [written[1], piece.end]]);
    }
  }

  #activate(piece: Piece): Piece {
    this.#active.add(piece);
    return piece;
  }
}
