// An HTTP date (RFC 9110 §5.6.7), read strictly and always as GMT:
// `Date.parse` reads almost anything as a date ("in 5" and "May 5" are days
// of 2001 on V8, not on JavaScriptCore), and reads the asctime form in the
// machine's time zone.

const MONTHS = [
  "jan",
  "feb",
  "mar",
  "apr",
  "may",
  "jun",
  "jul",
  "aug",
  "sep",
  "oct",
  "nov",
  "dec",
];

const DAY = "(?:mon|tue|wed|thu|fri|sat|sun)";
const LONG_DAY = "(?:mon|tues|wednes|thurs|fri|satur|sun)day";
const MONTH = "(?<month>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)";
const TIME = "(?<hour>\\d\\d):(?<minute>\\d\\d):(?<second>\\d\\d)";

// The three forms: `Sun, 06 Nov 1994 08:49:37 GMT` (IMF-fixdate),
// `Sunday, 06-Nov-94 08:49:37 GMT` (RFC 850), `Sun Nov  6 08:49:37 1994`
// (asctime).
const FORMS = [
  `^${DAY}, (?<day>\\d\\d) ${MONTH} (?<year>\\d{4}) ${TIME} GMT$`,
  `^${LONG_DAY}, (?<day>\\d\\d)-${MONTH}-(?<year>\\d\\d) ${TIME} GMT$`,
  `^${DAY} ${MONTH} (?<day>[ \\d]\\d) ${TIME} (?<year>\\d{4})$`,
].map((form) => new RegExp(form, "i"));

/**
 * The time `value` names, in milliseconds since the epoch, if it is an HTTP
 * date in any of its three forms (IMF-fixdate, the obsolete RFC 850 and
 * asctime forms, all GMT); else `undefined`. A two-digit year more than 50
 * years ahead of `now` is of the century before (RFC 9110 §5.6.7).
 */
export function parseHttpDate(
  value: string,
  now: number = Date.now(),
): number | undefined {
  let fields: Record<string, string> | undefined;
  for (const form of FORMS) {
    fields = form.exec(value)?.groups;
    if (fields !== undefined) break;
  }
  if (fields === undefined) return undefined;
  const [day, hour, minute, second] = [
    fields.day,
    fields.hour,
    fields.minute,
    fields.second,
  ].map(Number) as [number, number, number, number];
  let year = Number(fields.year);
  if (fields.year?.length === 2) {
    const thisYear = new Date(now).getUTCFullYear();
    year += Math.floor(thisYear / 100) * 100;
    if (year > thisYear + 50) year -= 100;
  }
  const month = MONTHS.indexOf(fields.month?.toLowerCase() ?? "");
  const time = Date.UTC(year, month, day, hour, minute, second);
  // Out of range (31 February, 25:00, 61 seconds): not a date.
  const date = new Date(time);
  if (
    date.getUTCDate() !== day || date.getUTCHours() !== hour ||
    date.getUTCMinutes() !== minute || date.getUTCSeconds() !== second
  ) {
    return undefined;
  }
  return time;
}
