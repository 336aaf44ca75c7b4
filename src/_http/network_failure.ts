// What a failed `fetch` (or body read) means, the same on every runtime. Each
// runtime reports a connection failure its own way: Node's fetch (undici) as
// a `TypeError: fetch failed` whose `cause` carries a system error code; Bun
// with the code on the error itself; Deno with a message only, a level or two
// down in `cause`. This reads the whole chain and names the failure with one
// stable code and a few plain words.

import { fs } from "../_runtime/fs.ts";
import { trustedCaVariable } from "../_runtime/trusted_ca.ts";

/** A connection failure's stable code; see {@linkcode NetworkErrorCode}. */
export type NetworkErrorCode =
  | "ENOTFOUND"
  | "EAI_AGAIN"
  | "ECONNREFUSED"
  | "ECONNRESET"
  | "ETIMEDOUT"
  | "EHOSTUNREACH"
  | "ENETUNREACH"
  | "CERT"
  | "TLS"
  | "BAD_PORT"
  | "UNKNOWN";

/** A classified failure: its code and what to tell a person. */
export interface NetworkFailure {
  /** The stable code. */
  code: NetworkErrorCode;
  /** A few plain words, e.g. "connection refused". */
  reason: string;
}

// System and runtime error codes, by the stable code they mean.
const CODES: Record<string, NetworkErrorCode> = {
  ENOTFOUND: "ENOTFOUND",
  EAI_NONAME: "ENOTFOUND",
  EAI_NODATA: "ENOTFOUND",
  EAI_AGAIN: "EAI_AGAIN",
  EAI_FAIL: "EAI_AGAIN",
  ECONNREFUSED: "ECONNREFUSED",
  ConnectionRefused: "ECONNREFUSED",
  ECONNRESET: "ECONNRESET",
  ConnectionClosed: "ECONNRESET",
  EPIPE: "ECONNRESET",
  ECONNABORTED: "ECONNRESET",
  UND_ERR_SOCKET: "ECONNRESET",
  UND_ERR_CLOSED: "ECONNRESET",
  ETIMEDOUT: "ETIMEDOUT",
  UND_ERR_CONNECT_TIMEOUT: "ETIMEDOUT",
  // Node's fetch gives up by itself after 300 s without the headers, or
  // without body bytes, whatever the download's own limits: its body's
  // error then says "terminated", as for a connection the server closed.
  UND_ERR_HEADERS_TIMEOUT: "ETIMEDOUT",
  UND_ERR_BODY_TIMEOUT: "ETIMEDOUT",
  EHOSTUNREACH: "EHOSTUNREACH",
  EHOSTDOWN: "EHOSTUNREACH",
  ENETUNREACH: "ENETUNREACH",
  ENETDOWN: "ENETUNREACH",
};

// Deno's messages (from hyper, rustls and the OS), in the order to test them.
const MESSAGES: [RegExp, NetworkErrorCode][] = [
  // A port the Fetch standard blocks (6000, 6665 to 6669, 10080...), refused
  // before any connection: undici's words (Node) and Deno's. Bun blocks none.
  [
    /^bad port$|^(?:fetch failed: )?requests to port \d+ are blocked$/i,
    "BAD_PORT",
  ],
  [/temporary failure in name resolution|EAI_AGAIN/i, "EAI_AGAIN"],
  [
    /dns error|name or service not known|no address associated|nodename nor servname|failed to lookup address/i,
    "ENOTFOUND",
  ],
  [/connection refused/i, "ECONNREFUSED"],
  [/certificate|UnknownIssuer|CaUsedAsEndEntity|NotValidForName/i, "CERT"],
  // The server closed the connection mid-handshake: what Node and Bun call
  // ECONNRESET ("socket disconnected before secure TLS connection was
  // established").
  [/tls handshake eof/i, "ECONNRESET"],
  // rustls's words for a peer that does not speak TLS as it should (an
  // `https:` URL to a plain HTTP port: "received corrupt message of type
  // InvalidContentType"), where Node and Bun say TLS or SSL.
  [
    /tls|handshake|ssl|received corrupt message|peer is incompatible|peer misbehaved|received fatal alert|received unexpected (handshake )?message/i,
    "TLS",
  ],
  [
    /connection reset|connection closed|broken pipe|error reading a body|unexpected eof|incomplete message|other side closed|terminated/i,
    "ECONNRESET",
  ],
  [/timed out/i, "ETIMEDOUT"],
  [/no route to host|host is down/i, "EHOSTUNREACH"],
  [/network is unreachable/i, "ENETUNREACH"],
];

const REASONS: Record<NetworkErrorCode, string> = {
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed for now",
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset or closed by the server",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  CERT: "certificate rejected",
  TLS: "secure connection (TLS) failed",
  BAD_PORT:
    "port blocked by the runtime's fetch (one of the Fetch standard's \"bad ports\", which browsers refuse too): serve the file on another port",
  UNKNOWN: "connection failed",
};

// A certificate rejected because no trusted authority signed it (self-signed,
// or a private authority's): Node's and Bun's codes, rustls's words on Deno.
// Trusting the authority mends it, where an expired certificate or one for
// another host name is the server's to mend.
const UNKNOWN_ISSUER_CODES =
  /SELF_SIGNED|UNABLE_TO_VERIFY_LEAF|UNABLE_TO_GET_ISSUER/;
const UNKNOWN_ISSUER_MESSAGES = /UnknownIssuer|CaUsedAsEndEntity/;

/** The errors of `error`'s `cause` chain, outermost first (at most 8). */
function chain(error: unknown): unknown[] {
  const errors: unknown[] = [];
  for (let e = error; e != null && errors.length < 8;) {
    errors.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  return errors;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A message without the words Deno puts before the failure's own
 * ("error sending request for url (<url>): client error (Connect): ", or,
 * once connected, "error sending request from <address> for <url>
 * (<address>): client error (SendRequest): "): the URL is already in the
 * error's message.
 */
function ownWords(message: string): string {
  return message.replace(
    /^error sending request (?:from \S+ )?for (?:url \(\S*\)|\S+ \(\S+\)): (?:client error \(\w+\): )?/,
    "",
  );
}

/** `text` without the URLs Deno puts in its messages (they may hold any word). */
function withoutUrls(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s)]*/gi, "<url>");
}

/**
 * Names a connection failure: by a known error code anywhere in the chain
 * (a certificate code `CERT_*`, `*_CERT*` or `ERR_TLS_CERT_*` is `CERT`), else
 * by the runtime's words, else `UNKNOWN`. The reason adds the innermost
 * message when the code alone says little (a certificate's problem, or an
 * unknown failure), and, for a certificate no trusted authority signed, the
 * variable that makes the runtime trust one; then it names `server` (a
 * `host:port`, for a request to another server than the URL's, after a
 * redirect or to a mirror), whose certificate or TLS it was.
 */
export function classifyNetworkFailure(
  error: unknown,
  server?: string | undefined,
): NetworkFailure {
  const errors = chain(error);
  const innermost = ownWords(messageOf(errors.at(-1)));
  let code: NetworkErrorCode | undefined;
  let unknownIssuer = false;
  for (const e of errors) {
    const raw = (e as { code?: unknown } | null)?.code;
    if (typeof raw !== "string") continue;
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(raw)) {
      code = "CERT";
      unknownIssuer = UNKNOWN_ISSUER_CODES.test(raw);
      break;
    }
    code = CODES[raw];
    if (code !== undefined) break;
  }
  if (code === undefined) {
    for (const e of errors) {
      const message = withoutUrls(messageOf(e));
      code = MESSAGES.find(([pattern]) => pattern.test(message))?.[1];
      if (code !== undefined) break;
    }
  }
  code ??= "UNKNOWN";
  if (code !== "CERT" && code !== "TLS" && code !== "UNKNOWN") {
    return { code, reason: REASONS[code] };
  }
  unknownIssuer ||= code === "CERT" && UNKNOWN_ISSUER_MESSAGES.test(innermost);
  const hint = unknownIssuer
    ? ` (to trust the authority that signed it, name its PEM file in ${trustedCaVariable()})`
    : "";
  const where = server === undefined ? "" : ` (${server})`;
  return { code, reason: `${REASONS[code]}${where}: ${innermost}${hint}` };
}

// The codes a body that does not decode fails with: node:zlib's (in Node's
// fetch, and in the library's decoding on Deno: `_body/content_decoding.ts`)
// and Bun's fetch's.
const DECODE_CODES = /^(Z_|ERR__ERROR_|ZlibError$|BrotliDecompressionError$)/;

/** Whether a failed body read is a body that does not decode as it said. */
export function isDecodeFailure(error: unknown): boolean {
  return chain(error).some((e) => {
    const code = (e as { code?: unknown } | null)?.code;
    return typeof code === "string" && DECODE_CODES.test(code);
  });
}

// An answer the runtime's HTTP parser refused as not HTTP/1.1 (conflicting
// or malformed `Content-Length`, `Content-Length` with `Transfer-Encoding`, a
// bad status line or chunk): undici's `HTTPParserError` (Node), hyper's words
// (Deno), Bun's codes. Undici's "Invalid EOF state" is a body the
// connection cut, not a malformed one: a cut, resumed as any.
const MALFORMED_NAMES = /^HTTPParserError$/;
const MALFORMED_CODES =
  /^(?:InvalidContentLength|InvalidHTTPResponse|Malformed_HTTP_Response|InvalidTransferEncoding)$/;
const MALFORMED_MESSAGES =
  /\binvalid (?:content-length|transfer-encoding|HTTP [\w-]+) parsed\b|\bunexpected transfer-encoding parsed\b|\bmessage head is too large\b/i;
const CUT = /\bInvalid EOF state\b|^HPE_INVALID_EOF_STATE$/i;

/**
 * The runtime's words when a failed `fetch` or body read is an answer that
 * is not valid HTTP (its framing cannot be trusted, so neither can a byte
 * of it), else `undefined`.
 */
export function malformedAnswer(error: unknown): string | undefined {
  for (const e of chain(error)) {
    const { name, code } = (e ?? {}) as { name?: unknown; code?: unknown };
    const message = ownWords(messageOf(e));
    if (CUT.test(message) || (typeof code === "string" && CUT.test(code))) {
      return undefined;
    }
    if (
      (typeof name === "string" && MALFORMED_NAMES.test(name)) ||
      (typeof code === "string" && MALFORMED_CODES.test(code)) ||
      MALFORMED_MESSAGES.test(message)
    ) {
      // Bun's message repeats the URL, which the error's own names.
      return message.replace(/ fetching ".*$/s, "");
    }
  }
  return undefined;
}

// How each runtime says that the proxy refused a tunnel (`CONNECT`): undici
// (Node's `fetch` through the npm package's agent) and Bun
// (`ERR_PROXY_TUNNEL`) give the proxy's status; Deno (hyper) says "proxy
// authentication required" for a 407, else "unsuccessful tunnel". undici 7
// and 8 forward an `http:` URL's request (the package tells undici 7 not to
// tunnel it), as Deno and Bun do, but fail it on a 407, where they hand the
// answer over.
const TUNNEL_STATUS = [
  /^Proxy response \((\d{3})\) !== 200 when HTTP Tunneling$/,
  /^Proxy refused to open a tunnel: (\d{3})\b/,
  /^Proxy Authentication Required \((407)\)$/,
];
const DENO_PROXY_AUTH = /\bproxy authentication required$/i;
const DENO_TUNNEL = /\bunsuccessful tunnel$/i;

/**
 * The npm package's words on Node (`_runtime/fetch.npm.ts`) for a proxy's
 * answer to `CONNECT` that is not HTTP, which undici tells apart from a
 * server's answer in the tunnel: a refusal whose status is not known, as
 * Deno says of it ("unsuccessful tunnel"). Bun's `Malformed_HTTP_Response`
 * does not tell whose answer it was.
 */
export const TUNNEL_ANSWER_NOT_HTTP =
  "The proxy's answer to CONNECT is not HTTP";

/**
 * Whether a failed `fetch` was the proxy's refusal to forward or tunnel the
 * request, and its status where the runtime tells it (`{ status: 407 }`,
 * `{ status: undefined }`); `undefined` for any other failure.
 */
export function proxyRefusal(
  error: unknown,
): { status: number | undefined } | undefined {
  for (const e of chain(error)) {
    const message = messageOf(e);
    for (const pattern of TUNNEL_STATUS) {
      const status = pattern.exec(message)?.[1];
      if (status !== undefined) return { status: Number(status) };
    }
    if (DENO_PROXY_AUTH.test(message)) return { status: 407 };
    if (DENO_TUNNEL.test(message) || message === TUNNEL_ANSWER_NOT_HTTP) {
      return { status: undefined };
    }
  }
  return undefined;
}

/**
 * Whether a failed `fetch` (before any body) is undici's refusal of a
 * `Content-Length` it cannot take (two that differ, or one with
 * `Transfer-Encoding`: Node 22 on say so). In a body, the same error is
 * a body the connection cut short, and is not this.
 */
export function isLengthRefused(error: unknown): boolean {
  return chain(error).some((e) =>
    (e as { code?: unknown } | null)?.code ===
      "UND_ERR_RES_CONTENT_LENGTH_MISMATCH"
  );
}

// The names of the errors a runtime throws for an access its permissions
// deny: Deno's `NotCapable` (`PermissionDenied` before Deno 2). Node's
// permission model says `ERR_ACCESS_DENIED`, in `code`.
const PERMISSION_NAMES = new Set(["NotCapable", "PermissionDenied"]);

/**
 * Whether a failed `fetch` was refused by the runtime's permissions (Deno
 * without `--allow-net` for the host): no retry can mend that.
 */
export function isPermissionFailure(error: unknown): boolean {
  return chain(error).some((e) => {
    const { name, code } = (e ?? {}) as { name?: unknown; code?: unknown };
    return (typeof name === "string" && PERMISSION_NAMES.has(name)) ||
      code === "ERR_ACCESS_DENIED";
  });
}

/**
 * The system's error in a failed `fetch` that found the process (or the
 * system) out of file descriptors for its connection (EMFILE, ENFILE), as
 * the file-system adapter names it (see `Fs.errorCode`); else `undefined`.
 * A file-system call's error, or one that names it as its cause, is read
 * the same way.
 */
export function outOfDescriptors(error: unknown): unknown {
  return chain(error).find((e) => {
    const code = fs.errorCode(e);
    return code === "EMFILE" || code === "ENFILE";
  });
}
