/**
 * The text `dlmanager --help` prints: every option, its default (read from
 * the one table of defaults), and the exit statuses.
 *
 * @module
 */

import { DEFAULTS, MAX_CONNECTIONS } from "../transfer_options.ts";

/** The help text, printed by `--help`. */
export const HELP = `Usage: dlmanager [options] URL...
       dlmanager [options] -i FILE

Download URLs into a directory, with live progress. Files already present
are skipped (or, with --revalidate, asked of the server again). Two URLs with
the same file name fail: name one with -o, or with URL<TAB>name in an -i
list.

Options:
  -d, --dir DIR          directory to download into (default: .)
  -i, --input-file FILE  read URLs from FILE, one per line ("-" for stdin);
                         a line may be URL, URL<TAB>name or
                         URL<TAB>name<TAB>sha256, where URL may be several
                         URLs of one file, separated by spaces (mirrors);
                         blank and # lines are skipped
  -o, --output NAME      file name, for a single URL
      --mirror URL       another source of the same file, tried in order
                         when the ones before fail, for a single URL
                         (repeatable)
  -j, --jobs N           downloads at once, 1 to 1000 (default: ${DEFAULTS.concurrency})
  -x, --connections N    connections per file, 1 to ${MAX_CONNECTIONS}, or auto: more
                         while they pay, where the server serves ranges
                         (default: ${DEFAULTS.connections})
      --retries N        retries per download, 0 to 1000 (default: ${DEFAULTS.retries});
                         a failed attempt that moved the file on by a MiB
                         or more is not counted; with mirrors, per mirror
      --timeout SECONDS  connect and idle timeout (default: ${
  DEFAULTS.connectTimeout / 1000
} and ${DEFAULTS.idleTimeout / 1000})
      --limit-rate SIZE  the most bytes per second (500K, 5M, at least 1),
                         for all the downloads together
      --revalidate       ask the server about files already present: "fresh"
                         (304 Not Modified, kept) or "updated" (replaced once
                         the new version is complete); a file downloaded
                         without --revalidate or --max-age has no record of
                         what the server said, and is downloaded again
      --max-age AGE      revalidate only files the server vouched for longer
                         ago than AGE (90s, 30m, 12h, 7d); a file without a
                         record, once it is older than AGE (the same with
                         --revalidate given too)
      --header 'K: V'    request header (repeatable)
      --sha256 HEX       expected sha256, for a single URL
      --integrity SRI    expected digest (sha256-<base64>...), for a single URL
      --max-size SIZE    keep DIR under SIZE (500M, 2G), removing the least
                         recently used files, any file in it (needs -d DIR)
      --keep N           with --max-size: always keep N files (default: ${DEFAULTS.fileLimit});
                         --keep 0 (or --max-size 0) turns the limit off
  -q, --quiet            print only errors and the summary
      --json             print one JSON object per event (for scripts)
  -V, --version          print the version
  -h, --help             print this help

Ctrl-C (or SIGTERM, SIGHUP) stops every download, keeping what the server
lets resume: run the same command again to resume it. A second Ctrl-C exits
at once. A download that fails for the network (its retries spent) keeps
what it fetched the same way.

Exit status: 0 all downloaded or present, 1 some failed (or the output could
not be written, as to a full disk, or a file of DIR that --max-size removes
failed to go), 2 usage error;
stopped early: 130 on Ctrl-C (SIGINT), 143 on SIGTERM, 129 on SIGHUP, 141
when the output is closed (as by "| head"). That is 128 + the signal's
number.
`;
