// The warnings a runtime emits as `process` "warning" events (Node's
// `MaxListenersExceededWarning`, for one), recorded while a test runs.

import process from "node:process";

/** The names of the warnings emitted while it is in scope. */
export interface RecordedWarnings extends Disposable {
  /**
   * The names so far. Node emits a warning on the next tick: await
   * {@linkcode RecordedWarnings.settled} first.
   */
  readonly names: string[];
  /** Resolves once the warnings emitted so far have been heard. */
  settled(): Promise<void>;
}

/** Starts recording warnings; dispose of the result to stop. */
export function recordWarnings(): RecordedWarnings {
  const names: string[] = [];
  const listener = (warning: Error): void => {
    names.push(warning.name);
  };
  process.on("warning", listener);
  return {
    names,
    // A warning is emitted on the next tick; `setImmediate` runs after it.
    settled: () => new Promise((resolve) => setImmediate(resolve)),
    [Symbol.dispose](): void {
      process.off("warning", listener);
    },
  };
}
