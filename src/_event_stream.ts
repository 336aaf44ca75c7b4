// The async iterator that `events()` of a download or a manager returns.

import {
  type DownloadEvent,
  type DownloadEventMap,
  DownloadStateEvent,
} from "./events.ts";
import { expectListeners } from "./_listeners.ts";

/** The names of a download's events. */
const EVENT_TYPES: readonly (keyof DownloadEventMap)[] = [
  "progress",
  "statechange",
  "retry",
  "hostwait",
  "hostwaitend",
  "done",
  "error",
];

/** Whether `event` is a download's last: its `statechange` to an end. */
export function endsDownload(event: DownloadEvent): boolean {
  return event instanceof DownloadStateEvent &&
    (event.state === "done" || event.state === "failed" ||
      event.state === "canceled");
}

/**
 * The events of `target`, in order, as an async iterator, until `last`
 * says an event was the last (or `signal` aborts, or the loop stops), or
 * `closed` aborts: no event will come, and those waiting are still taken
 * (a `signal` that aborts drops them).
 * Events wait in a queue for the loop; a `progress` event drops the one of
 * the same download still waiting, so a slow loop holds at most one per
 * download.
 */
export function eventStream(
  target: EventTarget,
  last: (event: DownloadEvent) => boolean,
  signal?: AbortSignal,
  closed?: AbortSignal,
): AsyncIterableIterator<DownloadEvent> {
  // Waiting events from `head` on; those in `dropped` are skipped. Each
  // download's progress still waiting, to drop when a newer one comes: no
  // event scans the queue (a manager's slow loop may have thousands
  // waiting).
  let queue: DownloadEvent[] = [];
  let head = 0;
  const dropped = new Set<DownloadEvent>();
  const progressOf = new Map<unknown, DownloadEvent>();
  let ended = false;
  let wake: (() => void) | undefined;
  const onEvent = (event: Event): void => {
    const downloadEvent = event as DownloadEvent;
    // The same download's progress still waiting is dropped: also behind
    // other events (a manager's downloads take turns), so the loop sees the
    // events in order, and each download's latest progress.
    if (event.type === "progress") {
      const stale = progressOf.get(downloadEvent.download);
      if (stale !== undefined) dropped.add(stale);
      progressOf.set(downloadEvent.download, downloadEvent);
    }
    queue.push(downloadEvent);
    if (last(downloadEvent)) stop();
    wake?.();
  };
  const clear = (): void => {
    queue = [];
    head = 0;
    dropped.clear();
    progressOf.clear();
  };
  /** The next waiting event not dropped, taken from the queue. */
  const shift = (): DownloadEvent | undefined => {
    while (head < queue.length) {
      const event = queue[head++] as DownloadEvent;
      // What was taken goes once it is most of the queue: a loop that
      // never catches up holds only what waits.
      if (head > 1024 && head * 2 > queue.length) {
        queue = queue.slice(head);
        head = 0;
      }
      if (dropped.delete(event)) continue;
      if (progressOf.get(event.download) === event) {
        progressOf.delete(event.download);
      }
      return event;
    }
    clear();
    return undefined;
  };
  const stop = (): void => {
    if (ended) return;
    ended = true;
    for (const type of EVENT_TYPES) {
      target.removeEventListener(type, onEvent);
    }
    expectListeners(target, -1);
    if (signal !== undefined) {
      signal.removeEventListener("abort", onAbort);
      expectListeners(signal, -1);
    }
    if (closed !== undefined) {
      closed.removeEventListener("abort", stop);
      expectListeners(closed, -1);
    }
    wake?.();
  };
  const onAbort = (): void => {
    clear();
    stop();
  };
  // Many loops may hear one target, or end by one signal: their listeners
  // are not the caller's leak.
  expectListeners(target, 1);
  for (const type of EVENT_TYPES) target.addEventListener(type, onEvent);
  // Before the signal's: a signal aborted already stops the stream, which
  // removes both.
  if (closed !== undefined) {
    expectListeners(closed, 1);
    closed.addEventListener("abort", stop, { once: true });
  }
  if (signal !== undefined) {
    expectListeners(signal, 1);
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) onAbort();
  }
  if (closed?.aborted) stop();
  const take = async (): Promise<IteratorResult<DownloadEvent>> => {
    let event = shift();
    while (event === undefined && !ended) {
      await new Promise<void>((resolve) => wake = resolve);
      wake = undefined;
      event = shift();
    }
    return event === undefined
      ? { done: true, value: undefined }
      : { done: false, value: event };
  };
  // Calls to `next()` made before the last settled (as an async generator
  // takes them) wait their turn: each gets the next event, in call order,
  // and only one at a time waits for an event.
  let turn: Promise<IteratorResult<DownloadEvent>> | undefined;
  const iterator: AsyncIterableIterator<DownloadEvent> = {
    next(): Promise<IteratorResult<DownloadEvent>> {
      turn = turn === undefined ? take() : turn.then(take);
      return turn;
    },
    return(): Promise<IteratorResult<DownloadEvent>> {
      clear();
      stop();
      return Promise.resolve({ done: true, value: undefined });
    },
    [Symbol.asyncIterator](): AsyncIterableIterator<DownloadEvent> {
      return iterator;
    },
  };
  return iterator;
}
