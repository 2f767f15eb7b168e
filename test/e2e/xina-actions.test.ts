/**
 * XINA task and thread actions (`POST /xina/action`, seed-spec §3) over app.handle,
 * against a real engine with its embedded agent running real `exec` commands.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeys, createApp } from "../../src/api";
import { NotFoundError } from "../../src/errors";
import { silentLogger } from "../../src/log";
import { startTestEngine, TENANT, type TestEngine } from "../helpers/engine";
import { until as untilFound } from "../helpers/until";

const OTHER = "other";
const apiKeys = new ApiKeys([
  { client: TENANT, key: "key-of-a" },
  { client: OTHER, key: "key-of-b" },
]);
const AS_A = { authorization: "Bearer key-of-a" };
const AS_B = { authorization: "Bearer key-of-b" };

interface XinaTask {
  id: number;
  name: string;
  state: "queued" | "running" | "concluded";
  outcome?: "success" | "failure" | "canceled";
  thread: string | null;
  ref_id: number | string | null;
  parent: number | null;
  auto: boolean | null;
  archive: boolean;
  open: boolean;
  desc: string | null;
  priority: number | null;
  timeout: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}
interface Answer {
  status: number;
  json: {
    ok?: boolean;
    tasks: XinaTask[];
    threads?: string[];
    error: { code: string; message: string };
  };
}

let t: TestEngine;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  t = await startTestEngine();
  app = createApp(t.engine, { log: silentLogger, apiKeys });
});
afterAll(() => t.stop());

async function act(
  body: unknown,
  auth: Record<string, string> = AS_A,
  raw?: string,
): Promise<Answer> {
  const response = await app.handle(
    new Request("http://localhost/xina/action", {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: raw ?? JSON.stringify(body),
    }),
  );
  return { status: response.status, json: (await response.json()) as Answer["json"] };
}

/** RUN that must succeed; the new tasks. */
async function run(...tasks: unknown[]): Promise<XinaTask[]> {
  const answer = await act({ action: "run", tasks });
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  return answer.json.tasks;
}

async function ok(body: unknown, auth = AS_A): Promise<XinaTask[]> {
  const answer = await act(body, auth);
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  expect(answer.json.ok).toBe(true);
  return answer.json.tasks;
}

const file = (name: string) => join(t.dir, name);
const lines = (name: string) =>
  existsSync(file(name)) ? readFileSync(file(name), "utf8").trim().split("\n") : [];

/** A command that waits (at most ~30 s) until the test releases it. */
function gate(name: string) {
  const path = file(`${name}.release`);
  return {
    command: `i=0; while [ ! -f ${path} ]; do i=$((i+1)); [ $i -gt 600 ] && exit 3; sleep 0.05; done`,
    release: () => writeFileSync(path, ""),
  };
}

const def = (name: string, command: string, extra: Record<string, unknown> = {}) => ({
  name,
  conf: { command },
  ...extra,
});

/** This file's bound for every wait. */
const until = <T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000) =>
  untilFound(probe, timeoutMs);

const view = (id: number, tenant = TENANT) => t.engine.get(tenant, id);

/** Waits for the engine's full state path (e.g. `running.waitingForConclude`). */
const untilState = (id: number, state: string) =>
  until(async () => ((await view(id)).state === state ? true : undefined));

/** Status after every change so far is applied and durable. */
async function settledStatus(id: number, tenant = TENANT): Promise<string> {
  await t.engine.flush();
  return (await view(id, tenant)).status;
}

async function taskCount(): Promise<number> {
  const a = await t.engine.list(TENANT, { limit: 1_000_000 });
  const b = await t.engine.list(OTHER, { limit: 1_000_000 });
  return a.length + b.length;
}

async function gone(id: number): Promise<boolean> {
  return view(id).then(
    () => false,
    (error: unknown) => error instanceof NotFoundError,
  );
}

/** A task of tenant A that has concluded with success. */
async function concludedTask(name: string, extra: Record<string, unknown> = {}) {
  const [task] = await run(def(name, "true", extra));
  if (!task) throw new Error("RUN created nothing");
  await t.waitFor(task.id, ["done"]);
  return task;
}

/** A running task of tenant A blocked on a gate. */
async function runningTask(name: string, extra: Record<string, unknown> = {}) {
  const g = gate(name);
  const [task] = await run(def(name, g.command, extra));
  if (!task) throw new Error("RUN created nothing");
  await t.waitFor(task.id, ["running"]);
  return { ...task, release: g.release };
}

describe("RUN", () => {
  it("queues a definition, echoes it, and runs its command", async () => {
    const [task] = await run({
      name: "hello",
      conf: { command: `echo hi > ${file("hello.txt")}` },
      ref_id: 42,
      auto: true,
      archive: true,
      desc: "says hi",
      priority: 7,
      timeout: 1_000,
    });
    expect(task).toMatchObject({
      name: "hello",
      thread: null,
      ref_id: 42,
      parent: null,
      auto: true,
      archive: true,
      open: false,
      desc: "says hi",
      priority: 7,
      timeout: 1_000,
      finished_at: null,
    });
    // Queued, not run: a successful RUN says only that (3.3).
    expect(["queued", "running"]).toContain(task?.state);
    expect(task).not.toHaveProperty("outcome");
    expect(Date.parse(task?.created_at ?? "")).toBeGreaterThan(0);
    const done = await t.waitFor(task?.id ?? 0, ["done"]);
    expect(readFileSync(file("hello.txt"), "utf8")).toBe("hi\n");
    // XINA's priority and timeout are not implemented (3.5): the engine runs at 0.
    expect(done).toMatchObject({ priority: 0, refId: "42", archive: true, open: false });
  });

  it("reads conf.actions, conf.action and conf.command", async () => {
    const tasks = await run(
      {
        name: "several",
        conf: {
          actions: [{ type: "noop" }, { type: "exec", params: { command: "echo two" } }],
          note: "other conf properties are the task's business",
        },
      },
      { name: "one", conf: { action: { type: "noop" } } },
      { name: "shell", conf: { command: "echo three" } },
    );
    const views = await Promise.all(tasks.map((task) => t.waitFor(task.id, ["done"])));
    expect(views.map((v) => v.actions)).toEqual([
      [{ type: "noop" }, { type: "exec", params: { command: "echo two" } }],
      [{ type: "noop" }],
      [{ type: "exec", params: { command: "echo three" } }],
    ]);
    expect(views.map((v) => v.agentId)).toEqual(["local", "local", "local"]);
  });

  it("re-runs existing tasks named by id or ref as new tasks, each once", async () => {
    const out = "rerun.txt";
    const first = await concludedTask("rerun-a", {
      conf: { command: `echo a >> ${file(out)}` },
      thread: "rerun",
      ref_id: 7001,
      archive: true,
    });
    const second = await concludedTask("rerun-b", {
      conf: { command: `echo b >> ${file(out)}` },
      thread: "rerun",
      ref_id: 7001,
    });
    // The ref matches both; the id names the first again: it still runs once.
    const again = await run({ type: "ref", ref: [7001] }, first.id);
    expect(again.map((task) => task.name)).toEqual(["rerun-a", "rerun-b"]);
    expect(again.every((task) => task.id > second.id)).toBe(true);
    expect(again[0]).toMatchObject({ thread: "rerun", ref_id: 7001, archive: true, auto: null });
    for (const task of again) await t.waitFor(task.id, ["done"]);
    expect(lines(out)).toEqual(["a", "b", "a", "b"]);
    // The old tasks are untouched.
    expect((await view(first.id)).status).toBe("done");
    // A ref that matches nothing is an empty set, not an error (3.4).
    expect(await run({ type: "ref", ref: [999_999_999] })).toEqual([]);
  });

  it("links a parent task by id", async () => {
    const parent = await concludedTask("parent");
    const [child] = await run(def("child", "true", { parent: parent.id }));
    expect(child?.parent).toBe(parent.id);
    expect((await view(child?.id ?? 0)).parentId).toBe(parent.id);
  });

  it("runs the tasks of one thread one at a time, in id order", async () => {
    const out = "serial.txt";
    const step = (n: number) =>
      def(
        `serial-${n}`,
        `echo start ${n} >> ${file(out)}; sleep 0.2; echo end ${n} >> ${file(out)}`,
        {
          thread: "serial",
        },
      );
    const tasks = await run(step(1), step(2), step(3));
    expect(tasks.map((task) => task.thread)).toEqual(["serial", "serial", "serial"]);
    for (const task of tasks) await t.waitFor(task.id, ["done"]);
    expect(lines(out)).toEqual(["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]);
  });

  it("runs tasks without a thread concurrently", async () => {
    // The first waits for a file only the second writes: it ends only if both run at once.
    const marker = file("concurrent.marker");
    const [waiter, writer] = await run(
      def(
        "waiter",
        `i=0; while [ ! -f ${marker} ]; do i=$((i+1)); [ $i -gt 200 ] && exit 3; sleep 0.05; done`,
      ),
      def("writer", `sleep 0.3; touch ${marker}`),
    );
    expect((await t.waitFor(waiter?.id ?? 0, ["done", "failed"], 20_000)).status).toBe("done");
    expect((await t.waitFor(writer?.id ?? 0, ["done"])).status).toBe("done");
  });
});

describe("CONCLUDE", () => {
  it("concludes an open task after its delay, and only once", async () => {
    const [task] = await run(def("open", "true", { open: true }));
    const id = task?.id ?? 0;
    expect(task?.open).toBe(true);
    // Its command ended, but an open task waits for CONCLUDE (3.5).
    await untilState(id, "running.waitingForConclude");
    const asked = Date.now();
    const [concluding] = await ok({ action: "conclude", task: id, delay: 300 });
    expect(concluding).toMatchObject({ id, state: "running" });
    const done = await t.waitFor(id, ["done"]);
    expect(done.finishedAt ?? 0).toBeGreaterThanOrEqual(asked + 300);

    const twice = await act({ action: "conclude", task: id });
    expect(twice.status).toBe(400);
    expect(twice.json.error.code).toBe("TASK_CONCLUDED");
    // Its XINA view, as CLEAN reports it.
    const [cleaned] = await ok({ action: "clean", tasks: [id] });
    expect(cleaned).toMatchObject({ state: "concluded", outcome: "success", open: true });
    expect(Date.parse(cleaned?.finished_at ?? "")).toBe(done.finishedAt);
  });

  it("refuses a running task that is not open, saying what it accepts", async () => {
    const task = await runningTask("not-open");
    const answer = await act({ action: "conclude", task: task.id, delay: 0 });
    expect(answer.status).toBe(400);
    expect(answer.json.error.code).toBe("CANNOT_CONCLUDE");
    expect(answer.json.error.message).toContain("not open");
    expect(answer.json.error.message).toContain("accepts: pause, cancel");
    expect(await settledStatus(task.id)).toBe("running");
    task.release();
    await t.waitFor(task.id, ["done"]);
  });
});

describe("CANCEL", () => {
  it("cancels queued and running tasks matched by one ref", async () => {
    const g = gate("cancel-ref");
    const tasks = await run(
      def("cancel-1", g.command, { thread: "cancel-ref", ref_id: 500 }),
      def("cancel-2", "true", { thread: "cancel-ref", ref_id: 500 }),
    );
    const [first, second] = tasks.map((task) => task.id) as [number, number];
    await t.waitFor(first, ["running"]);
    expect((await view(second)).status).toBe("ready");
    const cancelled = await ok({ action: "cancel", tasks: [{ type: "ref", ref: [500] }] });
    expect(cancelled.map((task) => [task.id, task.state, task.outcome])).toEqual([
      [first, "concluded", "canceled"],
      [second, "concluded", "canceled"],
    ]);
    expect((await view(first)).status).toBe("cancelled");
    expect((await view(second)).status).toBe("cancelled");
  });

  it("changes nothing when a target has concluded, unless ignore is set", async () => {
    const running = await runningTask("cancel-all-or-nothing");
    const done = await concludedTask("cancel-concluded");
    const refused = await act({ action: "cancel", tasks: [running.id, done.id] });
    expect(refused.status).toBe(400);
    expect(refused.json.error.code).toBe("TASK_CONCLUDED");
    expect(refused.json.error.message).toContain(String(done.id));
    expect(await settledStatus(running.id)).toBe("running");

    const cancelled = await ok({ action: "cancel", tasks: [running.id, done.id], ignore: true });
    expect(cancelled.map((task) => [task.id, task.outcome])).toEqual([[running.id, "canceled"]]);
    expect((await view(running.id)).status).toBe("cancelled");
    expect((await view(done.id)).status).toBe("done");
  });
});

describe("CLEAN", () => {
  it("changes nothing when a target has not concluded, unless ignore is set", async () => {
    const running = await runningTask("clean-running");
    const done = await concludedTask("clean-concluded");
    const refused = await act({ action: "clean", tasks: [done.id, running.id] });
    expect(refused.status).toBe(400);
    expect(refused.json.error.code).toBe("TASK_NOT_CONCLUDED");
    expect(refused.json.error.message).toContain(String(running.id));
    expect((await view(done.id)).status).toBe("done");

    const cleaned = await ok({ action: "clean", tasks: [done.id, running.id], ignore: true });
    expect(cleaned.map((task) => [task.id, task.state])).toEqual([[done.id, "concluded"]]);
    expect(await gone(done.id)).toBe(true);
    expect(await settledStatus(running.id)).toBe("running");
    running.release();
    await t.waitFor(running.id, ["done"]);
  });

  it("deletes every task a ref matches", async () => {
    const a = await concludedTask("clean-ref-a", { ref_id: 600 });
    const b = await concludedTask("clean-ref-b", { ref_id: 600 });
    const cleaned = await ok({ action: "clean", tasks: [{ type: "ref", ref: [600, 601] }] });
    expect(cleaned.map((task) => task.id)).toEqual([a.id, b.id]);
    expect(await t.engine.list(TENANT, { refIds: ["600"] })).toEqual([]);
    // Cleaned means gone: naming it again is an unknown task.
    const again = await act({ action: "clean", tasks: [a.id] });
    expect(again.json.error.code).toBe("UNKNOWN_TASK");
  });
});

describe("DESTROY", () => {
  // Regression: cancelling the running task first handed the thread to the queued
  // target, which ran and concluded with success before its own cancel.
  it("cancels and cleans every target, whatever its state, without starting queued ones", async () => {
    const running = await runningTask("destroy-running", { thread: "destroy" });
    const [queued] = await run(def("destroy-queued", "true", { thread: "destroy" }));
    const done = await concludedTask("destroy-done");
    const ids = [running.id, queued?.id ?? 0, done.id];
    const destroyed = await ok({ action: "destroy", tasks: ids });
    expect(destroyed.map((task) => [task.id, task.state, task.outcome])).toEqual([
      [running.id, "concluded", "canceled"],
      [queued?.id, "concluded", "canceled"],
      [done.id, "concluded", "success"],
    ]);
    for (const id of ids) expect(await gone(id)).toBe(true);
  });
});

describe("PAUSE and RESUME threads", () => {
  it("pausing lets the running task finish and holds the queued ones", async () => {
    const out = "paused-thread.txt";
    const first = await runningTask("pause-1", { thread: "pausable" });
    const [second] = await run(def("pause-2", `echo 2 >> ${file(out)}`, { thread: "pausable" }));
    const secondId = second?.id ?? 0;
    const paused = await act({ action: "pause", threads: ["pausable"] });
    expect(paused.json).toEqual({ ok: true, tasks: [], threads: ["pausable"] });
    // The running task is not affected (3.12).
    expect((await view(first.id)).state).toBe("running.executing");
    first.release();
    await t.waitFor(first.id, ["done"]);
    expect(await settledStatus(secondId)).toBe("ready");
    expect(lines(out)).toEqual([]);
    await ok({ action: "resume", threads: ["pausable"] });
    await t.waitFor(secondId, ["done"]);
    expect(lines(out)).toEqual(["2"]);
  });

  it("stores a thread never used before as paused", async () => {
    await ok({ action: "pause", threads: ["fresh-thread"] });
    const [task] = await run(def("fresh", "true", { thread: "fresh-thread" }));
    expect(task?.state).toBe("queued");
    expect(await settledStatus(task?.id ?? 0)).toBe("ready");
    await ok({ action: "resume", threads: ["fresh-thread"] });
    await t.waitFor(task?.id ?? 0, ["done"]);
  });

  it("resume with continue continues the paused task holding the thread", async () => {
    const holder = await runningTask("locked", { thread: "locked" });
    const [next] = await run(def("after-locked", "true", { thread: "locked" }));
    const nextId = next?.id ?? 0;
    await t.engine.pause(TENANT, holder.id);
    await ok({ action: "pause", threads: ["locked"] });

    // Without continue, the paused task keeps the thread locked (3.13).
    await ok({ action: "resume", threads: ["locked"] });
    expect(await settledStatus(holder.id)).toBe("paused");
    expect(await settledStatus(nextId)).toBe("ready");

    await ok({ action: "pause", threads: ["locked"] });
    await ok({ action: "resume", threads: ["locked"], continue: true });
    await t.waitFor(holder.id, ["running"]);
    holder.release();
    await t.waitFor(holder.id, ["done"]);
    await t.waitFor(nextId, ["done"]);
  });
});

describe("tenants", () => {
  it("another client cannot see, run, cancel, clean, destroy or conclude A's tasks", async () => {
    const running = await runningTask("private-running", { ref_id: 900, open: true });
    const done = await concludedTask("private-done", { ref_id: 900 });
    const before = await taskCount();
    const refusals: [string, unknown][] = [
      ["cancel", { action: "cancel", tasks: [running.id] }],
      ["clean", { action: "clean", tasks: [done.id] }],
      ["destroy", { action: "destroy", tasks: [running.id] }],
      ["conclude", { action: "conclude", task: running.id }],
      ["re-run", { action: "run", tasks: [done.id] }],
      ["parent", { action: "run", tasks: [def("child", "true", { parent: done.id })] }],
    ];
    for (const [what, body] of refusals) {
      const answer = await act(body, AS_B);
      expect({ what, status: answer.status, code: answer.json.error?.code }).toEqual({
        what,
        status: 400,
        code: "UNKNOWN_TASK",
      });
      // Exactly what a task that never existed gets: never data.
      expect(JSON.stringify(answer.json)).not.toContain("private");
    }
    // A's ref ids match nothing of B's.
    expect(await ok({ action: "cancel", tasks: [{ type: "ref", ref: [900] }] }, AS_B)).toEqual([]);
    expect(await ok({ action: "clean", tasks: [{ type: "ref", ref: [900] }] }, AS_B)).toEqual([]);
    expect(await ok({ action: "run", tasks: [{ type: "ref", ref: [900] }] }, AS_B)).toEqual([]);
    expect(await taskCount()).toBe(before);
    expect(await settledStatus(running.id)).toBe("running");
    expect((await view(done.id)).status).toBe("done");
    await ok({ action: "destroy", tasks: [running.id] });
  });

  it("another client's thread of the same name is its own", async () => {
    await ok({ action: "pause", threads: ["shared"] });
    const [task] = await run(def("shared-a", "true", { thread: "shared" }));
    const id = task?.id ?? 0;
    await ok({ action: "resume", threads: ["shared"], continue: true }, AS_B);
    expect(await settledStatus(id)).toBe("ready");
    // B's own task on its own "shared" thread runs.
    const [mine] = await ok(
      { action: "run", tasks: [def("shared-b", "true", { thread: "shared" })] },
      AS_B,
    );
    await until(async () =>
      (await view(mine?.id ?? 0, OTHER)).status === "done" ? true : undefined,
    );
    expect(await settledStatus(id)).toBe("ready");
    await ok({ action: "resume", threads: ["shared"] });
    await t.waitFor(id, ["done"]);
  });

  it("answers 401 without a valid key and changes nothing", async () => {
    const before = await taskCount();
    const body = { action: "run", tasks: [def("nobody", "true")] };
    const keys: Record<string, string>[] = [{}, { authorization: "Bearer not-a-key" }];
    for (const auth of keys) {
      const answer = await act(body, auth);
      expect(answer.status).toBe(401);
      expect(answer.json.error.code).toBe("UNAUTHORIZED");
    }
    expect(await taskCount()).toBe(before);
  });
});

describe("bad input", () => {
  const good = def("fine", "true");
  const huge = JSON.stringify({
    action: "run",
    tasks: [def("huge", `echo ${"x".repeat(1024 * 1024)}`)],
  });
  const cases: [string, unknown, string, string][] = [
    ["malformed JSON", { raw: "{not json" }, "INVALID_JSON", "JSON"],
    ["an empty body", { raw: "" }, "INVALID_JSON", "empty"],
    ["a body that is a list", [], "INVALID_ACTION", "action"],
    ["a body that is null", null, "INVALID_ACTION", "action"],
    ["no action", { tasks: [good] }, "INVALID_ACTION", "action"],
    ["an action that is not a string", { action: 5 }, "INVALID_ACTION", "action"],
    ["an unknown action", { action: "explode", tasks: [good] }, "INVALID_ACTION", "explode"],
    ["an unknown property", { action: "run", tasks: [good], bogus: 1 }, "INVALID_FIELD", "bogus"],
    ["run without tasks", { action: "run" }, "INVALID_FIELD", "tasks"],
    ["run with tasks not a list", { action: "run", tasks: good }, "INVALID_FIELD", "tasks"],
    ["run with no tasks", { action: "run", tasks: [] }, "INVALID_FIELD", "tasks"],
    [
      "run with too many tasks",
      { action: "run", tasks: Array.from({ length: 1001 }, () => good) },
      "INVALID_FIELD",
      "tasks",
    ],
    ["a task that is a string", { action: "run", tasks: ["x"] }, "INVALID_FIELD", "tasks[0]"],
    [
      "a definition without name",
      { action: "run", tasks: [{ conf: {} }] },
      "INVALID_FIELD",
      "tasks[0].name",
    ],
    [
      "a name that is a number",
      { action: "run", tasks: [{ ...good, name: 3 }] },
      "INVALID_FIELD",
      "tasks[0].name",
    ],
    ["no conf", { action: "run", tasks: [{ name: "x" }] }, "INVALID_FIELD", "tasks[0].conf"],
    [
      "a conf that is a list",
      { action: "run", tasks: [{ name: "x", conf: [] }] },
      "INVALID_FIELD",
      "tasks[0].conf",
    ],
    [
      "a conf that is null",
      { action: "run", tasks: [{ name: "x", conf: null }] },
      "INVALID_FIELD",
      "tasks[0].conf",
    ],
    [
      "a conf that is a string",
      { action: "run", tasks: [{ name: "x", conf: "ls" }] },
      "INVALID_FIELD",
      "tasks[0].conf",
    ],
    [
      "a conf naming nothing to run",
      { action: "run", tasks: [{ name: "x", conf: {} }] },
      "INVALID_CONF",
      "tasks[0].conf.command",
    ],
    [
      "a conf naming two things to run",
      { action: "run", tasks: [{ name: "x", conf: { command: "ls", action: { type: "noop" } } }] },
      "INVALID_CONF",
      "more than one",
    ],
    [
      "empty conf.actions",
      { action: "run", tasks: [{ name: "x", conf: { actions: [] } }] },
      "INVALID_CONF",
      "tasks[0].conf.actions",
    ],
    [
      "an action without type",
      { action: "run", tasks: [{ name: "x", conf: { actions: [{ params: {} }] } }] },
      "INVALID_CONF",
      "tasks[0].conf.actions[0].type",
    ],
    [
      "an empty command",
      { action: "run", tasks: [{ name: "x", conf: { command: "" } }] },
      "INVALID_CONF",
      "tasks[0].conf.command",
    ],
    [
      "an agent id with a dot",
      { action: "run", tasks: [{ name: "x", conf: { command: "ls", agent: "a.b" } }] },
      "INVALID_CONF",
      "tasks[0].conf.agent",
    ],
    [
      "a thread with a space",
      { action: "run", tasks: [{ ...good, thread: "a b" }] },
      "INVALID_THREAD",
      "tasks[0].thread",
    ],
    [
      "a thread too long",
      { action: "run", tasks: [{ ...good, thread: "t".repeat(129) }] },
      "INVALID_THREAD",
      "tasks[0].thread",
    ],
    [
      "a thread that is a number",
      { action: "run", tasks: [{ ...good, thread: 7 }] },
      "INVALID_FIELD",
      "tasks[0].thread",
    ],
    [
      "an unknown definition property",
      { action: "run", tasks: [{ ...good, color: "red" }] },
      "INVALID_FIELD",
      "tasks[0].color",
    ],
    [
      "auto not a boolean",
      { action: "run", tasks: [{ ...good, auto: "yes" }] },
      "INVALID_FIELD",
      "tasks[0].auto",
    ],
    [
      "a fractional priority",
      { action: "run", tasks: [{ ...good, priority: 1.5 }] },
      "INVALID_FIELD",
      "tasks[0].priority",
    ],
    [
      "an absurd priority",
      { action: "run", tasks: [{ ...good, priority: 1e20 }] },
      "INVALID_FIELD",
      "tasks[0].priority",
    ],
    [
      "a negative timeout",
      { action: "run", tasks: [{ ...good, timeout: -1 }] },
      "INVALID_FIELD",
      "tasks[0].timeout",
    ],
    [
      "a text ref_id",
      { action: "run", tasks: [{ ...good, ref_id: "abc" }] },
      "INVALID_FIELD",
      "tasks[0].ref_id",
    ],
    [
      "a fractional ref_id",
      { action: "run", tasks: [{ ...good, ref_id: 1.5 }] },
      "INVALID_FIELD",
      "tasks[0].ref_id",
    ],
    [
      "a parent of zero",
      { action: "run", tasks: [{ ...good, parent: 0 }] },
      "INVALID_FIELD",
      "tasks[0].parent",
    ],
    [
      "an unknown parent",
      { action: "run", tasks: [good, { ...good, parent: 987_654_321 }] },
      "UNKNOWN_TASK",
      "tasks[1].parent",
    ],
    [
      "a desc that is a number",
      { action: "run", tasks: [{ ...good, desc: 5 }] },
      "INVALID_FIELD",
      "tasks[0].desc",
    ],
    [
      "one bad definition among good ones",
      { action: "run", tasks: [good, good, { name: "x" }] },
      "INVALID_FIELD",
      "tasks[2].conf",
    ],
    [
      "an unknown id among definitions",
      { action: "run", tasks: [good, 987_654_321] },
      "UNKNOWN_TASK",
      "tasks[1]",
    ],
    ["a negative id", { action: "run", tasks: [-3] }, "INVALID_FIELD", "tasks[0]"],
    ["an absurd id", { action: "run", tasks: [1e300] }, "INVALID_FIELD", "tasks[0]"],
    [
      "a ref of another type",
      { action: "run", tasks: [{ type: "id", ref: [1] }] },
      "INVALID_FIELD",
      "tasks[0].type",
    ],
    [
      "a ref that is not a list",
      { action: "cancel", tasks: [{ type: "ref", ref: 5 }] },
      "INVALID_FIELD",
      "tasks[0].ref",
    ],
    [
      "a ref of text",
      { action: "cancel", tasks: [{ type: "ref", ref: ["a"] }] },
      "INVALID_FIELD",
      "tasks[0].ref[0]",
    ],
    ["conclude without task", { action: "conclude" }, "INVALID_FIELD", "task"],
    ["conclude of a text id", { action: "conclude", task: "abc" }, "INVALID_FIELD", "task"],
    [
      "conclude of an unknown task",
      { action: "conclude", task: 987_654_321 },
      "UNKNOWN_TASK",
      "task",
    ],
    ["a negative delay", { action: "conclude", task: 1, delay: -1 }, "INVALID_DELAY", "delay"],
    ["a delay over 5000", { action: "conclude", task: 1, delay: 5001 }, "INVALID_DELAY", "delay"],
    ["a fractional delay", { action: "conclude", task: 1, delay: 1.5 }, "INVALID_DELAY", "delay"],
    ["a delay of text", { action: "conclude", task: 1, delay: "10" }, "INVALID_DELAY", "delay"],
    ["cancel without tasks", { action: "cancel" }, "INVALID_FIELD", "tasks"],
    [
      "cancel of an unknown id",
      { action: "cancel", tasks: [987_654_321] },
      "UNKNOWN_TASK",
      "tasks[0]",
    ],
    [
      "ignore not a boolean",
      { action: "cancel", tasks: [1], ignore: "yes" },
      "INVALID_FIELD",
      "ignore",
    ],
    [
      "clean of an unknown id",
      { action: "clean", tasks: [987_654_321] },
      "UNKNOWN_TASK",
      "tasks[0]",
    ],
    [
      "destroy with ignore",
      { action: "destroy", tasks: [1], ignore: true },
      "INVALID_FIELD",
      "ignore",
    ],
    [
      "destroy of an unknown id",
      { action: "destroy", tasks: [987_654_321] },
      "UNKNOWN_TASK",
      "tasks[0]",
    ],
    ["pause without threads", { action: "pause" }, "INVALID_FIELD", "threads"],
    ["pause of no threads", { action: "pause", threads: [] }, "INVALID_FIELD", "threads"],
    [
      "pause of a bad thread",
      { action: "pause", threads: ["ok", "a/b"] },
      "INVALID_THREAD",
      "threads[1]",
    ],
    [
      "resume with continue not a boolean",
      { action: "resume", threads: ["x"], continue: 1 },
      "INVALID_FIELD",
      "continue",
    ],
  ];
  it("refuses a body over the app's limit (1 MiB) with 413 BODY_TOO_LARGE, changing nothing", async () => {
    const before = await taskCount();
    const answer = await act(undefined, AS_A, huge);
    expect(answer.status).toBe(413);
    expect(answer.json.error.code).toBe("BODY_TOO_LARGE");
    expect(answer.json.error.message).toContain("larger than");
    expect(await taskCount()).toBe(before);
  });

  it.each(cases)(
    "refuses %s with 400 naming it, changing nothing",
    async (_, body, code, named) => {
      const before = await taskCount();
      const raw =
        typeof body === "object" && body !== null && "raw" in body ? String(body.raw) : undefined;
      const answer = await act(body, AS_A, raw);
      expect(answer.status).toBe(400);
      expect(answer.json.error.code).toBe(code);
      expect(answer.json.error.message).toContain(named);
      expect(Object.keys(answer.json)).toEqual(["error"]);
      expect(await taskCount()).toBe(before);
    },
  );

  it("answers other /xina/ routes with 404 in the XINA shape", async () => {
    for (const [method, path] of [
      ["GET", "/xina/action"],
      ["POST", "/xina/elsewhere"],
    ] as const) {
      const response = await app.handle(
        new Request(`http://localhost${path}`, { method, headers: AS_A }),
      );
      expect(response.status).toBe(404);
      expect(((await response.json()) as Answer["json"]).error.code).toBe("NOT_FOUND");
    }
  });

  it("accepts the action name in upper case", async () => {
    const [task] = await ok({ action: "RUN", tasks: [def("upper", "true")] });
    await t.waitFor(task?.id ?? 0, ["done"]);
  });
});
