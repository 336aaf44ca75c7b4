/**
 * The terminal display: one line per active download and a total line,
 * redrawn in place at a bounded rate, every line within the terminal's width.
 * {@linkcode renderFrame} lays out a frame (pure); {@linkcode LiveDisplay}
 * draws frames and permanent log lines on a terminal stream.
 *
 * @module
 */

import { formatBytes, formatDuration } from "./units.ts";

/** One active download, as displayed. */
export interface RowState {
  /** The file name. */
  name: string;
  /** Bytes written so far. */
  current: number;
  /** The size, if the server sent one. */
  total: number | undefined;
  /** Recent speed in bytes per second, `undefined` until measured. */
  speed: number | undefined;
  /**
   * Set while the download waits for another process downloading the same
   * file: that process's pid, if known.
   */
  waitingFor?: { pid: number | undefined } | undefined;
  /**
   * Set while the download (on one connection) waits for its server to
   * free a connection, which another download of the run has: that
   * server's host.
   */
  busyHost?: string | undefined;
  /** The connections it uses, when more than one. */
  connections?: number | undefined;
}

/** The total line's figures. */
export interface TotalState {
  /** Downloads running. */
  active: number;
  /** Downloads waiting for a slot. */
  queued: number;
  /** Finished downloads. */
  done: number;
  /** Files that were already there. */
  skipped: number;
  /** Failed downloads. */
  failed: number;
  /** Bytes fetched by this run, over all downloads (a resumed file's bytes already on disk not counted). */
  bytes: number;
  /** Overall speed in bytes per second. */
  speed: number | undefined;
  /** Milliseconds since the start. */
  elapsed: number;
}

const SPINNER = ["|", "/", "-", "\\"];
const NAME_MIN = 12;
const NAME_MAX = 32;
const BAR_MIN = 7; // with its brackets
const BAR_MAX = 24;

/**
 * Lays out a frame: a line per row, then the total line. Every line is at
 * most `width - 1` characters (the last column is left free, so a terminal
 * never wraps), and there are at most `height - 1` lines (the cursor's row is
 * left free, so a terminal never scrolls): the rows that do not fit are
 * counted on a line `… and N more` above the total line.
 *
 * @param rows The active downloads.
 * @param total The total line's figures.
 * @param width The terminal's width in columns.
 * @param tick A counter advancing the spinner of rows without a size.
 * @param height The terminal's height in rows; `undefined` (or 0, as some
 * terminals report): unbounded.
 * @returns The lines, without newlines.
 *
 * @example
 * ```ts
 * renderFrame([{ name: "a.zip", current: 512, total: 1024, speed: 100 }],
 *   { active: 1, queued: 0, done: 0, skipped: 0, failed: 0, bytes: 512,
 *     speed: 100, elapsed: 5000 }, 80, 0);
 * ```
 */
export function renderFrame(
  rows: RowState[],
  total: TotalState,
  width: number,
  tick: number,
  height?: number | undefined,
): string[] {
  const avail = Math.max(1, width - 1);
  const room = rowsFor(height);
  // Every row, or as many as fit above a "more" line and the total line.
  const shown = rows.length + 1 <= room
    ? rows
    : rows.slice(0, Math.max(0, room - 2));
  const nameWidth = Math.min(
    NAME_MAX,
    Math.max(NAME_MIN, ...shown.map((row) => columns(row.name))),
  );
  const lines = shown.map((row) => renderRow(row, avail, nameWidth, tick));
  if (shown.length < rows.length && room >= 2) {
    lines.push(fit(`… and ${rows.length - shown.length} more`, avail));
  }
  const counts = [
    `${total.active} active`,
    total.queued > 0 ? `${total.queued} queued` : "",
    `${total.done} done`,
    total.skipped > 0 ? `${total.skipped} skipped` : "",
    total.failed > 0 ? `${total.failed} failed` : "",
  ].filter((part) => part !== "").join(", ");
  const figures = [
    formatBytes(total.bytes),
    speedText(total.speed),
    formatDuration(total.elapsed),
  ].filter((part) => part !== "").join("  ");
  if (room >= 1) lines.push(fit(`Total: ${counts}  ${figures}`, avail));
  return lines;
}

/** The lines a live area may take in a terminal `height` rows tall. */
function rowsFor(height: number | undefined): number {
  return height === undefined || !(height > 0)
    ? Infinity
    : Math.floor(height) - 1;
}

function renderRow(
  row: RowState,
  avail: number,
  nameWidth: number,
  tick: number,
): string {
  if (row.waitingFor !== undefined || row.busyHost !== undefined) {
    const pid = row.waitingFor?.pid;
    const name = truncate(row.name, Math.min(nameWidth, avail));
    return fit(
      `${name}${" ".repeat(Math.max(0, nameWidth - columns(name)))}  waiting: ${
        row.waitingFor === undefined
          ? `${row.busyHost} is busy with another download`
          : pid === undefined
          ? "another process is downloading it"
          : `process ${pid} is downloading it`
      }`,
      avail,
    );
  }
  const known = row.total !== undefined && row.total > 0;
  const many = (row.connections ?? 0) > 1 ? `x${row.connections}` : "";
  const stats = known
    ? [
      `${Math.floor(100 * row.current / (row.total ?? 1))}%`.padStart(4),
      `${formatBytes(row.current)}/${formatBytes(row.total ?? 0)}`,
      speedText(row.speed),
      many,
      row.speed ? `ETA ${eta(row)}` : "",
    ]
    : [formatBytes(row.current), speedText(row.speed), many];
  const parts = stats.filter((part) => part !== "");
  // Drop figures from the least useful end until a short name and bar fit.
  while (
    parts.length > 1 &&
    NAME_MIN + 2 + BAR_MIN + 1 + parts.join(" ").length > avail
  ) {
    parts.pop();
  }
  const statsText = parts.join(" ");
  // Too narrow for a short name, a bar and the percent: the percent says
  // more than a bar cut short (a lone "["), and gets the room.
  if (known && NAME_MIN + 2 + BAR_MIN + 1 + statsText.length > avail) {
    const name = Math.max(1, Math.min(nameWidth, avail - 2 - statsText.length));
    const shown = truncate(row.name, name);
    return fit(
      `${shown}${" ".repeat(Math.max(0, name - columns(shown)))}  ${statsText}`,
      avail,
    );
  }
  const room = avail - statsText.length - 1 - 2; // for name, "  ", bar
  let name: number;
  let bar: string;
  if (!known) {
    name = Math.min(nameWidth, room - 1);
    bar = SPINNER[tick % SPINNER.length] ?? "|";
  } else {
    // The name gives way first, down to NAME_MIN, so the bar gets room.
    name = Math.min(nameWidth, Math.max(NAME_MIN, room - BAR_MAX));
    bar = progressBar(
      row.current / (row.total ?? 1),
      Math.max(BAR_MIN, Math.min(BAR_MAX, room - name)) - 2,
    );
  }
  name = Math.max(1, name);
  const shown = truncate(row.name, name);
  return fit(
    `${shown}${
      " ".repeat(Math.max(0, name - columns(shown)))
    }  ${bar} ${statsText}`,
    avail,
  );
}

function progressBar(fraction: number, width: number): string {
  const inner = width;
  const filled = Math.max(0, Math.min(inner, Math.floor(fraction * inner)));
  const head = filled < inner && filled > 0 ? ">" : "";
  return `[${"=".repeat(filled - (head ? 1 : 0))}${head}${
    " ".repeat(inner - filled)
  }]`;
}

function eta(row: RowState): string {
  if (row.total === undefined || !row.speed) return "?";
  return formatDuration(1000 * (row.total - row.current) / row.speed);
}

function speedText(speed: number | undefined): string {
  return speed === undefined ? "" : `${formatBytes(speed)}/s`;
}

// deno-fmt-ignore
/**
 * The code points a terminal draws two columns wide, as `[first, last]`
 * ranges in order: Unicode's East Asian Wide and Fullwidth characters
 * (EastAsianWidth.txt, Unicode 14, with the unassigned code points between
 * two ranges taken in), among them the emoji shown as pictures (`⌚`, `✅`,
 * `⭐`, `🀄`), and the planes reserved for ideographs. Counting a character
 * narrow that a terminal draws wide would make a line wrap, and the live
 * area scroll at each redraw; counting one wide that is not only leaves a
 * column free.
 */
const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f], [0x231a, 0x231b], [0x2329, 0x232a], [0x23e9, 0x23ec],
  [0x23f0, 0x23f0], [0x23f3, 0x23f3], [0x25fd, 0x25fe], [0x2614, 0x2615],
  [0x2648, 0x2653], [0x267f, 0x267f], [0x2693, 0x2693], [0x26a1, 0x26a1],
  [0x26aa, 0x26ab], [0x26bd, 0x26be], [0x26c4, 0x26c5], [0x26ce, 0x26ce],
  [0x26d4, 0x26d4], [0x26ea, 0x26ea], [0x26f2, 0x26f3], [0x26f5, 0x26f5],
  [0x26fa, 0x26fa], [0x26fd, 0x26fd], [0x2705, 0x2705], [0x270a, 0x270b],
  [0x2728, 0x2728], [0x274c, 0x274c], [0x274e, 0x274e], [0x2753, 0x2755],
  [0x2757, 0x2757], [0x2795, 0x2797], [0x27b0, 0x27b0], [0x27bf, 0x27bf],
  [0x2b1b, 0x2b1c], [0x2b50, 0x2b50], [0x2b55, 0x2b55], [0x2e80, 0xa4cf],
  [0xa960, 0xa97c], [0xac00, 0xd7a3], [0xf900, 0xfaff], [0xfe10, 0xfe19],
  [0xfe30, 0xfe6b], [0xff00, 0xff60], [0xffe0, 0xffe6], [0x16fe0, 0x1b2fb],
  [0x1f004, 0x1f004], [0x1f0cf, 0x1f0cf], [0x1f18e, 0x1f18e],
  [0x1f191, 0x1f19a], [0x1f200, 0x1faff], [0x20000, 0x3fffd],
];

/** Terminal columns of a character: 2 for those in {@linkcode WIDE}, else 1. */
function charColumns(char: string): number {
  const code = char.codePointAt(0) ?? 0;
  if (code < 0x1100) return 1;
  for (const [first, last] of WIDE) {
    if (code < first) return 1;
    if (code <= last) return 2;
  }
  return 1;
}

/** Terminal columns of `text`. */
function columns(text: string): number {
  let total = 0;
  for (const char of text) total += charColumns(char);
  return total;
}

/** The longest start of `text` that takes at most `width` columns. */
function head(text: string, width: number): string {
  let used = 0;
  let out = "";
  for (const char of text) {
    used += charColumns(char);
    if (used > width) break;
    out += char;
  }
  return out;
}

function truncate(text: string, width: number): string {
  if (columns(text) <= width) return text;
  return width <= 1 ? head(text, width) : head(text, width - 1) + "~";
}

function fit(line: string, width: number): string {
  return columns(line) <= width ? line : head(line, width);
}

/** A stream {@linkcode LiveDisplay} writes to. */
export interface TextSink {
  /** Writes text as is. */
  write(text: string): unknown;
}

/** Options for {@linkcode LiveDisplay}. */
export interface LiveDisplayOptions {
  /** The terminal's current width in columns. */
  width: () => number;
  /**
   * The terminal's current height in rows: the live area takes at most
   * `height - 1` of them, so that a redraw never scrolls.
   *
   * @default {() => undefined} (unbounded)
   */
  height?: (() => number | undefined) | undefined;
  /** Milliseconds between redraws. @default {100} */
  interval?: number | undefined;
}

// The renderer's whole vocabulary of control sequences.
const CSI = "\x1b[";
const HIDE_CURSOR = `${CSI}?25l`;
const SHOW_CURSOR = `${CSI}?25h`;
const CLEAR_LINE_END = `${CSI}K`;
const up = (lines: number): string => lines > 0 ? `${CSI}${lines}A\r` : "\r";

/**
 * Draws a live area at the bottom of a terminal: frames from `frame`, redrawn
 * in place at most every `interval` ms (each frame written at once, over the
 * last, so nothing flickers or scrolls), with permanent lines logged above.
 * A frame taller than the terminal is cut to its last `height - 1` lines (a
 * frame function given the height should make its own fit).
 *
 * @example
 * ```ts
 * const display = new LiveDisplay(process.stdout, (width) => [`${width} wide`], {
 *   width: () => process.stdout.columns,
 * });
 * display.log("done a.zip");
 * display.stop();
 * ```
 */
export class LiveDisplay {
  #out: TextSink;
  #frame: (width: number, height: number | undefined) => string[];
  #width: () => number;
  #height: () => number | undefined;
  #drawn = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #suspended = false;

  /**
   * Starts drawing.
   *
   * @param out The terminal.
   * @param frame Lays out the live area for a width and height.
   * @param options See {@linkcode LiveDisplayOptions}.
   */
  constructor(
    out: TextSink,
    frame: (width: number, height: number | undefined) => string[],
    options: LiveDisplayOptions,
  ) {
    this.#out = out;
    this.#frame = frame;
    this.#width = options.width;
    this.#height = options.height ?? (() => undefined);
    this.#out.write(HIDE_CURSOR);
    this.#timer = setInterval(() => this.draw(), options.interval ?? 100);
  }

  /**
   * Redraws the live area now; nothing while suspended (see
   * {@linkcode LiveDisplay.suspend}).
   */
  draw(): void {
    if (this.#suspended) return;
    this.#out.write(this.#render([]));
  }

  /**
   * Prints `line` above the live area, which is redrawn below it.
   *
   * @param line One line, without a newline.
   */
  log(line: string): void {
    this.#out.write(this.#render([line]));
  }

  /**
   * Shows the cursor, for the shell, as the process is about to be stopped
   * (Ctrl-Z). The live area stays on the screen as it is, and is not drawn
   * again until {@linkcode LiveDisplay.resume}, which draws it anew where
   * the cursor is then, below what the shell printed meanwhile, never over
   * it: the process may draw before it stops and after it goes on, while
   * the shell has the terminal. A line logged meanwhile is printed alone.
   * Nothing once stopped.
   */
  suspend(): void {
    if (this.#timer === undefined) return;
    this.#suspended = true;
    this.#drawn = 0;
    this.#out.write(SHOW_CURSOR);
  }

  /**
   * After {@linkcode LiveDisplay.suspend}, as the process goes on: hides the
   * cursor again and draws the live area. Nothing otherwise (a process
   * stopped and continued by other means).
   */
  resume(): void {
    if (!this.#suspended) return;
    this.#suspended = false;
    if (this.#timer === undefined) return;
    this.#out.write(HIDE_CURSOR + this.#render([]));
  }

  /** Stops redrawing and removes the live area, leaving the logged lines. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const rows = this.#drawn;
    this.#out.write(
      up(rows) + (CLEAR_LINE_END + "\n").repeat(rows) +
        (rows > 0 ? up(rows) : "") + SHOW_CURSOR,
    );
    this.#drawn = 0;
  }

  #render(logged: string[]): string {
    if (this.#timer === undefined || this.#suspended) {
      return logged.map((line) => line + "\n").join("");
    }
    const width = this.#width();
    const height = this.#height();
    const room = rowsFor(height);
    const frame = this.#frame(width, height);
    const lines = [
      ...logged,
      ...frame.slice(Math.max(0, frame.length - room)),
    ];
    // Each line overwrites an old one and clears the rest of its row (a long
    // logged line wraps, the rest of its last row cleared too). Old rows
    // left below are blanked (those still on a screen that shrank). No
    // erase-display: tmux, for one, saves the screen to its scrollback when
    // that is sent from the top row.
    const drawn = Math.min(this.#drawn, room);
    const blank = Math.max(0, drawn - lines.length);
    const text = up(drawn) +
      lines.map((line) => line + CLEAR_LINE_END + "\n").join("") +
      (CLEAR_LINE_END + "\n").repeat(blank) + (blank > 0 ? up(blank) : "");
    this.#drawn = lines.length - logged.length;
    return text;
  }
}
