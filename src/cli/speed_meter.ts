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
 * ```ts
 * const meter = new SpeedMeter();
 * meter.add(0, 0);
 * meter.add(1000, 2048);
 * meter.speed(1000); // 2048
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
   * Bytes per second over the last {@linkcode SPEED_WINDOW} ms up to `now`
   * (over the samples kept, if younger): a download that has stalled slows
   * down to 0, instead of showing the speed it last had. `undefined` until
   * 200 ms after the first sample.
   *
   * @param now Milliseconds (`Date.now()`), not before the last sample.
   */
  speed(now: number): number | undefined {
    const samples = this.#samples;
    const last = samples.at(-1);
    // The newest sample at least the window old, else the oldest kept.
    let base = samples[0];
    for (const sample of samples) {
      if (sample[0] > now - SPEED_WINDOW) break;
      base = sample;
    }
    if (base === undefined || last === undefined) return undefined;
    // Bytes count from the sample that saw them: an older base had its
    // bytes still when the window began.
    const span = now - Math.max(base[0], now - SPEED_WINDOW);
    return span < LEAST_SPAN ? undefined : 1000 * (last[1] - base[1]) / span;
  }
}
