/**
 * fast-check arbitraries from the JSON Schemas of the app's OpenAPI document: values
 * shaped like what a route takes (to get past its first checks and reach deeper code),
 * and values shaped like it but wrong in one place (a wrong type, a missing required
 * field, an unknown one, a number out of range or not whole, a string too long or not
 * matching its pattern). Schema features this does not know fall back to any JSON,
 * so a new route with a new construct is fuzzed all the same.
 */
import fc, { type Arbitrary } from "fast-check";
import { anyJson, INTERESTING_NUMBERS, INTERESTING_STRINGS, nastyString } from "./garbage";

/** The subset of JSON Schema (as TypeBox writes it) these arbitraries read. */
export interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly const?: unknown;
  readonly enum?: readonly unknown[];
  readonly anyOf?: readonly JsonSchema[];
  readonly oneOf?: readonly JsonSchema[];
  readonly allOf?: readonly JsonSchema[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | JsonSchema;
  readonly patternProperties?: Readonly<Record<string, JsonSchema>>;
  readonly items?: JsonSchema;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly pattern?: string;
  readonly format?: string;
  readonly examples?: readonly unknown[];
  readonly default?: unknown;
}

/** How deep shaped values go before they stop nesting (schemas can be recursive). */
const MAX_DEPTH = 6;
/** Arrays in shaped values stay short: their items are what gets fuzzed. */
const MAX_SHAPED_ITEMS = 3;

const typesOf = (schema: JsonSchema): string[] =>
  schema.type === undefined
    ? []
    : Array.isArray(schema.type)
      ? [...schema.type]
      : [schema.type as string];

function alternatives(schema: JsonSchema): readonly JsonSchema[] | undefined {
  return schema.anyOf ?? schema.oneOf;
}

/** Hints a schema gives of real values (examples, defaults), tried now and then. */
function hinted(schema: JsonSchema): unknown[] {
  return [...(schema.examples ?? []), ...(schema.default === undefined ? [] : [schema.default])];
}

function shapedString(schema: JsonSchema): Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = Math.max(min, Math.min(schema.maxLength ?? 40, 200));
  if (schema.format === "integer") return fc.integer().map(String);
  if (schema.format === "date-time") {
    return fc
      .date({ min: new Date("1970-01-01"), max: new Date("2100-01-01"), noInvalidDate: true })
      .map((date) => date.toISOString());
  }
  if (schema.pattern !== undefined) {
    try {
      return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length <= max);
    } catch {
      // A pattern fast-check cannot read: any string.
    }
  }
  const hints = hinted(schema).filter((value): value is string => typeof value === "string");
  return fc.oneof(
    { weight: 6, arbitrary: fc.string({ minLength: min, maxLength: max }) },
    { weight: 2, arbitrary: fc.constantFrom(...INTERESTING_STRINGS) },
    ...(hints.length > 0 ? [{ weight: 2, arbitrary: fc.constantFrom(...hints) }] : []),
  );
}

function shapedNumber(schema: JsonSchema, integer: boolean): Arbitrary<number> {
  const min =
    schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : -1e6);
  const max =
    schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 1 : 1e6);
  const low = Math.max(min, Number.MIN_SAFE_INTEGER);
  const high = Math.min(max, Number.MAX_SAFE_INTEGER);
  const small = fc.integer({
    min: Math.ceil(Math.max(low, -10)),
    max: Math.floor(Math.min(high, 10)),
  });
  const any = integer
    ? fc.integer({ min: Math.ceil(low), max: Math.floor(high) })
    : fc.double({ min: low, max: high, noNaN: true, noDefaultInfinity: true });
  const bounds = fc.constantFrom(
    ...[low, high].filter(Number.isFinite).map((n) => (integer ? Math.trunc(n) : n)),
  );
  return low <= 10 && high >= -10 ? fc.oneof(small, any, bounds) : fc.oneof(any, bounds);
}

/** A value `schema` takes (as far as this reads the schema). */
export function shaped(schema: JsonSchema, depth = 0): Arbitrary<unknown> {
  if (depth > MAX_DEPTH) return fc.constant(null);
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum !== undefined && schema.enum.length > 0) return fc.constantFrom(...schema.enum);
  const options = alternatives(schema);
  if (options !== undefined && options.length > 0) {
    return fc.oneof(
      ...options.map((option) => shaped({ ...withoutAlternatives(schema), ...option }, depth + 1)),
    );
  }
  if (schema.allOf !== undefined && schema.allOf.length > 0) {
    return shaped(Object.assign({}, ...schema.allOf) as JsonSchema, depth + 1);
  }
  const types = typesOf(schema);
  if (types.length > 1) return fc.oneof(...types.map((type) => shaped({ ...schema, type }, depth)));
  switch (types[0]) {
    case "string":
      return shapedString(schema);
    case "integer":
      return shapedNumber(schema, true);
    case "number":
      return shapedNumber(schema, false);
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array": {
      const min = schema.minItems ?? 0;
      const max = Math.max(min, Math.min(schema.maxItems ?? MAX_SHAPED_ITEMS, MAX_SHAPED_ITEMS));
      return fc.array(shaped(schema.items ?? {}, depth + 1), { minLength: min, maxLength: max });
    }
    case "object":
      return shapedObject(schema, depth);
    default:
      return schema.properties !== undefined ? shapedObject(schema, depth) : anyJson;
  }
}

function withoutAlternatives(schema: JsonSchema): JsonSchema {
  const { anyOf: _anyOf, oneOf: _oneOf, ...rest } = schema;
  return rest;
}

function shapedObject(schema: JsonSchema, depth: number): Arbitrary<Record<string, unknown>> {
  const properties = schema.properties ?? {};
  const keys = Object.keys(properties);
  const model: Record<string, Arbitrary<unknown>> = {};
  for (const key of keys) model[key] = shaped(properties[key] as JsonSchema, depth + 1);
  const record = fc.record(model, {
    requiredKeys: (schema.required ?? []).filter((k) => k in properties),
  });
  if (keys.length > 0 || schema.patternProperties === undefined) {
    return record as Arbitrary<Record<string, unknown>>;
  }
  // A free-form map (TypeBox's Record): a few keys of any JSON.
  return fc.dictionary(fc.string({ maxLength: 12 }), anyJson, { maxKeys: 4 });
}

/** A value of the wrong JSON type for `schema`. */
function wrongType(schema: JsonSchema): Arbitrary<unknown> {
  const types = new Set(typesOf(schema));
  const candidates: [string, Arbitrary<unknown>][] = [
    ["string", nastyString],
    ["number", fc.constantFrom(...INTERESTING_NUMBERS)],
    ["boolean", fc.boolean()],
    ["null", fc.constant(null)],
    ["array", fc.array(anyJson, { maxLength: 3 })],
    ["object", fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 3 })],
  ];
  const wrong = candidates
    .filter(([type]) => !types.has(type) && !(type === "number" && types.has("integer")))
    .map(([, arbitrary]) => arbitrary);
  return wrong.length > 0 ? fc.oneof(...wrong) : anyJson;
}

/** A number just outside, or far outside, what `schema` allows, or not whole. */
function wrongNumber(schema: JsonSchema, integer: boolean): Arbitrary<unknown> {
  const outside: number[] = [1e308, -1e308, 2 ** 53 + 2, -(2 ** 63), 1e21];
  if (schema.minimum !== undefined) outside.push(schema.minimum - 1, schema.minimum - 0.5);
  if (schema.maximum !== undefined) outside.push(schema.maximum + 1, schema.maximum + 0.5);
  if (integer) outside.push(0.5, -0.000001, 3.14);
  return fc.oneof(
    fc.constantFrom(...outside),
    fc.constantFrom(...outside).map(String),
    wrongType(schema),
  );
}

function wrongString(schema: JsonSchema): Arbitrary<unknown> {
  const options: Arbitrary<unknown>[] = [wrongType(schema), nastyString];
  if (schema.maxLength !== undefined) {
    options.push(fc.constant("x".repeat(schema.maxLength + 1)));
    options.push(fc.constant("é".repeat(schema.maxLength + 1)));
  }
  if (schema.minLength !== undefined && schema.minLength > 0) {
    options.push(fc.constant("x".repeat(schema.minLength - 1)));
  }
  return fc.oneof(...options);
}

function wrongArray(schema: JsonSchema, depth: number): Arbitrary<unknown> {
  const item = schema.items ?? {};
  const options: Arbitrary<unknown>[] = [
    wrongType(schema),
    fc.array(wrong(item, depth + 1), { minLength: 1, maxLength: 3 }),
  ];
  if (schema.maxItems !== undefined && schema.maxItems < 5_000) {
    const over = schema.maxItems + 1;
    options.push(shaped(item, depth + 1).map((value) => Array.from({ length: over }, () => value)));
  }
  if (schema.minItems !== undefined && schema.minItems > 0) options.push(fc.constant([]));
  return fc.oneof(...options);
}

function wrongObject(schema: JsonSchema, depth: number): Arbitrary<unknown> {
  const properties = schema.properties ?? {};
  const keys = Object.keys(properties);
  const base = shapedObject(schema, depth);
  const options: Arbitrary<unknown>[] = [wrongType(schema)];
  if (keys.length > 0) {
    // One property wrong, the rest shaped.
    options.push(
      fc
        .tuple(base, fc.constantFrom(...keys))
        .chain(([value, key]) =>
          wrong(properties[key] as JsonSchema, depth + 1).map((bad) => ({ ...value, [key]: bad })),
        ),
    );
  }
  const required = (schema.required ?? []).filter((key) => key in properties);
  if (required.length > 0) {
    options.push(
      fc.tuple(base, fc.constantFrom(...required)).map(([value, key]) => {
        const copy = { ...value };
        delete copy[key];
        return copy;
      }),
    );
  }
  if (schema.additionalProperties === false) {
    options.push(
      fc
        .tuple(base, fc.constantFrom("bogus", "__proto__", "constructor", "x".repeat(300)), anyJson)
        .map(([value, key, extra]) => withOwnKey(value, key, extra)),
    );
  }
  return fc.oneof(...options);
}

/**
 * `value` with one more own key, `__proto__` included (JSON.parse makes it an own
 * property, as a request body's would be; an assignment would set the prototype).
 */
function withOwnKey(value: Record<string, unknown>, key: string, extra: unknown): unknown {
  const pair = `${JSON.stringify(key)}:${JSON.stringify(extra) ?? "null"}`;
  const rest = JSON.stringify(value);
  return JSON.parse(rest === "{}" ? `{${pair}}` : `{${pair},${rest.slice(1)}`);
}

/** A value shaped like `schema` but wrong in one place. */
export function wrong(schema: JsonSchema, depth = 0): Arbitrary<unknown> {
  if (depth > MAX_DEPTH) return wrongType(schema);
  if (schema.const !== undefined || (schema.enum !== undefined && schema.enum.length > 0)) {
    return fc.oneof(nastyString, wrongType(schema), fc.constantFrom(...INTERESTING_STRINGS));
  }
  const options = alternatives(schema);
  if (options !== undefined && options.length > 0) {
    return fc.oneof(
      wrongType({}),
      ...options.map((option) => wrong({ ...withoutAlternatives(schema), ...option }, depth + 1)),
    );
  }
  const types = typesOf(schema);
  switch (types[0]) {
    case "string":
      return wrongString(schema);
    case "integer":
      return wrongNumber(schema, true);
    case "number":
      return wrongNumber(schema, false);
    case "array":
      return wrongArray(schema, depth);
    case "object":
      return wrongObject(schema, depth);
    default:
      return schema.properties !== undefined ? wrongObject(schema, depth) : wrongType(schema);
  }
}
