import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startAgentProcess } from "../helpers/agent-process";
import { tempDir } from "../helpers/engine";
import { startNats } from "../helpers/nats";
import { AUTH, freePort, startServerProcess } from "../helpers/server-process";

const TASKS = 1_000;
const AGENTS = ["edge-1", "edge-2", "edge-3"];

describe("a NATS outage in the middle of a run", () => {
  const children: ChildProcess[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("ends every one of 1,000 tasks on 3 agents exactly once, none stuck", async () => {
    const dir = tempDir("fw-outage-");
    const nats = await startNats();
    cleanups.push(() => nats.stop());
    const engine = await startServerProcess({
      dataDir: join(dir, "engine"),
      port: await freePort(),
      env: { FW_NATS_URL: nats.url, FW_LOG_LEVEL: "warn" },
    });
    cleanups.push(() => engine.stop("SIGKILL"));
    for (const id of AGENTS) {
      children.push(
        startAgentProcess({
          natsUrl: nats.url,
          id,
          dir,
          config: { actions: ["exec"], heartbeatMs: 500 },
          logLevel: "warn",
        }),
      );
    }
    const deadline = Date.now() + 15_000;
    for (;;) {
      const agents = (await (await fetch(`${engine.url}/agents`, { headers: AUTH })).json()) as {
        status: string;
      }[];
      if (agents.filter((a) => a.status === "online").length === AGENTS.length) break;
      if (Date.now() > deadline) throw new Error("agents did not come online");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const ranLog = join(dir, "ran.log");
    const submit = async (n: number) => {
      const response = await fetch(`${engine.url}/tasks`, {
        method: "POST",
        headers: { ...AUTH, "content-type": "application/json" },
        body: JSON.stringify({
          agent: AGENTS[n % AGENTS.length],
          actions: [{ type: "exec", params: { command: `echo ${n} >> ${ranLog}` } }],
        }),
      });
      expect(response.status).toBe(201);
    };
    let restarted: Promise<void> | undefined;
    for (let n = 0; n < TASKS; n += 50) {
      if (n === 300) restarted = nats.restart();
      await Promise.all(Array.from({ length: 50 }, (_, i) => submit(n + i)));
    }
    await restarted;

    // Every task reaches a final state, and each command ran exactly once.
    const settleBy = Date.now() + 60_000;
    let statuses: Record<string, number> = {};
    for (;;) {
      const tasks = (await (
        await fetch(`${engine.url}/tasks?limit=1000`, { headers: AUTH })
      ).json()) as {
        status: string;
      }[];
      statuses = {};
      for (const task of tasks) statuses[task.status] = (statuses[task.status] ?? 0) + 1;
      if (tasks.length === TASKS && (statuses.done ?? 0) === TASKS) break;
      if (Date.now() > settleBy) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(statuses).toEqual({ done: TASKS });
    const ran = readFileSync(ranLog, "utf8").trim().split("\n").map(Number);
    expect(ran).toHaveLength(TASKS);
    expect(new Set(ran).size).toBe(TASKS);
    // The engine counted its reconnect.
    const metrics = await (await fetch(`${engine.url}/metrics`, { headers: AUTH })).text();
    const reconnects = /^fleetwork_bus_reconnects_total (\d+)$/m.exec(metrics)?.[1];
    expect(Number(reconnects)).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
