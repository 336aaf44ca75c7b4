// Giving up on a crawling body (`minSpeed` over `minSpeedWindow`): a timer
// samples the bytes received, and when those of the last window came slower
// than the minimum, the connection is given up, to be retried as after an
// idle timeout. Time spent held back by a bandwidth limit is not counted: a
// download slowed down on purpose is not a slow server.
//
// `minSpeed` is the download's. On several connections (`SpeedGroup`) it is
// judged on their sum: a connection is given up only when the download as a
// whole came slower than the minimum over the window, and this connection
// brought less than its share of it (the minimum over the connections). Four
// connections at 100 KB/s each meet a 200 KB/s minimum, as one at 400 KB/s
// would; a crawling connection among fast ones is left alone while the
// download keeps its pace, and given up once it holds the download back.
//
// Nor is time this process did not run: a sample whose timer fires a
// sampling period or more after it was due tells of a process stopped
// (SIGSTOP, a laptop's sleep, a paused machine) or starved, which could read
// no byte meanwhile, whatever the server sent. The stretch from when the
// sample was due counts as held back.
//
// Time is `clock`'s (`_clock.ts`), samples are taken on its timers.

import { clock, type TimerHandle } from "../_clock.ts";

/** How many samples a window is measured with. */
const SAMPLES = 5;

interface Sample {
  time: number;
  bytes: number;
  held: number;
}

/**
 * The bytes received over time, and the time held back by a bandwidth limit
 * (not counted): of one connection, or of a download's connections together.
 */
export class SpeedMeter {
  #window: number;
  #bytes = 0;
  #held = 0;
  // How many of the connections counted here are held back now; time is
  // held while any is (a download's limit holds them all back in turn).
  #holding = 0;
  #holdingSince = 0;
  // The end of the last stretch marked absent (see `absent()`).
  #absentUntil = -Infinity;
  #samples: Sample[] = [];

  /** @param window The milliseconds over which the speed is measured. */
  constructor(window: number) {
    this.#window = window;
    this.#samples.push(this.#sample());
  }

  /** Counts `bytes` received. */
  received(bytes: number): void {
    this.#bytes += bytes;
  }

  /**
   * Marks the start of a wait imposed by a bandwidth limit: until as many
   * {@linkcode SpeedMeter.released}, time is not counted, even by a
   * measure taken during the wait (a read held back for longer than the
   * window must not make the window look slow).
   */
  held(): void {
    if (this.#holding++ === 0) this.#holdingSince = clock.now();
  }

  /** Marks the end of a wait that {@linkcode SpeedMeter.held} marked. */
  released(): void {
    if (this.#holding === 0) return;
    if (--this.#holding === 0) {
      this.#held += clock.now() - this.#holdingSince;
    }
  }

  /**
   * Marks the time from `since` to now as time this process did not run
   * (not counted, as a hold is): a stretch that another connection of the
   * group marked already counts once, and one held back already is not
   * counted twice.
   */
  absent(since: number): void {
    const now = clock.now();
    const from = Math.max(since, this.#absentUntil);
    if (now > from && this.#holding === 0) this.#held += now - from;
    this.#absentUntil = Math.max(this.#absentUntil, now);
  }

  /**
   * Takes a sample: returns the bytes per second of the last window, or
   * `undefined` if no window is over yet, or if it was held back for much of
   * it (nothing to judge the server by).
   */
  measure(): number | undefined {
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
    if (elapsed < this.#window) return undefined;
    const counted = elapsed - (now.held - then.held);
    if (counted < this.#window / 2) return undefined;
    return (now.bytes - then.bytes) * 1000 / counted;
  }

  #sample(): Sample {
    const time = clock.now();
    const holding = this.#holding === 0 ? 0 : time - this.#holdingSince;
    return { time, bytes: this.#bytes, held: this.#held + holding };
  }
}

/** The connections of one download, judged together (see the module comment). */
export interface SpeedGroup {
  /** Their bytes, together. */
  readonly meter: SpeedMeter;
  /** How many connections share the minimum now. */
  readonly connections: () => number;
}

/** The speed watch of one connection's body. */
export class SpeedCheck {
  #minSpeed: number;
  #onSlow: (speed: number) => void;
  #meter: SpeedMeter;
  #group: SpeedGroup | undefined;
  #period: number;
  #timer: TimerHandle | undefined;
  /** When the next sample is due (`clock.now()` time). */
  #due = 0;

  /**
   * Starts watching (call once the body starts coming).
   *
   * @param minSpeed The least bytes per second.
   * @param window The milliseconds over which the speed is measured.
   * @param onSlow Called once, with the speed measured (the download's, in
   * a group), when it is less.
   * @param group The download's connections, if it has several.
   */
  constructor(
    minSpeed: number,
    window: number,
    onSlow: (speed: number) => void,
    group?: SpeedGroup,
  ) {
    this.#minSpeed = minSpeed;
    this.#onSlow = onSlow;
    this.#meter = new SpeedMeter(window);
    this.#group = group;
    this.#period = window / SAMPLES;
    this.#arm();
  }

  /** Counts `bytes` received. */
  received(bytes: number): void {
    this.#meter.received(bytes);
    this.#group?.meter.received(bytes);
  }

  /** See {@linkcode SpeedMeter.held}. */
  held(): void {
    this.#meter.held();
    this.#group?.meter.held();
  }

  /** See {@linkcode SpeedMeter.released}. */
  released(): void {
    this.#meter.released();
    this.#group?.meter.released();
  }

  /** Stops the watch. */
  stop(): void {
    clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  // A sample every period, each timer set by the one before (as an
  // interval would, on any clock); one a period late or more tells of a
  // stretch this process did not run (see the module comment).
  #arm(): void {
    this.#due = clock.now() + this.#period;
    this.#timer = clock.setTimeout(() => {
      const due = this.#due;
      if (clock.now() - due >= this.#period) {
        this.#meter.absent(due);
        this.#group?.meter.absent(due);
      }
      this.#arm();
      this.#check();
    }, this.#period);
  }

  #check(): void {
    const speed = this.#meter.measure();
    if (speed === undefined) return;
    const group = this.#group;
    if (group === undefined) {
      if (speed < this.#minSpeed) this.#slow(speed);
      return;
    }
    const total = group.meter.measure();
    if (total === undefined || total >= this.#minSpeed) return;
    if (speed < this.#minSpeed / Math.max(1, group.connections())) {
      this.#slow(total);
    }
  }

  #slow(speed: number): void {
    this.stop();
    this.#onSlow(speed);
  }
}
