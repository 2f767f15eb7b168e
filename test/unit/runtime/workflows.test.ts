import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { InvalidInputError } from "../../../src/errors";
import {
  normalizeWorkflow,
  renderStep,
  type Workflow,
  type WorkflowInput,
  Workflows,
  workflowInput,
} from "../../../src/runtime/workflows";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const SHIPPED = ["workflows/vodstream.yaml", "workflows/voddelete.yaml"] as const;
const readShipped = (source: string) => ({
  source,
  value: parseYaml(readFileSync(`${ROOT}${source}`, "utf8")) as unknown,
});

const exec = (command: string) => ({ action: "exec", params: { command } });
const one = (step: Record<string, unknown>) => ({ name: "wf", steps: [step] });
const two = (step: Record<string, unknown>) => ({
  name: "wf",
  steps: [{ name: "first", ...exec("true") }, step],
});

function thrown(fn: () => unknown): InvalidInputError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return error as InvalidInputError;
  }
  throw new Error("expected an InvalidInputError");
}

/** A fake writer: keeps every setMeta call. */
function recorder() {
  const calls: { key: string; value: string }[] = [];
  return {
    calls,
    setMeta(key: string, value: string) {
      calls.push({ key, value });
    },
  };
}

describe("workflow definitions: refused", () => {
  const cases: [string, unknown, string, RegExp][] = [
    ["not an object", [], "workflow", /must be an object/],
    ["no name", { steps: [{ name: "a", ...exec("x") }] }, "name", /^name must be/],
    ["a bad name", { name: "-x", steps: [] }, "name", /^name must be/],
    ["a name too long", { name: "a".repeat(101), steps: [] }, "name", /^name must be/],
    ["an unknown property", { name: "wf", steps: [], owner: "me" }, "owner", /unknown property/],
    [
      "a description not a string",
      { name: "wf", description: 1, steps: [] },
      "description",
      /description must be/,
    ],
    ["no steps", { name: "wf" }, "steps", /1 to 50 steps/],
    ["empty steps", { name: "wf", steps: [] }, "steps", /1 to 50 steps/],
    [
      "51 steps",
      {
        name: "wf",
        steps: Array.from({ length: 51 }, (_, i) => ({ name: `s${i}`, ...exec("x") })),
      },
      "steps",
      /1 to 50 steps/,
    ],
    [
      "a step not an object",
      { name: "wf", steps: ["exec"] },
      "steps[0]",
      /^steps\[0\] must be an object/,
    ],
    ["a step without a name", one(exec("x")), "steps[0].name", /^steps\[0\]: name must be/],
    [
      "a step with a bad name",
      one({ name: "a b", ...exec("x") }),
      "steps[0].name",
      /^steps\[0\]: name must be/,
    ],
    [
      "both action and executor",
      two({ name: "qc", action: "exec", executor: "qc-check" }),
      "steps[1].action",
      /^steps\[1\] \(qc\): give action or executor, not both$/,
    ],
    [
      "neither action nor executor",
      two({ name: "qc" }),
      "steps[1].action",
      /^steps\[1\] \(qc\): give action/,
    ],
    [
      "an action not a string",
      one({ name: "s", action: 1 }),
      "steps[0].action",
      /^steps\[0\] \(s\): action must be/,
    ],
    ["an empty action", one({ name: "s", action: "" }), "steps[0].action", /action must be/],
    [
      "an action too long",
      one({ name: "s", action: "a".repeat(65) }),
      "steps[0].action",
      /action must be/,
    ],
    [
      "a bad executor",
      one({ name: "s", executor: " qc" }),
      "steps[0].executor",
      /executor must name/,
    ],
    [
      "an unknown step property",
      two({ name: "s", ...exec("x"), retries: 3 }),
      "steps[1].retries",
      /^steps\[1\] \(s\): unknown property retries$/,
    ],
    [
      "action params not an object",
      one({ name: "s", action: "exec", params: ["x"] }),
      "steps[0].params",
      /params of an action step must be an object/,
    ],
    [
      "params not JSON",
      one({ name: "s", action: "exec", params: { at: new Date(0) } }),
      "steps[0].params.at",
      /params\.at must be JSON/,
    ],
    [
      "a number not finite",
      one({ name: "s", action: "exec", params: { n: Number.NaN } }),
      "steps[0].params.n",
      /finite/,
    ],
    [
      "a template that does not parse",
      two({ name: "pack", action: "exec", params: { command: "echo {{content_id" } }),
      "steps[1].params.command",
      /^steps\[1\] \(pack\): params\.command is not a valid template: Unclosed tag/,
    ],
    [
      "an unclosed section, deep in a list",
      one({ name: "s", action: "exec", params: { env: { A: ["x", "{{#a}}"] } } }),
      "steps[0].params.env.A[1]",
      /params\.env\.A\[1\] is not a valid template: Unclosed section/,
    ],
    [
      "a partial",
      one({ name: "s", action: "exec", params: { c: "{{> other}}" } }),
      "steps[0].params.c",
      /partials/,
    ],
    [
      "a built-in name",
      one({ name: "s", action: "exec", params: { c: "{{constructor}}" } }),
      "steps[0].params.c",
      /built-in/,
    ],
    [
      "a built-in name in a section",
      one({ name: "s", action: "exec", params: { c: "{{#a}}{{a.toString}}{{/a}}" } }),
      "steps[0].params.c",
      /built-in/,
    ],
    [
      "agent and labels",
      one({ name: "s", ...exec("x"), agent: "a", labels: { r: "x" } }),
      "steps[0].labels",
      /agent or labels, not both/,
    ],
    [
      "a bad agent id",
      one({ name: "s", ...exec("x"), agent: "a.b" }),
      "steps[0].agent",
      /agent must be an agent id/,
    ],
    [
      "labels not an object",
      one({ name: "s", ...exec("x"), labels: "role=x" }),
      "steps[0].labels",
      /labels must be an object/,
    ],
    [
      "empty labels",
      one({ name: "s", ...exec("x"), labels: {} }),
      "steps[0].labels",
      /1 to 32 labels/,
    ],
    [
      "a label value not a string",
      one({ name: "s", ...exec("x"), labels: { role: 1 } }),
      "steps[0].labels.role",
      /labels\.role must be a string/,
    ],
    [
      "a timeout of 0",
      one({ name: "s", ...exec("x"), timeout: 0 }),
      "steps[0].timeout",
      /timeout must be a whole number of seconds from 1 to 2592000/,
    ],
    [
      "a timeout too long",
      one({ name: "s", ...exec("x"), timeout: 2_592_001 }),
      "steps[0].timeout",
      /timeout must be/,
    ],
    [
      "a fractional timeout",
      one({ name: "s", ...exec("x"), timeout: 1.5 }),
      "steps[0].timeout",
      /timeout must be/,
    ],
    [
      "a timeout as text",
      one({ name: "s", ...exec("x"), timeout: "60" }),
      "steps[0].timeout",
      /timeout must be/,
    ],
    [
      "an executor step with an agent",
      one({ name: "s", executor: "qc", agent: "a" }),
      "steps[0].agent",
      /applies only to an action step/,
    ],
    [
      "an executor step with labels",
      one({ name: "s", executor: "qc", labels: { r: "x" } }),
      "steps[0].labels",
      /applies only to an action step/,
    ],
    [
      "an executor step with a timeout",
      one({ name: "s", executor: "qc", timeout: 5 }),
      "steps[0].timeout",
      /applies only to an action step/,
    ],
    [
      "a step name used twice",
      {
        name: "wf",
        steps: [
          { name: "a", ...exec("x") },
          { name: "b", ...exec("x") },
          { name: "a", ...exec("y") },
        ],
      },
      "steps[2].name",
      /^steps\[2\] \(a\): name is already used by steps\[0\]$/,
    ],
  ];

  it.each(cases)("%s", (_, input, field, message) => {
    const error = thrown(() => normalizeWorkflow(input, "api"));
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });
});

describe("workflow definitions: accepted", () => {
  it("fills the defaults", () => {
    const workflow = normalizeWorkflow(
      {
        name: "wf",
        steps: [
          { name: "a", action: "noop" },
          { name: "b", executor: "qc-check" },
        ],
      },
      "api",
    );
    expect(workflow).toEqual({
      name: "wf",
      description: null,
      source: "api",
      steps: [
        {
          name: "a",
          action: "noop",
          executor: null,
          params: {},
          agent: null,
          labels: null,
          timeout: null,
        },
        {
          name: "b",
          action: null,
          executor: "qc-check",
          params: {},
          agent: null,
          labels: null,
          timeout: null,
        },
      ],
    });
  });

  it("keeps every field it was given, and gives them back as input", () => {
    const input: WorkflowInput = {
      name: "full.v2_x-y",
      description: "everything",
      steps: [
        {
          name: "a",
          action: "exec",
          params: { command: "echo {{x}}" },
          agent: "local",
          timeout: 60,
        },
        { name: "b", action: "deploy-build", params: {}, labels: { role: "encoder" } },
        { name: "c", executor: "qc/check:v1", params: ["{{x}}", 1, null, true] },
      ],
    };
    const workflow = normalizeWorkflow(input, "file");
    expect(workflow.steps[0]).toMatchObject({ agent: "local", timeout: 60 });
    expect(workflow.steps[1]?.labels).toEqual({ role: "encoder" });
    expect(workflow.steps[2]?.params).toEqual(["{{x}}", 1, null, true]);
    expect(workflowInput(workflow)).toEqual(input);
  });

  it("copies and freezes what it was given", () => {
    const params = { command: "echo" };
    const workflow = normalizeWorkflow(
      { name: "wf", steps: [{ name: "a", action: "exec", params }] },
      "api",
    );
    params.command = "changed";
    expect(workflow.steps[0]?.params).toEqual({ command: "echo" });
    expect(Object.isFrozen(workflow.steps[0]?.params)).toBe(true);
    expect(Object.isFrozen(workflow.steps)).toBe(true);
  });

  it("accepts 50 steps", () => {
    const steps = Array.from({ length: 50 }, (_, i) => ({ name: `s${i}`, action: "noop" }));
    expect(normalizeWorkflow({ name: "wf", steps }, "api").steps).toHaveLength(50);
  });
});

describe("renderStep", () => {
  const workflow = normalizeWorkflow(
    {
      name: "wf",
      steps: [
        {
          name: "all",
          action: "exec",
          params: {
            command: "echo {{content_id}} {{format}}{{^format}}hls{{/format}}",
            html: "{{title}} & {{{title}}} & {{&title}}",
            missing: "[{{nope}}][{{deep.nope}}]",
            nested: {
              list: ["{{content_id}}", { deeper: "id={{content_id}}" }],
              n: 3,
              b: false,
              z: null,
            },
            number: "{{count}} {{ratio}} {{yes}}",
            each: "{{#rest_endpoints}}<{{.}}>{{/rest_endpoints}}",
            dotted: "{{meta.owner.name}} {{content_id.length}}",
            json: "{{meta}} {{rest_endpoints}}",
            counted: "[{{rest_endpoints.length}}]",
          },
          agent: "local",
          timeout: 90,
        },
        { name: "qc", executor: "qc-check", params: { id: "{{content_id}}", n: 1 } },
        { name: "pick", action: "noop", labels: { role: "encoder" } },
      ],
    },
    "api",
  );
  const parameters = {
    content_id: "abc",
    title: `<b>"Tom" & 'Jerry'</b>`,
    count: 7,
    ratio: 0.5,
    yes: true,
    rest_endpoints: ["http://a/x?y=1&z=2", "http://b"],
    meta: { owner: { name: "ann" } },
  };

  it("renders every string, nested in objects and lists; leaves the rest alone", () => {
    const step = renderStep(workflow, 0, parameters);
    const params = step.params as Record<string, unknown>;
    expect(params.command).toBe("echo abc hls");
    expect(params.nested).toEqual({ list: ["abc", { deeper: "id=abc" }], n: 3, b: false, z: null });
    expect(params.each).toBe("<http://a/x?y=1&z=2><http://b>");
    expect(params.dotted).toBe("ann 3");
  });

  it("does no HTML escaping", () => {
    const title = parameters.title;
    const params = renderStep(workflow, 0, parameters).params as Record<string, unknown>;
    expect(params.html).toBe(`${title} & ${title} & ${title}`);
  });

  it("renders numbers and booleans as their text, objects and lists as JSON", () => {
    const params = renderStep(workflow, 0, parameters).params as Record<string, unknown>;
    expect(params.number).toBe("7 0.5 true");
    expect(params.json).toBe(`{"owner":{"name":"ann"}} ["http://a/x?y=1&z=2","http://b"]`);
  });

  it("renders a missing variable as the empty string", () => {
    const params = renderStep(workflow, 0, {}).params as Record<string, unknown>;
    expect(params.missing).toBe("[][]");
    expect(params.command).toBe("echo  hls");
    expect(params.counted).toBe("[]");
  });

  it("looks up only the parameters' own properties", () => {
    const params = renderStep(workflow, 0, { rest_endpoints: ["abcd"] }).params as Record<
      string,
      unknown
    >;
    // `length` of a list is its own property; Object.prototype is never reached.
    expect(params.counted).toBe("[1]");
    const other = normalizeWorkflow(
      { name: "o", steps: [{ name: "s", action: "exec", params: { c: "{{list.map}}|{{x}}" } }] },
      "api",
    );
    expect(renderStep(other, 0, { list: [1], x: 2 }).params).toEqual({ c: "|2" });
  });

  it("gives an action step one action, its agent and its timeout in ms", () => {
    const step = renderStep(workflow, 0, parameters);
    expect(step.name).toBe("all");
    expect(step.actions).toEqual([{ type: "exec", params: step.params }]);
    expect(step.executor).toBeUndefined();
    expect(step.agentId).toBe("local");
    expect(step.timeoutMs).toBe(90_000);
    expect(step.labels).toBeUndefined();
  });

  it("gives an executor step its definition and rendered params", () => {
    const step = renderStep(workflow, 1, parameters);
    expect(step).toEqual({
      name: "qc",
      actions: undefined,
      executor: "qc-check",
      params: { id: "abc", n: 1 },
    });
  });

  it("gives a label selector", () => {
    const step = renderStep(workflow, 2, parameters);
    expect(step.labels).toEqual({ role: "encoder" });
    expect(step.agentId).toBeUndefined();
    expect(step.actions).toEqual([{ type: "noop", params: {} }]);
  });

  it("does not change the workflow", () => {
    renderStep(workflow, 0, parameters);
    expect((workflow.steps[0]?.params as Record<string, unknown> | undefined)?.command).toContain(
      "{{content_id}}",
    );
  });

  it("refuses a step index out of range", () => {
    expect(() => renderStep(workflow, 3, {})).toThrow(RangeError);
  });

  it("refuses parameters nested too deeply", () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) deep = { d: deep };
    expect(thrown(() => renderStep(workflow, 0, deep)).field).toBe("parameters");
  });
});

describe("the Workflows registry", () => {
  const file = (name: string, command = "echo from file") => ({
    source: `workflows/${name}.yaml`,
    value: { name, steps: [{ name: "run", ...exec(command) }] },
  });
  const api = (name: string, command = "echo from api"): WorkflowInput => ({
    name,
    steps: [{ name: "run", action: "exec", params: { command } }],
  });
  const command = (workflow: Workflow) =>
    (workflow.steps[0]?.params as { command: string } | undefined)?.command;

  it("loads the files' workflows", () => {
    const workflows = Workflows.load([file("b"), file("a")], undefined, recorder());
    expect(workflows.list().map((w) => [w.name, w.source])).toEqual([
      ["a", "file"],
      ["b", "file"],
    ]);
    expect(workflows.get("a").steps[0]?.name).toBe("run");
  });

  it("names the source of a bad file", () => {
    const bad = {
      source: "workflows/vodstream.yaml",
      value: { name: "vodstream", steps: [{ name: "x", action: "exec", executor: "y" }] },
    };
    const error = thrown(() => Workflows.load([file("a"), bad], undefined, recorder()));
    expect(error.message).toBe(
      "workflows/vodstream.yaml: steps[0] (x): give action or executor, not both",
    );
    expect(error.field).toBe("steps[0].action");
  });

  it("refuses two files defining one name", () => {
    const twin = { ...file("a"), source: "workflows/a-copy.yaml" };
    const error = thrown(() => Workflows.load([file("a"), twin], undefined, recorder()));
    expect(error.message).toBe(
      "workflows/a-copy.yaml: workflow a is already defined by workflows/a.yaml",
    );
  });

  it("answers an unknown name with an InvalidInputError on `workflow`", () => {
    const workflows = Workflows.load([], undefined, recorder());
    const error = thrown(() => workflows.get("x"));
    expect(error.message).toBe("no workflow named x");
    expect(error.field).toBe("workflow");
    expect(workflows.find("x")).toBeUndefined();
  });

  it("puts, replaces and persists API workflows", () => {
    const writer = recorder();
    const workflows = Workflows.load([file("f")], undefined, writer);
    const put = workflows.put(api("b"));
    expect(put.source).toBe("api");
    workflows.put(api("a"));
    workflows.put(api("b", "echo replaced"));
    expect(command(workflows.get("b"))).toBe("echo replaced");
    expect(workflows.list().map((w) => w.name)).toEqual(["a", "b", "f"]);
    expect(writer.calls).toHaveLength(3);
    expect(writer.calls.every((c) => c.key === "workflows")).toBe(true);
    const last = writer.calls.at(-1)?.value as string;
    expect(JSON.parse(last)).toEqual([api("b", "echo replaced"), api("a")]);

    // A restart: the files again, the stored row.
    const again = Workflows.load([file("f")], last, recorder());
    expect(again.list()).toEqual(workflows.list());
  });

  it("does not persist a refused put", () => {
    const writer = recorder();
    const workflows = Workflows.load([], undefined, writer);
    expect(() => workflows.put({ name: "x", steps: [] })).toThrow(InvalidInputError);
    expect(writer.calls).toEqual([]);
  });

  it("refuses to replace or remove a file's workflow", () => {
    const writer = recorder();
    const workflows = Workflows.load([file("f")], undefined, writer);
    const error = thrown(() => workflows.put(api("f")));
    expect(error.message).toBe(
      "workflow f is defined by workflows/f.yaml and cannot be replaced through the API; change that file instead",
    );
    expect(error.field).toBe("name");
    expect(thrown(() => workflows.remove("f")).message).toMatch(/cannot be removed/);
    expect(command(workflows.get("f"))).toBe("echo from file");
    expect(writer.calls).toEqual([]);
  });

  it("removes an API workflow", () => {
    const writer = recorder();
    const workflows = Workflows.load([], JSON.stringify([api("a"), api("b")]), writer);
    expect(workflows.remove("a").name).toBe("a");
    expect(workflows.list().map((w) => w.name)).toEqual(["b"]);
    expect(JSON.parse(writer.calls.at(-1)?.value as string)).toEqual([api("b")]);
    expect(thrown(() => workflows.remove("a")).message).toBe("no workflow named a");
  });

  it("lets a file hide a stored workflow of the same name, and keeps the stored one", () => {
    const writer = recorder();
    const workflows = Workflows.load([file("a")], JSON.stringify([api("a"), api("b")]), writer);
    expect(workflows.get("a").source).toBe("file");
    expect(workflows.list().map((w) => [w.name, w.source])).toEqual([
      ["a", "file"],
      ["b", "api"],
    ]);
    workflows.put(api("c"));
    const stored = JSON.parse(writer.calls.at(-1)?.value as string) as WorkflowInput[];
    expect(stored.map((w) => w.name)).toEqual(["a", "b", "c"]);
    // The file gone: the stored one is back.
    expect(Workflows.load([], JSON.stringify(stored), recorder()).get("a").source).toBe("api");
  });

  it("names a bad stored row", () => {
    expect(thrown(() => Workflows.load([], "{", recorder())).message).toMatch(
      /^stored workflows: not JSON/,
    );
    expect(thrown(() => Workflows.load([], "{}", recorder())).message).toBe(
      "stored workflows: not a list",
    );
    expect(
      thrown(() => Workflows.load([], JSON.stringify([{ name: "x", steps: [] }]), recorder()))
        .message,
    ).toBe("stored workflows: steps must list 1 to 50 steps");
  });
});

describe("the shipped workflows", () => {
  it("parse and load", () => {
    const workflows = Workflows.load(SHIPPED.map(readShipped), undefined, recorder());
    expect(workflows.list().map((w) => w.name)).toEqual(["voddelete", "vodstream"]);
    expect(workflows.get("vodstream").steps.map((s) => s.name)).toEqual([
      "prepare",
      "package",
      "publish",
    ]);
    for (const workflow of workflows.list()) {
      expect(workflow.steps.every((s) => s.action === "exec")).toBe(true);
    }
  });

  it("run with sh -c and keep client values out of the shell's parsing", () => {
    const workflows = Workflows.load(SHIPPED.map(readShipped), undefined, recorder());
    const hostile = "abc; echo injected";
    const outputs: string[] = [];
    for (const workflow of workflows.list()) {
      workflow.steps.forEach((_, i) => {
        const step = renderStep(workflow, i, { content_id: hostile, format: "dash" });
        const params = step.actions?.[0]?.params as {
          command: string;
          env: Record<string, string>;
        };
        const run = spawnSync("sh", ["-c", params.command], {
          env: { ...process.env, ...params.env },
          encoding: "utf8",
        });
        expect(run.status, run.stderr).toBe(0);
        outputs.push(run.stdout.trim());
      });
    }
    expect(outputs).toEqual([
      `unpublishing ${hostile}`,
      `deleting the packaged files of ${hostile}`,
      `preparing ${hostile}`,
      `packaging ${hostile} as dash`,
      `publishing ${hostile} (dash)`,
    ]);
  });

  it("fail their first step when content_id is missing", () => {
    const workflow = Workflows.load(
      [readShipped("workflows/vodstream.yaml")],
      undefined,
      recorder(),
    ).get("vodstream");
    const params = renderStep(workflow, 0, {}).actions?.[0]?.params as {
      command: string;
      env: Record<string, string>;
    };
    const run = spawnSync("sh", ["-c", params.command], {
      env: { ...process.env, ...params.env },
      encoding: "utf8",
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("content_id is missing");
    expect(renderStep(workflow, 1, { content_id: "x" }).actions?.[0]?.params).toMatchObject({
      env: { FORMAT: "hls" },
    });
  });
});
