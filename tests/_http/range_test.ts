import assert from "node:assert/strict";
import { test } from "node:test";
import {
  isOtherVersion,
  isWholeFile,
  judgeAnswer,
  parseContentRange,
  parseLength,
  rangeHeaders,
  rangeValidatorOf,
  revalidatorOf,
  validatorOf,
} from "../../src/_http/range.ts";

function answer(
  status: number,
  headers: Record<string, string> = {},
): Response {
  return new Response(null, { status, headers });
}

test("parseLength() reads digits only", () => {
  assert.equal(parseLength("0"), 0);
  assert.equal(parseLength("12345"), 12345);
  for (const header of [null, "", "-1", "1.5", " 7", "7 ", "0x10", "1e3"]) {
    assert.equal(parseLength(header), undefined, String(header));
  }
});

test("parseLength() reads a count sent twice (Deno and Bun join the fields) as that count, and counts that differ as none", () => {
  assert.equal(parseLength("10, 10"), 10);
  assert.equal(parseLength("10,10, 10"), 10);
  for (const header of ["10, 20", "10, ", ", 10", "10,,10", "10, x"]) {
    assert.equal(parseLength(header), undefined, header);
  }
});

test("revalidatorOf() takes an ETag, weak too, then Last-Modified", () => {
  const date = "Wed, 21 Oct 2015 07:28:00 GMT";
  assert.equal(
    revalidatorOf(new Headers({ etag: 'W/"v1"', "last-modified": date })),
    'W/"v1"',
  );
  assert.equal(revalidatorOf(new Headers({ "last-modified": date })), date);
  assert.equal(revalidatorOf(new Headers()), undefined);
});

test("revalidatorOf() refuses a Last-Modified less than a second before Date: a change later in its second would be answered 304", () => {
  const date = "Wed, 21 Oct 2015 07:28:00 GMT";
  const second = "Wed, 21 Oct 2015 07:28:01 GMT";
  assert.equal(
    revalidatorOf(new Headers({ "last-modified": date, date: second })),
    date,
  );
  assert.equal(
    revalidatorOf(new Headers({ "last-modified": date, date })),
    undefined,
  );
  // An ETag is taken whatever the dates.
  assert.equal(
    revalidatorOf(new Headers({ etag: 'W/"v1"', "last-modified": date, date })),
    'W/"v1"',
  );
});

test("rangeValidatorOf() refuses a Last-Modified less than a second before Date, a weak validator", () => {
  const date = "Wed, 21 Oct 2015 07:28:00 GMT";
  const second = "Wed, 21 Oct 2015 07:28:01 GMT";
  const headers = (fields: Record<string, string>) => new Headers(fields);
  // A second before Date, or no Date to tell: strong enough.
  assert.equal(
    rangeValidatorOf(headers({ "last-modified": date, date: second })),
    date,
  );
  assert.equal(rangeValidatorOf(headers({ "last-modified": date })), date);
  // In Date's second, or after it: the file may change again under it.
  assert.equal(
    rangeValidatorOf(headers({ "last-modified": date, date })),
    undefined,
  );
  assert.equal(
    rangeValidatorOf(headers({ "last-modified": second, date })),
    undefined,
  );
  // A strong ETag is taken whatever the dates.
  assert.equal(
    rangeValidatorOf(headers({ etag: '"v1"', "last-modified": date, date })),
    '"v1"',
  );
  assert.equal(
    rangeValidatorOf(headers({ etag: 'W/"v1"', "last-modified": date, date })),
    undefined,
  );
});

test("rangeValidatorOf() reads the dates of every HTTP form as GMT, and takes a Date it cannot read as none", () => {
  const headers = (fields: Record<string, string>) => new Headers(fields);
  // The same second in the asctime and RFC 850 forms: weak, in any time zone.
  const asctime = "Wed Oct 21 07:28:00 2015";
  const rfc850 = "Wednesday, 21-Oct-15 07:28:00 GMT";
  const date = "Wed, 21 Oct 2015 07:28:00 GMT";
  assert.equal(
    rangeValidatorOf(headers({ "last-modified": asctime, date })),
    undefined,
  );
  assert.equal(
    rangeValidatorOf(headers({ "last-modified": rfc850, date })),
    undefined,
  );
  assert.equal(
    rangeValidatorOf(
      headers({
        "last-modified": asctime,
        date: "Wed, 21 Oct 2015 07:28:01 GMT",
      }),
    ),
    asctime,
  );
  // "in 5" is no date (Date.parse reads it as a day of 2001).
  assert.equal(
    rangeValidatorOf(headers({ "last-modified": date, date: "in 5" })),
    date,
  );
});

test("validatorOf() prefers a strong ETag, then Last-Modified, and never a weak ETag", () => {
  const date = "Wed, 21 Oct 2015 07:28:00 GMT";
  assert.equal(validatorOf(new Headers({ etag: '"v1"' })), '"v1"');
  assert.equal(
    validatorOf(new Headers({ etag: '"v1"', "last-modified": date })),
    '"v1"',
  );
  assert.equal(
    validatorOf(new Headers({ etag: 'W/"v1"', "last-modified": date })),
    date,
  );
  assert.equal(validatorOf(new Headers({ etag: 'W/"v1"' })), undefined);
  // Marked weak as some servers do: never strong.
  assert.equal(validatorOf(new Headers({ etag: 'w/"v1"' })), undefined);
  assert.equal(validatorOf(new Headers()), undefined);
});

test("parseContentRange() reads a range with its total, an unknown total, and a 416's form", () => {
  assert.deepEqual(parseContentRange("bytes 0-99/200"), {
    start: 0,
    end: 99,
    total: 200,
  });
  assert.deepEqual(parseContentRange(" bytes 100-199/200 "), {
    start: 100,
    end: 199,
    total: 200,
  });
  assert.deepEqual(parseContentRange("bytes 5-9/*"), {
    start: 5,
    end: 9,
    total: undefined,
  });
  assert.deepEqual(parseContentRange("bytes */200"), {
    start: undefined,
    end: undefined,
    total: 200,
  });
});

test("parseContentRange() reads the unit in any case, as RFC 9110 §14.1 has it", () => {
  for (const unit of ["Bytes", "BYTES", "bYtEs"]) {
    assert.deepEqual(parseContentRange(`${unit} 100-199/200`), {
      start: 100,
      end: 199,
      total: 200,
    }, unit);
    assert.deepEqual(parseContentRange(`${unit} */200`), {
      start: undefined,
      end: undefined,
      total: 200,
    }, unit);
  }
});

test("parseContentRange() reads the unit's forms some servers send, as curl and aria2 do", () => {
  for (
    const unit of [
      "bytes=",
      "Bytes=",
      "bytes:",
      "bytes: ",
      "bytes  ",
      "bytes\t",
      "",
    ]
  ) {
    assert.deepEqual(parseContentRange(`${unit}100-199/200`), {
      start: 100,
      end: 199,
      total: 200,
    }, unit);
    assert.deepEqual(parseContentRange(`${unit}*/200`), {
      start: undefined,
      end: undefined,
      total: 200,
    }, unit);
    // Checked as ever, whatever the form.
    assert.equal(parseContentRange(`${unit}100-200/200`), undefined, unit);
    assert.equal(parseContentRange(`${unit}199-100/200`), undefined, unit);
  }
});

test("parseContentRange() refuses what is not one satisfiable byte range", () => {
  for (
    const header of [
      null,
      "",
      "bytes */*",
      "bytes 9-5/200",
      "bytes 0-200/200",
      "bytes 0-99",
      "items 0-99/200",
      "items=0-99/200",
      "bytes0-99/200",
      "bytes=",
      "bytes 0-99/200, 150-199/200",
      "bytes -5/200",
    ]
  ) {
    assert.equal(parseContentRange(header), undefined, String(header));
  }
});

test("rangeHeaders() asks for the rest of the version the validator names", () => {
  assert.deepEqual(rangeHeaders(4096, '"v1"'), [
    ["range", "bytes=4096-"],
    ["if-range", '"v1"'],
  ]);
});

test("judgeAnswer() calls a status outside 200-299 refused", () => {
  for (const status of [301, 304, 400, 404, 416, 500, 503]) {
    assert.equal(judgeAnswer(answer(status), undefined), "refused");
    if (status === 416) continue; // to a ranged request: see below
    assert.equal(
      judgeAnswer(answer(status), { offset: 10, total: 20 }),
      "refused",
    );
  }
});

test("judgeAnswer() calls a 200 a whole file, whether or not a range was asked for", () => {
  assert.equal(judgeAnswer(answer(200), undefined), "whole");
  assert.equal(judgeAnswer(answer(200), { offset: 10, total: 20 }), "whole");
  assert.equal(judgeAnswer(answer(204), undefined), "whole");
});

test("judgeAnswer() appends a 206 that starts at the offset with the known total", () => {
  const held = { offset: 100, total: 200 };
  assert.equal(
    judgeAnswer(answer(206, { "content-range": "bytes 100-199/200" }), held),
    "append",
  );
});

test("judgeAnswer() appends a 206 that starts at the offset of a file whose total was unknown", () => {
  const held = { offset: 100, total: undefined };
  for (const range of ["bytes 100-199/200", "bytes 100-199/*"]) {
    assert.equal(
      judgeAnswer(answer(206, { "content-range": range }), held),
      "append",
      range,
    );
  }
  assert.equal(
    judgeAnswer(answer(206, { "content-range": "bytes 0-149/200" }), held),
    "wrong-range",
  );
  assert.equal(
    judgeAnswer(answer(416, { "content-range": "bytes */100" }), held),
    "complete",
  );
  assert.equal(
    judgeAnswer(answer(416, { "content-range": "bytes */99" }), held),
    "wrong-range",
  );
});

test("judgeAnswer() refuses to write a 206 other than the one asked for", () => {
  const held = { offset: 100, total: 200 };
  for (
    const range of [
      "bytes 0-149/200", // from the start, not every byte
      "bytes 101-199/200", // a byte off
      "bytes 100-299/300", // another total: another file
      "bytes 100-199/*",
      "nonsense",
    ]
  ) {
    assert.equal(
      judgeAnswer(answer(206, { "content-range": range }), held),
      "wrong-range",
      range,
    );
  }
  assert.equal(judgeAnswer(answer(206), held), "wrong-range");
  // A partial answer to a request for the whole file.
  assert.equal(
    judgeAnswer(answer(206, { "content-range": "bytes 0-99/200" }), undefined),
    "wrong-range",
  );
  assert.equal(
    judgeAnswer(answer(206, { "content-range": "bytes 0-199/*" }), undefined),
    "wrong-range",
  );
});

test("judgeAnswer() calls a 206 of every byte, to a request for the whole file, a whole file", () => {
  assert.equal(
    judgeAnswer(answer(206, { "content-range": "bytes 0-199/200" }), undefined),
    "whole",
  );
});

test("judgeAnswer() calls a 206 of every byte, to a request for the rest, a whole file of whatever version it names", () => {
  const every = { "content-range": "bytes 0-199/200" };
  for (
    const held of [
      { offset: 100, total: 200 },
      { offset: 100, total: undefined },
      { offset: 100, total: 200, validator: '"v1"' },
    ]
  ) {
    assert.equal(judgeAnswer(answer(206, every), held), "whole");
    assert.equal(
      judgeAnswer(answer(206, { ...every, etag: '"v1"' }), held),
      "whole",
    );
    // Another version, whole: as a 200 of it is.
    assert.equal(
      judgeAnswer(answer(206, { ...every, etag: '"v2"' }), held),
      "whole",
    );
  }
  // Another version, of a range not every byte: changed.
  assert.equal(
    judgeAnswer(
      answer(206, { "content-range": "bytes 0-149/200", etag: '"v2"' }),
      { offset: 100, total: 200, validator: '"v1"' },
    ),
    "changed",
  );
});

test("isWholeFile() is true of a 200 and of a 206 of every byte, false of any other answer", () => {
  assert.equal(isWholeFile(answer(200)), true);
  assert.equal(
    isWholeFile(answer(206, { "content-range": "bytes 0-199/200" })),
    true,
  );
  for (const range of ["bytes 0-198/200", "bytes 1-199/200", "bytes 0-199/*"]) {
    assert.equal(
      isWholeFile(answer(206, { "content-range": range })),
      false,
      range,
    );
  }
  assert.equal(isWholeFile(answer(206)), false);
  assert.equal(isWholeFile(answer(304)), false);
});

test("judgeAnswer() takes a 416 naming exactly the bytes on disk as a complete file, any other to a ranged request as the wrong range, and one to a request for the whole file as a refusal", () => {
  const held = { offset: 200, total: 200 };
  assert.equal(
    judgeAnswer(answer(416, { "content-range": "bytes */200" }), held),
    "complete",
  );
  // The file changed (shorter now): never written at the offset.
  assert.equal(
    judgeAnswer(answer(416, { "content-range": "bytes */150" }), held),
    "wrong-range",
  );
  assert.equal(
    judgeAnswer(answer(416, { "content-range": "bytes */300" }), held),
    "wrong-range",
  );
  assert.equal(judgeAnswer(answer(416), held), "wrong-range");
  assert.equal(
    judgeAnswer(answer(416, { "content-range": "bytes */200" }), undefined),
    "refused",
  );
});

test("judgeAnswer() takes a 416 without Content-Range (Apache's) as a complete file only when the bytes on disk, asked for with If-Range, are as many as the known total", () => {
  const held = { offset: 200, total: 200, validator: '"v1"' };
  assert.equal(judgeAnswer(answer(416), held), "complete");
  assert.equal(
    judgeAnswer(answer(416, { etag: '"v1"' }), held),
    "complete",
  );
  // Of another version, or short of the total, or of no version asked
  // for, or with a Content-Range that does not parse: never complete.
  assert.equal(judgeAnswer(answer(416, { etag: '"v2"' }), held), "changed");
  assert.equal(
    judgeAnswer(answer(416), { ...held, offset: 150 }),
    "wrong-range",
  );
  assert.equal(
    judgeAnswer(answer(416), { ...held, total: undefined }),
    "wrong-range",
  );
  assert.equal(
    judgeAnswer(answer(416), { offset: 200, total: 200 }),
    "wrong-range",
  );
  assert.equal(
    judgeAnswer(answer(416, { "content-range": "nonsense" }), held),
    "wrong-range",
  );
});

test("isOtherVersion() tells an answer naming another version, and takes one naming none as the version asked for", () => {
  const date = "Tue, 01 Dec 2026 10:00:00 GMT";
  assert.equal(isOtherVersion(new Headers({ etag: '"v2"' }), '"v1"'), true);
  assert.equal(isOtherVersion(new Headers({ etag: '"v1"' }), '"v1"'), false);
  assert.equal(
    isOtherVersion(new Headers({ "last-modified": date }), date),
    false,
  );
  assert.equal(
    isOtherVersion(new Headers({ "last-modified": date }), '"v1"'),
    true,
  );
  assert.equal(isOtherVersion(new Headers(), '"v1"'), false);
});

test("judgeAnswer() calls a 206 or a 416 of another version than the bytes on disk changed, whatever its range says", () => {
  const held = { offset: 100, total: 200, validator: '"v1"' };
  const other = { etag: '"v2"' };
  assert.equal(
    judgeAnswer(
      answer(206, { ...other, "content-range": "bytes 100-199/200" }),
      held,
    ),
    "changed",
  );
  const whole = { offset: 200, total: 200, validator: '"v1"' };
  assert.equal(
    judgeAnswer(
      answer(416, { ...other, "content-range": "bytes */200" }),
      whole,
    ),
    "changed",
  );
  // The same version, or none named: judged by the range as ever.
  assert.equal(
    judgeAnswer(
      answer(206, { etag: '"v1"', "content-range": "bytes 100-199/200" }),
      held,
    ),
    "append",
  );
  assert.equal(
    judgeAnswer(answer(416, { "content-range": "bytes */200" }), whole),
    "complete",
  );
  // A 200 of another version is a whole file, as ever.
  assert.equal(judgeAnswer(answer(200, other), held), "whole");
});
