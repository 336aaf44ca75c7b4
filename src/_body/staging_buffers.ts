// The staging buffers that bodies are read into (`ChunkedWriter`), given
// back once a body has ended for the next one to reuse while downloads run:
// a new buffer for each small file is memory the runtime allocates and
// zeroes outside the heap, and over a run of many small files it also sets
// off collections of the whole heap. Sizes are rounded up to one of four
// steps between powers of two (at most a quarter more), so that files of
// about the same size share buffers. At most 64 buffers and 8 MiB are kept;
// once no job runs in the process, only weakly (see `shareBuffers`), so that
// a process that stops downloading keeps none past its next collection.

/** The smallest buffer made: smaller bodies share buffers of this size. */
const SMALLEST = 4096;

/** The most bytes of buffers kept: 8 MiB. */
const MOST_KEPT_BYTES = 8 * 1024 * 1024;

/** The most buffers kept (each take looks through them). */
const MOST_KEPT = 64;

/** The buffers kept, the last one given back last. */
let kept: ArrayBuffer[] = [];
let keptBytes = 0;

/** The buffers kept when the last job ended, until the next starts. */
let idle: WeakRef<ArrayBuffer>[] = [];

/** How many jobs run (see {@linkcode shareBuffers}). */
let sharing = 0;

/**
 * A job starts: until it ends ({@linkcode stopSharingBuffers}), the buffers
 * bodies give back are kept for the next bodies, and those kept weakly while
 * no job ran are kept again if no collection freed them.
 */
export function shareBuffers(): void {
  if (sharing++ > 0) return;
  for (const ref of idle) {
    const buffer = ref.deref();
    if (buffer !== undefined && buffer.byteLength > 0) {
      kept.push(buffer);
      keptBytes += buffer.byteLength;
    }
  }
  idle = [];
}

/**
 * A job has ended: when it was the last, the buffers kept are kept only
 * weakly, for a job that starts before a collection frees them (the next
 * download of a queue starts once the one before has ended).
 */
export function stopSharingBuffers(): void {
  if (--sharing > 0) return;
  idle = kept.map((buffer) => new WeakRef(buffer));
  kept = [];
  keptBytes = 0;
}

/**
 * A buffer for at least `bytes` bytes, and at most `most`: `bytes` rounded
 * up to a size buffers are kept in (4 KiB or more), or `most` if that is
 * less. Its bytes are not zeroed: they may be another body's.
 */
export function stagingBuffer(bytes: number, most: number): Uint8Array {
  let size = SMALLEST;
  if (bytes > SMALLEST) {
    let power = SMALLEST;
    while (power < bytes) power *= 2;
    const step = power / 8;
    size = Math.ceil(bytes / step) * step;
  }
  return reusedBuffer(Math.min(size, most));
}

/**
 * A buffer of exactly `size` bytes, one kept if there is one, else new. Its
 * bytes are not zeroed.
 */
export function reusedBuffer(size: number): Uint8Array {
  // The last one given back first: the likeliest to be of this size.
  for (let index = kept.length - 1; index >= 0; index--) {
    const buffer = kept[index] as ArrayBuffer;
    if (buffer.byteLength !== size) continue;
    kept.splice(index, 1);
    keptBytes -= size;
    return new Uint8Array(buffer);
  }
  return new Uint8Array(size);
}

/**
 * Keeps `buffer` for a later {@linkcode stagingBuffer} or
 * {@linkcode reusedBuffer} while jobs run, dropping the ones kept longest
 * beyond 64 buffers or 8 MiB. Nothing may read or write it any more.
 */
export function keepBuffer(buffer: ArrayBuffer): void {
  const size = buffer.byteLength;
  // Detached (transferred), or none to keep it for.
  if (size === 0 || sharing === 0 || size > MOST_KEPT_BYTES) return;
  kept.push(buffer);
  keptBytes += size;
  while (keptBytes > MOST_KEPT_BYTES || kept.length > MOST_KEPT) {
    keptBytes -= (kept.shift() as ArrayBuffer).byteLength;
  }
}
