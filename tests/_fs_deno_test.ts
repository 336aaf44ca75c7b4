// The runtime adapter's Deno side. Deno only: it needs Deno's own APIs, so
// the npm build leaves it out of the Node run (files ending in _deno_test.ts).

import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { test } from "node:test";
import { bytesRoute, deferred, patternBytes, startServer } from "./_server.ts";
import { tempDir } from "./_temp_dir.ts";
import { DenoFileWriter, denoFs } from "../src/_fs_deno.ts";
import type { FileWriter } from "../src/_fs_types.ts";
import { fsCases } from "./_fs_cases.ts";

fsCases("denoFs", denoFs);

// `pipe`, Deno's native pipe from a fetch body to a file: Deno only.

const BODY = patternBytes(700_000);

class ReadFailure extends Error {}

/** What `url` answers with: its body, and a writer's native pipe into `path`. */
async function bodyAndPipe(url: string, writer: FileWriter): Promise<{
  body: ReadableStream<Uint8Array>;
  pipe: NonNullable<FileWriter["pipe"]>;
}> {
  const { body } = await fetch(url);
  assert.ok(body !== null, "no body");
  assert.ok(writer.pipe !== undefined, "no pipe on Deno");
  return { body, pipe: writer.pipe.bind(writer) };
}

test("denoFs writer.pipe() moves a fetch body into the file and closes it", async () => {
  await using server = await startServer({ "/f": bytesRoute(BODY) });
  await using dir = await tempDir();
  const writer = await denoFs.createNew(dir.join("f"));
  const { body, pipe } = await bodyAndPipe(server.url("/f"), writer);
  await pipe(body, (error) => new ReadFailure("", { cause: error }));
  await writer.close(); // already closed by the pipe: a no-op
  assert.deepEqual(new Uint8Array(await readFile(dir.join("f"))), BODY);
});

test("denoFs writer.pipe() appends to a file opened with openAppend", async () => {
  await using server = await startServer({ "/f": bytesRoute(BODY) });
  await using dir = await tempDir();
  const first = await denoFs.createNew(dir.join("f"));
  await first.write(BODY.subarray(0, 10));
  await first.close();
  const writer = await denoFs.openAppend(dir.join("f"));
  const { body, pipe } = await bodyAndPipe(server.url("/f"), writer);
  await pipe(body, (error) => error);
  const bytes = new Uint8Array(await readFile(dir.join("f")));
  assert.equal(bytes.byteLength, 10 + BODY.byteLength);
  assert.deepEqual(bytes.subarray(10), BODY);
});

test("denoFs writer.pipe() maps a failed read with readError, keeping what was written", async () => {
  const sent = deferred();
  await using server = await startServer({
    "/f": async (request, response) => {
      response.writeHead(200, { "content-length": BODY.byteLength });
      response.write(BODY.subarray(0, 300_000), () => sent.resolve());
      await sent.promise;
      request.socket.destroy();
    },
  });
  await using dir = await tempDir();
  const writer = await denoFs.createNew(dir.join("f"));
  const { body, pipe } = await bodyAndPipe(server.url("/f"), writer);
  await assert.rejects(
    pipe(body, (error) => new ReadFailure("", { cause: error })),
    (error) => error instanceof ReadFailure && error.cause instanceof TypeError,
  );
  const bytes = new Uint8Array(await readFile(dir.join("f")));
  assert.ok(bytes.byteLength <= 300_000);
  assert.deepEqual(bytes, BODY.subarray(0, bytes.byteLength));
});

test("denoFs writer.pipe() throws a failed write as it is, not as a read error", async () => {
  await using server = await startServer({ "/f": bytesRoute(BODY) });
  await using dir = await tempDir();
  await writeFile(dir.join("f"), new Uint8Array(0));
  // A file open for reading only: every write fails (EBADF).
  const writer = new DenoFileWriter(await Deno.open(dir.join("f")));
  const { body, pipe } = await bodyAndPipe(server.url("/f"), writer);
  await assert.rejects(
    pipe(body, (error) => new ReadFailure("", { cause: error })),
    (error) => error instanceof Error && !(error instanceof ReadFailure),
  );
  await writer.close();
});
