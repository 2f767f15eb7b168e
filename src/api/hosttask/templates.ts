/**
 * Task templates (spec 2.6, 2.7, 2.9, 2.17): what a client may ask the agents to do to
 * an application instance. A template is an ordered list of agent actions; each action
 * takes some of its parameters from the request's `taskActionParam` and, when it acts
 * on the instance, the instance's id. The built-in five cover an instance's life;
 * `TaskTemplatesFile` is the schema of a file that replaces them.
 */
import { type Static, Type as T } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { ConfigError } from "../../errors";
import type { TaskAction } from "../../protocol";
import type { FieldError } from "./errors";

const PARAM_NAME = "^[A-Za-z][A-Za-z0-9_]{0,63}$";

/** How a `paramValue` (a string in the i3D API, a number accepted too) becomes a value. */
export const ParamKind = {
  /** A non-empty string; a number is taken as its decimal text. */
  String: "string",
  /** A number >= 0, or its decimal text. */
  Number: "number",
  /** "graceful" or "hard"; also 1 = graceful and 2 = hard, as numbers or text. */
  StopMethod: "stopMethod",
} as const;
export type ParamKind = (typeof ParamKind)[keyof typeof ParamKind];

export const TemplateParam = T.Object(
  {
    name: T.String({
      pattern: PARAM_NAME,
      description: "the paramName a client passes in taskActionParam",
    }),
    param: T.Optional(
      T.String({
        pattern: PARAM_NAME,
        description: "the action parameter it fills; default: name",
      }),
    ),
    kind: T.Optional(
      T.Union([T.Literal("string"), T.Literal("number"), T.Literal("stopMethod")], {
        description: "how paramValue is read; default string",
      }),
    ),
    required: T.Optional(
      T.Boolean({ description: "a create without it is refused (422); default true" }),
    ),
    default: T.Optional(
      T.Union([T.String(), T.Number()], { description: "used when an optional one is absent" }),
    ),
    pattern: T.Optional(T.String({ description: "a string value must match this" })),
  },
  { additionalProperties: false },
);
export type TemplateParam = Static<typeof TemplateParam>;

export const TemplateAction = T.Object(
  {
    actionType: T.String({
      minLength: 1,
      maxLength: 200,
      description: 'what clients see, e.g. "Download software build"',
    }),
    type: T.String({
      pattern: "^[A-Za-z0-9_.-]{1,64}$",
      description: "the agent action it runs, e.g. download-build",
    }),
    instanceParam: T.Optional(
      T.String({
        pattern: PARAM_NAME,
        description: "the action parameter that receives the instance's id, if any",
      }),
    ),
    params: T.Optional(T.Array(TemplateParam, { maxItems: 50 })),
    fixedParams: T.Optional(
      T.Record(T.String(), T.Unknown(), { description: "parameters every task gets as they are" }),
    ),
  },
  { additionalProperties: false },
);
export type TemplateAction = Static<typeof TemplateAction>;

export const TaskTemplate = T.Object(
  {
    id: T.Integer({ minimum: 1, maximum: 2_147_483_647 }),
    name: T.String({ minLength: 1, maxLength: 200 }),
    description: T.String({ maxLength: 2000 }),
    actions: T.Array(TemplateAction, { minItems: 1, maxItems: 100 }),
  },
  { additionalProperties: false },
);
export type TaskTemplate = Static<typeof TaskTemplate>;

/** A templates file: the whole list, replacing the built-in one. */
export const TaskTemplatesFile = T.Array(TaskTemplate, { minItems: 1, maxItems: 1000 });
export type TaskTemplatesFile = Static<typeof TaskTemplatesFile>;

const BUILD_ID = {
  name: "buildId",
  pattern: "^[A-Za-z0-9._-]{1,128}$",
} as const satisfies TemplateParam;

const STOP_INSTANCE: TemplateAction = {
  actionType: "Stop instance",
  type: "stop-instance",
  instanceParam: "instanceId",
  params: [
    // Spec 2.17: a hard kill unless told otherwise, and a graceful stop waits 1800 s.
    { name: "methodId", kind: "stopMethod", required: false, default: "hard" },
    { name: "timeout", kind: "number", required: false, default: 1800 },
  ],
};

const START_INSTANCE: TemplateAction = {
  actionType: "Start instance",
  type: "start-instance",
  instanceParam: "instanceId",
};

/** The built-in templates; their ids are what `taskTemplateId` names. */
export const BUILT_IN_TEMPLATES: readonly TaskTemplate[] = [
  {
    id: 1,
    name: "Deploy",
    description:
      "Download a build archive (buildId, url), extract it, stop the instance (methodId: graceful|hard or 1|2, default hard; timeout in s, default 1800), deploy the build to it and start it.",
    actions: [
      {
        actionType: "Download software build",
        type: "download-build",
        params: [BUILD_ID, { name: "url", pattern: "^(https?|file):" }],
      },
      { actionType: "Extract software build", type: "extract-build", params: [BUILD_ID] },
      STOP_INSTANCE,
      {
        actionType: "Deploy software build to instance",
        type: "deploy-build",
        instanceParam: "instanceId",
        params: [BUILD_ID],
      },
      START_INSTANCE,
    ],
  },
  {
    id: 2,
    name: "Start",
    description: "Start the instance from its deployed build.",
    actions: [START_INSTANCE],
  },
  {
    id: 3,
    name: "Stop",
    description: "Stop the instance (methodId: graceful|hard or 1|2, default hard; timeout in s).",
    actions: [STOP_INSTANCE],
  },
  {
    id: 4,
    name: "Restart",
    description: "Stop the instance (methodId, timeout as for Stop), then start it.",
    actions: [STOP_INSTANCE, START_INSTANCE],
  },
  {
    id: 5,
    name: "Custom command",
    description:
      "Run a shell command (command) on the instance's host. The agent runs it only when its config lists the exec action; otherwise the create is refused.",
    actions: [{ actionType: "Custom command", type: "exec", params: [{ name: "command" }] }],
  },
];

const templatesCheck = TypeCompiler.Compile(TaskTemplatesFile);

/** Every parameter a client may pass to a template, merged across its actions. */
export function templateParams(template: TaskTemplate): Map<string, TemplateParam> {
  const merged = new Map<string, TemplateParam>();
  for (const action of template.actions) {
    for (const param of action.params ?? []) {
      const seen = merged.get(param.name);
      // Required anywhere means required.
      if (!seen || param.required !== false) merged.set(param.name, param);
    }
  }
  return merged;
}

function sameReading(a: TemplateParam, b: TemplateParam): boolean {
  return (a.kind ?? "string") === (b.kind ?? "string") && a.pattern === b.pattern;
}

/**
 * A templates list as a server may use it: schema-valid, ids unique, each parameter
 * read the same way by every action that takes it, defaults of the right kind.
 * @throws ConfigError naming what is wrong.
 */
export function checkTemplates(value: unknown): readonly TaskTemplate[] {
  if (!templatesCheck.Check(value)) {
    const error = templatesCheck.Errors(value).First();
    throw new ConfigError(`task templates: ${error?.path || "/"} ${error?.message ?? "invalid"}`);
  }
  const ids = new Set<number>();
  for (const template of value) {
    if (ids.has(template.id)) throw new ConfigError(`task template ${template.id} is listed twice`);
    ids.add(template.id);
    const byName = new Map<string, TemplateParam>();
    for (const param of template.actions.flatMap((action) => action.params ?? [])) {
      const seen = byName.get(param.name);
      if (seen && !sameReading(seen, param)) {
        throw new ConfigError(
          `task template ${template.id}: parameter ${param.name} is read two different ways`,
        );
      }
      byName.set(param.name, param);
      if (param.pattern !== undefined) {
        try {
          new RegExp(param.pattern);
        } catch {
          throw new ConfigError(
            `task template ${template.id}: parameter ${param.name} has a bad pattern`,
          );
        }
      }
      if (param.default !== undefined && "error" in readParam(param, param.default)) {
        throw new ConfigError(
          `task template ${template.id}: parameter ${param.name} has a default of the wrong kind`,
        );
      }
    }
  }
  return Object.freeze(value.map((template) => Object.freeze(template)));
}

/** What GET …/task/template shows of a template (spec 2.6). */
export function templateView(template: TaskTemplate) {
  return {
    id: template.id,
    name: template.name,
    description: template.description,
    actions: template.actions.map((action, idx) => ({
      idx,
      actionType: action.actionType,
      // As the seed shows them: every parameter the action takes, optional ones too
      // (the description says which may be left out).
      requiredParams: (action.params ?? []).map((param) => param.name),
    })),
  };
}

const STOP_METHODS: Readonly<Record<string, string>> = {
  graceful: "graceful",
  hard: "hard",
  "1": "graceful",
  "2": "hard",
};

/** A paramValue read as the parameter's kind, or why it cannot be. */
export function readParam(
  param: TemplateParam,
  raw: string | number,
): { value: string | number } | { error: string } {
  switch (param.kind ?? ParamKind.String) {
    case ParamKind.Number: {
      const value = typeof raw === "number" ? raw : /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
      return Number.isFinite(value) && value >= 0
        ? { value }
        : { error: "must be a number of 0 or more" };
    }
    case ParamKind.StopMethod: {
      const value = STOP_METHODS[String(raw)];
      return value ? { value } : { error: 'must be "graceful" (1) or "hard" (2)' };
    }
    default: {
      const value = typeof raw === "number" ? String(raw) : raw;
      if (value.length === 0) return { error: "must not be empty" };
      if (param.pattern !== undefined && !new RegExp(param.pattern).test(value)) {
        return { error: `must match ${param.pattern}` };
      }
      return { value };
    }
  }
}

export interface ParamInput {
  readonly paramName: string;
  readonly paramValue: string | number;
}

/**
 * The values a create gives the template's parameters (defaults filled), or every
 * reason it cannot: an unknown or repeated name, a bad value, a required one missing.
 */
export function resolveParams(
  template: TaskTemplate,
  given: readonly ParamInput[],
): { values: ReadonlyMap<string, string | number> } | { errors: FieldError[] } {
  const known = templateParams(template);
  const errors: FieldError[] = [];
  const values = new Map<string, string | number>();
  const mentioned = new Set<string>();
  given.forEach(({ paramName, paramValue }, i) => {
    const param = known.get(paramName);
    if (!param) {
      const names = [...known.keys()].join(", ") || "none";
      errors.push({
        property: `taskActionParam[${i}].paramName`,
        message: `${paramName} is not a parameter of task template ${template.id} (its parameters: ${names})`,
      });
      return;
    }
    if (mentioned.has(paramName)) {
      errors.push({
        property: `taskActionParam[${i}].paramName`,
        message: `${paramName} is given more than once`,
      });
      return;
    }
    mentioned.add(paramName);
    const read = readParam(param, paramValue);
    if ("error" in read) {
      errors.push({
        property: `taskActionParam[${i}].paramValue`,
        message: `${paramName} ${read.error}`,
      });
      return;
    }
    values.set(paramName, read.value);
  });
  for (const [name, param] of known) {
    if (mentioned.has(name)) continue;
    if (param.required !== false) {
      errors.push({
        property: "taskActionParam",
        message: `required parameter ${name} is missing (task template ${template.id})`,
      });
    } else if (param.default !== undefined) {
      values.set(name, param.default);
    }
  }
  return errors.length > 0 ? { errors } : { values };
}

/** The agent actions of one task: the template's, filled for one instance. */
export function buildActions(
  template: TaskTemplate,
  values: ReadonlyMap<string, string | number>,
  instanceId: string,
): TaskAction[] {
  return template.actions.map((action) => {
    const params: Record<string, unknown> = { ...action.fixedParams };
    if (action.instanceParam !== undefined) params[action.instanceParam] = instanceId;
    for (const param of action.params ?? []) {
      const value = values.get(param.name);
      if (value !== undefined) params[param.param ?? param.name] = value;
    }
    return { type: action.type, params };
  });
}
