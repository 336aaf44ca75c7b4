import assert from "node:assert/strict";
import { test } from "node:test";
import {
  DEFAULT_CHUNK_SIZE,
  type ResolvedTransferOptions,
  resolveTransferOptions,
  type TransferOptions,
} from "../src/transfer_options.ts";

const URL = "https://example.com/f";

/** `resolved` without its headers, which are compared as entries. */
function plain(
  resolved: ResolvedTransferOptions,
): Omit<ResolvedTransferOptions, "headers"> {
  const { headers: _, ...rest } = resolved;
  return rest;
}

const BUILT_INS = {
  chunkSize: 262_144,
  chunkSizeGiven: false,
  retries: 3,
  backoffBase: 1000,
  backoffCap: 30_000,
  retryAfterCap: 120_000,
  connectTimeout: 30_000,
  idleTimeout: 60_000,
  maxRedirects: 10,
  lockStaleAfter: 10_000,
  lockTimeout: Infinity,
  useEnvProxy: true,
  connections: "auto",
  minSpeed: 0,
  minSpeedWindow: 30_000,
  keepPartialOnError: false,
};

/** Asserts that resolving `options` over `defaults` throws `type` with `message`. */
function assertThrows(
  type: typeof RangeError | typeof TypeError,
  options: TransferOptions,
  defaults: TransferOptions | undefined,
  message?: string,
): void {
  assert.throws(
    () => resolveTransferOptions(URL, options, defaults),
    (error) => {
      assert.ok(error instanceof type, String(error));
      if (message !== undefined) assert.equal(error.message, message);
      return true;
    },
  );
}

test("DEFAULT_CHUNK_SIZE is 256 KiB", () => {
  assert.equal(DEFAULT_CHUNK_SIZE, 262_144);
});

test("resolveTransferOptions() returns the built-in defaults when no options are given", () => {
  const resolved = resolveTransferOptions(URL, {});
  assert.deepEqual(plain(resolved), BUILT_INS);
  assert.equal(resolved.chunkSize, DEFAULT_CHUNK_SIZE);
  assert.ok(resolved.headers instanceof Headers);
  assert.deepEqual([...resolved.headers], []);
  assert.deepEqual(plain(resolveTransferOptions(URL, {}, {})), BUILT_INS);
});

test("resolveTransferOptions() uses the built-in defaults when fields are undefined", () => {
  const allUndefined: TransferOptions = {
    chunkSize: undefined,
    retries: undefined,
    backoffBase: undefined,
    backoffCap: undefined,
    retryAfterCap: undefined,
    connectTimeout: undefined,
    idleTimeout: undefined,
    maxRedirects: undefined,
    useEnvProxy: undefined,
    connections: undefined,
    minSpeed: undefined,
    minSpeedWindow: undefined,
    headers: undefined,
    keepPartialOnError: undefined,
  };
  const resolved = resolveTransferOptions(URL, allUndefined, allUndefined);
  assert.deepEqual(plain(resolved), BUILT_INS);
  assert.deepEqual([...resolved.headers], []);
});

test("resolveTransferOptions() takes every field from options when all are given", () => {
  const options = {
    chunkSize: 4096,
    retries: 7,
    backoffBase: 10,
    backoffCap: 20,
    retryAfterCap: 30,
    connectTimeout: 40,
    idleTimeout: 50,
    maxRedirects: 2,
    lockStaleAfter: 60,
    lockTimeout: 70,
    useEnvProxy: false,
    connections: 3,
    minSpeed: 1000,
    minSpeedWindow: 5000,
    keepPartialOnError: true,
  };
  assert.deepEqual(plain(resolveTransferOptions(URL, options)), {
    ...options,
    chunkSizeGiven: true,
  });
});

test("resolveTransferOptions() takes fields from defaults when options lack them", () => {
  const defaults = {
    chunkSize: 512,
    retries: 1,
    backoffBase: 2,
    backoffCap: 3,
    retryAfterCap: 4,
    connectTimeout: 5,
    idleTimeout: 6,
    maxRedirects: 7,
    lockStaleAfter: 8,
    lockTimeout: 9,
    useEnvProxy: false,
    connections: 1,
    minSpeed: 10,
    minSpeedWindow: 11,
    keepPartialOnError: true,
  };
  assert.deepEqual(plain(resolveTransferOptions(URL, {}, defaults)), {
    ...defaults,
    chunkSizeGiven: true,
  });
});

test("resolveTransferOptions() marks a chunkSize given, even one equal to the default", () => {
  const cases: [TransferOptions, TransferOptions][] = [
    [{ chunkSize: DEFAULT_CHUNK_SIZE }, {}],
    [{}, { chunkSize: DEFAULT_CHUNK_SIZE }],
  ];
  for (const [options, defaults] of cases) {
    const resolved = resolveTransferOptions(URL, options, defaults);
    assert.equal(resolved.chunkSize, DEFAULT_CHUNK_SIZE);
    assert.equal(resolved.chunkSizeGiven, true);
  }
  assert.equal(resolveTransferOptions(URL, {}).chunkSizeGiven, false);
});

test("resolveTransferOptions() prefers options over defaults over built-ins when fields are mixed", () => {
  const resolved = resolveTransferOptions(
    URL,
    { retries: 0, idleTimeout: 5, maxRedirects: undefined },
    { retries: 9, idleTimeout: 500, connectTimeout: 700, maxRedirects: 1 },
  );
  assert.deepEqual(plain(resolved), {
    ...BUILT_INS,
    retries: 0,
    idleTimeout: 5,
    connectTimeout: 700,
    maxRedirects: 1,
  });
});

test("resolveTransferOptions() accepts 0 when fields allow it", () => {
  const resolved = resolveTransferOptions(URL, {
    retries: 0,
    backoffBase: 0,
    backoffCap: 0,
    retryAfterCap: 0,
    connectTimeout: 0,
    idleTimeout: 0,
    maxRedirects: 0,
    lockStaleAfter: 0,
    lockTimeout: 0,
  });
  assert.deepEqual(plain(resolved), {
    chunkSize: DEFAULT_CHUNK_SIZE,
    chunkSizeGiven: false,
    retries: 0,
    backoffBase: 0,
    backoffCap: 0,
    retryAfterCap: 0,
    connectTimeout: 0,
    idleTimeout: 0,
    maxRedirects: 0,
    lockStaleAfter: 0,
    lockTimeout: 0,
    useEnvProxy: true,
    connections: "auto",
    minSpeed: 0,
    minSpeedWindow: 30_000,
    keepPartialOnError: false,
  });
});

test("resolveTransferOptions() takes connections from options, else defaults, else auto", () => {
  const pick = (
    options: number | "auto" | undefined,
    defaults: number | "auto" | undefined,
  ): number | "auto" =>
    resolveTransferOptions(URL, { connections: options }, {
      connections: defaults,
    }).connections;
  assert.equal(pick(undefined, undefined), "auto");
  assert.equal(pick(undefined, 4), 4);
  assert.equal(pick(1, 4), 1);
  assert.equal(pick("auto", 4), "auto");
  assert.equal(pick(16, undefined), 16);
});

test("resolveTransferOptions() throws a RangeError when connections is not auto or 1 to 16", () => {
  for (const connections of [0, -1, 17, 1.5, NaN, Infinity, "8", "max"]) {
    assertThrows(
      RangeError,
      { connections: connections as number },
      undefined,
      `Cannot download "${URL}": connections must be "auto" or a whole number from 1 to 16, got ${connections}`,
    );
  }
});

test("resolveTransferOptions() throws a RangeError when minSpeed is negative, infinite or not a number, a TypeError when no number", () => {
  for (const minSpeed of [-1, Infinity, NaN, "1"]) {
    assertThrows(
      typeof minSpeed === "number" ? RangeError : TypeError,
      { minSpeed: minSpeed as number },
      undefined,
      `Cannot download "${URL}": minSpeed must be 0 or more bytes per second, got ${minSpeed}`,
    );
  }
});

test("resolveTransferOptions() throws a RangeError when minSpeedWindow is not more than 0 ms", () => {
  for (const minSpeedWindow of [0, -1, NaN]) {
    assertThrows(
      RangeError,
      { minSpeedWindow },
      undefined,
      `Cannot download "${URL}": minSpeedWindow must be more than 0 milliseconds, got ${minSpeedWindow}`,
    );
  }
});

test("resolveTransferOptions() takes useEnvProxy from options, else defaults, else true", () => {
  const pick = (
    options: boolean | undefined,
    defaults: boolean | undefined,
  ): boolean =>
    resolveTransferOptions(URL, { useEnvProxy: options }, {
      useEnvProxy: defaults,
    }).useEnvProxy;
  assert.equal(pick(undefined, undefined), true);
  assert.equal(pick(undefined, false), false);
  assert.equal(pick(true, false), true);
  assert.equal(pick(false, true), false);
});

test("resolveTransferOptions() throws a TypeError when useEnvProxy is not a boolean", () => {
  for (const useEnvProxy of ["false", 0, 1]) {
    assertThrows(
      TypeError,
      { useEnvProxy: useEnvProxy as unknown as boolean },
      undefined,
      `Cannot download "${URL}": useEnvProxy must be true or false, got ${useEnvProxy}`,
    );
  }
});

test("resolveTransferOptions() takes keepPartialOnError from options, else defaults, else false", () => {
  const pick = (
    options: boolean | undefined,
    defaults: boolean | undefined,
  ): boolean =>
    resolveTransferOptions(URL, { keepPartialOnError: options }, {
      keepPartialOnError: defaults,
    }).keepPartialOnError;
  assert.equal(pick(undefined, undefined), false);
  assert.equal(pick(undefined, true), true);
  assert.equal(pick(false, true), false);
  assert.equal(pick(true, false), true);
});

test("resolveTransferOptions() throws a TypeError when keepPartialOnError is not a boolean", () => {
  for (const keepPartialOnError of ["true", 1]) {
    assertThrows(
      TypeError,
      { keepPartialOnError: keepPartialOnError as unknown as boolean },
      undefined,
      `Cannot download "${URL}": keepPartialOnError must be true or false, got ${keepPartialOnError}`,
    );
  }
});

test("resolveTransferOptions() accepts Infinity when the field is a timeout", () => {
  const resolved = resolveTransferOptions(URL, {
    connectTimeout: Infinity,
    idleTimeout: Infinity,
  });
  assert.equal(resolved.connectTimeout, Infinity);
  assert.equal(resolved.idleTimeout, Infinity);
});

test("resolveTransferOptions() accepts fractional milliseconds when the field is a duration", () => {
  const resolved = resolveTransferOptions(URL, { backoffBase: 0.5 });
  assert.equal(resolved.backoffBase, 0.5);
});

test("resolveTransferOptions() throws a RangeError when chunkSize is not a positive integer", () => {
  for (const chunkSize of [0, -1, 1.5, NaN, Infinity, 2 ** 53]) {
    assertThrows(
      RangeError,
      { chunkSize },
      undefined,
      `Cannot download "${URL}": chunkSize must be a positive integer, got ${chunkSize}`,
    );
  }
});

test("resolveTransferOptions() throws a RangeError when retries is not a whole number of 0 or more", () => {
  for (const retries of [-1, 1.5, NaN, Infinity]) {
    assertThrows(
      RangeError,
      { retries },
      undefined,
      `Cannot download "${URL}": retries must be a whole number of 0 or more, got ${retries}`,
    );
  }
});

test("resolveTransferOptions() throws a RangeError when maxRedirects is not a whole number of 0 or more", () => {
  for (const maxRedirects of [-1, 0.5, NaN]) {
    assertThrows(
      RangeError,
      { maxRedirects },
      undefined,
      `Cannot download "${URL}": maxRedirects must be a whole number of 0 or more, got ${maxRedirects}`,
    );
  }
});

test("resolveTransferOptions() throws a RangeError when a duration is negative or NaN", () => {
  const names = [
    "backoffBase",
    "backoffCap",
    "retryAfterCap",
    "connectTimeout",
    "idleTimeout",
  ] as const;
  for (const name of names) {
    for (const value of [-1, -0.5, -Infinity, NaN]) {
      assertThrows(
        RangeError,
        { [name]: value },
        undefined,
        `Cannot download "${URL}": ${name} must be 0 or more milliseconds, got ${value}`,
      );
    }
  }
});

test("resolveTransferOptions() throws a RangeError when a value from defaults is out of range", () => {
  assertThrows(RangeError, {}, { chunkSize: 0 });
  assertThrows(RangeError, {}, { retries: -1 });
  assertThrows(RangeError, {}, { idleTimeout: NaN });
  assertThrows(
    RangeError,
    {},
    { maxRedirects: -1 },
    `Cannot download "${URL}": maxRedirects must be a whole number of 0 or more, got -1`,
  );
});

test("resolveTransferOptions() does not check a default when options override it", () => {
  const resolved = resolveTransferOptions(
    URL,
    { chunkSize: 8, retries: 1, idleTimeout: 5, maxRedirects: 2 },
    { chunkSize: 0, retries: -1, idleTimeout: NaN, maxRedirects: -1 },
  );
  assert.deepEqual(plain(resolved), {
    ...BUILT_INS,
    chunkSize: 8,
    chunkSizeGiven: true,
    retries: 1,
    idleTimeout: 5,
    maxRedirects: 2,
  });
});

test("resolveTransferOptions() merges headers with options winning per key when both have headers", () => {
  const resolved = resolveTransferOptions(
    URL,
    { headers: { authorization: "Bearer options", "X-Only-Options": "o" } },
    { headers: { Authorization: "Bearer defaults", "x-only-defaults": "d" } },
  );
  assert.deepEqual([...resolved.headers], [
    ["authorization", "Bearer options"],
    ["x-only-defaults", "d"],
    ["x-only-options", "o"],
  ]);
});

test("resolveTransferOptions() refuses a Range or If-Range header, in options or defaults, with a TypeError", () => {
  for (const name of ["Range", "if-range"]) {
    for (
      const [options, defaults] of [
        [{ headers: { [name]: "bytes=0-9" } }, {}],
        [{}, { headers: [[name, "bytes=0-9"]] }],
      ] as [TransferOptions, TransferOptions][]
    ) {
      assert.throws(() => resolveTransferOptions(URL, options, defaults), {
        name: "TypeError",
        message:
          `Cannot download "${URL}": the ${name.toLowerCase()} header is the library's own (it asks for the ranges it resumes and fetches in parts), not an option`,
      });
    }
  }
});

test("resolveTransferOptions() refuses the connection's own headers, which Node's fetch refuses, with a TypeError", () => {
  for (
    const [name, value] of [
      ["Keep-Alive", "timeout=5"],
      ["transfer-encoding", "chunked"],
      ["Upgrade", "h2c"],
      ["Expect", "100-continue"],
      ["Connection", "upgrade"],
    ] as [string, string][]
  ) {
    assert.throws(
      () => resolveTransferOptions(URL, { headers: { [name]: value } }),
      {
        name: "TypeError",
        message:
          `Cannot download "${URL}": the ${name.toLowerCase()} header is the connection's own (Node's fetch refuses it; connection may only say close or keep-alive), not an option`,
      },
    );
  }
  // What every runtime sends.
  const resolved = resolveTransferOptions(URL, {
    headers: { Connection: "close", TE: "trailers" },
  });
  assert.deepEqual([...resolved.headers], [["connection", "close"], [
    "te",
    "trailers",
  ]]);
});

test("resolveTransferOptions() accepts headers as Headers, entries or a record when given", () => {
  const resolved = resolveTransferOptions(
    URL,
    { headers: [["X-A", "options"], ["x-c", "3"]] },
    { headers: new Headers({ "x-a": "defaults", "X-B": "2" }) },
  );
  assert.deepEqual([...resolved.headers], [
    ["x-a", "options"],
    ["x-b", "2"],
    ["x-c", "3"],
  ]);
});

test("resolveTransferOptions() returns headers of their own when given a Headers object", () => {
  const defaults = new Headers({ "x-a": "1" });
  const options = new Headers({ "x-b": "2" });
  const resolved = resolveTransferOptions(URL, { headers: options }, {
    headers: defaults,
  });
  assert.notEqual(resolved.headers, defaults);
  assert.notEqual(resolved.headers, options);
  resolved.headers.set("x-c", "3");
  assert.deepEqual([...defaults], [["x-a", "1"]]);
  assert.deepEqual([...options], [["x-b", "2"]]);
});

test("resolveTransferOptions() throws a TypeError when a header name is invalid", () => {
  for (const name of ["bad name", "bad:name", "", "caf\u00e9"]) {
    assertThrows(TypeError, { headers: { [name]: "v" } }, undefined);
    assertThrows(TypeError, {}, { headers: [[name, "v"]] });
  }
});

test("resolveTransferOptions() throws a TypeError when a header value is invalid", () => {
  assertThrows(TypeError, { headers: { "x-a": "line\nbreak" } }, undefined);
  assertThrows(TypeError, { headers: { "x-a": "nul\u0000" } }, undefined);
});

test("resolveTransferOptions() names the header it refuses, in the same words on every runtime", () => {
  assertThrows(
    TypeError,
    { headers: { "bad name": "v" } },
    undefined,
    `Cannot download "${URL}": invalid header name "bad name"`,
  );
  // The value is not shown: it may be a credential.
  for (const value of ["line\nbreak", "nul\u0000", "euro \u20ac"]) {
    assertThrows(
      TypeError,
      {},
      { headers: [["x-a", "ok"], ["authorization", value]] },
      `Cannot download "${URL}": the authorization header's value must not contain a line break, a NUL or a character beyond U+00FF`,
    );
  }
});
