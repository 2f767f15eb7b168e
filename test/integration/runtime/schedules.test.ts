/**
 * Schedule actors on a simulated clock over a real SQLite store: ticks on every
 * selected online agent, no overlap per agent, agents coming and going, pause,
 * resume, delete, and a restart that re-arms the ticks.
 */
import { afterEach, describe, expect, it } from "vitest";
import { IllegalTransitionError, NotFoundError } from "../../../src/errors";
import { type ScheduleHarness, settle, startScheduleHarness, T0 } from "../../helpers/schedules";

const SECOND = 1_000;
const TENANT = "acme";

let h: ScheduleHarness;
const harnesses: ScheduleHarness[] = [];

async function start(options?: Parameters<typeof startScheduleHarness>[0]) {
  h = await startScheduleHarness(options);
  harnesses.push(h);
  return h;
}

afterEach(async () => {
  for (const harness of harnesses.splice(0)) await harness.stop();
});

/** `agentId@offset` for every run started, in order. */
const runs = () => h.started.map((run) => `${run.agentId}@${run.at}`);

describe("ticks", () => {
  it("runs first one interval after creation, then every interval, on every online agent", async () => {
    await start();
    h.agents = [
      { id: "a1", labels: {} },
      { id: "a2", labels: {} },
    ];
    const id = await h.schedules.create(TENANT, {
      command: "uptime",
      everyMs: 10 * SECOND,
      timeoutMs: 5 * SECOND,
    });
    await h.advance(10 * SECOND - 1);
    expect(runs()).toEqual([]);
    await h.advance(1);
    expect(runs()).toEqual(["a1@10000", "a2@10000"]);
    expect(h.started[0]?.schedule).toEqual({
      id,
      tenant: TENANT,
      command: "uptime",
      timeoutMs: 5 * SECOND,
    });
    for (const run of h.started) h.finish(run);
    await h.advance(10 * SECOND);
    expect(runs()).toEqual(["a1@10000", "a2@10000", "a1@20000", "a2@20000"]);
    expect(await h.schedules.get(TENANT, id)).toMatchObject({
      state: "active",
      ticks: 2,
      lastTickAt: T0 + 20 * SECOND,
      nextAt: T0 + 30 * SECOND,
      running: ["a1", "a2"],
    });
  });

  it("skips an agent whose previous run is still going, and only that agent", async () => {
    await start();
    h.agents = [
      { id: "a1", labels: {} },
      { id: "a2", labels: {} },
    ];
    await h.schedules.create(TENANT, { command: "slow", everyMs: SECOND });
    await h.advance(SECOND);
    const [a1, a2] = h.started;
    if (!a1 || !a2) throw new Error("expected two runs");
    h.finish(a1);
    await h.advance(SECOND);
    expect(runs()).toEqual(["a1@1000", "a2@1000", "a1@2000"]);
    h.finish(a2);
    await h.advance(SECOND);
    // a1's second run is still going at 3 s; a2 is free again.
    expect(runs()).toEqual(["a1@1000", "a2@1000", "a1@2000", "a2@3000"]);
  });

  it("runs on an agent that comes online later from the next tick on, and not on one gone", async () => {
    await start();
    h.agents = [{ id: "a1", labels: {} }];
    await h.schedules.create(TENANT, { command: "uptime", everyMs: SECOND });
    await h.advance(SECOND);
    for (const run of h.started) h.finish(run);
    h.agents = [{ id: "a2", labels: {} }];
    await h.advance(SECOND);
    expect(runs()).toEqual(["a1@1000", "a2@2000"]);
  });

  it("runs only on the agents the selector names by id and labels", async () => {
    await start();
    h.agents = [
      { id: "a1", labels: { role: "web", zone: "eu" } },
      { id: "a2", labels: { role: "web", zone: "us" } },
      { id: "a3", labels: { role: "db", zone: "eu" } },
    ];
    await h.schedules.create(TENANT, {
      command: "x",
      everyMs: SECOND,
      agents: { labels: { role: "web" } },
    });
    await h.schedules.create(TENANT, {
      command: "y",
      everyMs: SECOND,
      agents: { ids: ["a1", "a3"], labels: { zone: "eu" } },
    });
    await h.advance(SECOND);
    const by = (command: string) =>
      h.started.filter((run) => run.schedule.command === command).map((run) => run.agentId);
    expect(by("x")).toEqual(["a1", "a2"]);
    expect(by("y")).toEqual(["a1", "a3"]);
  });

  it("frees the agent when the engine cannot submit the run", async () => {
    await start();
    h.agents = [{ id: "a1", labels: {} }];
    h.runOn = () => Promise.reject(new Error("store down"));
    const id = await h.schedules.create(TENANT, { command: "x", everyMs: SECOND });
    await h.advance(SECOND);
    expect((await h.schedules.get(TENANT, id)).running).toEqual([]);
    h.runOn = async (_s, _a, taskId) => taskId;
    await h.advance(SECOND);
    expect(runs()).toEqual(["a1@1000", "a1@2000"]);
    expect((await h.schedules.get(TENANT, id)).running).toEqual(["a1"]);
  });

  it("records a run whose task finishes before the engine has answered with its id", async () => {
    await start();
    h.agents = [{ id: "a1", labels: {} }];
    let answer: (taskId: number) => void = () => {};
    h.runOn = (_s, _a, taskId) =>
      new Promise<number>((resolve) => {
        answer = () => resolve(taskId);
      });
    const id = await h.schedules.create(TENANT, { command: "x", everyMs: SECOND });
    await h.advance(SECOND);
    const [run] = h.started;
    if (!run) throw new Error("expected a run");
    h.finish(run, { stdout: "early" });
    answer(run.taskId);
    await settle();
    expect((await h.schedules.get(TENANT, id)).running).toEqual([]);
    expect((await h.schedules.history(TENANT, id, 10)).map((r) => r.stdout)).toEqual(["early"]);
  });
});

describe("pause, resume, delete", () => {
  it("pause stops the ticks; resume ticks again from the next interval in phase", async () => {
    await start();
    h.agents = [{ id: "a1", labels: {} }];
    const id = await h.schedules.create(TENANT, { command: "x", everyMs: 10 * SECOND });
    await h.advance(10 * SECOND);
    for (const run of h.started) h.finish(run);
    const paused = await h.schedules.pause(TENANT, id);
    expect(paused).toMatchObject({ state: "paused", nextAt: null, accepts: ["RESUME", "DELETE"] });
    await h.advance(45 * SECOND); // 55 s
    expect(runs()).toEqual(["a1@10000"]);
    const resumed = await h.schedules.resume(TENANT, id);
    expect(resumed).toMatchObject({ state: "active", nextAt: T0 + 60 * SECOND });
    await h.advance(5 * SECOND);
    expect(runs()).toEqual(["a1@10000", "a1@60000"]);
  });

  it("refuses pause while paused and resume while active, listing what it accepts", async () => {
    await start();
    const id = await h.schedules.create(TENANT, { command: "x", everyMs: SECOND });
    await expect(h.schedules.resume(TENANT, id)).rejects.toThrow(IllegalTransitionError);
    await h.schedules.pause(TENANT, id);
    const refusal = await h.schedules.pause(TENANT, id).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(IllegalTransitionError);
    expect((refusal as IllegalTransitionError).accepted).toEqual(["RESUME", "DELETE"]);
  });

  it("delete stops the schedule for good; a run finishing afterwards is not recorded", async () => {
    await start();
    h.agents = [{ id: "a1", labels: {} }];
    const id = await h.schedules.create(TENANT, { command: "x", everyMs: SECOND });
    await h.advance(SECOND);
    await h.schedules.delete(TENANT, id);
    await expect(h.schedules.get(TENANT, id)).rejects.toThrow(NotFoundError);
    await expect(h.schedules.delete(TENANT, id)).rejects.toThrow(NotFoundError);
    const [run] = h.started;
    if (run) h.finish(run);
    await h.advance(10 * SECOND);
    expect(runs()).toEqual(["a1@1000"]);
    expect(await h.schedules.list(TENANT)).toEqual([]);
    expect(await h.store.schedules()).toEqual([]);
    expect(await h.store.runs(id, 10)).toEqual([]);
  });

  it("journals each change on the bus after it is durable", async () => {
    await start();
    h.agents = [{ id: "a1", labels: {} }];
    const id = await h.schedules.create(TENANT, { command: "x", everyMs: SECOND });
    await h.advance(SECOND);
    for (const run of h.started) h.finish(run);
    await h.schedules.pause(TENANT, id);
    await h.schedules.resume(TENANT, id);
    await h.schedules.delete(TENANT, id);
    await settle();
    expect(h.events).toEqual([
      "created",
      "runStarted",
      "runFinished",
      "paused",
      "resumed",
      "deleted",
    ]);
  });
});

describe("restart", () => {
  it("restores schedules from the store and re-arms their ticks in phase", async () => {
    const first = await start();
    first.agents = [{ id: "a1", labels: {} }];
    const active = await first.schedules.create(TENANT, { command: "x", everyMs: 10 * SECOND });
    const paused = await first.schedules.create(TENANT, { command: "y", everyMs: 10 * SECOND });
    await first.schedules.pause(TENANT, paused);
    await first.advance(10 * SECOND);
    const [going] = first.started;
    if (!going) throw new Error("expected a run");
    await first.stop({ keepDir: true });
    harnesses.splice(0);

    // Back 25 s later: the tick at 20 s was missed, the next is at 30 s.
    const second = await start({
      dir: first.dir,
      now: T0 + 35 * SECOND,
      restore: true,
      firstTaskId: 100,
    });
    second.agents = [{ id: "a1", labels: {} }];
    expect(await second.schedules.get(TENANT, active)).toMatchObject({
      state: "active",
      nextAt: T0 + 40 * SECOND,
      running: ["a1"],
    });
    expect((await second.schedules.get(TENANT, paused)).state).toBe("paused");
    // The run going at the restart still holds its agent until its task finishes.
    await second.advance(5 * SECOND);
    expect(second.started).toEqual([]);
    second.finish(going, { stdout: "before the restart" });
    await second.advance(10 * SECOND);
    expect(second.started.map((r) => `${r.schedule.command}:${r.agentId}@${r.at}`)).toEqual([
      "x:a1@50000",
    ]);
    const history = await second.schedules.history(TENANT, active, 10);
    expect(history.map((r) => [r.taskId, r.stdout])).toEqual([
      [going.taskId, "before the restart"],
    ]);
    await second.schedules.resume(TENANT, paused);
    await second.advance(10 * SECOND);
    expect(second.started.map((r) => `${r.schedule.command}@${r.at}`)).toContain("y@60000");
  });

  it("frees an agent whose run had no task id on disk when the engine stopped", async () => {
    const first = await start();
    first.agents = [{ id: "a1", labels: {} }];
    first.runOn = () => new Promise<number>(() => {}); // the submission never answers
    const id = await first.schedules.create(TENANT, { command: "x", everyMs: SECOND });
    await first.advance(SECOND);
    expect((await first.schedules.get(TENANT, id)).running).toEqual(["a1"]);
    await first.stop({ keepDir: true });
    harnesses.splice(0);

    const second = await start({ dir: first.dir, now: T0 + 1_500, restore: true });
    second.agents = [{ id: "a1", labels: {} }];
    expect((await second.schedules.get(TENANT, id)).running).toEqual([]);
    await second.advance(500);
    expect(second.started.map((r) => `${r.agentId}@${r.at}`)).toEqual(["a1@2000"]);
  });
});
