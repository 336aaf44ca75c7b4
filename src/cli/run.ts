/**
 * The command line's wiring: arguments to a {@linkcode DownloadManager},
 * its downloads' progress to a `Reporter` (a terminal's live display, plain
 * log lines, or JSON lines), and the outcome to an exit code. Built on the
 * public API only. What touches the process and the file system comes in as a
 * {@linkcode CliHost}, so that nothing here does (`src/` keeps the rule that
 * only the runtime adapter touches the file system).
 *
 * @module
 */

import { type CliOptions, parseCliArgs } from "./args.ts";
import { HELP } from "./help.ts";
import { type Job, parseInputList } from "./input_list.ts";
import { UsageError } from "./usage_error.ts";
import { type CliHost, EXIT, failure } from "./host.ts";
import { plan, type Planned } from "./plan.ts";
import { Session } from "./session.ts";
import { VERSION } from "./version.ts";

export {
  type CliHost,
  EXIT,
  failure,
  INTERRUPTED_EXIT,
  type Interruption,
  message,
} from "./host.ts";

/**
 * Runs the command line.
 *
 * @param host The process, see {@linkcode CliHost}.
 * @returns The exit code: 0 all downloaded or present, 1 any failed, 2 a
 * usage error, or {@linkcode INTERRUPTED_EXIT} when stopped early.
 *
 * @example
 * ```ts
 * declare const host: CliHost; // the process: see cli.ts
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
          failure(
            `Cannot read input file "${options.inputFile}"`,
            options.inputFile,
            error,
          ),
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
        failure(
          `Cannot write to directory "${options.dir}"`,
          options.dir,
          error,
        ),
      );
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    host.stderr.write(`dlmanager: ${error.message}\n`);
    return EXIT.usage;
  }
  return await new Session(host, options, planned).run();
}
