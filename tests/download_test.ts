import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  chmod,
  lstat,
  mkdir,
  readFile,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import process from "node:process";
import { test } from "node:test";
import { Download, DownloadInterrupt, HTTPError } from "../mod.ts";
import { basename, join } from "node:path";
import { partialPaths } from "../src/_disk/names.ts";
import {
  bytesRoute,
  deferred,
  fileRoute,
  patternBytes,
  type Route,
  startServer,
  statusRoute,
} from "./_helpers/server.ts";
import { tempDir } from "./_helpers/temp_dir.ts";
import { assertFileHolds } from "./_helpers/file_bytes.ts";

type Report = [number, number | undefined];

function recorder(): {
  reports: Report[];
  progress: (d: Download, c: number, t: number | undefined) => void;
} {
  const reports: Report[] = [];
  return {
    reports,
    progress: (_d, current, total) => reports.push([current, total]),
  };
}

test("Download refuses a callback given where its options go, as the Python seed takes one, before any request", async () => {
  await using server = await startServer({ "/f": bytesRoute(patternBytes(3)) });
  await using dir = await tempDir();
  const finished = () => {};
  assert.throws(
    () => new Download(server.url("/f"), dir.join("f"), finished as never),
    {
      name: "TypeError",
      message:
        "Cannot create Download: options must be an object, such as { progress }, got a function",
    },
  );
  assert.equal(server.requests.length, 0);
  assert.deepEqual(await dir.list(), []);
});

test("Download writes the body byte for byte and leaves only the file", async () => {
  const body = patternBytes(3 * 1024 * 1024 + 123);
  await using server = await startServer({
    "/f": bytesRoute(body, { writeSize: 7000 }),
  });
  await using dir = await tempDir();
  const download = new Download(server.url("/f"), dir.join("f.bin"));
  download.start();
  assert.equal(download.isRunning(), true);
  await download.wait();
  assert.equal(download.isRunning(), false);
  await assertFileHolds(dir.join("f.bin"), body);
  assert.deepEqual(await dir.list(), ["f.bin"]);
  assert.equal(download.error(), undefined);
});

test("Download reports progress once per chunkSize write, as the seed does", async () => {
  const body = patternBytes(16);
  await using server = await startServer({
    "/f": bytesRoute(body, { writeSize: 3 }),
  });
  await using dir = await tempDir();
  const { reports, progress } = recorder();
  const download = new Download(server.url("/f"), dir.join("f"), {
    chunkSize: 4,
    progress,
  });
  download.start();
  await download.wait();
  assert.deepEqual(reports, [[0, 16], [4, 16], [8, 16], [12, 16], [16, 16]]);
  await assertFileHolds(dir.join("f"), body);
});

test("Download splits and joins network chunks into exact chunkSize writes", async () => {
  const body = patternBytes(1000);
  await using server = await startServer({
    "/f": bytesRoute(body, { writeSize: 333 }),
  });
  await using dir = await tempDir();
  const { reports, progress } = recorder();
  const download = new Download(server.url("/f"), dir.join("f"), {
    chunkSize: 64,
    progress,
  });
  download.start();
  await download.wait();
  const expected: Report[] = [[0, 1000]];
  for (let n = 64; n < 1000; n += 64) expected.push([n, 1000]);
  expected.push([1000, 1000]);
  assert.deepEqual(reports, expected);
  await assertFileHolds(dir.join("f"), body);
});

test("Download reports total undefined when the server sends no Content-Length", async () => {
  const body = patternBytes(10);
  await using server = await startServer({
    "/f": bytesRoute(body, { contentLength: false }),
  });
  await using dir = await tempDir();
  const { reports, progress } = recorder();
  const download = new Download(server.url("/f"), dir.join("f"), {
    chunkSize: 4,
    progress,
  });
  download.start();
  await download.wait();
  assert.deepEqual(reports, [[0, undefined], [4, undefined], [8, undefined], [
    10,
    undefined,
  ]]);
  await assertFileHolds(dir.join("f"), body);
});

test("Download of an empty body creates an empty file and reports 0 once", async () => {
  await using server = await startServer({
    "/f": bytesRoute(new Uint8Array()),
  });
  await using dir = await tempDir();
  const { reports, progress } = recorder();
  const download = new Download(server.url("/f"), dir.join("f"), { progress });
  download.start();
  await download.wait();
  assert.deepEqual(reports, [[0, 0]]);
  assert.equal((await readFile(dir.join("f"))).byteLength, 0);
});

test("Download asks for Accept-Encoding: identity", async () => {
  await using server = await startServer({ "/f": bytesRoute(patternBytes(5)) });
  await using dir = await tempDir();
  const download = new Download(server.url("/f"), dir.join("f"));
  download.start();
  await download.wait();
  assert.equal(server.requests.length, 1);
  assert.equal(server.requests[0]?.headers["accept-encoding"], "identity");
});

for (const status of [404, 500]) {
  test(`Download rejects with HTTPError on ${status} and creates no file`, async () => {
    await using server = await startServer({ "/f": statusRoute(status) });
    await using dir = await tempDir();
    const { reports, progress } = recorder();
    const download = new Download(server.url("/f"), dir.join("f"), {
      progress,
      retries: 0,
    });
    download.start();
    await assert.rejects(download.wait(), (error) => {
      assert.ok(error instanceof HTTPError);
      assert.equal(error.status, status);
      assert.equal(error.url, server.url("/f"));
      assert.match(error.message, new RegExp(`server answered ${status}`));
      return true;
    });
    assert.ok(download.error() instanceof HTTPError);
    assert.deepEqual(reports, []);
    assert.deepEqual(await dir.list(), []);
  });
}

test("Download leaves an existing destination untouched when it fails", async () => {
  await using server = await startServer({ "/f": statusRoute(503) });
  await using dir = await tempDir();
  await writeFile(dir.join("f"), "old");
  const download = new Download(server.url("/f"), dir.join("f"), {
    retries: 0,
  });
  download.start();
  await assert.rejects(download.wait(), HTTPError);
  assert.equal(await readFile(dir.join("f"), "utf8"), "old");
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download replaces an existing destination only once complete", async () => {
  const body = patternBytes(100);
  await using server = await startServer({ "/f": bytesRoute(body) });
  await using dir = await tempDir();
  await writeFile(dir.join("f"), "old");
  const seen: string[] = [];
  const download = new Download(server.url("/f"), dir.join("f"), {
    chunkSize: 10,
    progress: (_d, current) => {
      if (current === 50) seen.push(readFileSync(dir.join("f"), "utf8"));
    },
  });
  download.start();
  await download.wait();
  assert.deepEqual(seen, ["old"]);
  await assertFileHolds(dir.join("f"), body);
});

test(
  "Download that replaces an existing file keeps its permissions, as curl -o, wget and rsync do",
  {
    skip: process.platform === "win32",
  },
  async () => {
    const body = patternBytes(100);
    await using server = await startServer({ "/f": bytesRoute(body) });
    await using dir = await tempDir();
    await writeFile(dir.join("tool"), "old");
    await chmod(dir.join("tool"), 0o750);
    const download = new Download(server.url("/f"), dir.join("tool"));
    download.start();
    await download.wait({ raiseIfError: true });
    await assertFileHolds(dir.join("tool"), body);
    assert.equal((await stat(dir.join("tool"))).mode & 0o777, 0o750);
    // A new file is made as any other, without a look at another's mode.
    const fresh = new Download(server.url("/f"), dir.join("new"));
    fresh.start();
    await fresh.wait({ raiseIfError: true });
    await writeFile(dir.join("plain"), "");
    assert.equal(
      (await stat(dir.join("new"))).mode & 0o777,
      (await stat(dir.join("plain"))).mode & 0o777,
    );
  },
);

test(
  "Download.cancel() mid-body ends the download promptly and removes the temp file",
  {
    timeout: 60_000,
  },
  async () => {
    const gate = deferred();
    await using server = await startServer({
      "/f": bytesRoute(patternBytes(64), { gate: gate.promise, gateAt: 8 }),
    });
    await using dir = await tempDir();
    let finishedCalls = 0;
    const reports: number[] = [];
    const download = new Download(server.url("/f"), dir.join("f"), {
      chunkSize: 4,
      finishedCallback: () => finishedCalls++,
      progress: (d, current) => {
        reports.push(current);
        if (current === 8) d.cancel();
      },
    });
    download.start();
    // The server holds the rest of the body until the test ends: wait() can
    // only settle if cancel() aborts the request without waiting for it.
    await assert.rejects(download.wait(), DownloadInterrupt);
    assert.deepEqual(reports, [0, 4, 8]);
    assert.equal(download.isCanceled(), true);
    assert.equal(download.isRunning(), false);
    assert.equal(download.error(), undefined);
    assert.equal(finishedCalls, 1);
    assert.deepEqual(await dir.list(), []);
    assert.throws(() => download.raiseIfError(), DownloadInterrupt);
    await download.wait({ raiseIfError: false });
    gate.resolve();
  },
);

test(
  "Download.cancel() while waiting for the server's answer rejects with DownloadInterrupt",
  {
    timeout: 60_000,
  },
  async () => {
    const answered = deferred();
    const gate = deferred();
    const route: Route = async (_request, response) => {
      answered.resolve();
      await gate.promise;
      response.end();
    };
    await using server = await startServer({ "/f": route });
    await using dir = await tempDir();
    const download = new Download(server.url("/f"), dir.join("f"));
    download.start();
    await answered.promise;
    download.cancel();
    await assert.rejects(download.wait(), DownloadInterrupt);
    assert.deepEqual(await dir.list(), []);
    gate.resolve();
  },
);

test("Download.cancel() before start() settles it without a request", async () => {
  await using server = await startServer({ "/f": bytesRoute(patternBytes(5)) });
  await using dir = await tempDir();
  let finishedCalls = 0;
  const download = new Download(server.url("/f"), dir.join("f"), {
    finishedCallback: () => finishedCalls++,
  });
  download.cancel();
  assert.equal(download.isCanceled(), true);
  await assert.rejects(download.wait(), DownloadInterrupt);
  assert.throws(() => download.start(), /already canceled/);
  assert.equal(finishedCalls, 1);
  assert.equal(server.requests.length, 0);
});

test("Download.cancel() after the download finished does nothing", async () => {
  await using server = await startServer({ "/f": bytesRoute(patternBytes(5)) });
  await using dir = await tempDir();
  const download = new Download(server.url("/f"), dir.join("f"));
  download.start();
  await download.wait();
  download.cancel();
  assert.equal(download.isCanceled(), false);
  await download.wait();
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download makes an error thrown by the progress callback its error", async () => {
  await using server = await startServer({
    "/f": bytesRoute(patternBytes(32)),
  });
  await using dir = await tempDir();
  const boom = new Error("boom");
  let finishedCalls = 0;
  const download = new Download(server.url("/f"), dir.join("f"), {
    chunkSize: 8,
    finishedCallback: () => finishedCalls++,
    progress: (_d, current) => {
      if (current === 16) throw boom;
    },
  });
  download.start();
  await assert.rejects(download.wait(), (error) => error === boom);
  assert.equal(download.error(), boom);
  assert.equal(finishedCalls, 1);
  assert.deepEqual(await dir.list(), []);
});

test("Download keeps an error over a cancel that came with it", async () => {
  await using server = await startServer({
    "/f": bytesRoute(patternBytes(32)),
  });
  await using dir = await tempDir();
  const boom = new Error("boom");
  const download = new Download(server.url("/f"), dir.join("f"), {
    chunkSize: 8,
    progress: (d, current) => {
      if (current === 8) {
        d.cancel();
        throw boom;
      }
    },
  });
  download.start();
  await assert.rejects(download.wait(), (error) => error === boom);
  assert.equal(download.isCanceled(), true);
  assert.throws(() => download.raiseIfError(), (error) => error === boom);
  assert.deepEqual(await dir.list(), []);
});

test("Download has no error until it has ended when its onStateChange throws as it starts", async () => {
  await using server = await startServer({ "/f": bytesRoute(patternBytes(4)) });
  await using dir = await tempDir();
  const boom = new Error("boom");
  const download = new Download(server.url("/f"), dir.join("f"), {
    onStateChange: (_d, state) => {
      if (state === "running") throw boom;
    },
  });
  download.start();
  // Still running (it stops at once, but has not ended): no error yet, as
  // error() and the seed's raise_if_error() say.
  assert.equal(download.state, "running");
  assert.equal(download.isRunning(), true);
  assert.equal(download.error(), undefined);
  download.raiseIfError();
  await assert.rejects(download.wait(), (error) => error === boom);
  assert.equal(download.state, "failed");
  assert.equal(download.error(), boom);
  assert.deepEqual(await dir.list(), []);
});

test("Download makes an error thrown by finishedCallback its error", async () => {
  await using server = await startServer({ "/f": bytesRoute(patternBytes(4)) });
  await using dir = await tempDir();
  const boom = new Error("boom");
  const download = new Download(server.url("/f"), dir.join("f"), {
    finishedCallback: () => {
      throw boom;
    },
  });
  download.start();
  await assert.rejects(download.wait(), (error) => error === boom);
  // The file was complete when the callback ran: it stays.
  assert.deepEqual(await dir.list(), ["f"]);
});

test("Download runs finishedCallback once, before wait() resolves", async () => {
  await using server = await startServer({ "/f": bytesRoute(patternBytes(4)) });
  await using dir = await tempDir();
  const calls: Download[] = [];
  const download = new Download(server.url("/f"), dir.join("f"), {
    finishedCallback: (d) => calls.push(d),
  });
  download.start();
  await download.wait();
  assert.deepEqual(calls, [download]);
});

test("Download fails on a dropped connection and removes the temp file", async () => {
  const route: Route = (_request, response) => {
    response.writeHead(200, { "content-length": 1000 });
    response.write(patternBytes(100), () => response.destroy());
  };
  await using server = await startServer({ "/f": route });
  await using dir = await tempDir();
  const download = new Download(server.url("/f"), dir.join("f"), {
    chunkSize: 10,
  });
  download.start();
  await assert.rejects(
    download.wait(),
    (error) => !(error instanceof DownloadInterrupt),
  );
  assert.notEqual(download.error(), undefined);
  assert.deepEqual(await dir.list(), []);
});

test("Download fails when the destination's directory is missing", async () => {
  await using server = await startServer({ "/f": bytesRoute(patternBytes(4)) });
  await using dir = await tempDir();
  const download = new Download(server.url("/f"), dir.join("missing", "f"));
  download.start();
  await assert.rejects(download.wait(), /No such file|os error 2|ENOENT/);
  assert.deepEqual(await dir.list(), []);
});

test("Download fails with a TypeError before any request when a directory is at the destination", async () => {
  await using server = await startServer({ "/f": bytesRoute(patternBytes(4)) });
  await using dir = await tempDir();
  await mkdir(dir.join("f", "inside"), { recursive: true });
  const download = new Download(server.url("/f"), dir.join("f"));
  download.start();
  await assert.rejects(download.wait(), {
    name: "TypeError",
    message: `Cannot download "${server.url("/f")}" to "${
      dir.join("f")
    }": a directory is in the way`,
  });
  assert.equal(server.requests.length, 0);
  assert.deepEqual(await dir.list(), ["f"]);
  assert.deepEqual(await dir.list("f"), ["inside"]);
});

for (const which of ["lock", "sidecar"] as const) {
  test(`Download fails with a FileSystemError naming its ${which} when a directory is in its place, and leaves the directory as it is`, async () => {
    const body = patternBytes(300_000, 1);
    await using server = await startServer({
      "/f": fileRoute({ body, etag: '"v1"' }).route,
    });
    await using dir = await tempDir();
    const dest = dir.join("f");
    const paths = partialPaths(dest);
    const path = paths[which];
    await mkdir(join(path, "inside"), { recursive: true });
    // Small writes: a sidecar is written for a file of more than one.
    const download = new Download(server.url("/f"), dest, { chunkSize: 4096 });
    download.start();
    await assert.rejects(download.wait(), {
      name: "FileSystemError",
      code: "EISDIR",
      path: dest,
      message: `Cannot download "${server.url("/f")}" to "${dest}" (its ${
        which === "lock" ? "lock file" : "sidecar"
      } "${path}"): a directory is in the way (EISDIR)`,
    });
    assert.deepEqual(await dir.list(), [basename(path)]);
    assert.deepEqual(await dir.list(basename(path)), ["inside"]);
  });
}

test("Download.setProgress() during a download redirects the next reports", async () => {
  await using server = await startServer({
    "/f": bytesRoute(patternBytes(16)),
  });
  await using dir = await tempDir();
  const first: number[] = [];
  const second: number[] = [];
  const download = new Download(server.url("/f"), dir.join("f"), {
    chunkSize: 4,
    progress: (d, current) => {
      first.push(current);
      if (current === 4) d.setProgress((_d, c) => second.push(c));
    },
  });
  download.start();
  await download.wait();
  assert.deepEqual(first, [0, 4]);
  assert.deepEqual(second, [8, 12, 16]);
});

test("Download.setProgress(null) stops the reports", async () => {
  await using server = await startServer({
    "/f": bytesRoute(patternBytes(16)),
  });
  await using dir = await tempDir();
  const reports: number[] = [];
  const download = new Download(server.url("/f"), dir.join("f"), {
    chunkSize: 4,
    progress: (d, current) => {
      reports.push(current);
      if (current === 8) d.setProgress(null);
    },
  });
  download.start();
  await download.wait();
  assert.deepEqual(reports, [0, 4, 8]);
});

test("Download uses the fetch function it is given", async () => {
  await using server = await startServer({ "/f": bytesRoute(patternBytes(4)) });
  await using dir = await tempDir();
  let calls = 0;
  const authFetch: typeof fetch = (input, init) => {
    calls++;
    const headers = new Headers(init?.headers);
    headers.set("authorization", "Bearer token");
    return fetch(input, { ...init, headers });
  };
  const download = new Download(server.url("/f"), dir.join("f"), {
    fetch: authFetch,
  });
  download.start();
  await download.wait();
  assert.equal(calls, 1);
  assert.equal(server.requests[0]?.headers.authorization, "Bearer token");
});

test("Download.start() twice throws", async () => {
  await using server = await startServer({ "/f": bytesRoute(patternBytes(4)) });
  await using dir = await tempDir();
  const download = new Download(server.url("/f"), dir.join("f"));
  download.start();
  assert.throws(() => download.start(), /already started/);
  await download.wait();
  assert.throws(() => download.start(), /already started/);
});

test("Download.wait() before start() rejects", async () => {
  const download = new Download("http://127.0.0.1:9/f", "f");
  await assert.rejects(download.wait(), /not started/);
});

test("Download constructor rejects a bad URL, dest or chunkSize", () => {
  assert.throws(() => new Download("not a url", "f"), {
    name: "TypeError",
    message: `Cannot download "not a url": it is not a URL`,
  });
  assert.throws(() => new Download("http://127.0.0.1/f", ""), TypeError);
  for (
    const url of [
      "file:///etc/passwd",
      "data:text/plain,x",
      "ftp://127.0.0.1/f",
      "blob:http://127.0.0.1/0",
    ]
  ) {
    assert.throws(() => new Download(url, "f"), {
      name: "TypeError",
      message: `Cannot download "${
        new URL(url).href
      }": only http: and https: URLs are supported`,
    });
  }
  // A name longer than file systems take would only fail at the rename.
  assert.throws(
    () => new Download("http://127.0.0.1/f", "d/" + "n".repeat(256)),
    {
      name: "TypeError",
      message: /the file name is longer than 255 bytes/,
    },
  );
  assert.doesNotThrow(() =>
    new Download("http://127.0.0.1/f", "n".repeat(255))
  );
  // So would a path that names a directory.
  for (const dest of ["d/", ".", "..", "d/.", "d/..", "d\\"]) {
    assert.throws(() => new Download("http://127.0.0.1/f", dest), {
      name: "TypeError",
      message:
        `Cannot download "http://127.0.0.1/f" to "${dest}": it names a directory, not a file`,
    }, dest);
  }
  for (const dest of ["d/.f", "d/..f", "f.", "..."]) {
    assert.doesNotThrow(() => new Download("http://127.0.0.1/f", dest), dest);
  }
  for (const chunkSize of [0, -1, 1.5, Number.NaN, Infinity]) {
    assert.throws(
      () => new Download("http://127.0.0.1/f", "f", { chunkSize }),
      RangeError,
    );
  }
});

test("Download to a destination that is a symbolic link replaces the link with the file, never writing through it", async () => {
  const body = patternBytes(5000);
  await using server = await startServer({ "/f": bytesRoute(body) });
  await using dir = await tempDir();
  await using elsewhere = await tempDir();
  await writeFile(elsewhere.join("target"), "precious");
  await chmod(elsewhere.join("target"), 0o700);
  await symlink(elsewhere.join("target"), dir.join("to-file"));
  await symlink(elsewhere.join("missing"), dir.join("dangling"));
  for (const name of ["to-file", "dangling"]) {
    const download = new Download(server.url("/f"), dir.join(name));
    download.start();
    await download.wait();
    const info = await lstat(dir.join(name));
    assert.equal(info.isFile(), true, name);
    // A file of its own: not given the target's mode.
    assert.notEqual(info.mode & 0o777, 0o700, name);
    await assertFileHolds(dir.join(name), body);
  }
  assert.deepEqual(await dir.list(), ["dangling", "to-file"]);
  assert.deepEqual(await elsewhere.list(), ["target"]);
  assert.equal(await readFile(elsewhere.join("target"), "utf8"), "precious");
});

test("Download with skipIfExists takes a symbolic link to a file as the file there, and a link to nowhere as nothing", async () => {
  const body = patternBytes(5000);
  await using server = await startServer({ "/f": bytesRoute(body) });
  await using dir = await tempDir();
  await using elsewhere = await tempDir();
  await writeFile(elsewhere.join("target"), "precious");
  await symlink(elsewhere.join("target"), dir.join("to-file"));
  await symlink(elsewhere.join("missing"), dir.join("dangling"));
  const skipped = new Download(server.url("/f"), dir.join("to-file"), {
    skipIfExists: true,
  });
  skipped.start();
  await skipped.wait();
  assert.equal(skipped.skipped, true);
  assert.equal((await lstat(dir.join("to-file"))).isSymbolicLink(), true);
  const fetched = new Download(server.url("/f"), dir.join("dangling"), {
    skipIfExists: true,
  });
  fetched.start();
  await fetched.wait();
  assert.equal(fetched.skipped, false);
  await assertFileHolds(dir.join("dangling"), body);
  assert.equal(server.requests.length, 1);
  assert.equal(await readFile(elsewhere.join("target"), "utf8"), "precious");
  assert.deepEqual(await elsewhere.list(), ["target"]);
});

test("Download into a subdirectory that is a symbolic link follows it, as curl does, and leaves only the file there", async () => {
  const body = patternBytes(5000);
  await using server = await startServer({ "/f": bytesRoute(body) });
  await using dir = await tempDir();
  await using elsewhere = await tempDir();
  await symlink(elsewhere.path, dir.join("sub"));
  const download = new Download(server.url("/f"), dir.join("sub", "f"));
  download.start();
  await download.wait();
  await assertFileHolds(elsewhere.join("f"), body);
  assert.deepEqual(await elsewhere.list(), ["f"]);
  assert.deepEqual(await dir.list(), ["sub"]);
});
