import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEngine, TENANT, type TestEngine } from "../../helpers/engine";

describe("a submitted task runs its actions on the embedded agent", () => {
  let t: TestEngine;
  beforeAll(async () => {
    t = await startTestEngine();
  });
  afterAll(() => t.stop());

  it("runs exec actions in order and keeps their output", async () => {
    const submitted = await t.engine.submit({
      tenant: TENANT,
      actions: [
        { type: "exec", params: { command: "echo first" } },
        { type: "exec", params: { command: "echo second >&2" } },
      ],
    });
    const done = await t.waitFor(submitted.id, ["done", "failed"]);
    expect(done.state).toBe("done");
    expect(done.outcome).toBe("succeeded");
    expect(done.currentActionIdx).toBe(1);
    expect(done.results).toEqual([
      expect.objectContaining({ ok: true, exitCode: 0, stdout: "first\n" }),
      expect.objectContaining({ ok: true, exitCode: 0, stderr: "second\n" }),
    ]);
  });

  it("fails the task on a non-zero exit code and starts no later action", async () => {
    const submitted = await t.engine.submit({
      tenant: TENANT,
      actions: [
        { type: "exec", params: { command: "exit 3" } },
        { type: "exec", params: { command: "echo never" } },
      ],
    });
    const failed = await t.waitFor(submitted.id, ["done", "failed"]);
    expect(failed.state).toBe("failed");
    expect(failed.error).toBe("exit code 3");
    expect(failed.results[1]).toBeNull();
  });

  it("fails with a message naming the bad parameter, running nothing", async () => {
    const submitted = await t.engine.submit({
      tenant: TENANT,
      actions: [{ type: "exec", params: { command: 42 } }],
    });
    const failed = await t.waitFor(submitted.id, ["failed"]);
    expect(failed.error).toMatch(/bad params for exec at \/command/);
  });

  it("fails an action type the agent does not have", async () => {
    const submitted = await t.engine.submit({ tenant: TENANT, actions: [{ type: "teleport" }] });
    const failed = await t.waitFor(submitted.id, ["failed"]);
    expect(failed.error).toBe("action teleport is not enabled on agent local");
  });

  it("retries a failing action per its policy, then fails", async () => {
    const submitted = await t.engine.submit({
      tenant: TENANT,
      actions: [{ type: "exec", params: { command: "exit 1" } }],
      retry: { limit: 2, backoffMs: 10 },
    });
    const failed = await t.waitFor(submitted.id, ["failed"]);
    expect(failed.attempt).toBe(3);
    expect(failed.execId).toBe(`${submitted.id}-0-3`);
  });

  it("refuses bad input with the field named, creating nothing", async () => {
    const before = t.engine.stats().submitted;
    await expect(t.engine.submit({ tenant: TENANT, actions: [] })).rejects.toMatchObject({
      code: "INVALID_INPUT",
      field: "actions",
    });
    await expect(
      t.engine.submit({ tenant: TENANT, actions: [{ type: "noop" }], lane: "no spaces" }),
    ).rejects.toMatchObject({ field: "lane" });
    await expect(
      t.engine.submit({
        tenant: TENANT,
        actions: [{ type: "noop" }],
        timeouts: { deliveryMs: -1 },
      }),
    ).rejects.toMatchObject({ field: "timeouts.deliveryMs" });
    expect(t.engine.stats().submitted).toBe(before);
  });
});
