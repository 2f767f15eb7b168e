/**
 * Input no route should take, for the HTTP fuzzer: any JSON, strings of every kind of
 * character, numbers at the edges of what JSON and JavaScript can hold, deep nesting,
 * bodies that are not JSON at all, and content types that lie.
 */
import fc, { type Arbitrary } from "fast-check";

/** Strings that have broken parsers, routers and databases before. */
export const INTERESTING_STRINGS: readonly string[] = [
  "",
  " ",
  "0",
  "-1",
  "1",
  "2",
  "1e400",
  "NaN",
  "Infinity",
  "null",
  "true",
  "undefined",
  "[]",
  "{}",
  "__proto__",
  "constructor",
  "toString",
  "..",
  "../../etc/passwd",
  "%00",
  "\u0000",
  "a\nb",
  "\r\n\r\n",
  "' OR 1=1 --",
  "$(id)",
  "`id`",
  "<script>alert(1)</script>",
  "\ud800",
  "\uffff",
  "😀👍🏽",
  "\u202e\u0645\u0631\u062d\u0628\u0627",
  "Ω≈ç√∫",
  "fw.events.>",
  "*",
  ">",
  "every 1 seconds",
  "* * * * *",
  "vodstream",
  "noop",
  "exec",
  "fuzz-agent",
  "2030-01-01T00:00:00.000Z",
  "2030-13-45",
  "x".repeat(10_000),
];

/** Numbers at the edges: what JSON can say but JavaScript rounds, or ids cannot be. */
export const INTERESTING_NUMBERS: readonly number[] = [
  0,
  -0,
  1,
  -1,
  0.5,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  2 ** 64,
  1e21,
  1e308,
  -1e308,
  Number.MIN_VALUE,
  Number.MAX_SAFE_INTEGER,
];

/** Any JSON value (nested a little), with the odd keys and strings mixed in. */
export const anyJson: Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(...INTERESTING_STRINGS, ...INTERESTING_NUMBERS),
  },
);

/** A string of any code units (lone surrogates too), or one of the known troublemakers. */
export const nastyString: Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constantFrom(...INTERESTING_STRINGS),
);

/** JSON nested `depth` deep: arrays, or objects, or a mix. */
function nested(depth: number, kind: "array" | "object"): string {
  return kind === "array"
    ? `${"[".repeat(depth)}${"]".repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
}

/** Texts that are not JSON, or are JSON only in part. */
export const notJson: Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.constantFrom(
    "{",
    "}",
    "[",
    '{"a":',
    '{"a":1,}',
    "{'a':1}",
    '{"a":NaN}',
    '{"a":Infinity}',
    '{"a":undefined}',
    '{"a":1}{"b":2}',
    '{"a":1} trailing',
    "\ufeff{}",
    "nul",
    "tru",
    "01",
    "1.",
    "-",
    '"unterminated',
    '"\\ud800"',
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    '{"a":1,"a":2}',
    nested(5_000, "array"),
    nested(5_000, "object"),
    `{"a":${nested(100_000, "array")}}`,
    "a=1&b=2",
    "--boundary\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--boundary--\r\n",
    "method: awf.task/list\nparams: {}\n",
    "&a [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
  ),
);

/** Content types a client may send, honest or not. */
export const contentTypes: Arbitrary<string | undefined> = fc.oneof(
  { weight: 8, arbitrary: fc.constant("application/json") },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      undefined,
      "application/json; charset=utf-8",
      "application/json; charset=utf-16",
      "text/plain",
      "text/yaml",
      "application/x-www-form-urlencoded",
      "multipart/form-data",
      "multipart/form-data; boundary=boundary",
      "application/octet-stream",
      "application/xml",
      "application/",
      "*/*",
      "json",
      ";;;",
    ),
  },
);
