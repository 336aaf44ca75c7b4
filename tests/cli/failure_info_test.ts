// Why a file failed, as a script sees it: the `failure` object of
// `dlmanager --json`'s `fail` event (src/cli/failure_info.ts), from real
// servers on 127.0.0.1 that answer 404, 410, 403 or 500, cut connections,
// refuse them, serve bytes of another digest, or, as mirrors of one file,
// fail each in its own way; and the plain line that says the same in words.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { runCli } from "../_helpers/cli.ts";
import {
  bytesRoute,
  closedPort,
  fileRoute,
  patternBytes,
  startServer,
  statusRoute,
} from "../_helpers/server.ts";
import { tmpfs } from "../_helpers/mount.ts";
import { tempDir } from "../_helpers/temp_dir.ts";
import { type FailureInfo, failureInfo } from "../../src/cli/failure_info.ts";
import {
  FileSystemError,
  HTTPError,
  NetworkError,
  ProtocolError,
  ProxyError,
  RedirectError,
  RetriesExhaustedError,
  TimeoutError,
} from "../../mod.ts";

const BODY = patternBytes(20_000, 3);
const SHA256_BODY = createHash("sha256").update(BODY).digest("hex");

/**
 * Runs `dlmanager --json -d dir` with `args`, which must fail (exit 1), and
 * answers its `fail` events by file name.
 */
async function failsOf(
  dir: string,
  args: string[],
): Promise<Record<string, Record<string, unknown>>> {
  const result = await runCli(["--json", "-d", dir, ...args]);
  assert.equal(result.code, 1, result.stderr);
  const fails: Record<string, Record<string, unknown>> = {};
  for (const line of result.stdout.trimEnd().split("\n")) {
    const event = JSON.parse(line);
    if (event.event === "fail") fails[event.name] = event;
  }
  return fails;
}

/** What `failureInfo` makes of an error of one attempt at `url`. */
function one(
  kind: FailureInfo["kind"],
  name: string,
  message: string,
  url: string,
  extra: Partial<FailureInfo> = {},
): FailureInfo {
  return { kind, name, message, url, status: null, attempts: 1, ...extra };
}

test("dlmanager --json tells a 404, a 410, a 403 and a 500 apart by kind and status in each fail event's failure, and exits 1", async () => {
  await using server = await startServer({
    "/gone.bin": statusRoute(410, "Gone"),
    "/denied.bin": statusRoute(403, "Forbidden"),
    "/broken.bin": statusRoute(500, "Internal Server Error"),
  });
  await using dir = await tempDir();
  const names = ["missing.bin", "gone.bin", "denied.bin", "broken.bin"];
  const urls = names.map((name) => server.url(`/${name}`));
  const fails = await failsOf(dir.path, ["--retries", "0", ...urls]);
  const expected: [string, FailureInfo["kind"], number, string][] = [
    ["missing.bin", "not_found", 404, "Not Found"],
    ["gone.bin", "not_found", 410, "Gone"],
    ["denied.bin", "denied", 403, "Forbidden"],
    ["broken.bin", "server_error", 500, "Internal Server Error"],
  ];
  for (const [name, kind, status, text] of expected) {
    const url = server.url(`/${name}`);
    const error = `Cannot download "${url}": server answered ${status} ${text}`;
    assert.deepEqual(fails[name], {
      event: "fail",
      name,
      url,
      error,
      failure: one(kind, "HTTPError", error, url, { status }),
    });
  }
  // The plain lines say the same in words: the status and its text.
  const plain = await runCli(["--retries", "0", "-d", dir.path, ...urls]);
  assert.equal(plain.code, 1);
  for (const [name, , status, text] of expected) {
    assert.ok(
      plain.stderr.includes(
        `failed  ${name}: Cannot download "${
          server.url(`/${name}`)
        }": server answered ${status} ${text}\n`,
      ),
      plain.stderr,
    );
  }
});

test("dlmanager --json gives a file whose every attempt failed its attempts' kind, status and count, and each attempt's error, told first in its retry event", async () => {
  await using server = await startServer({
    "/broken.bin": statusRoute(503, "Service Unavailable"),
  });
  await using dir = await tempDir();
  const url = server.url("/broken.bin");
  // Retry-After: none, so the backoff (at most 1 s with one retry).
  const result = await runCli([
    "--json",
    "-d",
    dir.path,
    "--retries",
    "1",
    url,
  ]);
  assert.equal(result.code, 1, result.stderr);
  const events = result.stdout.trimEnd().split("\n").map((line) =>
    JSON.parse(line)
  );
  const attempt =
    `Cannot download "${url}": server answered 503 Service Unavailable`;
  const retry = events.find((event) => event.event === "retry");
  assert.deepEqual(retry, {
    ...retry,
    attempt: 1,
    error: "server answered 503 Service Unavailable",
    failure: one("server_error", "HTTPError", attempt, url, { status: 503 }),
  });
  const fail = events.find((event) => event.event === "fail");
  const error =
    `Cannot download "${url}": 2 attempts failed (#1: server answered 503 Service Unavailable; #2: server answered 503 Service Unavailable)`;
  assert.deepEqual(fail, {
    event: "fail",
    name: "broken.bin",
    url,
    error,
    failure: {
      kind: "server_error",
      name: "RetriesExhaustedError",
      message: error,
      url,
      status: 503,
      attempts: 2,
      errors: [
        one("server_error", "HTTPError", attempt, url, { status: 503 }),
        one("server_error", "HTTPError", attempt, url, { status: 503 }),
      ],
    },
  });
});

// A connection cut mid-body, not one reset at once: Node 20's fetch was
// seen to take a reset before any answer for no answer, until the connect
// timeout (30 s), where Deno's and the other runs saw the reset.
test("dlmanager --json tells a connection cut mid-body and a connection refused as network failures, with the code and no status", async () => {
  const { route: cutRoute } = fileRoute({
    body: BODY,
    ranges: false,
    faults: [{ dropAfter: 10_000 }],
  });
  await using server = await startServer({ "/cut.bin": cutRoute });
  const cutUrl = server.url("/cut.bin");
  const refusedUrl = `http://127.0.0.1:${await closedPort()}/refused.bin`;
  await using dir = await tempDir();
  const fails = await failsOf(dir.path, [
    "--retries",
    "0",
    cutUrl,
    refusedUrl,
  ]);
  const cutError =
    `Cannot download "${cutUrl}": connection reset or closed by the server`;
  assert.deepEqual(fails["cut.bin"], {
    event: "fail",
    name: "cut.bin",
    url: cutUrl,
    error: cutError,
    failure: one("network", "NetworkError", cutError, cutUrl, {
      code: "ECONNRESET",
    }),
  });
  const refusedError = `Cannot download "${refusedUrl}": connection refused`;
  assert.deepEqual(fails["refused.bin"], {
    event: "fail",
    name: "refused.bin",
    url: refusedUrl,
    error: refusedError,
    failure: one("network", "NetworkError", refusedError, refusedUrl, {
      code: "ECONNREFUSED",
    }),
  });
});

test("dlmanager --json tells bytes of another sha256 as an integrity failure, with both digests", async () => {
  await using server = await startServer({ "/a.bin": bytesRoute(BODY) });
  await using dir = await tempDir();
  const url = server.url("/a.bin");
  const wanted = "0".repeat(64);
  const fails = await failsOf(dir.path, ["--sha256", wanted, url]);
  const error =
    `Cannot download "${url}": sha256 mismatch: expected ${wanted}, got ${SHA256_BODY}`;
  assert.deepEqual(fails["a.bin"], {
    event: "fail",
    name: "a.bin",
    url,
    error,
    failure: one("integrity", "IntegrityError", error, url, {
      algorithm: "sha256",
      expected: wanted,
      actual: SHA256_BODY,
    }),
  });
  assert.deepEqual(await dir.list(), []);
});

test("dlmanager --json lists each mirror's error with its source: mixed when they failed differently, their kind when alike", async () => {
  await using server = await startServer({
    "/broken/a.bin": statusRoute(500, "Internal Server Error"),
    "/cut/a.bin": fileRoute({
      body: BODY,
      ranges: false,
      faults: [{ dropAfter: 10_000 }],
    }).route,
  });
  await using dir = await tempDir();
  const url = server.url("/a.bin");
  const broken = server.url("/broken/a.bin");
  const cut = server.url("/cut/a.bin");
  const args = ["--retries", "0", url, "--mirror", broken, "--mirror", cut];
  const fail = (await failsOf(dir.path, args))["a.bin"];
  const error =
    `Cannot download "${url}": 3 sources failed (#1 (${url}): server answered 404 Not Found; #2 (${broken}): server answered 500 Internal Server Error; #3 (${cut}): connection reset or closed by the server)`;
  assert.deepEqual(fail, {
    event: "fail",
    name: "a.bin",
    url,
    error,
    failure: {
      kind: "mixed",
      name: "RetriesExhaustedError",
      message: error,
      url,
      status: null,
      attempts: 3,
      errors: [{
        ...one(
          "not_found",
          "HTTPError",
          `Cannot download "${url}": server answered 404 Not Found`,
          url,
          { status: 404 },
        ),
        source: url,
      }, {
        ...one(
          "server_error",
          "HTTPError",
          `Cannot download "${broken}": server answered 500 Internal Server Error`,
          broken,
          { status: 500 },
        ),
        source: broken,
      }, {
        ...one(
          "network",
          "NetworkError",
          `Cannot download "${url}": connection reset or closed by the server`,
          cut,
          { code: "ECONNRESET" },
        ),
        source: cut,
      }],
    },
  });

  // Every mirror without the file: not found, 404, whichever was asked.
  const mirror = server.url("/elsewhere/a.bin");
  const alike = await failsOf(dir.path, [url, "--mirror", mirror]);
  const failure = alike["a.bin"]?.failure as FailureInfo | undefined;
  assert.deepEqual(
    [failure?.kind, failure?.status, failure?.attempts],
    ["not_found", 404, 2],
  );
  assert.deepEqual(failure?.errors?.map((each) => each.source), [url, mirror]);
});

// A signed link's signature is a secret for a while: the message names
// where the redirect led by its host or path, and so does the failure.
test("dlmanager --json gives the URL asked as the failure's url, not where a redirect led with its query", async () => {
  await using server = await startServer({
    "/a.bin": (_request, response) => {
      response.writeHead(302, {
        location: server.url("/signed/a.bin?sig=s3cr3t"),
      }).end();
    },
    "/signed/a.bin": statusRoute(403, "Forbidden"),
  });
  await using dir = await tempDir();
  const url = server.url("/a.bin");
  const fails = await failsOf(dir.path, [url]);
  const error =
    `Cannot download "${url}": server answered 403 Forbidden (/signed/a.bin)`;
  assert.deepEqual(fails["a.bin"], {
    event: "fail",
    name: "a.bin",
    url,
    error,
    failure: one("denied", "HTTPError", error, url, { status: 403 }),
  });
});

test("dlmanager --json tells a file name another URL of the run took as name_taken", async () => {
  await using server = await startServer({
    "/x/a.bin": bytesRoute(BODY),
    "/y/a.bin": bytesRoute(BODY),
  });
  await using dir = await tempDir();
  const taken = server.url("/y/a.bin");
  const fails = await failsOf(dir.path, [server.url("/x/a.bin"), taken]);
  const error =
    `Cannot download "${taken}": the file name "a.bin" is taken by "${
      server.url("/x/a.bin")
    }" (name it with -o, or with URL<TAB>name in an -i list)`;
  assert.deepEqual(fails["a.bin"], {
    event: "fail",
    name: "a.bin",
    url: taken,
    error,
    failure: one("name_taken", "Error", error, taken),
  });
});

test("dlmanager --json tells a disk that filled up as disk_full, with the path and ENOSPC", async (t) => {
  await using dir = await tempDir();
  await using full = await tmpfs(dir.join("small"), "64k");
  if (full === undefined) {
    t.skip("needs root, to mount a small tmpfs");
    return;
  }
  const big = patternBytes(1_000_000, 4);
  await using server = await startServer({ "/big.bin": bytesRoute(big) });
  const url = server.url("/big.bin");
  const fail = (await failsOf(full.path, ["-x", "1", url]))["big.bin"];
  const failure = fail?.failure as FailureInfo | undefined;
  assert.deepEqual(
    [failure?.kind, failure?.name, failure?.code, failure?.status],
    ["disk_full", "FileSystemError", "ENOSPC", null],
  );
  assert.equal(failure?.message, fail?.error);
  assert.ok(failure?.path?.startsWith(full.path), failure?.path);
});

test("failureInfo() gives each error class its kind", () => {
  const url = "https://example.com/a.bin";
  const kinds = [
    [new HTTPError(401, url), "denied", 401],
    [new HTTPError(429, url), "client_error", 429],
    [new HTTPError(502, url), "server_error", 502],
    [new NetworkError(url, new Error("x")), "network", null],
    [new TimeoutError("idle", 5000, url), "network", null],
    [new ProxyError(url, 407, "http://proxy:3128"), "proxy", 407],
    [new ProtocolError("short"), "protocol", null],
    [new RedirectError("loop"), "redirect", null],
    [new FileSystemError("c", "/d", "ENOSPC"), "disk_full", null],
    [new FileSystemError("c", "/d", "EDQUOT"), "disk_full", null],
    [new FileSystemError("c", "/d", "EACCES"), "permission", null],
    [new FileSystemError("c", "/d", "EROFS"), "permission", null],
    [new FileSystemError("c", "/d", "EIO"), "file_system", null],
    [new Error("?"), "other", null],
    [
      new RetriesExhaustedError(url, [
        new HTTPError(503, url),
        new TimeoutError("connect", 5000, url),
      ]),
      "mixed",
      null,
    ],
  ] as const;
  assert.deepEqual(
    kinds.map(([error]) => {
      const { kind, status } = failureInfo(error, url);
      return [error.name, kind, status];
    }),
    kinds.map(([error, kind, status]) => [error.name, kind, status]),
  );
  const timeout = failureInfo(
    new TimeoutError("slow", 5000, url, {
      minSpeed: 10,
      speed: 1,
    }),
    url,
  );
  assert.equal(timeout.phase, "slow");
  const proxy = failureInfo(new ProxyError(url, 407, "http://proxy:3128"), url);
  assert.equal(proxy.proxy, "http://proxy:3128");
});
