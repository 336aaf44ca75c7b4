/**
 * `--json`: one JSON object per line for each {@linkcode CliEvent}, progress
 * at most once a second per file, and a summary line to end.
 *
 * @module
 */

import type { TextSink } from "./render.ts";
import type { CliEvent, Reporter, Summary } from "./reporter.ts";

/** How often a file's progress is printed, at most, in milliseconds. */
export const JSON_PROGRESS_INTERVAL = 1000;

/** Options for {@linkcode JsonReporter}. */
export interface JsonReporterOptions {
  /** `--quiet`: only failures (`fail`, `directory`) and the summary. @default {false} */
  quiet?: boolean | undefined;
}

/**
 * Prints events as JSON lines.
 *
 * @example
 * ```ts
 * const reporter = new JsonReporter(process.stdout);
 * const url = "https://example.com/a.zip";
 * reporter.report({ event: "cancel", name: "a.zip", url });
 * ```
 */
export class JsonReporter implements Reporter {
  #out: TextSink;
  #quiet: boolean;
  #lastProgress = new Map<string, number>();
  // A file's latest progress held back by the interval, printed when it ends.
  #held = new Map<string, ReturnType<typeof setTimeout>>();

  /**
   * @param out Where the lines go (standard output).
   * @param options See {@linkcode JsonReporterOptions}.
   */
  constructor(out: TextSink, options: JsonReporterOptions = {}) {
    this.#out = out;
    this.#quiet = options.quiet ?? false;
  }

  /**
   * Prints `event`; a file's progress at most once a second, the latest one
   * held back printed when the second is up (a stalled file's last bytes
   * are told too). With `quiet`, only a failure.
   */
  report(event: CliEvent): void {
    if (this.#quiet && event.event !== "fail" && event.event !== "directory") {
      return;
    }
    // The run's own event (its directory's) is no file's.
    if (event.event === "directory") return this.#write(event);
    const { name } = event;
    clearTimeout(this.#held.get(name));
    this.#held.delete(name);
    if (event.event === "progress") {
      const now = Date.now();
      const last = this.#lastProgress.get(name) ?? -Infinity;
      if (now - last < JSON_PROGRESS_INTERVAL) {
        this.#held.set(
          name,
          setTimeout(
            () => this.report(event),
            JSON_PROGRESS_INTERVAL - (now - last),
          ),
        );
        return;
      }
      this.#lastProgress.set(name, now);
    }
    const { shared: _shared, ...fields } = event as CliEvent & {
      shared?: boolean;
    };
    this.#write(fields);
  }

  /** Prints the summary object. */
  finish(summary: Summary): void {
    this.stop();
    this.#write({
      event: "summary",
      done: summary.done,
      skipped: summary.skipped,
      failed: summary.failed,
      bytes: summary.bytes,
      ms: summary.ms,
      interrupted: summary.interrupted !== undefined,
      unfinished: summary.unfinished,
    });
  }

  /** Nothing to put back: plain lines leave the terminal as it was. */
  suspend(): void {}

  /** Nothing to redo. */
  resume(): void {}

  /** Drops the progress held back. */
  stop(): void {
    for (const timer of this.#held.values()) clearTimeout(timer);
    this.#held.clear();
  }

  #write(value: Record<string, unknown>): void {
    this.#out.write(JSON.stringify(value) + "\n");
  }
}
