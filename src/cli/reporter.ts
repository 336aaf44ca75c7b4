/**
 * What the command line tells about its downloads, and to whom: each
 * {@linkcode CliEvent} goes to one {@linkcode Reporter}, chosen by where the
 * output goes (a terminal's live display, plain log lines, or JSON lines).
 *
 * @module
 */

import type { FailureInfo } from "./failure_info.ts";
import type { RowState, TotalState } from "./render.ts";
import { formatBytes, formatDuration } from "./units.ts";

/**
 * Something that happened to one file, or to the run. Its fields are the
 * JSON event `--json` prints (`event` first); `shared` (a skip) is not
 * printed there.
 */
export type CliEvent =
  | { event: "start"; name: string; url: string; total: number | null }
  | { event: "progress"; name: string; bytes: number; total: number | null }
  | {
    event: "wait";
    name: string;
    url: string;
    pid: number | null;
    host: string | null;
  }
  | {
    /**
     * The server refused a connection (429, 503) while another of the run's
     * downloads from it transfers: it waits for that one to end.
     */
    event: "hostwait";
    name: string;
    url: string;
    /** The busy server's host (and port, if not the default). */
    host: string;
    error: string;
  }
  | {
    event: "retry";
    name: string;
    url: string;
    attempt: number;
    delay: number;
    error: string;
    /** The failed attempt's error, for a script (see {@linkcode FailureInfo}). */
    failure: FailureInfo;
  }
  | {
    event: "done" | "updated";
    name: string;
    url: string;
    /** The file's size (a resumed file's bytes already on disk included). */
    bytes: number;
    /** Milliseconds from the server's answer to the end. */
    ms: number;
  }
  | { event: "fresh"; name: string; url: string }
  | { event: "skip"; name: string; url: string; shared?: boolean }
  | {
    event: "fail";
    name: string;
    url: string;
    error: string;
    /**
     * The bytes fetched are kept (a network failure, the retries spent):
     * the same command resumes the file.
     */
    resumable?: true;
    /**
     * Why, for a script: the kind of failure, the error's class, the HTTP
     * status, the attempts, each mirror's error (see {@linkcode FailureInfo}).
     * Not printed on a plain line, where `error` says the same in words.
     */
    failure: FailureInfo;
  }
  | { event: "cancel"; name: string; url: string }
  /**
   * The manager's own work in the directory failed: keeping it under
   * `--max-size` (a file it could not remove), or removing what dead
   * processes left there. The run's, not one file's.
   */
  | { event: "directory"; dir: string; error: string };

/** The run's totals, for the summary. */
export interface Summary {
  /** Files downloaded (new versions of files there included). */
  done: number;
  /** Files that were there already (found fresh too), or that another process downloaded. */
  skipped: number;
  /** Files that failed. */
  failed: number;
  /**
   * Bytes fetched by this run (a resumed file's bytes already on disk are
   * not counted): the average speed is of these.
   */
  bytes: number;
  /** Milliseconds since the start. */
  ms: number;
  /** What stopped the run early, if anything (`SIGINT`, ...). */
  interrupted: string | undefined;
  /**
   * Files interrupted part way, or failed with what was fetched kept: the
   * same command resumes them.
   */
  unfinished: number;
}

/** A running download's row, and whether its server has answered yet. */
export interface ActiveRow extends RowState {
  /** Whether the server has answered (its start was reported). */
  started: boolean;
}

/** What a reporter may look at, at any time: the downloads running now. */
export interface RunView {
  /** One row per running (or waiting) download. */
  rows(): ActiveRow[];
  /** The total line's figures. */
  totals(): TotalState;
}

/** Tells a person (or a program) what the run does. */
export interface Reporter {
  /** Something happened. */
  report(event: CliEvent): void;
  /** The run ended: its summary. Stops whatever the reporter redraws. */
  finish(summary: Summary): void;
  /** Stops redrawing (before a usage error is printed). */
  stop(): void;
  /**
   * The process is about to be stopped from the terminal (Ctrl-Z): what the
   * shell needs back (the cursor) is put back.
   */
  suspend(): void;
  /** The process goes on after {@linkcode Reporter.suspend}. */
  resume(): void;
}

/** The one line a person reads for `event`, or `undefined` if none. */
export function lineOf(event: CliEvent): string | undefined {
  switch (event.event) {
    case "start":
      return `start   ${event.name}${
        event.total === null ? "" : ` (${formatBytes(event.total)})`
      }`;
    case "wait":
      return `waiting ${event.name}: another process${
        event.pid === null ? "" : ` (pid ${event.pid})`
      } is downloading it`;
    case "hostwait":
      return `waiting ${event.name}: ${event.host} is busy with another download of this run, asking again when it ends (${event.error})`;
    case "retry":
      return `retrying ${event.name} in ${
        formatDuration(event.delay)
      }: ${event.error}`;
    case "done":
    case "updated":
      return `${event.event.padEnd(7)} ${event.name} (${
        formatBytes(event.bytes)
      } in ${formatDuration(event.ms)})`;
    case "fresh":
      return `fresh   ${event.name} (not modified on the server)`;
    case "skip":
      return `skipped ${event.name} (${
        event.shared ? "downloaded by another process" : "already present"
      })`;
    case "fail":
      return `failed  ${event.name}: ${event.error}${
        event.resumable
          ? " (what was fetched is kept: run the same command again to resume)"
          : ""
      }`;
    case "cancel":
      return `canceled ${event.name}`;
    case "directory":
      return `failed  ${event.error}`;
    case "progress":
      return undefined;
  }
}

/** The summary line. */
export function summaryLine(summary: Summary): string {
  const { interrupted, ms } = summary;
  const average = ms > 0 ? 1000 * summary.bytes / ms : 0;
  return `${
    interrupted === undefined
      ? "Finished"
      : interrupted === "SIGINT"
      ? "Interrupted"
      : `Interrupted by ${interrupted}`
  }: ${summary.done} done, ${summary.skipped} skipped, ${summary.failed} failed, ${
    formatBytes(summary.bytes)
  } in ${formatDuration(ms)} (${formatBytes(average)}/s)\n${
    interrupted !== undefined && summary.unfinished > 0
      ? "interrupted: run the same command again to resume\n"
      : ""
  }`;
}

const COLORS: Record<string, string> = {
  done: "\x1b[32m",
  updated: "\x1b[32m",
  fresh: "\x1b[33m",
  failed: "\x1b[31m",
  skipped: "\x1b[33m",
  canceled: "\x1b[33m",
  waiting: "\x1b[33m",
  retrying: "\x1b[33m",
};

/** `line` with its first word colored by what it says. */
export function colorize(line: string): string {
  const word = /^\w+/.exec(line)?.[0] ?? "";
  const color = COLORS[word];
  return color === undefined
    ? line
    : `${color}${word}\x1b[39m${line.slice(word.length)}`;
}
