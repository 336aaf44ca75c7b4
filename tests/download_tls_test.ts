// Downloads over HTTPS from a server whose certificate's authority the
// client is told to trust, as a company's own authority is: each runs in a
// child process (`_fixtures/tls_child.ts`), since the runtimes read the
// authorities to trust (DENO_CERT on Deno, NODE_EXTRA_CA_CERTS on Node and
// Bun) at start. Each test's server is its own process's only HTTPS server
// the child talks to.

import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import process from "node:process";
import { test } from "node:test";
import { startChild } from "./_helpers/child.ts";
import { assertFileHolds } from "./_helpers/file_bytes.ts";
import { countedHttpsServer } from "./_helpers/https_server.ts";
import { patternBytes } from "./_helpers/server.ts";
import { type TempDir, tempDir } from "./_helpers/temp_dir.ts";
import { SERVER_CERT, SERVER_KEY, TEST_CA_CERT } from "./_helpers/tls_ca.ts";
import {
  EXPIRED_CERT,
  EXPIRED_KEY,
  FAULTS_CA_CERT,
  WRONG_NAME_CERT,
  WRONG_NAME_KEY,
} from "./_helpers/tls_faults.ts";

const BODY = patternBytes(100_000, 3);

/**
 * Downloads `url` into `dir`'s `f` in a child that trusts `ca`; returns
 * what it printed (`done`, or `failed <name> <code>` and the message).
 */
async function downloadTrusting(
  ca: string,
  url: string,
  dir: TempDir,
): Promise<string[]> {
  const caFile = dir.join("ca.pem");
  await writeFile(caFile, ca);
  const env: Record<string, string> = { DENO_NO_UPDATE_CHECK: "1" };
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !/_proxy$/i.test(name)) env[name] = value;
  }
  const child = startChild("tls_child", [url, dir.join("f")], [], {
    ...env,
    DENO_CERT: caFile,
    NODE_EXTRA_CA_CERTS: caFile,
  });
  // "close": after the exit and the end of stdout, so every line is in.
  await new Promise<void>((resolve) => child.process.on("close", resolve));
  return child.lines;
}

for (
  const [what, cert, key] of [
    ["an expired certificate", EXPIRED_CERT, EXPIRED_KEY],
    ["a certificate for another host name", WRONG_NAME_CERT, WRONG_NAME_KEY],
  ] as const
) {
  test(
    `Download does not retry ${what} of a trusted authority (CERT), nor tells how to trust an authority`,
    {
      timeout: 60_000,
    },
    async () => {
      await using dir = await tempDir();
      await using server = await countedHttpsServer(
        { cert, key },
        (_request, response) => response.end("never served"),
      );
      const [said, message = ""] = await downloadTrusting(
        FAULTS_CA_CERT,
        server.url("/f"),
        dir,
      );
      assert.equal(said, "failed NetworkError CERT", message);
      assert.ok(
        message?.startsWith(
          `Cannot download "${server.url("/f")}": certificate rejected: `,
        ),
        message,
      );
      // Trusting another authority would not mend it.
      assert.ok(!message.includes("PEM file"), message);
      assert.equal(server.connections, 1);
      assert.deepEqual(await dir.list(), ["ca.pem"]);
    },
  );
}

/** Answers a body with neither `Content-Length` nor chunks. */
function closeDelimited(response: ServerResponse): void {
  // The body ends where the connection does, which only TLS's close_notify
  // tells from a cut.
  response.writeHead(200, { connection: "close" });
  response.flushHeaders();
}

test(
  "Download saves a body without a length that ends with the TLS connection, on every runtime",
  {
    timeout: 60_000,
  },
  async () => {
    await using dir = await tempDir();
    await using server = await countedHttpsServer(
      { cert: SERVER_CERT, key: SERVER_KEY },
      (_request, response) => {
        closeDelimited(response);
        // A close_notify, then the end of the TCP connection.
        response.end(BODY);
      },
    );
    const lines = await downloadTrusting(TEST_CA_CERT, server.url("/f"), dir);
    assert.deepEqual(lines, ["done"]);
    assert.equal(server.connections, 1);
    await assertFileHolds(dir.join("f"), BODY);
  },
);

test(
  "Download of a body without a length that the server cuts without a TLS close_notify: refused on Deno, Bun and Node 22 and later, taken whole by Node 20's fetch",
  {
    timeout: 60_000,
  },
  async () => {
    await using dir = await tempDir();
    await using server = await countedHttpsServer(
      { cert: SERVER_CERT, key: SERVER_KEY },
      (request, response) => {
        closeDelimited(response);
        response.write(BODY.subarray(0, 50_000), () => {
          // The TCP connection ends without a close_notify.
          request.socket.destroy();
        });
      },
    );
    const lines = await downloadTrusting(TEST_CA_CERT, server.url("/f"), dir);
    const node20 = !("Deno" in globalThis) && !("Bun" in globalThis) &&
      Number(process.versions.node.split(".")[0]) < 22;
    if (!node20) {
      // Each refuses the end of a body without a close_notify: a cut.
      assert.equal(lines[0], "failed RetriesExhaustedError undefined");
      assert.match(
        lines[1] ?? "",
        /#3: connection reset or closed by the server/,
      );
      assert.equal(server.connections, 3);
      assert.deepEqual(await dir.list(), ["ca.pem"]);
      return;
    }
    // Node 20's fetch (undici on Node's TLS) takes the end of the connection
    // as the end of the body, close_notify or not: a cut body is saved as
    // the whole file, which the library cannot tell from one
    // (docs/behaviour.md says to give a digest). Node 22, 24 and 26 refuse
    // it, as Deno and Bun do.
    assert.deepEqual(lines, ["done"]);
    assert.equal(server.connections, 1);
  },
);
