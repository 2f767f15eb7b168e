/**
 * Executor tasks' timeouts and retries (seed-spec 1.6, 1.10–1.16) on the simulated
 * clock: the engine's timer service drives every deadline, so each rule is checked at
 * its exact millisecond.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SimulatedClock } from "../../../src/clock";
import { IllegalTransitionError } from "../../../src/errors";
import type { ExecutorTask, TaskDefinitionInput } from "../../../src/runtime/commands";
import { startTestEngine, TENANT, type TestEngine } from "../../helpers/engine";

const DEFINITIONS: TaskDefinitionInput[] = [
  {
    name: "quick",
    requestedToStartTimeout: 1_000,
    inProgressTimeout: 5_000,
    allowedRetryCount: 2,
    retryDelay: 3_000,
  },
  { name: "defaults" },
  { name: "per-key", concurrencyLimit: 1, concurrencyPath: ["params", "key"] },
  { name: "one-at-a-time", concurrencyLimit: 1 },
];

let clock: SimulatedClock;
let t: TestEngine;

beforeEach(async () => {
  clock = new SimulatedClock(Date.UTC(2026, 10, 25, 12));
  t = await startTestEngine({ clock, engine: { taskDefinitions: DEFINITIONS } });
});

afterEach(async () => {
  await t.stop();
});

const executor = () => t.engine.executor;

async function create(definition = "quick", params: unknown = {}, extra = {}) {
  return executor().create(TENANT, { definition, params, ...extra });
}

async function claimOne(definition = "quick"): Promise<ExecutorTask> {
  const [task] = await executor().poll(TENANT, [definition], 1);
  if (!task) throw new Error(`nothing to claim from ${definition}`);
  return task;
}

async function status(id: string) {
  return executor().get(TENANT, id);
}

/** Lets the engine's own deferred work (dispatch requests) run after a clock jump. */
async function settle() {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

describe("defaults (1.15)", () => {
  it("a definition without settings gets 10 s / 120 s / 2 retries / 10 s", async () => {
    const task = await create("defaults");
    expect(task.definition).toMatchObject({
      requestedToStartTimeout: 10_000,
      inProgressTimeout: 120_000,
      allowedRetryCount: 2,
      retryDelay: 10_000,
    });
    expect(task.status).toBe("ready");
  });
});

describe("executeAt (1.6)", () => {
  it("waits until executeAt, then is ready", async () => {
    const task = await create("quick", {}, { executeAt: clock.now() + 30_000 });
    expect(task.status).toBe("waiting");
    expect(await executor().poll(TENANT, ["quick"], 1)).toEqual([]);
    clock.advance(29_999);
    await settle();
    expect((await status(task.id)).status).toBe("waiting");
    clock.advance(1);
    await settle();
    expect((await status(task.id)).status).toBe("ready");
    expect((await claimOne()).id).toBe(task.id);
  });
});

describe("requestedToStartTimeout (1.10)", () => {
  it("a claim nobody starts goes back to ready and its execId stops working", async () => {
    const task = await create();
    const claimed = await claimOne();
    expect(claimed).toMatchObject({ id: task.id, status: "requested", retryCount: 0 });
    clock.advance(999);
    await settle();
    expect((await status(task.id)).status).toBe("requested");
    clock.advance(1);
    await settle();
    expect((await status(task.id)).status).toBe("ready");
    await expect(
      executor().start(TENANT, task.id, claimed.task.execId as string),
    ).rejects.toBeInstanceOf(IllegalTransitionError);

    const again = await claimOne();
    expect(again.task.execId).not.toBe(claimed.task.execId);
    // The lapsed claim used no retry: the first start is attempt 1.
    const started = await executor().start(TENANT, task.id, again.task.execId as string);
    expect(started).toMatchObject({ status: "in-progress", retryCount: 1 });
  });
});

describe("inProgressTimeout and retries (1.12, 1.14)", () => {
  it("notify moves the deadline to now + inProgressTimeout", async () => {
    const task = await create();
    const { task: claimed } = await claimOne();
    const execId = claimed.execId as string;
    await executor().start(TENANT, task.id, execId);
    clock.advance(4_000);
    const deadline = await executor().notify(TENANT, task.id, execId, { type: "heartbeat" });
    expect(deadline).toBe(clock.now() + 5_000);
    clock.advance(4_999);
    await settle();
    expect((await status(task.id)).status).toBe("in-progress");
    clock.advance(1);
    await settle();
    expect((await status(task.id)).status).toBe("waiting");
  });

  it("times out to waiting with executeAt = now + retryDelay while retries last, then fails", async () => {
    const task = await create();
    for (let attempt = 1; attempt <= 3; attempt++) {
      const { task: claimed } = await claimOne();
      const execId = claimed.execId as string;
      const started = await executor().start(TENANT, task.id, execId);
      expect(started.retryCount).toBe(attempt);
      clock.advance(5_000);
      await settle();
      const after = await status(task.id);
      if (attempt <= 2) {
        // retryCount ≤ allowedRetryCount: back to waiting, retryDelay ahead.
        expect(after).toMatchObject({ status: "waiting", outcome: null });
        expect(after.task.executeAt).toBe(clock.now() + 3_000);
        await expect(executor().success(TENANT, task.id, execId)).rejects.toBeInstanceOf(
          IllegalTransitionError,
        );
        clock.advance(3_000);
        await settle();
        expect((await status(task.id)).status).toBe("ready");
      } else {
        expect(after).toMatchObject({
          status: "done",
          outcome: "failed",
          outcomeReason: "awf.task/failed-due-to-in-progress-timeout",
          retryCount: 3,
        });
      }
    }
  });

  it("an executor's fail is final, whatever retries are left", async () => {
    const task = await create();
    const { task: claimed } = await claimOne();
    const execId = claimed.execId as string;
    await executor().start(TENANT, task.id, execId);
    const failed = await executor().fail(TENANT, task.id, execId, { reason: "bad input" });
    expect(failed).toMatchObject({
      status: "done",
      outcome: "failed",
      outcomeReason: "awf.task/failed-by-executor",
    });
    expect(failed.task.results[0]).toMatchObject({ value: { reason: "bad input" } });
  });
});

describe("execId checks (1.11–1.13)", () => {
  it("start, notify, success and fail refuse a wrong execId or state, changing nothing", async () => {
    const task = await create();
    const { task: claimed } = await claimOne();
    const execId = claimed.execId as string;
    const refused = (call: Promise<unknown>) =>
      expect(call).rejects.toBeInstanceOf(IllegalTransitionError);
    await refused(executor().start(TENANT, task.id, "not-it"));
    await refused(executor().notify(TENANT, task.id, execId, { type: "heartbeat" }));
    await refused(executor().success(TENANT, task.id, execId));
    expect((await status(task.id)).status).toBe("requested");
    await executor().start(TENANT, task.id, execId);
    await refused(executor().start(TENANT, task.id, execId));
    await refused(executor().success(TENANT, task.id, "not-it"));
    await refused(executor().fail(TENANT, task.id, "not-it"));
    expect((await status(task.id)).status).toBe("in-progress");
    await executor().success(TENANT, task.id, execId, { n: 1 });
    await refused(executor().success(TENANT, task.id, execId));
  });

  it("a cancelled task refuses its executor's next call; cancelling it again is refused", async () => {
    const task = await create();
    const { task: claimed } = await claimOne();
    const execId = claimed.execId as string;
    await executor().start(TENANT, task.id, execId);
    expect(await executor().cancel(TENANT, task.id)).toMatchObject({
      status: "done",
      outcome: "canceled",
    });
    await expect(
      executor().notify(TENANT, task.id, execId, { type: "heartbeat" }),
    ).rejects.toBeInstanceOf(IllegalTransitionError);
    await expect(executor().cancel(TENANT, task.id)).rejects.toBeInstanceOf(IllegalTransitionError);
  });
});

describe("concurrency (1.16)", () => {
  it("caps claimed and in-progress tasks per value of concurrencyPath", async () => {
    const a1 = await create("per-key", { key: "a" });
    const a2 = await create("per-key", { key: "a" });
    const b1 = await create("per-key", { key: "b" });
    const first = await executor().poll(TENANT, ["per-key"], 10);
    // One per key: a2 waits behind a1.
    expect(first.map((task) => task.id)).toEqual([a1.id, b1.id]);
    expect(await executor().poll(TENANT, ["per-key"], 10)).toEqual([]);
    const execId = first[0]?.task.execId as string;
    await executor().start(TENANT, a1.id, execId);
    await executor().success(TENANT, a1.id, execId);
    const next = await executor().poll(TENANT, ["per-key"], 10);
    expect(next.map((task) => task.id)).toEqual([a2.id]);
  });

  it("without concurrencyPath, caps the definition as a whole", async () => {
    const one = await create("one-at-a-time", { key: "a" });
    const two = await create("one-at-a-time", { key: "b" });
    const first = await executor().poll(TENANT, ["one-at-a-time"], 10);
    expect(first.map((task) => task.id)).toEqual([one.id]);
    const execId = first[0]?.task.execId as string;
    await executor().start(TENANT, one.id, execId);
    expect(await executor().poll(TENANT, ["one-at-a-time"], 10)).toEqual([]);
    await executor().fail(TENANT, one.id, execId);
    expect((await executor().poll(TENANT, ["one-at-a-time"], 10)).map((t) => t.id)).toEqual([
      two.id,
    ]);
  });

  it("claims oldest executeAt first (1.7) and at most maxBatchSize (1.8)", async () => {
    const later = await create("quick", {}, { executeAt: clock.now() + 2_000 });
    const now = await create();
    clock.advance(5_000);
    await settle();
    const newest = await create();
    const claimed = await executor().poll(TENANT, ["quick"], 2);
    expect(claimed.map((task) => task.id)).toEqual([now.id, later.id]);
    expect((await executor().poll(TENANT, ["quick"], 5)).map((task) => task.id)).toEqual([
      newest.id,
    ]);
  });
});

describe("long-poll (1.8)", () => {
  it("answers the moment a task is created, else [] after its timeout", async () => {
    const waiting = executor().longPoll(TENANT, ["quick"], 1, 10_000);
    await settle();
    const task = await create();
    const [claimed] = await waiting;
    expect(claimed?.id).toBe(task.id);
    // Done with it, so its claim cannot lapse back to ready during the next wait.
    await executor().start(TENANT, task.id, claimed?.task.execId as string);
    await executor().success(TENANT, task.id, claimed?.task.execId as string);

    const empty = executor().longPoll(TENANT, ["quick"], 1, 10_000);
    await settle();
    clock.advance(10_000);
    expect(await empty).toEqual([]);
  });
});

describe("task log (1.17)", () => {
  it("records every transition, timer-driven ones included", async () => {
    const task = await create();
    await claimOne();
    clock.advance(1_000);
    await settle();
    const { task: again } = await claimOne();
    await executor().start(TENANT, task.id, again.execId as string);
    await executor().notify(TENANT, task.id, again.execId as string, {
      type: "progress",
      current: 5,
      total: 10,
      unit: "rows",
    });
    await executor().success(TENANT, task.id, again.execId as string);
    const log = await executor().log(TENANT, task.id);
    expect(log.map((e) => [e.action, e.statusBefore, e.statusAfter])).toEqual([
      ["awf.task/create-and-execute", null, "ready"],
      ["awf.task/poll", "ready", "requested"],
      ["awf.task/requested-to-start-timeout", "requested", "ready"],
      ["awf.task/poll", "ready", "requested"],
      ["awf.task/start", "requested", "in-progress"],
      ["awf.task/notify", "in-progress", "in-progress"],
      ["awf.task/success", "in-progress", "done"],
    ]);
    expect(log[5]?.params).toMatchObject({
      notification: "progress",
      current: 5,
      total: 10,
      unit: "rows",
    });
  });
});
