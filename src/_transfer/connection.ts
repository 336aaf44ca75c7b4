// One request's scope, for every strategy: an abort controller that a cancel
// of the download (and a strategy's own `stop`) aborts with its reason, and
// one watchdog for its timeouts, on the connect limit until the answer, then
// on the idle limit while the body comes (and the speed check, with
// `minSpeed`); and the pace its reads keep under the bandwidth limits.

import { TimeoutError } from "../errors.ts";
import { hostOf } from "../_http/url_host.ts";
import { Watchdog } from "../_timers.ts";
import { SpeedCheck, type SpeedGroup } from "./speed_check.ts";
import type { Transfer } from "./strategy.ts";
import type { Flow, Slot } from "./budget.ts";

/** A request's abort controller and watchdog; dispose of it when done. */
export class Connection implements Disposable {
  /** Aborts the request and its body; its reason is the attempt's error. */
  readonly abort: AbortController = new AbortController();
  /** Touched whenever body bytes arrive. */
  readonly watchdog: Watchdog;
  #transfer: Transfer;
  #slot: Slot;
  #speed: SpeedCheck | undefined;
  #group: SpeedGroup | undefined;
  #signals: AbortSignal[];
  // The host counted transferring, and its flow (see `transferring`).
  #transferring: string | undefined;
  #flow: Flow | undefined;
  #forward = (event: Event): void =>
    this.abort.abort((event.target as AbortSignal).reason);

  /**
   * Starts the scope, on the connect timeout.
   *
   * @param transfer The download's transfer (its signal, options and URL).
   * @param scope Of a connection of several: what aborts it too, with its
   * reason (a strategy's `stop`), the connections judged together by
   * `minSpeed` (`group`), and its count in the budget (`slot`: by default
   * the download's first connection's).
   */
  constructor(
    transfer: Transfer,
    scope: {
      stop?: AbortSignal | undefined;
      group?: SpeedGroup | undefined;
      slot?: Slot | undefined;
    } = {},
  ) {
    const { stop, group, slot = transfer.slot } = scope;
    this.#transfer = transfer;
    this.#slot = slot;
    this.#group = group;
    this.#signals = [transfer.signal, ...(stop === undefined ? [] : [stop])];
    for (const signal of this.#signals) {
      if (signal.aborted) this.abort.abort(signal.reason);
      signal.addEventListener("abort", this.#forward);
    }
    const { connectTimeout } = transfer.options;
    this.watchdog = new Watchdog(
      connectTimeout,
      () =>
        this.abort.abort(
          new TimeoutError("connect", connectTimeout, transfer.url),
        ),
    );
  }

  /**
   * The answer came, from `from` (after redirects, as `URL` serializes it:
   * see `hostOf`): the connection counts
   * against its host in the budget; from now on, the body may stall
   * `idleTimeout` at most, and come no slower than `minSpeed` (if set).
   */
  answered(from: string): void {
    this.#slot.answeredFrom(hostOf(from));
    this.#watchIdle();
    const { url, options } = this.#transfer;
    const { minSpeed, minSpeedWindow } = options;
    if (minSpeed > 0 && Number.isFinite(minSpeedWindow)) {
      this.#speed = new SpeedCheck(
        minSpeed,
        minSpeedWindow,
        (speed) =>
          this.abort.abort(
            new TimeoutError("slow", minSpeedWindow, url, { minSpeed, speed }),
          ),
        this.#group,
      );
    }
  }

  /**
   * The answer was accepted, its body is about to be written: the
   * connection counts as transferring from the host it {@linkcode answered}
   * from, where the redirects led (see `ConnectionBudget.transferring`),
   * until it is disposed of.
   */
  transferring(): void {
    if (this.#transferring !== undefined) return;
    this.#transferring = this.#slot.host;
    this.#flow = this.#transfer.budget.startTransferring(this.#transferring);
  }

  /** Body bytes arrived. */
  received(bytes: number): void {
    this.watchdog.touch();
    if (this.#flow !== undefined) this.#flow.bytes += bytes;
    this.#speed?.received(bytes);
  }

  /**
   * Pays for `bytes` just read under the download's bandwidth limits:
   * resolves when the next read may be made. Time held back counts as
   * neither idle nor slow.
   */
  async pace(bytes: number): Promise<void> {
    const { throttle } = this.#transfer;
    if (!throttle.limited) return;
    this.watchdog.stop();
    this.#speed?.held();
    try {
      await throttle.take(bytes, this.abort.signal);
    } finally {
      this.#speed?.released();
      this.#watchIdle();
    }
  }

  #watchIdle(): void {
    const { idleTimeout } = this.#transfer.options;
    this.watchdog.restart(
      idleTimeout,
      () =>
        this.abort.abort(
          new TimeoutError("idle", idleTimeout, this.#transfer.url),
        ),
    );
  }

  /** Stops the watches and the forwarding. */
  [Symbol.dispose](): void {
    this.watchdog.stop();
    if (this.#transferring !== undefined) {
      this.#transfer.budget.stopTransferring(this.#transferring);
      this.#transferring = undefined;
      this.#flow = undefined;
    }
    this.#speed?.stop();
    for (const signal of this.#signals) {
      signal.removeEventListener("abort", this.#forward);
    }
  }
}
