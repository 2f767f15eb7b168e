/**
 * Executor task definitions (seed-spec 1.15, 1.16): the timeouts, retries and
 * concurrency of a kind of pulled task, and the JSON Schemas its params, result and
 * error must match. Every tenant has the config file's; `define` adds a tenant's own,
 * kept durable in one meta row.
 */
import { Ajv, type ValidateFunction } from "ajv";
import { InvalidInputError } from "../errors";
import type { GroupCommitWriter } from "../store/group-commit";
import type { Store } from "../store/store";
import type { TaskDefinition, TaskDefinitionInput } from "./commands";

const META_KEY = "executor.definitions";
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$/;
/** 30 days: longer limits are almost certainly a unit mistake (they are ms). */
const MAX_MS = 30 * 24 * 3_600_000;
const KNOWN = new Set([
  "name",
  "description",
  "params",
  "result",
  "error",
  "requestedToStartTimeout",
  "inProgressTimeout",
  "allowedRetryCount",
  "retryDelay",
  "concurrencyLimit",
  "concurrencyPath",
]);

interface Compiled {
  readonly definition: TaskDefinition;
  readonly params: ValidateFunction | null;
  readonly result: ValidateFunction | null;
  readonly error: ValidateFunction | null;
}

function ms(value: unknown, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0 || value > MAX_MS) {
    throw new InvalidInputError(`${field} must be a whole number of ms from 0 to ${MAX_MS}`, field);
  }
  return value;
}

function schema(value: unknown, field: string): Record<string, unknown> | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidInputError(`${field} must be a JSON Schema object`, field);
  }
  return value as Record<string, unknown>;
}

/** Checks a definition and fills its defaults; throws InvalidInputError naming the field. */
export function normalizeDefinition(
  input: TaskDefinitionInput,
  source: TaskDefinition["source"],
): TaskDefinition {
  if (typeof input !== "object" || input === null) {
    throw new InvalidInputError("a definition must be an object", "definition");
  }
  for (const field of Object.keys(input)) {
    if (!KNOWN.has(field)) throw new InvalidInputError(`unknown property ${field}`, field);
  }
  if (typeof input.name !== "string" || !NAME.test(input.name)) {
    throw new InvalidInputError(
      "name must be 1 to 200 letters, digits and _ . : / - (starting with a letter or digit)",
      "name",
    );
  }
  if (input.description !== undefined && typeof input.description !== "string") {
    throw new InvalidInputError("description must be a string", "description");
  }
  const retries = input.allowedRetryCount;
  if (
    retries !== undefined &&
    (typeof retries !== "number" || !Number.isSafeInteger(retries) || retries < 0 || retries > 100)
  ) {
    throw new InvalidInputError(
      "allowedRetryCount must be a whole number from 0 to 100",
      "allowedRetryCount",
    );
  }
  const limit = input.concurrencyLimit;
  if (
    limit !== undefined &&
    (typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 1 || limit > 1_000_000)
  ) {
    throw new InvalidInputError("concurrencyLimit must be a whole number ≥ 1", "concurrencyLimit");
  }
  const path = input.concurrencyPath;
  if (
    path !== undefined &&
    (!Array.isArray(path) ||
      path.length === 0 ||
      path.length > 16 ||
      !path.every((part) => typeof part === "string" && part.length > 0))
  ) {
    throw new InvalidInputError(
      "concurrencyPath must be a list of 1 to 16 property names",
      "concurrencyPath",
    );
  }
  if (path !== undefined && limit === undefined) {
    throw new InvalidInputError("concurrencyPath needs a concurrencyLimit", "concurrencyPath");
  }
  return {
    name: input.name,
    description: input.description ?? null,
    params: schema(input.params, "params"),
    result: schema(input.result, "result"),
    error: schema(input.error, "error"),
    requestedToStartTimeout: ms(input.requestedToStartTimeout, 10_000, "requestedToStartTimeout"),
    inProgressTimeout: ms(input.inProgressTimeout, 120_000, "inProgressTimeout"),
    allowedRetryCount: retries ?? 2,
    retryDelay: ms(input.retryDelay, 10_000, "retryDelay"),
    concurrencyLimit: limit ?? null,
    concurrencyPath: path ?? null,
    source,
  };
}

/** A definition back as input (what the meta row keeps). */
function asInput(definition: TaskDefinition): TaskDefinitionInput {
  const {
    source: _,
    description,
    params,
    result,
    error,
    concurrencyLimit,
    concurrencyPath,
    ...rest
  } = definition;
  return {
    ...rest,
    ...(description === null ? {} : { description }),
    ...(params === null ? {} : { params }),
    ...(result === null ? {} : { result }),
    ...(error === null ? {} : { error }),
    ...(concurrencyLimit === null ? {} : { concurrencyLimit }),
    ...(concurrencyPath === null ? {} : { concurrencyPath }),
  };
}

export class ExecutorDefinitions {
  private readonly ajv = new Ajv({ allErrors: false, strict: false });
  private readonly shared = new Map<string, Compiled>();
  /** tenant → name → its own definitions. */
  private readonly own = new Map<string, Map<string, Compiled>>();

  private constructor(private readonly writer: GroupCommitWriter) {}

  /** Loads the config file's definitions (checked: a bad one throws) and the stored ones. */
  static async load(
    config: readonly TaskDefinitionInput[],
    store: Pick<Store, "getMeta">,
    writer: GroupCommitWriter,
  ): Promise<ExecutorDefinitions> {
    const definitions = new ExecutorDefinitions(writer);
    config.forEach((input, i) => {
      try {
        const compiled = definitions.compile(normalizeDefinition(input, "config"));
        definitions.shared.set(compiled.definition.name, compiled);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new InvalidInputError(`taskDefinitions[${i}]: ${message}`, `taskDefinitions[${i}]`);
      }
    });
    const stored = await store.getMeta(META_KEY);
    const byTenant = stored ? (JSON.parse(stored) as Record<string, TaskDefinitionInput[]>) : {};
    for (const [tenant, inputs] of Object.entries(byTenant)) {
      const mine = new Map<string, Compiled>();
      for (const input of inputs) {
        const compiled = definitions.compile(normalizeDefinition(input, "api"));
        mine.set(compiled.definition.name, compiled);
      }
      definitions.own.set(tenant, mine);
    }
    return definitions;
  }

  /** Adds or replaces a tenant's own definition; durable once the writer commits. */
  define(tenant: string, input: TaskDefinitionInput): TaskDefinition {
    const compiled = this.compile(normalizeDefinition(input, "api"));
    const name = compiled.definition.name;
    if (this.shared.has(name)) {
      throw new InvalidInputError(`${name} is defined by the engine's configuration`, "name");
    }
    let mine = this.own.get(tenant);
    if (!mine) {
      mine = new Map();
      this.own.set(tenant, mine);
    }
    mine.set(name, compiled);
    const all: Record<string, TaskDefinitionInput[]> = {};
    for (const [owner, defs] of this.own) {
      all[owner] = Array.from(defs.values(), (c) => asInput(c.definition));
    }
    this.writer.setMeta(META_KEY, JSON.stringify(all));
    return compiled.definition;
  }

  find(tenant: string, name: string): TaskDefinition | undefined {
    return this.compiled(tenant, name)?.definition;
  }

  /** The definition, or InvalidInputError. */
  get(tenant: string, name: string): TaskDefinition {
    const found = this.find(tenant, name);
    // A bad name in a call is bad input, not a missing task: 422 (seed-spec 1.2).
    if (!found) throw new InvalidInputError(`no task definition named ${name}`, "definition");
    return found;
  }

  list(tenant: string): TaskDefinition[] {
    const mine = this.own.get(tenant);
    return [
      ...Array.from(this.shared.values(), (c) => c.definition),
      ...(mine ? Array.from(mine.values(), (c) => c.definition) : []),
    ];
  }

  /** Checks `value` against the definition's schema for `part`; throws naming the field. */
  check(tenant: string, name: string, part: "params" | "result" | "error", value: unknown): void {
    const validate = this.compiled(tenant, name)?.[part];
    if (!validate || validate(value)) return;
    const first = validate.errors?.[0];
    const where = `${part}${(first?.instancePath ?? "").replaceAll("/", ".")}`;
    throw new InvalidInputError(
      `${where} does not match the ${name} definition's schema: ${first?.message ?? "invalid"}`,
      where,
    );
  }

  private compiled(tenant: string, name: string): Compiled | undefined {
    return this.shared.get(name) ?? this.own.get(tenant)?.get(name);
  }

  private compile(definition: TaskDefinition): Compiled {
    const part = (field: "params" | "result" | "error") => {
      const s = definition[field];
      if (s === null) return null;
      try {
        return this.ajv.compile(s);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new InvalidInputError(`${field} is not a valid JSON Schema: ${message}`, field);
      }
    };
    return { definition, params: part("params"), result: part("result"), error: part("error") };
  }
}
