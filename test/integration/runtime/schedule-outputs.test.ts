/**
 * What a schedule keeps and answers: the latest output per agent, run history, runs
 * reported from outside, cron times, the create checks, and tenant isolation.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InvalidInputError, NotFoundError } from "../../../src/errors";
import type { CreateSchedule, FinishedTask } from "../../../src/runtime/schedule-records";
import { type ScheduleHarness, startScheduleHarness, T0 } from "../../helpers/schedules";

const SECOND = 1_000;
const TENANT = "acme";

let h: ScheduleHarness;
beforeEach(async () => {
  h = await startScheduleHarness();
  h.agents = [
    { id: "a1", labels: {} },
    { id: "a2", labels: {} },
  ];
});
afterEach(() => h.stop());

function runOf(agentId: string, nth = 0) {
  const run = h.started.filter((r) => r.agentId === agentId)[nth];
  if (!run) throw new Error(`no run ${nth} on ${agentId}`);
  return run;
}

describe("latestOutput", () => {
  it("is empty with no completion time before any run", async () => {
    const id = await h.schedules.create(TENANT, { command: "x", everyMs: SECOND });
    expect(await h.schedules.latestOutput(TENANT, id)).toEqual({
      completionTime: null,
      outputs: [],
    });
  });

  it("has each agent's newest run, leaves empty streams out, and the newest completion time", async () => {
    const id = await h.schedules.create(TENANT, { command: "x", everyMs: 10 * SECOND });
    await h.advance(10 * SECOND);
    h.finish(runOf("a1"), { stdout: "one\n" });
    await h.advance(2 * SECOND);
    h.finish(runOf("a2"), { stdout: "", stderr: "warn\n", exitCode: 1, ok: false });
    await h.advance(8 * SECOND);
    await h.advance(3 * SECOND);
    h.finish(runOf("a1", 1), { stdout: "" });
    expect(await h.schedules.latestOutput(TENANT, id)).toEqual({
      completionTime: T0 + 23 * SECOND,
      outputs: [{ agentId: "a1" }, { agentId: "a2", stderr: "warn\n" }],
    });
  });

  it("shows the engine's reason when a run ended without any result", async () => {
    const id = await h.schedules.create(TENANT, { command: "x", everyMs: SECOND });
    await h.advance(SECOND);
    const run = runOf("a1");
    const timedOut: FinishedTask = {
      refId: `schedule:${id}`,
      agentId: "a1",
      outcome: "timedOut",
      results: [null],
      error: "timed out (execution)",
      finishedAt: h.clock.now(),
    };
    h.schedules.taskFinished(run.taskId, timedOut);
    const [newest] = await h.schedules.history(TENANT, id, 1);
    expect(newest).toMatchObject({ agentId: "a1", ok: false, exitCode: null, stdout: "" });
    expect(newest?.stderr).toBe("timed out (execution)");
  });

  it("ignores finished tasks that are no schedule's run", async () => {
    const id = await h.schedules.create(TENANT, { command: "x", everyMs: SECOND });
    await h.advance(SECOND);
    const base = { agentId: "a1", outcome: "succeeded", results: [], error: null, finishedAt: 1 };
    h.schedules.taskFinished(runOf("a1").taskId, { ...base, refId: null });
    h.schedules.taskFinished(runOf("a1").taskId, { ...base, refId: "schedule:elsewhere" });
    h.schedules.taskFinished(999, { ...base, refId: `schedule:${id}` });
    expect(await h.schedules.history(TENANT, id, 10)).toEqual([]);
    expect((await h.schedules.get(TENANT, id)).running).toEqual(["a1", "a2"]);
  });
});

describe("complete (a run reported from outside)", () => {
  it("records the server's output as its latest, even while paused", async () => {
    const id = await h.schedules.create(TENANT, { command: "x", everyMs: SECOND });
    await h.schedules.pause(TENANT, id);
    h.clock.advance(5 * SECOND);
    await h.schedules.complete(TENANT, id, { serverId: "srv-9", stdout: "hi\n", stderr: "" });
    expect(await h.schedules.latestOutput(TENANT, id)).toEqual({
      completionTime: T0 + 5 * SECOND,
      outputs: [{ agentId: "srv-9", stdout: "hi\n" }],
    });
    const [run] = await h.schedules.history(TENANT, id, 10);
    expect(run).toMatchObject({ agentId: "srv-9", taskId: null, ok: true, exitCode: null });
  });

  it("answers NotFound for an unknown id", async () => {
    await expect(
      h.schedules.complete(TENANT, crypto.randomUUID(), { serverId: "s" }),
    ).rejects.toThrow(NotFoundError);
  });
});

describe("history", () => {
  it("lists runs newest first up to the limit, and refuses a limit out of range", async () => {
    h.agents = [{ id: "a1", labels: {} }];
    const id = await h.schedules.create(TENANT, { command: "x", everyMs: SECOND });
    for (let i = 0; i < 3; i++) {
      await h.advance(SECOND);
      h.finish(runOf("a1", i), { stdout: `run ${i}` });
    }
    const history = await h.schedules.history(TENANT, id, 2);
    expect(history.map((r) => [r.stdout, r.startedAt, r.taskId])).toEqual([
      ["run 2", T0 + 3 * SECOND, 3],
      ["run 1", T0 + 2 * SECOND, 2],
    ]);
    for (const limit of [0, 1_001, 1.5, Number.NaN]) {
      await expect(h.schedules.history(TENANT, id, limit)).rejects.toThrow(InvalidInputError);
    }
  });
});

describe("cron", () => {
  it("ticks at the expression's times, read in UTC", async () => {
    h.agents = [{ id: "a1", labels: {} }];
    h.clock.advance(7 * SECOND);
    const id = await h.schedules.create(TENANT, { command: "x", cron: "*/15 * * * * *" });
    expect((await h.schedules.get(TENANT, id)).nextAt).toBe(T0 + 15 * SECOND);
    for (let i = 0; i < 3; i++) {
      await h.advance(T0 + (i + 1) * 15 * SECOND - h.clock.now());
      h.finish(runOf("a1", i));
    }
    expect(h.started.map((r) => r.at)).toEqual([15_000, 30_000, 45_000]);
    expect((await h.schedules.get(TENANT, id)).nextAt).toBe(T0 + 60 * SECOND);
  });

  it("takes five-field expressions and skips missed times on resume", async () => {
    const id = await h.schedules.create(TENANT, { command: "x", cron: "0 * * * *" });
    expect((await h.schedules.get(TENANT, id)).nextAt).toBe(Date.UTC(2026, 0, 1, 1));
    await h.schedules.pause(TENANT, id);
    h.clock.advance(3.5 * 3_600_000);
    const resumed = await h.schedules.resume(TENANT, id);
    expect(resumed.nextAt).toBe(Date.UTC(2026, 0, 1, 4));
    expect(h.started).toEqual([]);
  });
});

describe("create checks", () => {
  const bad: [string, Partial<CreateSchedule>, string][] = [
    ["an empty command", { command: "  ", everyMs: SECOND }, "command"],
    [
      "a command over 10,000 characters",
      { command: "x".repeat(10_001), everyMs: SECOND },
      "command",
    ],
    ["neither interval nor cron", { command: "x" }, "frequency"],
    ["both interval and cron", { command: "x", everyMs: SECOND, cron: "* * * * *" }, "frequency"],
    ["an interval under a second", { command: "x", everyMs: 999 }, "frequency"],
    ["a fractional interval", { command: "x", everyMs: 1_500.5 }, "frequency"],
    ["a cron of four fields", { command: "x", cron: "* * * *" }, "cron"],
    ["a cron of seven fields", { command: "x", cron: "* * * * * * *" }, "cron"],
    ["a cron minute of 61", { command: "x", cron: "61 * * * *" }, "cron"],
    ["a cron that never fires", { command: "x", cron: "0 0 30 2 *" }, "cron"],
    ["a zero timeout", { command: "x", everyMs: SECOND, timeoutMs: 0 }, "timeout"],
    ["an empty agent list", { command: "x", everyMs: SECOND, agents: { ids: [] } }, "agents.ids"],
  ];
  it.each(bad)("refuses %s naming the field, creating nothing", async (_, spec, field) => {
    const refusal = await h.schedules
      .create(TENANT, { command: "x", ...spec } as CreateSchedule)
      .catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(InvalidInputError);
    expect((refusal as InvalidInputError).field).toBe(field);
    expect(await h.schedules.list(TENANT)).toEqual([]);
    expect(await h.store.schedules()).toEqual([]);
  });
});

describe("tenants", () => {
  it("another tenant's schedule does not exist for this one", async () => {
    const id = await h.schedules.create(TENANT, { command: "x", everyMs: SECOND });
    const other = "globex";
    const attempts: [string, () => Promise<unknown>][] = [
      ["get", () => h.schedules.get(other, id)],
      ["pause", () => h.schedules.pause(other, id)],
      ["resume", () => h.schedules.resume(other, id)],
      ["delete", () => h.schedules.delete(other, id)],
      ["latestOutput", () => h.schedules.latestOutput(other, id)],
      ["history", () => h.schedules.history(other, id, 10)],
      ["complete", () => h.schedules.complete(other, id, { serverId: "s" })],
    ];
    for (const [name, attempt] of attempts) {
      await expect(attempt(), name).rejects.toThrow(NotFoundError);
    }
    expect(await h.schedules.list(other)).toEqual([]);
    expect((await h.schedules.list(TENANT)).map((s) => s.id)).toEqual([id]);
    expect((await h.schedules.get(TENANT, id)).state).toBe("active");
    expect(await h.schedules.history(TENANT, id, 10)).toEqual([]);
  });
});
