// Giving up on a crawling body (`minSpeed` over `minSpeedWindow`): a timer
// samples the bytes received, and when those of the last window came slower
// than the minimum, the connection is given up, to be retried as after an
// idle timeout. Time spent held back by a bandwidth limit is not counted: a
// download slowed down on purpose is not a slow server.

/** How many samples a window is measured with. */
const SAMPLES = 5;

interface Sample {
  time: number;
  bytes: number;
  held: number;
}

/** The speed watch of one connection's body. */
export class SpeedCheck {
  #minSpeed: number;
  #window: number;
  #onSlow: (speed: number) => void;
  #bytes = 0;
  #held = 0;
  #holdingSince: number | undefined;
  #samples: Sample[] = [];
  #timer: ReturnType<typeof setInterval>;

  /**
   * Starts watching (call once the body starts coming).
   *
   * @param minSpeed The least bytes per second.
   * @param window The milliseconds over which the speed is measured.
   * @param onSlow Called once, with the speed measured, when it is less.
   */
  constructor(
    minSpeed: number,
    window: number,
    onSlow: (speed: number) => void,
  ) {
    this.#minSpeed = minSpeed;
    this.#window = window;
    this.#onSlow = onSlow;
    this.#samples.push(this.#sample());
    this.#timer = setInterval(() => this.#check(), window / SAMPLES);
  }

  /** Counts `bytes` received. */
  received(bytes: number): void {
    this.#bytes += bytes;
  }

  /**
   * Marks the start of a wait imposed by a bandwidth limit: until
   * {@linkcode SpeedCheck.released}, time is not counted, even by a check
   * made during the wait (a read held back for longer than the window must
   * not make the window look slow).
   */
  held(): void {
    this.#holdingSince ??= performance.now();
  }

  /** Marks the end of a wait that {@linkcode SpeedCheck.held} marked. */
  released(): void {
    if (this.#holdingSince === undefined) return;
    this.#held += performance.now() - this.#holdingSince;
    this.#holdingSince = undefined;
  }

  /** Stops the watch. */
  stop(): void {
    clearInterval(this.#timer);
  }

  #sample(): Sample {
    const time = performance.now();
    const holding = this.#holdingSince === undefined
      ? 0
      : time - this.#holdingSince;
    return { time, bytes: this.#bytes, held: this.#held + holding };
  }

  #check(): void {
    const now = this.#sample();
    this.#samples.push(now);
    // The oldest sample of the last window.
    while (
      this.#samples.length > 2 &&
      now.time - (this.#samples[1] as Sample).time >= this.#window
    ) {
      this.#samples.shift();
    }
    const then = this.#samples[0] as Sample;
    const elapsed = now.time - then.time;
    if (elapsed < this.#window) return;
    // Held back for much of it: nothing to judge the server by.
    const counted = elapsed - (now.held - then.held);
    if (counted < this.#window / 2) return;
    const speed = (now.bytes - then.bytes) * 1000 / counted;
    if (speed < this.#minSpeed) {
      this.stop();
      this.#onSlow(speed);
    }
  }
}
