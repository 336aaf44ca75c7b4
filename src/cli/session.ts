/**
 * One run of the command line: a {@linkcode DownloadManager} for the planned
 * files, their downloads followed as {@linkcode CliEvent}s for a reporter,
 * and the exit code.
 *
 * @module
 */

import { type Download, DownloadManager, PersistLimit } from "../../mod.ts";
import { inUse } from "../_in_use.ts";
import { mayEvict } from "../persist_limit.ts";
import type { CliOptions } from "./args.ts";
import { failureInfo } from "./failure_info.ts";
import { JsonReporter } from "./json_reporter.ts";
import { LogReporter } from "./log_reporter.ts";
import { NAME_IT, type Planned } from "./plan.ts";
import type { ActiveRow, CliEvent, Reporter, RunView } from "./reporter.ts";
import {
  type CliHost,
  EXIT,
  INTERRUPTED_EXIT,
  type Interruption,
  message,
} from "./host.ts";
import { SpeedMeter } from "./speed_meter.ts";
import { TtyReporter } from "./tty_reporter.ts";

/** A download as the CLI follows it. */
interface Tracked {
  name: string;
  url: string;
  download: Download;
  started: boolean;
  // Whether it waited for another process's lock: a skip then means that
  // process downloaded it (else the file was there, vouched for by a digest).
  waited: boolean;
  // Its connections waiting for their host to free one (see `hostwait`),
  // and that host.
  hostWaits: number;
  busyHost: string | undefined;
  current: number;
  total: number | undefined;
  // Bytes on disk before this run fetched any (a resumed file's), and the
  // bytes this run fetched: `current - base`.
  base: number;
  fetched: number;
  // Its recent speed.
  meter: SpeedMeter;
  startTime: number;
}

const LOG_INTERVAL = 5000;

/**
 * One run: its manager, its downloads, and what it reports.
 *
 * @example
 * ```ts
 * import type { CliOptions } from "./args.ts";
 * import type { CliHost } from "./host.ts";
 * import { parseInputList } from "./input_list.ts";
 * import { plan } from "./plan.ts";
 *
 * declare const host: CliHost; // the process: see cli.ts
 * declare const options: CliOptions; // parsed by parseCliArgs()
 * const jobs = parseInputList("https://example.com/a.zip\n", "list.txt");
 * const code = await new Session(host, options, plan(jobs)).run();
 * ```
 */
export class Session implements RunView {
  #host: CliHost;
  #options: CliOptions;
  #planned: Planned[];
  #start = Date.now();
  // The downloads not ended yet, in the order given: one that ends leaves
  // (a list of tens of thousands keeps none that ended, nor scans them for
  // each frame).
  #tracked = new Set<Tracked>();
  #done = 0;
  #skipped = 0;
  #failed = 0;
  #unfinished = 0;
  #bytes = 0;
  #interrupted: Interruption | undefined;
  #reporter: Reporter;
  // `--max-size`'s.
  #limit: PersistLimit | null = null;

  constructor(host: CliHost, options: CliOptions, planned: Planned[]) {
    this.#host = host;
    this.#options = options;
    this.#planned = planned;
    this.#reporter = this.#chooseReporter();
  }

  async run(): Promise<number> {
    let manager: DownloadManager;
    try {
      manager = this.#manager();
    } catch (error) {
      // The arguments were checked: this is the directory.
      this.#reporter.stop();
      this.#host.stderr.write(
        `dlmanager: Cannot download into "${this.#options.dir}": ${
          message(error)
        }\n`,
      );
      return EXIT.usage;
    }
    const stopInterrupt = this.#host.onInterrupt((reason, last) => {
      // The process exits next: the live area and the hidden cursor must
      // not be left on the terminal. The locks are left too; a dead
      // process's locks are taken over at once by the next run.
      if (last) {
        this.#reporter.stop();
        return;
      }
      this.#interrupted ??= reason;
      // What the server lets resume is kept: the same command resumes it.
      manager.cancel(undefined, { keepPartial: true });
    });
    // Ctrl-Z: the shell gets its cursor back while this process is stopped.
    const stopSuspend = this.#host.onSuspend((suspended) =>
      suspended ? this.#reporter.suspend() : this.#reporter.resume()
    );
    try {
      const waits: Promise<void>[] = [];
      for (const planned of this.#planned) {
        const tracked = this.#begin(manager, planned);
        if (tracked === undefined) continue;
        waits.push(
          tracked.download.wait({ raiseIfError: false }).then(() =>
            this.#end(tracked)
          ),
        );
      }
      await Promise.all(waits);
      await manager.wait({ raiseIfError: false });
      if (!await this.#directoryFailure(manager)) await this.#keepUnderLimit();
    } finally {
      stopInterrupt();
      stopSuspend();
    }
    const interrupted = this.#interrupted;
    const summary = {
      done: this.#done,
      skipped: this.#skipped,
      failed: this.#failed,
      bytes: this.#bytes,
      ms: Date.now() - this.#start,
      interrupted,
      unfinished: this.#unfinished,
    };
    // With its output closed, the CLI has no one to tell.
    if (interrupted === "SIGPIPE") this.#reporter.stop();
    else this.#reporter.finish(summary);
    if (interrupted !== undefined) return INTERRUPTED_EXIT[interrupted];
    return this.#failed > 0 ? EXIT.failed : EXIT.ok;
  }

  /** The running (and waiting) downloads' rows. */
  rows(): ActiveRow[] {
    const now = Date.now();
    return this.#active().map((t) => ({
      name: t.name,
      current: t.current,
      total: t.total,
      speed: t.meter.speed(now),
      started: t.started,
      waitingFor: t.download.state === "waiting"
        ? { pid: t.download.lockHolder?.pid }
        : undefined,
      // On one connection, the download is still; on several, the others
      // move it, and their bytes tell.
      busyHost: t.hostWaits > 0 && t.download.connections.length <= 1
        ? t.busyHost
        : undefined,
      connections: t.download.connections.length,
    }));
  }

  /** The total line's figures. */
  totals(): ReturnType<RunView["totals"]> {
    const elapsed = Date.now() - this.#start;
    return {
      active: this.#active().length,
      queued: this.#count((t) => t.download.state === "queued"),
      done: this.#done,
      skipped: this.#skipped,
      failed: this.#failed,
      bytes: this.#bytes,
      speed: elapsed > 0 ? 1000 * this.#bytes / elapsed : undefined,
      elapsed,
    };
  }

  /** Plain lines off a terminal; JSON lines with `--json`. */
  #chooseReporter(): Reporter {
    const { json, quiet } = this.#options;
    const { stdout, stderr } = this.#host;
    if (json) return new JsonReporter(stdout, { quiet });
    // A dumb terminal (TERM=dumb: an editor's shell, some CI logs) moves
    // no cursor and shows no color: it gets the plain lines.
    const dumb = this.#host.env("TERM") === "dumb";
    const tty = stdout.isTTY === true && !dumb;
    // Each stream is colored only where it is a terminal: `2> errors.log`
    // gets plain lines, whatever stdout is.
    const colors = !dumb && (this.#host.env("NO_COLOR") ?? "") === "";
    const color = tty && colors;
    if (tty && !quiet) return new TtyReporter(stdout, stderr, this, color);
    const seconds = Number(this.#host.env("DLMANAGER_LOG_INTERVAL") ?? "");
    return new LogReporter(stdout, stderr, this, {
      quiet,
      color,
      errorColor: stderr.isTTY === true && colors,
      interval: seconds > 0 ? seconds * 1000 : LOG_INTERVAL,
    });
  }

  #manager(): DownloadManager {
    const options = this.#options;
    this.#limit = options.maxSize === undefined ? null : new PersistLimit(
      options.maxSize,
      options.keep === undefined ? {} : { fileLimit: options.keep },
    );
    return new DownloadManager(options.dir, {
      // -j: the manager queues the rest (FIFO) and runs them as slots free.
      ...(options.concurrency === undefined
        ? {}
        : { concurrency: options.concurrency }),
      ...(options.retries === undefined ? {} : { retries: options.retries }),
      ...(options.connections === undefined
        ? {}
        : { connections: options.connections }),
      ...(options.limitRate === undefined
        ? {}
        : { rateLimit: options.limitRate }),
      ...(options.revalidate === undefined
        ? {}
        : { revalidate: options.revalidate }),
      ...(options.timeout === undefined ? {} : {
        connectTimeout: options.timeout,
        idleTimeout: options.timeout,
      }),
      headers: options.headers,
      persistLimit: this.#limit,
      // A network failure keeps what was fetched, as Ctrl-C does (and wget
      // -c, curl -C, aria2): the same command resumes it.
      keepPartialOnError: true,
    });
  }

  /** Starts one planned file's download; `undefined` if there is none. */
  #begin(manager: DownloadManager, planned: Planned): Tracked | undefined {
    const { job, name, taken } = planned;
    if (taken !== undefined) {
      this.#failed++;
      const error =
        `Cannot download "${job.url}": the file name "${name}" is taken by "${taken}" ${NAME_IT}`;
      this.#report({
        event: "fail",
        name,
        url: job.url,
        error,
        failure: failureInfo(new Error(error), job.url, { kind: "name_taken" }),
      });
      return undefined;
    }
    let download: Download | null;
    try {
      download = manager.download([job.url, ...job.mirrors ?? []], {
        fname: name,
        sha256: job.sha256,
        integrity: job.integrity,
      });
    } catch (error) {
      // The names were checked before the run: what the library refuses
      // now is this file's place (a directory in the way), not the
      // arguments. This file fails; the others go on.
      const text = message(error);
      this.#failed++;
      this.#report({
        event: "fail",
        name,
        url: job.url,
        error: text.startsWith("Cannot download")
          ? text
          : `Cannot download "${job.url}": ${text}`,
        // A TypeError here is the place refused: a directory in the way.
        failure: failureInfo(error, job.url, {
          kind: error instanceof TypeError ? "file_system" : undefined,
        }),
      });
      return undefined;
    }
    if (download === null) {
      this.#skipped++;
      this.#report({ event: "skip", name, url: job.url });
      return undefined;
    }
    const tracked: Tracked = {
      name,
      url: job.url,
      download,
      started: false,
      waited: false,
      hostWaits: 0,
      busyHost: undefined,
      current: 0,
      total: undefined,
      base: 0,
      fetched: 0,
      meter: new SpeedMeter(),
      startTime: Date.now(),
    };
    this.#tracked.add(tracked);
    download.addEventListener(
      "progress",
      ({ current, total }) => this.#progress(tracked, current, total),
    );
    download.addEventListener("statechange", ({ state }) => {
      if (state === "waiting") this.#waiting(tracked);
    });
    download.addEventListener("hostwait", ({ host, error }) => {
      tracked.hostWaits++;
      tracked.busyHost = host;
      this.#report({
        event: "hostwait",
        name,
        url: job.url,
        host,
        error: reasonOf(error),
      });
    });
    download.addEventListener("hostwaitend", () => tracked.hostWaits--);
    download.addEventListener(
      "retry",
      ({ attempt, delay, error }) =>
        this.#report({
          event: "retry",
          name,
          url: job.url,
          attempt,
          delay,
          error: reasonOf(error),
          failure: failureInfo(error, job.url),
        }),
    );
    return tracked;
  }

  #waiting(tracked: Tracked): void {
    tracked.waited = true;
    const holder = tracked.download.lockHolder;
    this.#report({
      event: "wait",
      name: tracked.name,
      url: tracked.url,
      pid: holder?.pid ?? null,
      host: holder?.host ?? null,
    });
  }

  #progress(
    tracked: Tracked,
    current: number,
    total: number | undefined,
  ): void {
    const now = Date.now();
    if (!tracked.started) {
      tracked.started = true;
      tracked.startTime = now;
      // The library's first progress is what was on disk when the server
      // answered: a resumed file's bytes, not fetched by this run.
      tracked.base = current;
      this.#report({
        event: "start",
        name: tracked.name,
        url: tracked.url,
        total: total ?? null,
      });
    }
    // A restart from 0 drops what was on disk and what this run fetched:
    // the bytes go back.
    tracked.base = Math.min(tracked.base, current);
    const fetched = current - tracked.base;
    this.#bytes += fetched - tracked.fetched;
    tracked.fetched = fetched;
    tracked.current = current;
    tracked.total = total;
    tracked.meter.add(now, current);
    this.#report({
      event: "progress",
      name: tracked.name,
      bytes: current,
      total: total ?? null,
    });
  }

  /**
   * Reports a failure of the manager's own work in the directory (keeping
   * it under `--max-size`, removing what dead processes left), which
   * counts as one failure. Each download's failure was told as it ended,
   * and the wait before this one let go of them: what `wait()` raises now
   * is the directory's. Whether there was one.
   */
  async #directoryFailure(manager: DownloadManager): Promise<boolean> {
    try {
      await manager.wait();
      return false;
    } catch (error) {
      this.#reportDirectory(error);
      return true;
    }
  }

  /**
   * Keeps the directory under `--max-size` at the end of a run that was
   * not stopped: the manager removes old files only after a download, so a
   * run that found every file present (under a limit lowered since) would
   * leave the directory over it. The files this run used stay.
   */
  async #keepUnderLimit(): Promise<void> {
    const limit = this.#limit;
    if (limit === null || this.#interrupted !== undefined) return;
    if (!mayEvict(limit)) return;
    try {
      await limit.removeOldFiles({ keep: (path) => inUse(limit, path) });
    } catch (error) {
      this.#reportDirectory(error);
    }
  }

  /** Reports a failure of the work in the directory, as one failure. */
  #reportDirectory(error: unknown): void {
    this.#failed++;
    this.#report({
      event: "directory",
      dir: this.#options.dir,
      error: message(error),
    });
  }

  #end(tracked: Tracked): void {
    this.#tracked.delete(tracked);
    const { download, name, url } = tracked;
    const error = download.error();
    if (download.isCanceled() && error === undefined) {
      if (download.partialKept) this.#unfinished++;
      this.#report({ event: "cancel", name, url });
    } else if (error !== undefined) {
      this.#failed++;
      const resumable = download.partialKept;
      if (resumable) this.#unfinished++;
      this.#report({
        event: "fail",
        name,
        url,
        error: message(error),
        ...(resumable ? { resumable } : {}),
        failure: failureInfo(error, url),
      });
    } else if (download.skipped) {
      // Another process downloaded it while this one waited for its lock,
      // or, with a digest, the file there holds those bytes.
      this.#skipped++;
      this.#report({ event: "skip", name, url, shared: tracked.waited });
    } else if (download.revalidation === "fresh") {
      this.#skipped++;
      this.#report({ event: "fresh", name, url });
    } else {
      this.#done++;
      const ms = Date.now() - tracked.startTime;
      this.#report({
        event: download.revalidation === "updated" ? "updated" : "done",
        name,
        url,
        bytes: tracked.current,
        ms,
      });
    }
  }

  #active(): Tracked[] {
    // Taken from the queue, whether or not the server has answered.
    return [...this.#tracked].filter((t) =>
      t.download.state === "running" || t.download.state === "waiting"
    );
  }

  #count(test: (tracked: Tracked) => boolean): number {
    let count = 0;
    for (const tracked of this.#tracked) if (test(tracked)) count++;
    return count;
  }

  #report(event: CliEvent): void {
    this.#reporter.report(event);
  }
}

/**
 * Why an attempt failed, in a few words: its message without the
 * `Cannot download "<url>": ` that every line of the run would repeat.
 */
function reasonOf(error: unknown): string {
  return message(error).replace(/^Cannot download "[^"]*": /, "");
}
