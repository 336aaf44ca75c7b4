import assert from "node:assert/strict";
import { test } from "node:test";
import { conditionalHeaders } from "../../src/_http/conditional.ts";

test("conditionalHeaders() asks If-None-Match for an ETag, If-Modified-Since for a date", () => {
  assert.deepEqual(conditionalHeaders('"abc"'), [["if-none-match", '"abc"']]);
  assert.deepEqual(conditionalHeaders('W/"abc"'), [
    ["if-none-match", 'W/"abc"'],
  ]);
  assert.deepEqual(
    conditionalHeaders("Tue, 01 Sep 2026 10:00:00 GMT"),
    [["if-modified-since", "Tue, 01 Sep 2026 10:00:00 GMT"]],
  );
});
