/**
 * A manager's queue: at most `concurrency` downloads run at once, the others
 * wait, first in, first out. A paused download gives its slot up once its
 * transfer has stopped; resumed, it goes on at once if a slot is free, else
 * it waits for one, ahead of the downloads that never started.
 *
 * @module
 */

import { dequeue, type Download, enqueue, proceed } from "./download.ts";
import type { Slots } from "./_membership.ts";

/** The downloads a manager runs, and those waiting for a slot. */
export class DownloadQueue implements Slots {
  #concurrency: number;
  #running = new Set<Download>();
  // Never started: first in, first out.
  #waiting: Download[] = [];
  // Started, paused, resumed: waiting for a slot, served before `#waiting`.
  #resumed: Download[] = [];

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

  /**
   * Frees the slot of `download`, which has ended, or is paused and has
   * stopped, for the next.
   */
  release(download: Download): void {
    if (this.#running.delete(download)) {
      this.startNext();
      return;
    }
    // A queued download canceled before it started held no slot, nor does
    // a paused one that gave its slot up already. One canceled in the queue
    // leaves it now, not when a slot frees: while the slots stay busy (a
    // big file), a program that queues and cancels would keep every one.
    if (download.state !== "canceled") return;
    const at = this.#waiting.indexOf(download);
    if (at !== -1) this.#waiting.splice(at, 1);
  }

  /** How many downloads wait for a slot, having never started. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * `download`, resumed after a pause, goes on at once if it kept its slot
   * (its transfer had not stopped yet) or one is free; else it waits for
   * one, served before those that never started.
   */
  request(download: Download): void {
    if (this.#running.has(download)) return proceed(download);
    this.#resumed.push(download);
    this.startNext();
  }

  /** `download`, waiting after a resume, was paused or canceled again. */
  withdraw(download: Download): void {
    const at = this.#resumed.indexOf(download);
    if (at !== -1) this.#resumed.splice(at, 1);
  }

  /**
   * Gives the free slots out: first to the downloads resumed after a pause,
   * in the order resumed; then to those that never started, first in first
   * out, where a paused one keeps its place.
   */
  startNext(): void {
    while (
      this.#running.size < this.#concurrency && this.#resumed.length > 0
    ) {
      const next = this.#resumed.shift() as Download;
      this.#running.add(next);
      proceed(next);
    }
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
