/**
 * Plain lines, where the output is not a terminal (CI, a pipe, a file), or
 * with `--quiet`: one line per file that starts, waits or ends (failures on
 * standard error), the progress of every running file now and then, and
 * the summary.
 *
 * @module
 */

import type { TextSink } from "./render.ts";
import {
  type CliEvent,
  colorize,
  lineOf,
  type Reporter,
  type RunView,
  type Summary,
  summaryLine,
} from "./reporter.ts";
import { formatBytes } from "./units.ts";

/** Options for {@linkcode LogReporter}. */
export interface LogReporterOptions {
  /** Only failures and the summary. @default {false} */
  quiet?: boolean | undefined;
  /** Color the first word of each line on `out` (a terminal). @default {false} */
  color?: boolean | undefined;
  /**
   * Color the first word of each line on `err` (the failures), which may be
   * a terminal when `out` is not, or a file when `out` is a terminal.
   * @default {false}
   */
  errorColor?: boolean | undefined;
  /** Milliseconds between progress lines; 0 for none. @default {5000} */
  interval?: number | undefined;
}

/**
 * Prints events as plain lines.
 *
 * @example
 * ```ts
 * import type { RunView } from "./reporter.ts";
 *
 * declare const view: RunView; // the run's Session
 * const reporter = new LogReporter(process.stdout, process.stderr, view);
 * ```
 */
export class LogReporter implements Reporter {
  #out: TextSink;
  #err: TextSink;
  #view: RunView;
  #quiet: boolean;
  #color: boolean;
  #errorColor: boolean;
  #timer: ReturnType<typeof setInterval> | undefined;

  /**
   * Starts reporting; progress lines begin after the first interval.
   *
   * @param out Standard output.
   * @param err Standard error, for failures and an interrupted summary.
   * @param view The running downloads, for the progress lines.
   * @param options See {@linkcode LogReporterOptions}.
   */
  constructor(
    out: TextSink,
    err: TextSink,
    view: RunView,
    options: LogReporterOptions = {},
  ) {
    this.#out = out;
    this.#err = err;
    this.#view = view;
    this.#quiet = options.quiet ?? false;
    this.#color = options.color ?? false;
    this.#errorColor = options.errorColor ?? false;
    const interval = options.interval ?? 5000;
    if (!this.#quiet && interval > 0) {
      this.#timer = setInterval(() => this.#progress(), interval);
    }
  }

  /** Prints the event's line; with `quiet`, only a failure's (on `err`). */
  report(event: CliEvent): void {
    const line = lineOf(event);
    if (line === undefined) return;
    const error = event.event === "fail" || event.event === "directory";
    if (this.#quiet && !error) return;
    const color = error ? this.#errorColor : this.#color;
    (error ? this.#err : this.#out).write(
      (color ? colorize(line) : line) + "\n",
    );
  }

  /** Stops the progress lines and prints the summary. */
  finish(summary: Summary): void {
    this.stop();
    (summary.interrupted ? this.#err : this.#out).write(summaryLine(summary));
  }

  /** Nothing to put back: plain lines leave the terminal as it was. */
  suspend(): void {}

  /** Nothing to redo. */
  resume(): void {}

  /** Stops the progress lines. */
  stop(): void {
    clearInterval(this.#timer);
  }

  /** A line for every file the server has answered (its start line came first). */
  #progress(): void {
    for (const row of this.#view.rows().filter((row) => row.started)) {
      const percent = row.total
        ? ` ${Math.floor(100 * row.current / row.total)}%`
        : "";
      const of = row.total === undefined ? "" : `/${formatBytes(row.total)}`;
      this.#out.write(
        `        ${row.name}${percent} ${formatBytes(row.current)}${of}${
          row.speed === undefined ? "" : ` ${formatBytes(row.speed)}/s`
        }\n`,
      );
    }
  }
}
