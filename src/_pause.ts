// Pausing a download: its transfer runs under a signal of its own, which a
// pause aborts (with `Paused` as the reason); the job then closes the file,
// keeps it, its sidecar and the lock, and waits for the resume to run the
// transfer again from what is on disk. A pause settles once the transfer has
// stopped: no byte is written after that. A manager's download gives its
// slot up while it waits (see `_queue.ts`): resumed, it is held until one is
// free again.

/** The reason a paused transfer stopped: never a download's error. */
export class Paused extends Error {
  constructor() {
    super("the download was paused");
    this.name = "Paused";
  }
}

/** One download's pause and resume (see the module comment). */
export class PauseControl {
  #paused = false;
  // Resumed, but held until its manager has a slot for it: still paused
  // for the transfer, `"queued"` for those who watch.
  #held = false;
  // The transfer running now, if any (a cancel stops it too: see
  // `PauseControl.cancel`), and who waits for it to stop.
  #run: AbortController | undefined;
  // Made when first needed: most downloads are never paused.
  #stopped: (() => void)[] | undefined;
  #resumed: (() => void)[] | undefined;

  /** Whether the download is paused (or {@linkcode PauseControl.held}). */
  get paused(): boolean {
    return this.#paused;
  }

  /** Whether the paused download was resumed, and waits for a slot. */
  get held(): boolean {
    return this.#held;
  }

  /**
   * Pauses: stops the transfer running now. Resolves once it has stopped
   * (at once if none runs). A held download is paused again.
   */
  pause(): Promise<void> {
    this.#paused = true;
    this.#held = false;
    if (this.#run === undefined) return Promise.resolve();
    const waiting = this.#stopped ??= [];
    const stopped = new Promise<void>((resolve) => waiting.push(resolve));
    if (!this.#run.signal.aborted) this.#run.abort(new Paused());
    return stopped;
  }

  /**
   * The paused download was resumed, but waits for a slot: it stays paused
   * for the job until {@linkcode PauseControl.resume}.
   */
  hold(): void {
    if (this.#paused) this.#held = true;
  }

  /** Resumes: a job waiting in {@linkcode PauseControl.whenResumed} goes on. */
  resume(): void {
    this.#paused = false;
    this.#held = false;
    const resumed = this.#resumed;
    this.#resumed = undefined;
    for (const resolve of resumed ?? []) resolve();
  }

  /**
   * Starts one run of the transfer: returns its signal, aborted by a pause
   * (reason {@linkcode Paused}), or by a cancel: `cancel` aborted already
   * (its reason), or {@linkcode PauseControl.cancel} meanwhile.
   */
  begin(cancel: AbortSignal): AbortSignal {
    const run = new AbortController();
    this.#run = run;
    if (this.#paused) run.abort(new Paused());
    else if (cancel.aborted) run.abort(cancel.reason);
    return run.signal;
  }

  /**
   * The download was canceled (its signal aborted with `reason`): the run
   * now, if any, stops with that reason. Told by the download, not heard
   * from its signal: a listener there (or `AbortSignal.any()`) costs each
   * download more than the rest of its pause handling.
   */
  cancel(reason: unknown): void {
    this.#run?.abort(reason);
  }

  /** The run has ended (the file closed): a pause waiting for it settles. */
  end(): void {
    this.#run = undefined;
    const stopped = this.#stopped;
    this.#stopped = undefined;
    for (const resolve of stopped ?? []) resolve();
  }

  /** Whether `error` is only the effect of a pause of the run of `signal`. */
  stopped(error: unknown, signal: AbortSignal): boolean {
    return signal.aborted && signal.reason instanceof Paused &&
      (error === signal.reason ||
        (error instanceof DOMException && error.name === "AbortError"));
  }

  /**
   * Resolves once not paused (at once if not); rejects with `cancel`'s
   * reason if it aborts first.
   */
  whenResumed(cancel: AbortSignal): Promise<void> {
    if (!this.#paused) return Promise.resolve();
    return new Promise((resolve, reject) => {
      if (cancel.aborted) return reject(cancel.reason);
      const onCancel = (): void => {
        this.#resumed = this.#resumed?.filter((r) => r !== onResume);
        reject(cancel.reason);
      };
      const onResume = (): void => {
        cancel.removeEventListener("abort", onCancel);
        resolve();
      };
      (this.#resumed ??= []).push(onResume);
      cancel.addEventListener("abort", onCancel, { once: true });
    });
  }
}
