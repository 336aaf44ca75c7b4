// Files past 4 GiB without storing them: a route serving a virtual file whose
// bytes are a function of their offset (with ranges and a strong ETag), and
// what a process killed mid-download of it leaves (its lock, a sparse
// partial file and the sidecar naming it), so that a resumed download is
// sent only the bytes past the offset under test.

import { truncate, writeFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { basename } from "node:path";
import { partialFile, partialPaths } from "../../src/_disk/names.ts";
import { thisProcess } from "../../src/_disk/process_identity.ts";
import {
  RANGES_SIDECAR_VERSION,
  SIDECAR_VERSION,
  writeSidecar,
} from "../../src/_disk/sidecar.ts";
import type { Route } from "./server.ts";

/** 2^30 bytes. */
export const GiB = 1024 ** 3;

/** Each block of the virtual file starts with its offset. */
const BLOCK = 4096;

/**
 * Bytes `[start, end)` of the virtual file: each 4 KiB block starts with its
 * offset as a 64-bit big-endian number, its other bytes `(i * 31 + 7) & 255`
 * at index `i` in the block. A byte written at the wrong offset shows.
 */
export function virtualBytes(start: number, end: number): Uint8Array {
  const first = Math.floor(start / BLOCK) * BLOCK;
  const blocks = new Uint8Array(Math.ceil((end - first) / BLOCK) * BLOCK);
  const view = new DataView(blocks.buffer);
  for (let at = 0; at < blocks.byteLength; at += BLOCK) {
    const offset = first + at;
    view.setUint32(at, Math.floor(offset / 2 ** 32));
    view.setUint32(at + 4, offset % 2 ** 32);
    for (let i = 8; i < BLOCK; i++) blocks[at + i] = (i * 31 + 7) & 0xff;
  }
  return blocks.subarray(start - first, end - first);
}

/** What a {@linkcode virtualFileRoute} was asked. */
export interface VirtualFileLog {
  /** The Range header of each request, or null. */
  ranges: (string | null)[];
  /** The body bytes sent in answer to each request. */
  sent: number[];
}

/**
 * A route serving a virtual file of `size` bytes (see
 * {@linkcode virtualBytes}) as a real server does: `Accept-Ranges`, a
 * strong `etag`, `Range` (`bytes=a-b` and `bytes=a-`) with `If-Range`,
 * and a 416 for a range past the end. The body goes out 1 MiB at a time,
 * as the client takes it.
 */
export function virtualFileRoute(
  size: number,
  etag: string,
): { route: Route; log: VirtualFileLog } {
  const log: VirtualFileLog = { ranges: [], sent: [] };
  const route: Route = async (request, response) => {
    const index = log.ranges.length;
    const range = request.headers.range ?? null;
    const ifRange = request.headers["if-range"];
    log.ranges.push(range);
    log.sent.push(0);
    const headers: Record<string, string | number> = {
      "accept-ranges": "bytes",
      etag,
    };
    const match = range === null ? null : /^bytes=(\d+)-(\d*)$/.exec(range);
    let start = 0;
    let end = size;
    if (match !== null && (ifRange === undefined || ifRange === etag)) {
      start = Number(match[1]);
      if (start >= size) {
        headers["content-range"] = `bytes */${size}`;
        response.writeHead(416, headers).end();
        return;
      }
      end = match[2] ? Math.min(size, Number(match[2]) + 1) : size;
      headers["content-range"] = `bytes ${start}-${end - 1}/${size}`;
      headers["content-length"] = end - start;
      response.writeHead(206, headers);
    } else {
      headers["content-length"] = size;
      response.writeHead(200, headers);
    }
    for (let at = start; at < end && !response.destroyed;) {
      const bytes = virtualBytes(at, Math.min(end, at + 1024 * 1024));
      await write(response, bytes);
      at += bytes.byteLength;
      log.sent[index] = at - start;
    }
    response.end();
  };
  return { route, log };
}

/** Writes `bytes`, resolving once the client can take more, or is gone. */
function write(response: ServerResponse, bytes: Uint8Array): Promise<void> {
  if (response.write(bytes)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      response.off("drain", done);
      response.off("close", done);
      resolve();
    };
    response.once("drain", done);
    response.once("close", done);
  });
}

/** What {@linkcode leaveSparsePartial} leaves. */
export interface SparsePartial {
  /** The download's URL, as the sidecar records it. */
  url: string;
  /** The whole file's length. */
  total: number;
  /** The partial file's size: a hole, but for what `fill` writes. */
  size: number;
  /** The validator the sidecar records (the server's strong ETag). */
  validator: string;
  /**
   * The ranges on disk (a sidecar of version 3), or none: the partial file
   * is a prefix (version 2).
   */
  ranges?: [number, number][];
}

/** A pid no process has here (above Linux's pid_max). */
const DEAD_PID = 4_194_305;

/**
 * Leaves beside `dest` what a process of this machine killed mid-download
 * leaves: its lock, its partial file (sparse: `size` bytes of hole, which
 * costs no disk), and the sidecar naming them. Returns the partial file's
 * path.
 */
export async function leaveSparsePartial(
  dest: string,
  { url, total, size, validator, ranges }: SparsePartial,
): Promise<string> {
  const paths = partialPaths(dest);
  const owner = { ...thisProcess(), pid: DEAD_PID };
  const token = "dead00000000dead-0";
  await writeFile(paths.lock, JSON.stringify({ ...owner, token }));
  const partial = partialFile(paths, token);
  await writeFile(partial, new Uint8Array(0));
  await truncate(partial, size);
  await writeSidecar(paths.sidecar, {
    version: ranges === undefined ? SIDECAR_VERSION : RANGES_SIDECAR_VERSION,
    url,
    validator,
    total,
    partial: basename(partial),
    writer: token,
    owner,
    ranges,
  });
  return partial;
}
