// Several connections for one file: the strategy for `connections` other
// than 1. A download starts as a single stream (today's path, with the
// runtime's pipe). When the answer shows that the server serves ranges of
// this very file (`Accept-Ranges: bytes` or a 206, a validator, a known
// length, no content coding), and either the caller asked for N connections
// or the ramp (`ramp.ts`) finds that more would pay, that first connection
// is stopped where its bytes end and the rest is fetched in parts by
// several (`workers.ts`). A partial file already in parts (resumed) goes to
// the workers at once, whose first answer starts the ramp then. If the file
// changes under it, the download starts over with one connection.

import { contentEncoding } from "../_body/content_decoding.ts";
import { servesRanges } from "../_http/range.ts";
import { withRetries } from "./attempts.ts";
import { type Ramp, rampFor } from "./ramp.ts";
import { attempt, restart, singleStream } from "./single_stream.ts";
import type { Transfer, TransferStrategy } from "./strategy.ts";
import { MIN_PIECE, StartOver, Workers } from "./workers.ts";

/** How the first connection ends when the workers take over. */
class Handoff extends Error {
  /** @param ramp The ramp, to go on with, when the connections are its. */
  constructor(readonly ramp: Ramp | undefined) {
    super("handed over to several connections");
    this.name = "Handoff";
  }
}

/** The segmented strategy: see the module comment. */
export const segmented: TransferStrategy = {
  async run(transfer: Transfer): Promise<void> {
    let ramp: Ramp | undefined;
    if (transfer.partial.ranges === undefined) {
      const handoff = await firstConnection(transfer);
      if (handoff === undefined) return;
      ramp = handoff.ramp;
    }
    try {
      await new Workers(transfer, ramp).run();
    } catch (error) {
      if (!(error instanceof StartOver)) throw error;
      // Another version of the file (its parts cannot be joined to these),
      // or a server that ignores ranges.
      await restart(transfer);
      await singleStream.run(transfer);
    }
  },
};

/** Whether `response` shows the server serves ranges of this file. */
function servesRangesOf(transfer: Transfer, response: Response): boolean {
  const { partial } = transfer;
  return servesRanges(response) &&
    partial.validator !== undefined && partial.total !== undefined &&
    contentEncoding(response.headers) === undefined;
}

/**
 * The first connection, a single-stream attempt (retried as ever), until it
 * ends the download or hands it over: returns the handoff then, with the
 * file's first bytes on disk (`partial.offset`).
 */
async function firstConnection(
  transfer: Transfer,
): Promise<Handoff | undefined> {
  const { connections } = transfer.options;
  // A handoff stops the attempt running (and any after it) by its own abort
  // controller: a controller here, whose signal each attempt listened to,
  // would cost every download a signal and a listener, for a handoff that
  // most never make.
  let handoff: Handoff | undefined;
  let running: AbortController | undefined;
  const handOver = (to: Handoff): void => {
    handoff ??= to;
    running?.abort(handoff);
  };
  let ramp: Ramp | undefined;
  const watched: Transfer = {
    ...transfer,
    report(current, total): void {
      transfer.report(current, total);
      if (ramp === undefined || ramp.settled || total === undefined) return;
      const wanted = ramp.observe(performance.now(), current, total - current);
      if (wanted > 1) handOver(new Handoff(ramp));
    },
  };
  const hooks = {
    begun(abort: AbortController): void {
      running = abort;
      if (handoff !== undefined) abort.abort(handoff);
    },
    accepted(response: Response, ms: number): void {
      const { offset, total } = transfer.partial;
      // One connection is all it may have (the host's budget): no split.
      if (transfer.maxConnections < 2) return;
      if (!servesRangesOf(transfer, response)) return;
      if ((total as number) - offset < 2 * MIN_PIECE) return;
      if (connections === "auto") {
        ramp = rampFor(transfer.source, transfer.maxConnections, ms);
        if (ramp.begin(performance.now(), (total as number) - offset) > 1) {
          handOver(new Handoff(ramp));
        }
      } else {
        handOver(new Handoff(undefined));
      }
    },
  };
  try {
    await withRetries(
      { ...watched, isFinal: (error) => error instanceof Handoff },
      () => attempt(watched, hooks),
      () => transfer.partial.offset,
    );
    return undefined;
  } catch (error) {
    if (error instanceof Handoff) return error;
    throw error;
  }
}
