/**
 * {@linkcode DownloadEventTarget}: the `EventTarget` that a
 * {@linkcode Download} and a {@linkcode DownloadManager} are, whose
 * listeners cannot hurt the downloads they hear about.
 *
 * @module
 */

import type { DownloadEventMap } from "./events.ts";

/**
 * The options of `addEventListener`, as `EventTarget` takes them.
 *
 * @example Hear one event, then stop
 * ```ts
 * import { Download } from "@x/dlmanager";
 *
 * const download = new Download("https://example.com/a.zip", "a.zip");
 * download.addEventListener("done", () => console.log("done"), { once: true });
 * download.start();
 * ```
 */
export interface ListenerOptions {
  /** Listen in the capture phase (the same as without, for these events). */
  capture?: boolean;
  /** Remove the listener after its first call. */
  once?: boolean;
  /** Whether the listener never cancels the event. */
  passive?: boolean;
  /** Remove the listener when this aborts. */
  signal?: AbortSignal;
}

/**
 * A listener of the event `E`: a function, or an object with `handleEvent`.
 *
 * @example
 * ```ts
 * import {
 *   Download,
 *   type DownloadProgressEvent,
 *   type TypedListener,
 * } from "@x/dlmanager";
 *
 * const show: TypedListener<DownloadProgressEvent> = ({ current }) =>
 *   console.log(current);
 * const download = new Download("https://example.com/a.zip", "a.zip");
 * download.addEventListener("progress", show);
 * download.start();
 * ```
 */
export type TypedListener<E extends Event> =
  | ((event: E) => void)
  | { handleEvent(event: E): void };

// The types each target has had a listener of (never forgotten: a
// listener removed or run `once` only makes an event be made for no one).
const listened = new WeakMap<EventTarget, Set<string>>();

/**
 * Whether `target` has had a listener of `type`: an event no one could
 * hear need not be made (the library's own dispatch asks).
 */
export function listens(target: EventTarget, type: string): boolean {
  return listened.get(target)?.has(type) ?? false;
}

let endListeningOf: (target: DownloadEventTarget) => void;

/**
 * Tells `target` (a download) that it has dispatched its last event: its
 * listeners let go of their `signal`s, which would otherwise hold it (and
 * them) until they abort, and those added later watch none. A listener that
 * can never be called again need not be removed.
 */
export function endListening(target: DownloadEventTarget): void {
  endListeningOf(target);
}

/**
 * An `EventTarget` of download events (see {@linkcode DownloadEventMap}),
 * typed by event name, that contains what its listeners throw: the error is
 * logged with `console.error`, and the download goes on. (An error thrown by
 * a plain `EventTarget`'s listener is uncaught: it ends the process on Deno
 * and Node.) {@linkcode Download} and {@linkcode DownloadManager} are ones.
 *
 * @example Listen to a download's events
 * ```ts
 * import { Download } from "@x/dlmanager";
 *
 * const download = new Download("https://example.com/a.zip", "a.zip");
 * download.addEventListener("progress", ({ current, total }) => {
 *   console.log(current, total);
 * });
 * download.addEventListener("retry", ({ reason }) => console.warn(reason));
 * download.start();
 * ```
 */
export class DownloadEventTarget extends EventTarget {
  // Each listener's wrapper, by type and capture (as the platform keys them).
  // Made with the first listener: most downloads never have one.
  #wrappers:
    | WeakMap<TypedListener<Event>, Map<string, Wrapper>>
    | undefined;
  // The wrappers listening to their `signal`, and whether the target has
  // ended (see `endListening`): a listener added since watches none.
  #signalled: Set<Wrapper> | undefined;
  #ended = false;

  static {
    endListeningOf = (target) => {
      target.#ended = true;
      for (const wrapper of [...target.#signalled ?? []]) wrapper.letGo();
    };
  }

  /**
   * Adds a listener of one of the events of {@linkcode DownloadEventMap}.
   *
   * @param type The event's name.
   * @param listener The listener; what it throws is logged, not thrown.
   * @param options As `EventTarget`'s (`once`, `signal`, `capture`).
   */
  override addEventListener<K extends keyof DownloadEventMap>(
    type: K,
    listener: TypedListener<DownloadEventMap[K]> | null,
    options?: boolean | ListenerOptions,
  ): void;
  /**
   * Adds a listener, as `EventTarget` does; what it throws is logged.
   *
   * @param type The event's name.
   * @param listener The listener.
   * @param options As `EventTarget`'s.
   */
  override addEventListener(
    type: string,
    listener: TypedListener<Event> | null,
    options?: boolean | ListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: TypedListener<Event> | TypedListener<never> | null,
    options?: boolean | ListenerOptions,
  ): void {
    if (listener === null) return;
    // Not added, as the platform adds none: a wrapper kept for it would make
    // the same listener, added later without the signal, look added.
    if (typeof options === "object" && options.signal?.aborted) return;
    let types = listened.get(this);
    if (types === undefined) listened.set(this, types = new Set());
    types.add(type);
    const key = keyOf(type, options);
    const wrappers = this.#wrappers ??= new WeakMap();
    let byKey = wrappers.get(listener as TypedListener<Event>);
    if (byKey === undefined) {
      byKey = new Map();
      wrappers.set(listener as TypedListener<Event>, byKey);
    }
    const known = byKey.get(key);
    if (known !== undefined) return; // added already: the platform ignores it
    // The signal is the library's to watch, not the platform's: Deno's
    // listener on it holds the target until it aborts, and a download that
    // has ended lets go of it (see `endListening`). Until let go of.
    let signal = typeof options === "object" && !this.#ended
      ? options.signal
      : undefined;
    const wrapper: Wrapper = (event: Event): void => {
      if (typeof options === "object" && options.once) wrapper.forget();
      try {
        if (typeof listener === "function") {
          (listener as (event: Event) => void).call(this, event);
        } else {(listener as { handleEvent(event: Event): void }).handleEvent(
            event,
          );}
      } catch (error) {
        console.error(`dlmanager: a "${type}" listener threw:`, error);
      }
    };
    const onAbort = (): void =>
      this.removeEventListener(type, listener as TypedListener<Event>, {
        capture: key.startsWith("c"),
      });
    wrapper.letGo = () => {
      if (signal === undefined) return;
      signal.removeEventListener("abort", onAbort);
      this.#signalled?.delete(wrapper);
      signal = undefined;
    };
    // Forgets this wrapper only: the listener may have been removed and
    // added again (without the signal) since.
    wrapper.forget = () => {
      if (byKey.get(key) === wrapper) byKey.delete(key);
      wrapper.letGo();
    };
    byKey.set(key, wrapper);
    if (signal !== undefined) {
      (this.#signalled ??= new Set()).add(wrapper);
      signal.addEventListener("abort", onAbort, { once: true });
    }
    if (typeof options !== "object") {
      super.addEventListener(type, wrapper, options);
      return;
    }
    const { signal: _watched, ...platformOptions } = options;
    super.addEventListener(type, wrapper, platformOptions);
  }

  /**
   * Removes a listener added with the same type and `capture`.
   *
   * @param type The event's name.
   * @param listener The listener.
   * @param options As `EventTarget`'s (`capture`).
   */
  override removeEventListener<K extends keyof DownloadEventMap>(
    type: K,
    listener: TypedListener<DownloadEventMap[K]> | null,
    options?: boolean | EventListenerOptions,
  ): void;
  /**
   * Removes a listener, as `EventTarget` does.
   *
   * @param type The event's name.
   * @param listener The listener.
   * @param options As `EventTarget`'s.
   */
  override removeEventListener(
    type: string,
    listener: TypedListener<Event> | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: TypedListener<Event> | TypedListener<never> | null,
    options?: boolean | EventListenerOptions,
  ): void {
    if (listener === null) return;
    const key = keyOf(type, options);
    const byKey = this.#wrappers?.get(listener as TypedListener<Event>);
    const wrapper = byKey?.get(key);
    if (wrapper === undefined) return;
    wrapper.forget();
    super.removeEventListener(type, wrapper, options);
  }
}

/** What the platform calls for a listener, and how to forget it. */
interface Wrapper {
  (event: Event): void;
  /** Drops it from the listeners known, and its listener of the signal. */
  forget: () => void;
  /** Drops its listener of the signal only (its target has ended). */
  letGo: () => void;
}

function keyOf(
  type: string,
  options: boolean | EventListenerOptions | undefined,
): string {
  const capture = typeof options === "boolean"
    ? options
    : options?.capture ?? false;
  return `${capture ? "c" : "b"}:${type}`;
}
