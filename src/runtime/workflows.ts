/**
 * Workflow definitions (seed-spec 4.2, DESIGN §3 "Job"): a job runs a named workflow,
 * an ordered list of steps, each one task either on an agent (an agent action such as
 * `exec`) or for executors (an executor task definition, pulled work).
 *
 * ```yaml
 * name: vodstream                 # [A-Za-z0-9][A-Za-z0-9_.-]{0,99}
 * description: optional text
 * steps:                          # 1 to 50
 *   - name: fetch                 # unique within the workflow, same rule as the name
 *     action: exec                # an agent action type, or
 *     # executor: qc-check        # an executor task definition (exactly one of the two)
 *     params:                     # any JSON (an object for an action); default {}
 *       command: 'echo "$CONTENT_ID"'
 *       env: { CONTENT_ID: "{{content_id}}" }
 *     agent: local                # action steps only: an agent id, or
 *     labels: { role: encoder }   # an agent label selector (not both)
 *     timeout: 60                 # action steps only: seconds, 1 to 2592000
 * ```
 *
 * Templates: every string inside `params` is a Mustache template rendered from the
 * job's `parameters` when the step starts (`renderStep`). There is no HTML escaping
 * (these are shell commands and JSON), no partials, and no code: parameters are data,
 * looked up by their own property names only. Rules a workflow author should know:
 * - a missing variable renders as the empty string (Mustache's rule), so a default
 *   is written `{{format}}{{^format}}hls{{/format}}`;
 * - a number or boolean renders as its JSON text, an object or array as its JSON;
 * - values are inserted as they are: a shell command should take client values
 *   through `env` and quote them (`"$CONTENT_ID"`), never splice them into the
 *   command text, or a client can inject shell code.
 *
 * Every definition is checked when it is loaded or put; each error is an
 * InvalidInputError naming the step and field. Workflows are engine-wide (the job
 * API's clients share them). The runtime reads no files: `src/main.ts` reads the
 * workflow files and hands their parsed values to `Workflows.load`.
 */
import Mustache from "mustache";
import { InvalidInputError } from "../errors";
import { SUBJECT_TOKEN_PATTERN, type TaskAction } from "../protocol";
import type { GroupCommitWriter } from "../store/group-commit";

const META_KEY = "workflows";
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
/** The executor definition name rule (src/runtime/executor-definitions.ts). */
const EXECUTOR_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$/;
/** TaskAction.type: 1 to 64 characters (src/protocol/messages.ts). */
const ACTION_TYPE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const AGENT_ID = new RegExp(SUBJECT_TOKEN_PATTERN);
const MAX_STEPS = 50;
const MAX_LABELS = 32;
const MAX_LABEL_LENGTH = 256;
const MAX_DESCRIPTION = 10_000;
/** 30 days, in seconds. */
const MAX_TIMEOUT_S = 30 * 24 * 3600;
/** How deep params (in a definition) and parameters (of a job) may nest. */
const MAX_DEPTH = 64;
const WORKFLOW_KEYS = new Set(["name", "description", "steps"]);
const STEP_KEYS = new Set(["name", "action", "executor", "params", "agent", "labels", "timeout"]);

/** One step as written in a workflow file or a PUT body. */
export interface WorkflowStepInput {
  readonly name: string;
  readonly action?: string;
  readonly executor?: string;
  readonly params?: unknown;
  readonly agent?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** Seconds. */
  readonly timeout?: number;
}

/** A workflow as written in a workflow file or a PUT body. */
export interface WorkflowInput {
  readonly name: string;
  readonly description?: string;
  readonly steps: readonly WorkflowStepInput[];
}

/** A checked step with its defaults filled; exactly one of action and executor is set. */
export interface WorkflowStep {
  readonly name: string;
  /** An agent action type (exec, noop, deploy-build, ...), or null for an executor step. */
  readonly action: string | null;
  /** An executor task definition, or null for an action step. */
  readonly executor: string | null;
  /** Templates in every string; {} when not given. An object for an action step. */
  readonly params: unknown;
  readonly agent: string | null;
  readonly labels: Readonly<Record<string, string>> | null;
  /** Seconds, or null for the engine's default execution limit. */
  readonly timeout: number | null;
}

/** A checked workflow (deeply frozen). */
export interface Workflow {
  readonly name: string;
  readonly description: string | null;
  readonly steps: readonly WorkflowStep[];
  /** `file`: shipped with the engine (read-only through the API); `api`: put at run time. */
  readonly source: "file" | "api";
}

/** One step made ready to run for a job. */
export interface RenderedStep {
  readonly name: string;
  /** The one action of an action step; undefined for an executor step. */
  readonly actions: TaskAction[] | undefined;
  /** The executor task definition of an executor step; undefined for an action step. */
  readonly executor: string | undefined;
  /** The step's params with every string rendered. */
  readonly params: unknown;
  readonly agentId?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** A Mustache writer that caches nothing: replaced definitions leave nothing behind. */
function makeWriter(): Mustache.Writer {
  const writer = new Mustache.Writer();
  Object.assign(writer, { templateCache: undefined });
  return writer;
}
const writer = makeWriter();

const TAGS: Mustache.OpeningAndClosingTags = ["{{", "}}"];
/** Values are inserted as they are (see the module comment); objects carry their JSON. */
const RENDER_OPTIONS: Mustache.RenderOptions = {
  escape: (value: unknown) => String(value),
  tags: TAGS,
};
/** Token types that look a name up in the parameters. */
const LOOKUPS = new Set(["name", "&", "#", "^"]);

/**
 * Throws a plain message when a template does not parse, uses a partial, or looks up
 * a name Object.prototype has (`{{constructor}}`, `{{toString}}`): Mustache's lookup
 * cache breaks on those, and no parameter should be called that.
 */
function checkTemplate(template: string): void {
  // biome-ignore lint/suspicious/noExplicitAny: Mustache's token tree is untyped.
  const walk = (tokens: any[]): void => {
    for (const token of tokens) {
      const [type, name] = token as [string, string];
      if (type === ">") throw new Error(`partials ({{> ${name}}}) are not supported`);
      if (LOOKUPS.has(type) && name.split(".").some((part) => part in Object.prototype)) {
        throw new Error(`{{${name}}} names a built-in JavaScript property`);
      }
      if (Array.isArray(token[4])) walk(token[4]);
    }
  };
  walk(writer.parse(template, TAGS));
}

/**
 * A copy of a definition's params: JSON only, every string a template that parses.
 * `path` is the field name so far (e.g. `params.env.A`); errors name it.
 */
function copyParams(value: unknown, path: string, fail: Fail, depth = 0): unknown {
  if (depth > MAX_DEPTH) fail(path, `${path} nests more than ${MAX_DEPTH} levels deep`);
  if (typeof value === "string") {
    try {
      checkTemplate(value);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      fail(path, `${path} is not a valid template: ${message}`);
    }
    return value;
  }
  if (value === null || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) fail(path, `${path} must be a finite number`);
    return value;
  }
  if (Array.isArray(value)) {
    return value.map((item, i) => copyParams(item, `${path}[${i}]`, fail, depth + 1));
  }
  const proto = isObject(value) ? Object.getPrototypeOf(value) : undefined;
  if (isObject(value) && (proto === Object.prototype || proto === null)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        copyParams(item, `${path}.${key}`, fail, depth + 1),
      ]),
    );
  }
  return fail(path, `${path} must be JSON (strings, numbers, booleans, null, lists, objects)`);
}

type Fail = (field: string, message: string) => never;

function checkLabels(value: unknown, fail: Fail): Record<string, string> {
  if (!isObject(value)) return fail("labels", "labels must be an object of label: value");
  const entries = Object.entries(value);
  if (entries.length === 0 || entries.length > MAX_LABELS) {
    fail("labels", `labels must name 1 to ${MAX_LABELS} labels`);
  }
  for (const [key, item] of entries) {
    if (key.length === 0 || key.length > MAX_LABEL_LENGTH) {
      fail("labels", `labels: a label name must have 1 to ${MAX_LABEL_LENGTH} characters`);
    }
    if (typeof item !== "string" || item.length > MAX_LABEL_LENGTH) {
      fail(
        `labels.${key}`,
        `labels.${key} must be a string of at most ${MAX_LABEL_LENGTH} characters`,
      );
    }
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

function normalizeStep(input: unknown, index: number): WorkflowStep {
  let prefix = `steps[${index}]`;
  const fail: Fail = (field, message) => {
    throw new InvalidInputError(`${prefix}: ${message}`, `steps[${index}].${field}`);
  };
  if (!isObject(input)) {
    throw new InvalidInputError(`${prefix} must be an object`, `steps[${index}]`);
  }
  if (typeof input.name !== "string" || !NAME.test(input.name)) {
    fail(
      "name",
      "name must be 1 to 100 letters, digits and _ . - (starting with a letter or digit)",
    );
  }
  const name = input.name as string;
  prefix = `steps[${index}] (${name})`;
  for (const key of Object.keys(input)) {
    if (!STEP_KEYS.has(key)) fail(key, `unknown property ${key}`);
  }
  const { action, executor } = input;
  if (action !== undefined && executor !== undefined) {
    fail("action", "give action or executor, not both");
  }
  if (action === undefined && executor === undefined) {
    fail("action", "give action (an agent action type) or executor (a definition)");
  }
  if (action !== undefined && (typeof action !== "string" || !ACTION_TYPE.test(action))) {
    fail("action", "action must be an agent action type such as exec (1 to 64 characters)");
  }
  if (executor !== undefined && (typeof executor !== "string" || !EXECUTOR_NAME.test(executor))) {
    fail("executor", "executor must name an executor task definition");
  }
  const params = copyParams(input.params ?? {}, "params", fail);
  if (action !== undefined && !isObject(params)) {
    fail("params", "params of an action step must be an object");
  }
  if (executor !== undefined) {
    // Pulled work goes to whichever executor claims it, under its definition's limits.
    for (const key of ["agent", "labels", "timeout"] as const) {
      if (input[key] !== undefined) {
        fail(key, `${key} applies only to an action step (an executor step is pulled work)`);
      }
    }
  }
  if (input.agent !== undefined && input.labels !== undefined) {
    fail("labels", "give agent or labels, not both");
  }
  if (
    input.agent !== undefined &&
    (typeof input.agent !== "string" || !AGENT_ID.test(input.agent))
  ) {
    fail("agent", "agent must be an agent id (1 to 128 letters, digits, _ and -)");
  }
  const labels = input.labels === undefined ? null : checkLabels(input.labels, fail);
  const timeout = input.timeout;
  if (
    timeout !== undefined &&
    (typeof timeout !== "number" ||
      !Number.isSafeInteger(timeout) ||
      timeout < 1 ||
      timeout > MAX_TIMEOUT_S)
  ) {
    fail("timeout", `timeout must be a whole number of seconds from 1 to ${MAX_TIMEOUT_S}`);
  }
  return {
    name,
    action: (action as string | undefined) ?? null,
    executor: (executor as string | undefined) ?? null,
    params,
    agent: (input.agent as string | undefined) ?? null,
    labels,
    timeout: (timeout as number | undefined) ?? null,
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

/** Checks a workflow and fills its defaults; throws InvalidInputError naming the field. */
export function normalizeWorkflow(input: unknown, source: Workflow["source"]): Workflow {
  if (!isObject(input)) throw new InvalidInputError("a workflow must be an object", "workflow");
  if (typeof input.name !== "string" || !NAME.test(input.name)) {
    throw new InvalidInputError(
      "name must be 1 to 100 letters, digits and _ . - (starting with a letter or digit)",
      "name",
    );
  }
  for (const key of Object.keys(input)) {
    if (!WORKFLOW_KEYS.has(key)) throw new InvalidInputError(`unknown property ${key}`, key);
  }
  const { description, steps } = input;
  if (
    description !== undefined &&
    (typeof description !== "string" || description.length > MAX_DESCRIPTION)
  ) {
    throw new InvalidInputError(
      `description must be a string of at most ${MAX_DESCRIPTION} characters`,
      "description",
    );
  }
  if (!Array.isArray(steps) || steps.length === 0 || steps.length > MAX_STEPS) {
    throw new InvalidInputError(`steps must list 1 to ${MAX_STEPS} steps`, "steps");
  }
  const checked = steps.map((step, i) => normalizeStep(step, i));
  const seen = new Map<string, number>();
  checked.forEach((step, i) => {
    const first = seen.get(step.name);
    if (first !== undefined) {
      throw new InvalidInputError(
        `steps[${i}] (${step.name}): name is already used by steps[${first}]`,
        `steps[${i}].name`,
      );
    }
    seen.set(step.name, i);
  });
  return deepFreeze({
    name: input.name,
    description: description ?? null,
    steps: checked,
    source,
  });
}

/** A workflow back as input (what the meta row keeps, and what a GET may show). */
export function workflowInput(workflow: Workflow): WorkflowInput {
  return {
    name: workflow.name,
    ...(workflow.description === null ? {} : { description: workflow.description }),
    steps: workflow.steps.map((step) => ({
      name: step.name,
      ...(step.action === null ? {} : { action: step.action }),
      ...(step.executor === null ? {} : { executor: step.executor }),
      params: step.params,
      ...(step.agent === null ? {} : { agent: step.agent }),
      ...(step.labels === null ? {} : { labels: step.labels }),
      ...(step.timeout === null ? {} : { timeout: step.timeout }),
    })),
  };
}

/** Hidden from Mustache's lookups (they use names, not symbols): objects render as JSON. */
function asJson(this: unknown): string {
  return JSON.stringify(this);
}

/**
 * The job's parameters as a Mustache view: JSON data only, in objects and arrays
 * with no prototype, so a name resolves to the parameter's own property or nothing
 * (`{{constructor}}` renders empty instead of reaching Object.prototype), and no
 * function can be called.
 */
function view(value: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) {
    throw new InvalidInputError(`parameters nest more than ${MAX_DEPTH} levels deep`, "parameters");
  }
  if (typeof value === "string" || typeof value === "boolean" || value === null) return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value !== "object") return undefined; // functions, symbols, bigints, undefined
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value)
    ? value.map((item) => view(item, depth + 1))
    : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, view(v, depth + 1)]));
  Object.setPrototypeOf(copy, null);
  Object.defineProperty(copy, Symbol.toPrimitive, { value: asJson });
  return copy;
}

function render(value: unknown, parameters: unknown): unknown {
  if (typeof value === "string") return writer.render(value, parameters, undefined, RENDER_OPTIONS);
  if (Array.isArray(value)) return value.map((item) => render(item, parameters));
  if (isObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, render(v, parameters)]));
  }
  return value;
}

/**
 * Step `index` of `workflow` made ready for a job: every string in its params rendered
 * from `parameters` (a missing variable renders empty). An index out of range is a
 * programming error (RangeError).
 */
export function renderStep(
  workflow: Workflow,
  index: number,
  parameters: Record<string, unknown>,
): RenderedStep {
  const step = workflow.steps[index];
  if (step === undefined) {
    throw new RangeError(`workflow ${workflow.name} has no step ${index}`);
  }
  const params = render(step.params, view(parameters, 0));
  return {
    name: step.name,
    actions:
      step.action === null
        ? undefined
        : [{ type: step.action, params: params as Record<string, unknown> }],
    executor: step.executor ?? undefined,
    params,
    ...(step.agent === null ? {} : { agentId: step.agent }),
    ...(step.labels === null ? {} : { labels: step.labels }),
    ...(step.timeout === null ? {} : { timeoutMs: step.timeout * 1000 }),
  };
}

/**
 * The engine's workflows: the files' (shipped with the engine, read-only here) and
 * the ones put through the API (kept durable in one meta row). A file's workflow
 * cannot be replaced or removed through the API: change the file. A stored workflow
 * whose name a file now defines is hidden by the file's (and kept in the row, so it
 * comes back if the file goes).
 */
export class Workflows {
  /** name → the file's workflow and the file it came from. */
  private readonly files = new Map<string, { workflow: Workflow; source: string }>();
  private readonly own = new Map<string, Workflow>();

  private constructor(private readonly writer: Pick<GroupCommitWriter, "setMeta">) {}

  /**
   * Loads the files' workflows (each parsed value with its source, e.g.
   * `workflows/vodstream.yaml`; a bad one throws an InvalidInputError whose message
   * starts with the source) and the stored ones (the meta row's value, if any).
   */
  static load(
    fromFiles: readonly { readonly source: string; readonly value: unknown }[],
    stored: string | undefined,
    writer: Pick<GroupCommitWriter, "setMeta">,
  ): Workflows {
    const workflows = new Workflows(writer);
    for (const { source, value } of fromFiles) {
      let workflow: Workflow;
      try {
        workflow = normalizeWorkflow(value, "file");
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const field = error instanceof InvalidInputError ? error.field : undefined;
        throw new InvalidInputError(`${source}: ${message}`, field);
      }
      const twin = workflows.files.get(workflow.name);
      if (twin) {
        throw new InvalidInputError(
          `${source}: workflow ${workflow.name} is already defined by ${twin.source}`,
          "name",
        );
      }
      workflows.files.set(workflow.name, { workflow, source });
    }
    if (stored !== undefined) {
      let inputs: unknown;
      try {
        inputs = JSON.parse(stored);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new InvalidInputError(`stored workflows: not JSON: ${message}`, "workflows");
      }
      if (!Array.isArray(inputs)) {
        throw new InvalidInputError("stored workflows: not a list", "workflows");
      }
      for (const input of inputs) {
        let workflow: Workflow;
        try {
          workflow = normalizeWorkflow(input, "api");
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          const field = error instanceof InvalidInputError ? error.field : undefined;
          throw new InvalidInputError(`stored workflows: ${message}`, field);
        }
        workflows.own.set(workflow.name, workflow);
      }
    }
    return workflows;
  }

  /** Adds or replaces an API workflow; durable once the writer commits. */
  put(input: unknown): Workflow {
    const workflow = normalizeWorkflow(input, "api");
    this.refuseFile(workflow.name, "replaced");
    this.own.set(workflow.name, workflow);
    this.persist();
    return workflow;
  }

  /** Removes an API workflow; durable once the writer commits. */
  remove(name: string): Workflow {
    this.refuseFile(name, "removed");
    const workflow = this.get(name);
    this.own.delete(name);
    this.persist();
    return workflow;
  }

  find(name: string): Workflow | undefined {
    return this.files.get(name)?.workflow ?? this.own.get(name);
  }

  /** The workflow, or InvalidInputError (a bad name in a request is bad input). */
  get(name: string): Workflow {
    const found = this.find(name);
    if (!found) throw new InvalidInputError(`no workflow named ${name}`, "workflow");
    return found;
  }

  /** Every workflow, by name. */
  list(): Workflow[] {
    const all = new Map<string, Workflow>(this.own);
    for (const [name, { workflow }] of this.files) all.set(name, workflow);
    return [...all.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private refuseFile(name: string, verb: string): void {
    const file = this.files.get(name);
    if (file) {
      throw new InvalidInputError(
        `workflow ${name} is defined by ${file.source} and cannot be ${verb} through the API; change that file instead`,
        "name",
      );
    }
  }

  private persist(): void {
    this.writer.setMeta(META_KEY, JSON.stringify([...this.own.values()].map(workflowInput)));
  }
}
