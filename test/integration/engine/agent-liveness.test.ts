import { describe, expect, it } from "vitest";
import { execAction } from "../../../agent/actions/exec";
import { noopAction } from "../../../agent/actions/noop";
import { Agent } from "../../../agent/agent";
import { SimulatedClock } from "../../../src/clock";
import { silentLogger } from "../../../src/log";
import { startTestEngine, TENANT, type TestEngine } from "../../helpers/engine";

function remoteAgent(t: TestEngine, id: string) {
  const agent = new Agent({
    id,
    bus: t.bus,
    log: silentLogger,
    actions: [execAction, noopAction],
    labels: { role: "web" },
    heartbeatMs: 50,
  });
  agent.start();
  return agent;
}

async function until(condition: () => boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("agents are online while they heartbeat", () => {
  it("lists an agent after its hello, with its labels and capabilities", async () => {
    const t = await startTestEngine();
    const agent = remoteAgent(t, "web1");
    try {
      await until(() => t.engine.agents().some((a) => a.id === "web1"));
      expect(t.engine.agents().find((a) => a.id === "web1")).toMatchObject({
        status: "online",
        labels: { role: "web" },
        capabilities: ["exec", "noop"],
      });
    } finally {
      await agent.stop();
      await t.stop();
    }
  });

  it("times out the running attempt of an agent that goes silent", async () => {
    const clock = new SimulatedClock(Date.now());
    const t = await startTestEngine({ clock, engine: { agentHeartbeatTimeoutMs: 15_000 } });
    const agent = remoteAgent(t, "web2");
    try {
      const task = await t.engine.submit({
        tenant: TENANT,
        agentId: "web2",
        actions: [{ type: "exec", params: { command: "sleep 30" } }],
      });
      await t.waitFor(task.id, ["running"]);
      await agent.stop();
      clock.advance(15_001);
      const settled = await t.waitFor(task.id, ["timedOut"]);
      expect(settled.timeoutReason).toBe("agentOffline");
      expect(t.engine.agents().find((a) => a.id === "web2")?.status).toBe("offline");
    } finally {
      await t.stop();
    }
  });

  it("settles an attempt that a restarted agent no longer has, without running it again", async () => {
    const t = await startTestEngine();
    const first = remoteAgent(t, "web3");
    try {
      const task = await t.engine.submit({
        tenant: TENANT,
        agentId: "web3",
        actions: [{ type: "exec", params: { command: "sleep 30" } }],
        retry: { limit: 0 },
      });
      await t.waitFor(task.id, ["running"]);
      await first.stop();
      // A new process of the same agent: it has never heard of the attempt.
      const second = remoteAgent(t, "web3");
      try {
        const settled = await t.waitFor(task.id, ["timedOut"]);
        expect(settled.timeoutReason).toBe("agentLost");
      } finally {
        await second.stop();
      }
    } finally {
      await t.stop();
    }
  });
});
