import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError } from "../../src/cli/usage_error.ts";
import { jobFileName, plan } from "../../src/cli/plan.ts";

function throwsUsage(fn: () => unknown, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UsageError, `not a UsageError: ${error}`);
    assert.equal(error.name, "UsageError");
    assert.equal(error.message, message);
    return true;
  });
}

test("jobFileName() returns the job's own name when it has one", () => {
  assert.equal(
    jobFileName({ url: "https://example.com/dir/", name: "x.zip" }),
    "x.zip",
  );
});

test("jobFileName() returns the URL's last path segment, decoded, when the job has no name", () => {
  assert.equal(
    jobFileName({ url: "https://example.com/d/a%20b.zip?x=1#f" }),
    "a b.zip",
  );
  assert.equal(jobFileName({ url: "https://example.com/%C3%A9" }), "é");
});

test("jobFileName() throws telling how to name the file when the URL gives no plain file name", () => {
  const fix = "(name it with -o, or with URL<TAB>name in an -i list)";
  throwsUsage(
    () => jobFileName({ url: "https://example.com/" }),
    `Cannot download "https://example.com/": the URL has no file name ${fix}`,
  );
  throwsUsage(
    () => jobFileName({ url: "https://example.com/a%zz" }),
    `Cannot download "https://example.com/a%zz": the file name "a%zz" is not valid percent-encoding ${fix}`,
  );
  throwsUsage(
    () => jobFileName({ url: "https://example.com/a%2Fb" }),
    `Cannot download "https://example.com/a%2Fb": the file name "a/b" is not a plain file name: name must not contain a path separator ${fix}`,
  );
});

test("jobFileName() refuses a URL whose name has a control character, shown as an escape", () => {
  throwsUsage(
    () => jobFileName({ url: "https://example.com/a%0Ab" }),
    `Cannot download "https://example.com/a%0Ab": the file name "a\\nb" is not a plain file name: name must not contain a control character (such as a newline or an escape) (name it with -o, or with URL<TAB>name in an -i list)`,
  );
});

test("plan() names every job, plans one URL once, and marks another URL's taken name", () => {
  const a = "https://a.example/f.zip";
  const b = "https://b.example/f.zip";
  assert.deepEqual(
    plan([{ url: a }, { url: b }, { url: a }, { url: b, name: "g.zip" }]),
    [
      { job: { url: a }, name: "f.zip" },
      { job: { url: b }, name: "f.zip", taken: a },
      { job: { url: b, name: "g.zip" }, name: "g.zip" },
    ],
  );
});

test("jobFileName() refuses a name reserved for partial downloads, its own or its URL's", () => {
  const reserved = ".a.bin.4fef9cffec13.dlpart.json";
  throwsUsage(
    () => jobFileName({ url: "https://example.com/x", name: reserved }),
    `Cannot download "https://example.com/x" as "${reserved}": the name is reserved for partial downloads`,
  );
  throwsUsage(
    () => jobFileName({ url: `https://example.com/${reserved}` }, "l:3: "),
    `l:3: Cannot download "https://example.com/${reserved}" as "${reserved}": the name is reserved for partial downloads`,
  );
});
