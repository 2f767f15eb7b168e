import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IllegalTransitionError } from "../../../src/errors";
import { startTestEngine, TENANT, type TestEngine } from "../../helpers/engine";

/** The process state letter from /proc (R, S, T = stopped, Z) or null when gone. */
function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return null;
  }
}

async function until<T>(probe: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe("pause, resume and cancel reach the running process", () => {
  let t: TestEngine;
  beforeAll(async () => {
    t = await startTestEngine();
  });
  afterAll(() => t.stop());

  async function startSleeper() {
    const pidFile = join(t.dir, `pid-${Math.random()}`);
    const view = await t.engine.submit({
      tenant: TENANT,
      actions: [{ type: "exec", params: { command: `echo $$ > ${pidFile}; exec sleep 30` } }],
    });
    await t.waitFor(view.id, ["running"]);
    const pid = await until(() => {
      try {
        const text = readFileSync(pidFile, "utf8").trim();
        return text ? Number(text) : undefined;
      } catch {
        return undefined;
      }
    });
    return { id: view.id, pid };
  }

  it("suspends the process on pause and continues it on resume", async () => {
    const { id, pid } = await startSleeper();
    const paused = await t.engine.pause(TENANT, id);
    expect(paused.state).toBe("paused.suspended");
    expect(paused.accepts).toEqual(["RESUME", "CANCEL"]);
    await until(() => (processState(pid) === "T" ? true : undefined));

    const resumed = await t.engine.resume(TENANT, id);
    expect(resumed.state).toBe("running.executing");
    await until(() => (processState(pid) === "S" ? true : undefined));

    const cancelled = await t.engine.cancel(TENANT, id);
    expect(cancelled.state).toBe("cancelled");
    await until(() => (processState(pid) === null || processState(pid) === "Z" ? true : undefined));
  });

  it("refuses an illegal command and lists what the task accepts", async () => {
    const { id } = await startSleeper();
    const error = await t.engine.resume(TENANT, id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IllegalTransitionError);
    expect((error as IllegalTransitionError).accepted).toEqual(["PAUSE", "CANCEL"]);
    expect((await t.engine.get(TENANT, id)).state).toBe("running.executing");

    await t.engine.cancel(TENANT, id);
    const again = await t.engine.cancel(TENANT, id).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: "ILLEGAL_TRANSITION", accepted: [] });
  });

  it("hides another tenant's task", async () => {
    const { id } = await startSleeper();
    await expect(t.engine.get("someone-else", id)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(t.engine.cancel("someone-else", id)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await t.engine.cancel(TENANT, id);
  });
});
