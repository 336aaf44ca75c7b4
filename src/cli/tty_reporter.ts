/**
 * The terminal's live display: a line per running download and a total
 * line, redrawn in place (see {@linkcode LiveDisplay}), with the files that
 * end logged above it.
 *
 * @module
 */

import { LiveDisplay, renderFrame, type TextSink } from "./render.ts";
import {
  type CliEvent,
  colorize,
  lineOf,
  type Reporter,
  type RunView,
  type Summary,
  summaryLine,
} from "./reporter.ts";

/** A terminal's stream: its size is read at each redraw. */
export type Terminal = TextSink & {
  columns?: number | undefined;
  rows?: number | undefined;
};

/** The width a terminal reports when it reports none, or 0 (as some do). */
const FALLBACK_COLUMNS = 80;

/**
 * The terminal's width in columns: {@linkcode FALLBACK_COLUMNS} when it does
 * not report a positive one (a pseudo-terminal without a size reports 0),
 * as `renderFrame` takes a height of 0 as unknown.
 */
function widthOf(terminal: Terminal): number {
  const { columns } = terminal;
  return columns !== undefined && columns > 0 ? columns : FALLBACK_COLUMNS;
}

/**
 * Shows the run on a terminal.
 *
 * @example
 * ```ts
 * import type { RunView } from "./reporter.ts";
 *
 * declare const view: RunView; // the run's Session
 * const reporter = new TtyReporter(process.stdout, process.stderr, view, true);
 * ```
 */
export class TtyReporter implements Reporter {
  #out: TextSink;
  #err: TextSink;
  #color: boolean;
  #display: LiveDisplay;
  #tick = 0;

  /**
   * Starts drawing.
   *
   * @param terminal Standard output, a terminal.
   * @param err Standard error, for an interrupted summary.
   * @param view The running downloads.
   * @param color Whether to color the logged lines (not with `NO_COLOR`).
   */
  constructor(
    terminal: Terminal,
    err: TextSink,
    view: RunView,
    color: boolean,
  ) {
    this.#out = terminal;
    this.#err = err;
    this.#color = color;
    this.#display = new LiveDisplay(
      terminal,
      (width, height) =>
        renderFrame(view.rows(), view.totals(), width, this.#tick++, height),
      { width: () => widthOf(terminal), height: () => terminal.rows },
    );
  }

  /**
   * Logs a file's end above the live area. A start, a wait (for another
   * process, or for the server to free a connection) and progress show in
   * the file's live line instead.
   */
  report(event: CliEvent): void {
    if (
      event.event === "start" || event.event === "progress" ||
      event.event === "wait" || event.event === "hostwait"
    ) {
      return;
    }
    const line = lineOf(event);
    if (line !== undefined) {
      this.#display.log(this.#color ? colorize(line) : line);
    }
  }

  /** Removes the live area and prints the summary. */
  finish(summary: Summary): void {
    this.#display.stop();
    (summary.interrupted ? this.#err : this.#out).write(summaryLine(summary));
  }

  /** Removes the live area. */
  stop(): void {
    this.#display.stop();
  }

  /** Shows the cursor while the process is stopped (see {@linkcode LiveDisplay.suspend}). */
  suspend(): void {
    this.#display.suspend();
  }

  /** Hides it again and draws the live area anew. */
  resume(): void {
    this.#display.resume();
  }
}
