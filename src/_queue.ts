/**
 * A manager's queue: at most `concurrency` downloads run at once, the others
 * wait, first in, first out.
 *
 * @module
 */

import { dequeue, type Download, enqueue } from "./download.ts";

/** The downloads a manager runs, and those waiting for a slot. */
export class DownloadQueue {
  #concurrency: number;
  #running = new Set<Download>();
  #waiting: Download[] = [];

  /** A queue running at most `concurrency` downloads at once. */
  constructor(concurrency: number) {
    this.#concurrency = concurrency;
  }

  /**
   * Starts `download` if a slot is free and the manager is not `paused`;
   * else queues it (state `"queued"`).
   */
  add(download: Download, paused: boolean): void {
    if (this.#running.size < this.#concurrency && !paused) {
      this.#running.add(download);
      dequeue(download);
    } else {
      enqueue(download);
      this.#waiting.push(download);
    }
  }

  /** Frees the slot of `download`, which has ended, for the next. */
  ended(download: Download): void {
    // A queued download canceled before it started held no slot.
    if (this.#running.delete(download)) this.startNext();
  }

  /**
   * Starts queued downloads, first in first out, while slots are free; a
   * paused one keeps its place.
   */
  startNext(): void {
    for (
      let i = 0;
      i < this.#waiting.length && this.#running.size < this.#concurrency;
    ) {
      const next = this.#waiting[i] as Download;
      if (next.state === "paused") {
        i++;
        continue;
      }
      this.#waiting.splice(i, 1);
      if (next.state !== "queued") continue; // canceled while it waited
      this.#running.add(next);
      dequeue(next);
    }
  }
}
