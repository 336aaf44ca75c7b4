// A seeded server for tests/download_manager_revalidate_fuzz_test.ts: a real
// HTTP server on 127.0.0.1 (port 0) serving one file whose version the test
// moves on between rounds, with one kind of validator (see `FuzzValidator`).
// Its answer to a conditional request (`If-None-Match`, `If-Modified-Since`)
// is drawn from a seeded PRNG: the right one, a 304 naming another ETag, a
// 304 with a later Last-Modified, a 304 without validators, a 200 of the
// version it has, a 200 of a newer one, a body cut, a 206 of the whole file,
// a 412, an answer without a Date, or busy (503, Retry-After 0). Other
// requests (a first download, a resume) are served as a real server would
// (Range with If-Range), or cut, whole-206, busy or dateless. The draws
// follow the order the requests come in.

import type { IncomingMessage, ServerResponse } from "node:http";
import {
  DATES,
  type FuzzValidator,
  type Prng,
  validatorText,
  writeBytes,
} from "./fuzz_server.ts";
import { startServer, type TestServer } from "./server.ts";

/** What one answer to a conditional request does. */
export type RevalidationAnswer =
  | "right"
  | "304-other-etag"
  | "304-later-date"
  | "304-bare"
  | "200-same"
  | "200-new"
  | "cut"
  | "whole-206"
  | "412"
  | "no-date"
  | "busy";

/** What one answer to any other request does. */
export type PlainAnswer = "right" | "cut" | "whole-206" | "no-date" | "busy";

const REVALIDATION_ANSWERS: RevalidationAnswer[] = [
  "right",
  "right",
  "right",
  "304-other-etag",
  "304-later-date",
  "304-bare",
  "200-same",
  "200-new",
  "cut",
  "whole-206",
  "412",
  "no-date",
  "busy",
];

const PLAIN_ANSWERS: PlainAnswer[] = [
  "right",
  "right",
  "right",
  "cut",
  "whole-206",
  "no-date",
  "busy",
];

/** One request and what the server did. */
export interface RevalidationRequest {
  condition: string | null;
  range: string | null;
  ifRange: string | null;
  answer: RevalidationAnswer | PlainAnswer;
  status: number;
  version: number;
  /**
   * A 304 that says the file asked about is current when it is not, or
   * names a version it is not of: a client may keep an older file for it.
   */
  lie: boolean;
}

/** A running revalidation fuzz server. */
export interface RevalidationServer extends AsyncDisposable {
  /** The file's URL. */
  url: string;
  /** Every request, in order. */
  log: RevalidationRequest[];
  /** The version served now (an index into the versions). */
  version(): number;
  /** Moves the file on to its next version, if there is one. */
  change(): void;
  /** The validator of version `version`, if the file has any. */
  validatorOf(version: number): string | undefined;
  /** Whether faults are drawn (false: every answer is the right one). */
  faulty: boolean;
}

/**
 * Starts a server of `versions` (in the order it changes to them) with
 * validators of kind `kind`, whose answers `prng` draws with chance
 * `faultRate` of a fault (see the module comment).
 */
export async function startRevalidationServer(
  prng: Prng,
  versions: Uint8Array[],
  kind: FuzzValidator,
  faultRate: number,
): Promise<RevalidationServer> {
  const log: RevalidationRequest[] = [];
  const state = { version: 0, faulty: true };
  const validatorOf = (version: number): string | undefined =>
    validatorText(kind, `v${version}`, DATES[version] as string);
  const isEtag = kind.endsWith("etag");
  const opaque = (etag: string): string => etag.replace(/^[wW]\//, "");
  // Whether the condition holds for the file now: it is the version asked
  // about (ETags compared weakly, dates not after the one asked about).
  const unchanged = (request: IncomingMessage): boolean => {
    const current = validatorOf(state.version);
    if (current === undefined) return false;
    const match = request.headers["if-none-match"];
    if (match !== undefined) {
      return isEtag && opaque(match) === opaque(current);
    }
    const since = request.headers["if-modified-since"];
    if (since === undefined || isEtag) return false;
    return Date.parse(current) <= Date.parse(since);
  };
  const route = async (
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> => {
    const condition = (request.headers["if-none-match"] ??
      request.headers["if-modified-since"] ?? null) as string | null;
    const conditional = condition !== null;
    let answer: RevalidationAnswer | PlainAnswer = !state.faulty
      ? "right"
      : conditional
      ? prng.chance(faultRate) ? prng.pick(REVALIDATION_ANSWERS) : "right"
      : prng.chance(faultRate)
      ? prng.pick(PLAIN_ANSWERS)
      : "right";
    if (answer === "200-new") {
      if (state.version + 1 < versions.length) state.version++;
      answer = "200-same";
    }
    const version = state.version;
    const body = versions[version] as Uint8Array;
    const validator = validatorOf(version);
    const range = request.headers.range ?? null;
    const ifRange = (request.headers["if-range"] as string | undefined) ??
      null;
    const entry: RevalidationRequest = {
      condition,
      range,
      ifRange,
      answer,
      status: 0,
      version,
      lie: false,
    };
    log.push(entry);
    if (answer === "no-date") response.sendDate = false;
    const headers: Record<string, string> = { "accept-ranges": "bytes" };
    if (validator !== undefined) {
      headers[isEtag ? "etag" : "last-modified"] = validator;
    }
    const send = (status: number, sent: Record<string, string>): void => {
      entry.status = status;
      response.writeHead(status, sent);
    };
    if (answer === "busy") {
      send(503, { "retry-after": "0" });
      response.end("busy");
      return;
    }
    if (answer === "412") {
      send(412, {});
      response.end("precondition failed");
      return;
    }
    const holds = conditional && unchanged(request);
    if (answer === "304-other-etag" || answer === "304-later-date") {
      // Names another version than the one there: another version's ETag
      // (a date-only server's too: a cache before it that mixed answers
      // up), or a later date.
      const other: Record<string, string> = answer === "304-other-etag"
        ? { etag: `"other-${version}"` }
        : { "last-modified": DATES[versions.length + version] as string };
      // A validator of another kind than the one asked with names no
      // version: taken as a bare 304 (a lie if the file changed).
      entry.lie = !holds && ("etag" in other) !== isEtag;
      send(304, other);
      response.end();
      return;
    }
    if (answer === "304-bare") {
      entry.lie = !holds;
      send(304, {});
      response.end();
      return;
    }
    if (conditional && holds && answer !== "200-same") {
      send(304, headers);
      response.end();
      return;
    }
    if (answer === "whole-206" && body.byteLength > 0 && range === null) {
      send(206, {
        ...headers,
        "content-range": `bytes 0-${body.byteLength - 1}/${body.byteLength}`,
        "content-length": String(body.byteLength),
      });
      await writeBytes(response, body);
      response.end();
      return;
    }
    const match = range === null ? null : /^bytes=(\d+)-$/.exec(range);
    // If-Range compares strongly: a weak ETag never matches.
    const rangeOk = match !== null &&
      (ifRange === null ||
        (ifRange === validator && !/^[wW]\//.test(ifRange)));
    let start = 0;
    if (rangeOk) {
      start = Number(match[1]);
      if (start >= body.byteLength) {
        send(416, {
          ...headers,
          "content-range": `bytes */${body.byteLength}`,
        });
        response.end();
        return;
      }
      send(206, {
        ...headers,
        "content-range": `bytes ${start}-${
          body.byteLength - 1
        }/${body.byteLength}`,
        "content-length": String(body.byteLength - start),
      });
    } else {
      send(200, { ...headers, "content-length": String(body.byteLength) });
    }
    const part = body.subarray(start);
    if (answer === "cut" && part.byteLength > 0) {
      await writeBytes(response, part.subarray(0, prng.below(part.byteLength)));
      response.destroy();
      return;
    }
    await writeBytes(response, part);
    response.end();
  };
  const server: TestServer = await startServer({ "/f": route });
  return {
    url: server.url("/f"),
    log,
    version: () => state.version,
    change: () => {
      if (state.version + 1 < versions.length) state.version++;
    },
    validatorOf,
    get faulty(): boolean {
      return state.faulty;
    },
    set faulty(value: boolean) {
      state.faulty = value;
    },
    [Symbol.asyncDispose]: () => server.close(),
  };
}
