// Redirects as real servers make them: a URL answered with a 302 to a
// signed link that expires (GitHub's release assets, presigned S3 and CDN
// links), or to another server per request (a load balancer). The library
// asks the URL it was given again for every request (a retry, a resume, a
// part, a revalidation), never a link a redirect led to before. The
// redirects live in src/_http/request.ts.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Download, type DownloadOptions, HTTPError } from "../mod.ts";
import {
  deferred,
  fileRoute,
  type FileRouteLog,
  type FileRouteOptions,
  patternBytes,
  type SignedLinks,
  signedLinks,
  startServer,
  type TestServer,
} from "./_helpers/server.ts";
import { type TempDir, tempDir } from "./_helpers/temp_dir.ts";
import { assertFileHolds } from "./_helpers/file_bytes.ts";

const MiB = 1024 * 1024;
const BODY = patternBytes(4 * MiB + 4321, 11);
const ETAG = '"signed-1"';
const FAST: DownloadOptions = { backoffBase: 1, backoffCap: 5 };

/** A file behind a redirector to signed links, served by {@linkcode serveSigned}. */
interface Signed extends AsyncDisposable {
  /** The URL a user is given: the redirector's. */
  url: string;
  /** The server of the redirector. */
  server: TestServer;
  /** The server of the signed links (the redirector's, unless `elsewhere`). */
  cdn: TestServer;
  links: SignedLinks;
  log: FileRouteLog;
}

/**
 * Serves `file` (of {@linkcode BODY} and {@linkcode ETAG} unless it says
 * otherwise) behind a redirector to signed links at `/f`: links of one use
 * with `oneUse`, on another origin with `elsewhere`, and, from the redirector's
 * `staleFrom`th answer on (from 0), expired by the time they are asked (its
 * answer cached past their life).
 */
async function serveSigned(
  file: Partial<FileRouteOptions> = {},
  options: { oneUse?: boolean; elsewhere?: boolean; staleFrom?: number } = {},
): Promise<Signed> {
  const { route, log } = fileRoute({ body: BODY, etag: ETAG, ...file });
  const links = signedLinks(route, () => cdn.url("/blob"), options);
  let answered = 0;
  const server = await startServer({
    "/f": (request, response) => {
      links.redirect(request, response);
      if (answered++ >= (options.staleFrom ?? Infinity)) links.expireAll();
    },
    "/blob": links.signed,
  });
  const cdn = options.elsewhere
    ? await startServer({ "/blob": links.signed })
    : server;
  return {
    url: server.url("/f"),
    server,
    cdn,
    links,
    log,
    [Symbol.asyncDispose]: async () => {
      await server.close();
      await cdn.close();
    },
  };
}

/** Downloads `url` into `dir` as "f"; the download, ended. */
async function run(
  url: string,
  dir: TempDir,
  options: DownloadOptions = {},
): Promise<Download> {
  const download = new Download(url, dir.join("f"), { ...FAST, ...options });
  download.start();
  await download.wait({ raiseIfError: false });
  return download;
}

test("Download retried after a cut asks the URL given again, not the signed link it was redirected to, which expired", async () => {
  const release = deferred();
  await using signed = await serveSigned({
    faults: [{ dropAfter: MiB, release: release.promise }],
  }, { oneUse: true });
  const { links, log } = signed;
  await using dir = await tempDir();
  const download = await run(signed.url, dir, {
    retries: 1,
    // The cut waits until its bytes are on disk (Bun's fetch drops what it
    // had not handed over).
    progress: (_download, current) => {
      if (current >= MiB) release.resolve();
    },
  });
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), BODY);
  // The resume went through the redirect again, to a link of its own.
  assert.deepEqual(links.used, ["0", "1"]);
  assert.equal(links.refused, 0);
  assert.deepEqual(log.ranges, [null, `bytes=${MiB}-`]);
  assert.deepEqual(log.ifRanges, [null, ETAG]);
  assert.equal(download.getFinalUrl(), signed.cdn.url("/blob?sig=1"));
});

test("Download with connections asks the URL given for each part, each redirected to a link of its own", async () => {
  await using signed = await serveSigned({}, { oneUse: true });
  const { links } = signed;
  await using dir = await tempDir();
  const download = await run(signed.url, dir, { connections: 4 });
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), BODY);
  // Whatever the order the parts asked in: each link used once, none refused.
  assert.ok(links.used.length > 1, String(links.used));
  assert.equal(new Set(links.used).size, links.used.length);
  assert.equal(links.refused, 0);
});

test("DownloadManager revalidates a file through the URL given, not the signed link it was redirected to, which expired", async () => {
  await using signed = await serveSigned();
  const { links, log } = signed;
  await using dir = await tempDir();
  {
    await using manager = dir.manager({ ...FAST, revalidate: "always" });
    await manager.download(signed.url)?.wait();
  }
  links.expireAll();
  await using manager = dir.manager({ ...FAST, revalidate: "always" });
  const download = manager.download(signed.url);
  await download?.wait();
  assert.equal(download?.revalidation, "fresh");
  assert.equal(links.refused, 0);
  assert.deepEqual(log.conditions, [null, `if-none-match: ${ETAG}`]);
  assert.deepEqual(log.statuses, [200, 304]);
  await assertFileHolds(dir.join("f"), BODY);
});

test("Download names the URL given and the server a redirect led to when that server refuses, not the signed link", async () => {
  await using signed = await serveSigned({}, {
    elsewhere: true,
    staleFrom: 0,
  });
  await using dir = await tempDir();
  const download = await run(signed.url, dir, { retries: 3 });
  const error = download.error();
  assert.ok(error instanceof HTTPError, String(error));
  assert.equal(
    error.message,
    `Cannot download "${signed.url}": server answered 403 Forbidden (${
      new URL(signed.cdn.url("/")).host
    })`,
  );
  // The URL that answered, signature and all, for a program to look at.
  assert.equal(error.url, signed.cdn.url("/blob?sig=0"));
  assert.deepEqual(signed.links.used, ["0"]);
  assert.deepEqual(await dir.list(), []);
});

test("Download with connections names the URL given and the path a redirect led to when a part's link has expired", async () => {
  // The first answer's link is good; every part's has expired.
  await using signed = await serveSigned({}, { staleFrom: 1 });
  await using dir = await tempDir();
  const download = await run(signed.url, dir, { connections: 4 });
  const error = download.error();
  assert.ok(error instanceof HTTPError, String(error));
  assert.equal(
    error.message,
    `Cannot download "${signed.url}": server answered 403 Forbidden (/blob)`,
  );
  assert.match(error.url, /\/blob\?sig=[1-9]/);
  assert.ok(signed.links.refused > 0);
});

test("Download with connections, redirected per request to servers of other versions, never joins parts of two", async () => {
  // A load balancer over two servers, each with a version of its own (its
  // own ETag): the parts' If-Range keeps each to the first answer's.
  const other = patternBytes(BODY.byteLength, 12);
  const a = fileRoute({ body: BODY, etag: '"a"' });
  const b = fileRoute({ body: other, etag: '"b"' });
  await using serverA = await startServer({ "/f": a.route });
  await using serverB = await startServer({ "/f": b.route });
  let turn = 0;
  await using balancer = await startServer({
    "/f": (_request, response) => {
      const to = turn++ % 2 === 0 ? serverA : serverB;
      response.writeHead(302, { location: to.url("/f") }).end();
    },
  });
  await using dir = await tempDir();
  const download = await run(balancer.url("/f"), dir, { connections: 4 });
  assert.equal(download.error(), undefined);
  const final = download.getFinalUrl();
  assert.ok([serverA.url("/f"), serverB.url("/f")].includes(final), final);
  await assertFileHolds(
    dir.join("f"),
    final === serverA.url("/f") ? BODY : other,
  );
});

test("Download with connections sends no Authorization or Cookie it was given to the server another origin's redirect leads to", async () => {
  await using signed = await serveSigned({}, {
    oneUse: true,
    elsewhere: true,
  });
  await using dir = await tempDir();
  const download = await run(signed.url, dir, {
    connections: 4,
    headers: new Headers({ Authorization: "Bearer secret", Cookie: "s=1" }),
  });
  assert.equal(download.error(), undefined);
  await assertFileHolds(dir.join("f"), BODY);
  assert.ok(signed.cdn.requests.length > 1);
  for (const { headers } of signed.cdn.requests) {
    assert.equal(headers.authorization, undefined);
    assert.equal(headers.cookie, undefined);
  }
  for (const { headers } of signed.server.requests) {
    assert.equal(headers.authorization, "Bearer secret");
    assert.equal(headers.cookie, "s=1");
  }
});
