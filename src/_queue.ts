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
  // Never started: first in, first out. Sets, in the order added: one
  // leaves from anywhere (canceled, withdrawn) at no cost, where an array's
  // splice would move every one behind it (a queue of 50,000 canceled took
  // seconds).
  #waiting = new Set<Download>();
  // Started, paused, resumed: waiting for a slot, served before `#waiting`.
  #resumed = new Set<Download>();

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
      this.#waiting.add(download);
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
    this.#waiting.delete(download);
  }

  /** How many downloads wait for a slot, having never started. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /**
   * `download`, resumed after a pause, goes on at once if it kept its slot
   * (its transfer had not stopped yet) or one is free; else it waits for
   * one, served before those that never started.
   */
  request(download: Download): void {
    if (this.#running.has(download)) return proceed(download);
    this.#resumed.add(download);
    this.startNext();
  }

  /** `download`, waiting after a resume, was paused or canceled again. */
  withdraw(download: Download): void {
    this.#resumed.delete(download);
  }

  /**
   * Gives the free slots out: first to the downloads resumed after a pause,
   * in the order resumed; then to those that never started, first in first
   * out, where a paused one keeps its place.
   */
  startNext(): void {
    for (const next of this.#resumed) {
      if (this.#running.size >= this.#concurrency) return;
      this.#resumed.delete(next);
      this.#running.add(next);
      proceed(next);
    }
    for (const next of this.#waiting) {
      if (this.#running.size >= this.#concurrency) return;
      if (next.state === "paused") continue;
      this.#waiting.delete(next);
      if (next.state !== "queued") continue; // canceled while it waited
      this.#running.add(next);
      dequeue(next);
    }
  }
}
