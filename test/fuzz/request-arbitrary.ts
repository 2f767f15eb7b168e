/**
 * Random HTTP requests for one operation of the OpenAPI document: its path parameters,
 * query and body each shaped like the schema, shaped but wrong, or garbage; sent with
 * the API key, with none, or with a wrong one; the body sometimes chunked (no
 * Content-Length), sometimes over the size limit, sometimes with a lying content type.
 */
import fc, { type Arbitrary } from "fast-check";
import { anyJson, contentTypes, INTERESTING_STRINGS, nastyString, notJson } from "./garbage";
import type { Operation, Parameter } from "./openapi-operations";
import { type JsonSchema, shaped, wrong } from "./schema-arbitrary";

export type Auth = "key" | "none" | "wrong";

export interface FuzzRequest {
  readonly method: string;
  /** Path and query, already encoded (or deliberately not). */
  readonly target: string;
  readonly auth: Auth;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
  /** Sent as a stream, without a Content-Length. */
  readonly chunked: boolean;
}

/** Bodies over the server's default limit (1 MiB), made once. */
const OVERSIZED = [
  JSON.stringify({ pad: "x".repeat(1024 * 1024 + 1) }),
  `[${"1,".repeat(700_000)}1]`,
];

/** Query and path texts whose encoding itself is wrong. */
const BAD_ENCODINGS = ["%", "%zz", "%00", "%2e%2e", "a%2Fb", "%C0%AF", "%ED%A0%80", "+", "%20"];

/** As a client would encode it; lone surrogates become U+FFFD, as in a URL they must. */
const encode = (text: string) =>
  encodeURIComponent(
    text.replace(
      /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
      "\uFFFD",
    ),
  );

/** A scalar as it would travel in a path or a query: a string. */
const asText = (value: unknown): string =>
  typeof value === "string" ? value : (JSON.stringify(value) ?? "undefined");

function parameterText(schema: JsonSchema): Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: shaped(schema).map(asText) },
    { weight: 3, arbitrary: wrong(schema).map(asText) },
    { weight: 2, arbitrary: nastyString },
  );
}

/** A path segment: encoded as a client would, or now and then raw and malformed. */
function segment(parameter: Parameter): Arbitrary<string> {
  return fc.oneof(
    { weight: 8, arbitrary: parameterText(parameter.schema).map(encode) },
    { weight: 1, arbitrary: fc.constantFrom(...BAD_ENCODINGS) },
  );
}

function query(parameters: readonly Parameter[]): Arbitrary<string> {
  const known = parameters.map((parameter) =>
    fc.option(
      parameterText(parameter.schema).map((value) => [parameter.name, value] as const),
      { freq: 2, nil: undefined },
    ),
  );
  const extra = fc.array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...parameters.map((p) => p.name), "bogus"), nastyString),
      nastyString,
    ),
    { maxLength: 2 },
  );
  const encoded = fc.tuple(fc.tuple(...known), extra).map(([pairs, more]) => {
    const search = new URLSearchParams();
    for (const pair of [...pairs, ...more]) if (pair) search.append(pair[0], pair[1]);
    const text = search.toString();
    return text === "" ? "" : `?${text}`;
  });
  return fc.oneof(
    { weight: 9, arbitrary: encoded },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "?",
        "?&&&=",
        "?limit[]=1",
        "?a=%zz",
        "?%",
        `?q=${"x".repeat(8_000)}`,
      ),
    },
  );
}

const json = (value: unknown) => JSON.stringify(value) ?? "null";

function body(operation: Operation): Arbitrary<string | undefined> {
  const schema = operation.body;
  const garbage: fc.WeightedArbitrary<string | undefined>[] = [
    { weight: 2, arbitrary: anyJson.map(json) },
    { weight: 2, arbitrary: notJson },
    { weight: 1, arbitrary: fc.constantFrom(undefined, "") },
    { weight: 1, arbitrary: fc.constantFrom(...OVERSIZED) },
  ];
  if (schema === undefined) {
    // No body documented: mostly none, but a route must not trip on one.
    return operation.method === "GET"
      ? fc.constant(undefined)
      : fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, ...garbage);
  }
  return fc.oneof(
    { weight: 4, arbitrary: shaped(schema).map(json) },
    { weight: 6, arbitrary: wrong(schema).map(json) },
    ...garbage,
  );
}

const auth: Arbitrary<Auth> = fc.oneof(
  { weight: 7, arbitrary: fc.constant<Auth>("key") },
  { weight: 2, arbitrary: fc.constant<Auth>("none") },
  { weight: 1, arbitrary: fc.constant<Auth>("wrong") },
);

const extraHeaders: Arbitrary<Record<string, string>> = fc.record(
  {
    accept: fc.constantFrom("application/json", "*/*", "text/yaml", "text/event-stream"),
    "x-request-id": fc.oneof(
      fc.constant("fuzz"),
      fc.string({ unit: "binary-ascii", maxLength: 200 }),
    ),
  },
  { requiredKeys: [] },
);

/** Requests for `operation`. */
export function requestFor(operation: Operation): Arbitrary<FuzzRequest> {
  const segments = fc.tuple(...operation.pathParams.map(segment));
  return fc
    .record({
      segments,
      query: query(operation.query),
      body: body(operation),
      contentType: contentTypes,
      auth,
      headers: extraHeaders,
      chunked: fc.boolean(),
    })
    .map(
      ({
        segments: values,
        query: search,
        body: text,
        contentType,
        auth: who,
        headers,
        chunked,
      }) => {
        let path = operation.template;
        operation.pathParams.forEach((parameter, i) => {
          path = path.replace(`{${parameter.name}}`, values[i] ?? "");
        });
        // Header values must be ByteStrings; drop what fetch would refuse to send.
        const safe = Object.fromEntries(
          Object.entries(headers).filter(([, value]) => /^[\t\x20-\x7e]*$/.test(value)),
        );
        return {
          method: operation.method,
          target: `${path}${search}`,
          auth: who,
          headers:
            text !== undefined && contentType !== undefined
              ? { ...safe, "content-type": contentType }
              : safe,
          body: text,
          chunked: text !== undefined && chunked,
        };
      },
    );
}

/**
 * Requests to paths no document lists, under each family's prefix and elsewhere: the
 * families' catch-all routes and the app's unknown-route answer.
 */
export const strayRequest: Arbitrary<FuzzRequest> = fc
  .record({
    method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"),
    prefix: fc.constantFrom(
      "/",
      "/tasks/",
      "/v3/",
      "/v3/applicationInstance/",
      "/xina/",
      "/api/v1/",
      "/api/v1/tasks/",
      "/rpc/",
      "/job/",
      "/jobs/",
      "/logs/",
      "/health/",
      "/workflows/",
      "/debug/",
      "/openapi/",
    ),
    rest: fc.oneof(
      nastyString.map(encode),
      fc.constantFrom(...INTERESTING_STRINGS.map(encode), ...BAD_ENCODINGS),
    ),
    body: fc.option(anyJson.map(json), { nil: undefined }),
    auth,
  })
  .map(
    ({ method, prefix, rest, body: text, auth: who }): FuzzRequest => ({
      method,
      target: `${prefix}${rest}`,
      auth: who,
      headers:
        text === undefined
          ? {}
          : ({ "content-type": "application/json" } as Record<string, string>),
      body: method === "GET" ? undefined : text,
      chunked: false,
    }),
  );
