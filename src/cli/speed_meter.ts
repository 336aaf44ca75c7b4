/**
 * A download's recent speed, for its live row and progress lines: the bytes
 * it has on disk, sampled at each progress event, over the last few seconds.
 *
 * @module
 */

/** How far back the speed looks, in milliseconds. */
export const SPEED_WINDOW = 3000;

/** The shortest span a speed is measured over, in milliseconds. */
const LEAST_SPAN = 200;

/**
 * Recent `(time, bytes)` samples of one download, and the speed they make.
 *
 * @example
 * ```ts ignore
 * const meter = new SpeedMeter();
 * meter.add(0, 0);
 * meter.add(1000, 2048);
 * meter.speed(); // 2048
 * ```
 */
export class SpeedMeter {
  #samples: [number, number][] = [];

  /**
   * Records that the download had `bytes` at `time`. Fewer bytes than the
   * last sample's: the download started over (the server could not resume),
   * and the speed is measured anew from here.
   *
   * @param time Milliseconds (`Date.now()`).
   * @param bytes The bytes on disk then.
   */
  add(time: number, bytes: number): void {
    const samples = this.#samples;
    if (bytes < (samples.at(-1)?.[1] ?? 0)) samples.length = 0;
    samples.push([time, bytes]);
    while (
      samples.length > 2 && time - (samples[1]?.[0] ?? time) > SPEED_WINDOW
    ) {
      samples.shift();
    }
  }

  /**
   * Bytes per second over the samples kept; `undefined` until they span
   * 200 ms.
   */
  speed(): number | undefined {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (
      first === undefined || last === undefined ||
      last[0] - first[0] < LEAST_SPAN
    ) {
      return undefined;
    }
    return 1000 * (last[1] - first[1]) / (last[0] - first[0]);
  }
}
