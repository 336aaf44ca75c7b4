// What a failed request or body read means for a download, the same on every
// runtime.

import { NetworkError, ProtocolError, ProxyError } from "../errors.ts";
import {
  isDecodeFailure,
  isPermissionFailure,
  malformedAnswer,
  outOfDescriptors,
  proxyRefusal,
} from "./network_failure.ts";
import { FinalProtocolError } from "./retry_policy.ts";

/**
 * What `error`, from a request or body read of a download of `url` whose
 * attempt `signal` aborts, means:
 * - the abort's reason, if the attempt was aborted (a cancel, a timeout);
 * - a {@linkcode ProtocolError} for a body that does not decode as its
 *   `Content-Encoding` says (decoded by `fetch`, or by the library), or a
 *   `ProtocolError` already;
 * - a `ProtocolError` that is not retried for an answer the runtime's HTTP
 *   parser refused as not HTTP (conflicting `Content-Length`s, say): the
 *   server would send it so again, and it is no failure of the connection;
 * - the runtime's own error, as it is, for a request its permissions refuse
 *   (Deno's `NotCapable` without `--allow-net`): not a connection failure,
 *   and never retried;
 * - the system's error, as it is, for a connection the process had no file
 *   descriptor for (EMFILE, ENFILE): the download fails with it as a
 *   `FileSystemError`, as when it has none for its file, at once (curl and
 *   aria2 fail that file too: a retry would meet the same limit while the
 *   other downloads hold it);
 * - a {@linkcode ProxyError} for a request the proxy refused (a `407`, or
 *   a tunnel it would not open), naming `proxy`;
 * - else a {@linkcode NetworkError}, which names the failure (and, for a
 *   host name not found, the host of `at`: the URL asked, a mirror of `url`
 *   or where a redirect led), and `proxy`, the proxy the request went
 *   through, if any (for a host name not found, the proxy's host).
 */
export function failureOf(
  url: string,
  error: unknown,
  signal: AbortSignal,
  at: string = url,
  proxy?: string | undefined,
): unknown {
  if (signal.aborted) return signal.reason;
  if (error instanceof ProtocolError) return error;
  if (isPermissionFailure(error)) return error;
  const exhausted = outOfDescriptors(error);
  if (exhausted !== undefined) return exhausted;
  if (isDecodeFailure(error)) {
    return new UndecodableBody(
      `Cannot download "${url}": the body does not decode as its Content-Encoding says (${
        error instanceof Error ? error.message : String(error)
      })`,
    );
  }
  const refusal = proxyRefusal(error);
  if (refusal !== undefined) {
    return new ProxyError(url, refusal.status, proxy, { cause: error });
  }
  const malformed = malformedAnswer(error);
  if (malformed !== undefined) return invalidAnswer(url, malformed, proxy);
  return new NetworkError(url, error, at, proxy);
}

/**
 * A {@linkcode ProtocolError} for a body that does not decode as its
 * `Content-Encoding` says: a broken transfer, retried as one; but a rest
 * (a 206) that fails so before a byte of it is written is a range of a
 * compressed stream, which no decoder can start in, and is never joined to
 * the bytes on disk. Callers see a `ProtocolError`.
 *
 * @example
 * ```ts
 * import { ProtocolError } from "../errors.ts";
 *
 * const error = new UndecodableBody("Cannot download \"https://example.com/f\"");
 * error instanceof ProtocolError; // true
 * ```
 */
export class UndecodableBody extends ProtocolError {}

/**
 * The error of an answer that is not valid HTTP, `why` telling how: its
 * bytes' framing cannot be trusted, and the server would answer so again.
 * It names `proxy`, the proxy the request went through, if any: the answer
 * may be the proxy's (a runtime's `fetch` does not tell whose it parsed).
 */
export function invalidAnswer(
  url: string,
  why: string,
  proxy?: string | undefined,
): FinalProtocolError {
  const through = proxy === undefined ? "" : ` (through the proxy ${proxy})`;
  return new FinalProtocolError(
    `Cannot download "${url}": the server's answer is not valid HTTP: ${why}${through}`,
  );
}
