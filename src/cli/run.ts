/**
 * The command line's wiring: arguments to a {@linkcode DownloadManager},
 * its downloads' progress to a reporter (live terminal display, plain log
 * lines, or JSON lines), and the outcome to an exit code. Built on the public
 * API only. What touches the process and the file system comes in as a
 * {@linkcode CliHost}, so that nothing here does (`src/` keeps the rule that
 * only the runtime adapter touches the file system).
 *
 * @module
 */

import { type Download, DownloadManager, PersistLimit } from "../../mod.ts";
import {
  type CliOptions,
  HELP,
  type Job,
  jobFileName,
  NAME_IT,
  parseCliArgs,
  parseInputList,
  UsageError,
} from "./args.ts";
import {
  LiveDisplay,
  renderFrame,
  type RowState,
  type TextSink,
} from "./render.ts";
import { formatBytes, formatDuration } from "./units.ts";
import { VERSION } from "./version.ts";

/** What the CLI needs from its process. */
export interface CliHost {
  /** The arguments, without the runtime and script. */
  args: string[];
  /**
   * Standard output; `isTTY`, `columns` and `rows` as on a Node stream (read
   * at each redraw: a terminal may be resized). Once the output is closed,
   * writes must do nothing (the host reports it as `SIGPIPE`).
   */
  stdout: TextSink & {
    isTTY?: boolean | undefined;
    columns?: number | undefined;
    rows?: number | undefined;
  };
  /** Standard error. */
  stderr: TextSink;
  /** An environment variable. */
  env(name: string): string | undefined;
  /** Reads a text file (`-i FILE`); `-` reads standard input. */
  readInput(path: string): Promise<string>;
  /** Creates `dir` if missing and checks it can be written to. */
  prepareDir(dir: string): Promise<void>;
  /**
   * Calls `handler` when the process is asked to stop: on Ctrl-C (SIGINT),
   * SIGTERM or SIGHUP, and with `SIGPIPE` when standard output is closed
   * (`dlmanager --json | head -2`); until the returned function is called.
   */
  onInterrupt(handler: (reason: Interruption) => void): () => void;
}

/** Why the CLI stops early: a signal, or `SIGPIPE` for a closed output. */
export type Interruption = "SIGINT" | "SIGTERM" | "SIGHUP" | "SIGPIPE";

/** Exit codes. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/**
 * The exit code after each {@linkcode Interruption}: 128 + the signal's
 * number, as a shell reports a process the signal killed.
 */
export const INTERRUPTED_EXIT: Record<Interruption, number> = {
  SIGHUP: 129,
  SIGINT: 130,
  SIGPIPE: 141,
  SIGTERM: 143,
};

/**
 * Runs the command line.
 *
 * @param host The process, see {@linkcode CliHost}.
 * @returns The exit code: 0 all downloaded or present, 1 any failed, 2 a
 * usage error, or {@linkcode INTERRUPTED_EXIT} when stopped early.
 *
 * @example
 * ```ts ignore
 * process.exitCode = await runCli(host);
 * ```
 */
export async function runCli(host: CliHost): Promise<number> {
  let options: CliOptions;
  let jobs: Job[];
  let planned: Planned[];
  try {
    const command = parseCliArgs(host.args);
    if (command.kind === "help") {
      host.stdout.write(HELP);
      return EXIT.ok;
    }
    if (command.kind === "version") {
      host.stdout.write(`dlmanager ${VERSION}\n`);
      return EXIT.ok;
    }
    options = command.options;
    jobs = [...options.jobs];
    if (options.inputFile !== undefined) {
      const source = options.inputFile === "-" ? "stdin" : options.inputFile;
      let text: string;
      try {
        text = await host.readInput(options.inputFile);
      } catch (error) {
        throw new UsageError(
          `Cannot read input file "${options.inputFile}": ${message(error)}`,
        );
      }
      jobs.push(...parseInputList(text, source));
      if (jobs.length === 0) throw new UsageError(`No URL in ${source}`);
    }
    planned = plan(jobs);
    try {
      await host.prepareDir(options.dir);
    } catch (error) {
      throw new UsageError(
        `Cannot write to directory "${options.dir}": ${message(error)}`,
      );
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    host.stderr.write(`dlmanager: ${error.message}\n`);
    return EXIT.usage;
  }
  return await new Session(host, options, planned).run();
}

/** A job with its file name, or the URL that already has that name. */
interface Planned {
  job: Job;
  name: string;
  /** Another URL downloading to the same name. */
  taken?: string;
}

/**
 * Names every job. The same URL to the same name twice is one download;
 * another URL to a name already taken cannot be downloaded (it would be
 * dropped as the same file, or overwrite it).
 */
function plan(jobs: Job[]): Planned[] {
  const planned: Planned[] = [];
  const owners = new Map<string, string>(); // name -> URL
  const seen = new Set<string>();
  for (const job of jobs) {
    const name = jobFileName(job);
    const key = `${name}\0${job.url}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const owner = owners.get(name);
    if (owner === undefined) owners.set(name, job.url);
    planned.push(
      owner === undefined ? { job, name } : { job, name, taken: owner },
    );
  }
  return planned;
}

/** A download as the CLI follows it. */
interface Tracked {
  name: string;
  url: string;
  download: Download;
  started: boolean;
  current: number;
  total: number | undefined;
  // Recent (time, bytes) samples, for the speed.
  samples: [number, number][];
  startTime: number;
  lastJson: number;
}

const SPEED_WINDOW = 3000;
const LOG_INTERVAL = 5000;
const JSON_INTERVAL = 1000;

class Session {
  #host: CliHost;
  #options: CliOptions;
  #planned: Planned[];
  #start = Date.now();
  #tracked: Tracked[] = [];
  #ended = new Set<Tracked>();
  #done = 0;
  #skipped = 0;
  #failed = 0;
  #bytes = 0;
  #interrupted: Interruption | undefined;
  #tty: boolean;
  #color: boolean;
  #display: LiveDisplay | undefined;
  #tick = 0;

  constructor(host: CliHost, options: CliOptions, planned: Planned[]) {
    this.#host = host;
    this.#options = options;
    this.#planned = planned;
    this.#tty = !options.json && host.stdout.isTTY === true;
    this.#color = this.#tty && (host.env("NO_COLOR") ?? "") === "";
  }

  async run(): Promise<number> {
    const options = this.#options;
    const interval = Number(this.#host.env("DLMANAGER_LOG_INTERVAL") ?? "");
    const logInterval = interval > 0 ? interval * 1000 : LOG_INTERVAL;
    let manager: DownloadManager;
    try {
      manager = new DownloadManager(options.dir, {
        // -j: the manager queues the rest (FIFO) and runs them as slots free.
        ...(options.concurrency === undefined
          ? {}
          : { concurrency: options.concurrency }),
        ...(options.retries === undefined ? {} : { retries: options.retries }),
        ...(options.timeout === undefined ? {} : {
          connectTimeout: options.timeout,
          idleTimeout: options.timeout,
        }),
        headers: options.headers,
        persistLimit: options.maxSize === undefined ? null : new PersistLimit(
          options.maxSize,
          options.keep === undefined ? {} : { fileLimit: options.keep },
        ),
      });
    } catch (error) {
      // The arguments were checked: this is the directory.
      this.#host.stderr.write(
        `dlmanager: Cannot download into "${options.dir}": ${message(error)}\n`,
      );
      return EXIT.usage;
    }
    const stopInterrupt = this.#host.onInterrupt((reason) => {
      this.#interrupted ??= reason;
      manager.cancel();
    });
    let timer: ReturnType<typeof setInterval> | undefined;
    if (this.#tty && !options.quiet) {
      const stdout = this.#host.stdout;
      this.#display = new LiveDisplay(
        stdout,
        (width, height) => this.#frame(width, height),
        { width: () => stdout.columns ?? 80, height: () => stdout.rows },
      );
    } else if (!options.json && !options.quiet) {
      timer = setInterval(() => this.#logProgress(), logInterval);
    }
    try {
      const waits: Promise<void>[] = [];
      for (const { job, name, taken } of this.#planned) {
        if (taken !== undefined) {
          this.#failed++;
          const text =
            `Cannot download "${job.url}": the file name "${name}" is taken by "${taken}" ${NAME_IT}`;
          this.#event(
            "fail",
            { name, url: job.url, error: text },
            `failed  ${name}: ${text}`,
            true,
          );
          continue;
        }
        let download: Download | null;
        try {
          download = manager.download(job.url, {
            fname: name,
            sha256: job.sha256,
            integrity: job.integrity,
            progress: (download, current, total) =>
              this.#progress(download, current, total),
          });
        } catch (error) {
          // A name the library refuses: a usage error, found before any
          // byte was fetched.
          manager.cancel();
          await manager.wait({ raiseIfError: false });
          const text = message(error);
          throw new UsageError(
            text.startsWith("Cannot download")
              ? text
              : `Cannot download "${job.url}": ${text}`,
          );
        }
        if (download === null) {
          this.#skipped++;
          this.#event(
            "skip",
            { name, url: job.url },
            `skipped ${name} (already present)`,
          );
          continue;
        }
        if (this.#tracked.some((tracked) => tracked.download === download)) {
          continue; // cannot happen: every name is planned once
        }
        const tracked: Tracked = {
          name,
          url: job.url,
          download,
          started: false,
          current: 0,
          total: undefined,
          samples: [],
          startTime: Date.now(),
          lastJson: 0,
        };
        this.#tracked.push(tracked);
        waits.push(
          download.wait({ raiseIfError: false }).then(() =>
            this.#ended1(tracked)
          ),
        );
      }
      await Promise.all(waits);
      await manager.wait({ raiseIfError: false });
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      this.#display?.stop();
      this.#host.stderr.write(`dlmanager: ${error.message}\n`);
      return EXIT.usage;
    } finally {
      clearInterval(timer);
      this.#display?.stop();
      stopInterrupt();
    }
    if (this.#interrupted !== undefined) {
      // With its output closed, the CLI has no one to tell.
      if (this.#interrupted !== "SIGPIPE") this.#summary();
      return INTERRUPTED_EXIT[this.#interrupted];
    }
    this.#summary();
    return this.#failed > 0 ? EXIT.failed : EXIT.ok;
  }

  #progress(
    download: Download,
    current: number,
    total: number | undefined,
  ): void {
    const tracked = this.#tracked.find((t) => t.download === download);
    if (tracked === undefined) return;
    const now = Date.now();
    if (!tracked.started) {
      tracked.started = true;
      tracked.startTime = now;
      // On a terminal the live line shows the start.
      if (this.#display === undefined) {
        this.#event(
          "start",
          { name: tracked.name, url: tracked.url, total: total ?? null },
          `start   ${tracked.name}${
            total === undefined ? "" : ` (${formatBytes(total)})`
          }`,
        );
      }
    }
    this.#bytes += current - tracked.current; // goes back on a restart from 0
    tracked.current = current;
    tracked.total = total;
    tracked.samples.push([now, current]);
    while (
      tracked.samples.length > 2 &&
      now - (tracked.samples[1]?.[0] ?? now) > SPEED_WINDOW
    ) {
      tracked.samples.shift();
    }
    if (this.#options.json && now - tracked.lastJson >= JSON_INTERVAL) {
      tracked.lastJson = now;
      this.#json({
        event: "progress",
        name: tracked.name,
        bytes: current,
        total: total ?? null,
      });
    }
  }

  #ended1(tracked: Tracked): void {
    this.#ended.add(tracked);
    const download = tracked.download;
    const ms = Date.now() - tracked.startTime;
    if (download.isCanceled() && download.error() === undefined) {
      this.#event(
        "cancel",
        { name: tracked.name, url: tracked.url },
        `canceled ${tracked.name}`,
      );
      return;
    }
    const error = download.error();
    if (error !== undefined) {
      this.#failed++;
      const text = message(error);
      this.#event(
        "fail",
        { name: tracked.name, url: tracked.url, error: text },
        `failed  ${tracked.name}: ${text}`,
        true,
      );
      return;
    }
    if (download.skipped) {
      // Another process downloaded it while this one waited for its lock.
      this.#skipped++;
      this.#event(
        "skip",
        { name: tracked.name, url: tracked.url },
        `skipped ${tracked.name} (downloaded by another process)`,
      );
      return;
    }
    this.#done++;
    this.#event(
      "done",
      { name: tracked.name, url: tracked.url, bytes: tracked.current, ms },
      `done    ${tracked.name} (${formatBytes(tracked.current)} in ${
        formatDuration(ms)
      })`,
    );
  }

  #active(): Tracked[] {
    // Running: taken from the queue, whether or not the server has answered.
    return this.#tracked.filter((t) =>
      t.download.state === "running" && !this.#ended.has(t)
    );
  }

  #frame(width: number, height: number | undefined): string[] {
    const active = this.#active();
    const rows: RowState[] = active.map((t) => ({
      name: t.name,
      current: t.current,
      total: t.total,
      speed: speed(t),
    }));
    const elapsed = Date.now() - this.#start;
    return renderFrame(
      rows,
      {
        active: active.length,
        queued: this.#tracked.filter((t) => t.download.state === "queued")
          .length,
        done: this.#done,
        skipped: this.#skipped,
        failed: this.#failed,
        bytes: this.#bytes,
        speed: elapsed > 0 ? 1000 * this.#bytes / elapsed : undefined,
        elapsed,
      },
      width,
      this.#tick++,
      height,
    );
  }

  #logProgress(): void {
    // Only those the server has answered: the start line comes first.
    for (const t of this.#active().filter((t) => t.started)) {
      const percent = t.total
        ? ` ${Math.floor(100 * t.current / t.total)}%`
        : "";
      const of = t.total === undefined ? "" : `/${formatBytes(t.total)}`;
      const rate = speed(t);
      this.#host.stdout.write(
        `        ${t.name}${percent} ${formatBytes(t.current)}${of}${
          rate === undefined ? "" : ` ${formatBytes(rate)}/s`
        }\n`,
      );
    }
  }

  #summary(): void {
    const ms = Date.now() - this.#start;
    const average = ms > 0 ? 1000 * this.#bytes / ms : 0;
    if (this.#options.json) {
      this.#json({
        event: "summary",
        done: this.#done,
        skipped: this.#skipped,
        failed: this.#failed,
        bytes: this.#bytes,
        ms,
        interrupted: this.#interrupted !== undefined,
      });
      return;
    }
    const interrupted = this.#interrupted;
    const line = `${
      interrupted === undefined
        ? "Finished"
        : interrupted === "SIGINT"
        ? "Interrupted"
        : `Interrupted by ${interrupted}`
    }: ${this.#done} done, ${this.#skipped} skipped, ${this.#failed} failed, ${
      formatBytes(this.#bytes)
    } in ${formatDuration(ms)} (${formatBytes(average)}/s)\n`;
    (interrupted ? this.#host.stderr : this.#host.stdout).write(line);
  }

  #event(
    event: string,
    fields: Record<string, unknown>,
    line: string,
    error = false,
  ): void {
    if (this.#options.json) {
      this.#json({ event, ...fields });
      return;
    }
    if (this.#options.quiet && !error) return;
    if (error && !this.#tty) {
      this.#host.stderr.write(line + "\n");
      return;
    }
    const colored = this.#color ? colorize(line) : line;
    if (this.#display !== undefined) this.#display.log(colored);
    else (error ? this.#host.stderr : this.#host.stdout).write(colored + "\n");
  }

  #json(value: Record<string, unknown>): void {
    this.#host.stdout.write(JSON.stringify(value) + "\n");
  }
}

function speed(tracked: Tracked): number | undefined {
  const first = tracked.samples[0];
  const last = tracked.samples[tracked.samples.length - 1];
  if (first === undefined || last === undefined || last[0] - first[0] < 200) {
    return undefined;
  }
  return 1000 * (last[1] - first[1]) / (last[0] - first[0]);
}

const COLORS: Record<string, string> = {
  done: "\x1b[32m",
  failed: "\x1b[31m",
  skipped: "\x1b[33m",
  canceled: "\x1b[33m",
};

function colorize(line: string): string {
  const word = /^\w+/.exec(line)?.[0] ?? "";
  const color = COLORS[word];
  return color === undefined
    ? line
    : `${color}${word}\x1b[39m${line.slice(word.length)}`;
}

function message(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0] ?? text;
}
