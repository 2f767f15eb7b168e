import { readFileSync } from "node:fs";
import { join } from "node:path";
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
      // The engine's clock jumps past the heartbeat timeout: as far as it can tell, the
      // agent has been silent for 15 s.
      clock.advance(15_001);
      const settled = await t.waitFor(task.id, ["timedOut"]);
      expect(settled.timeoutReason).toBe("agentOffline");
    } finally {
      await agent.stop();
      await t.stop();
    }
  });

  it("hands back its running attempts when it stops gracefully", async () => {
    const t = await startTestEngine();
    const agent = remoteAgent(t, "web4");
    try {
      const task = await t.engine.submit({
        tenant: TENANT,
        agentId: "web4",
        actions: [{ type: "exec", params: { command: "sleep 30" } }],
      });
      await t.waitFor(task.id, ["running"]);
      await agent.stop();
      const settled = await t.waitFor(task.id, ["failed"]);
      expect(settled.error).toBe("cancelled");
    } finally {
      await t.stop();
    }
  });

  it("sends again, once, an attempt an agent never received when it says hello", async () => {
    const t = await startTestEngine();
    const marker = join(t.dir, "ran");
    try {
      // Sent while no agent web3 listens: the engine holds an attempt web3 never got.
      const task = await t.engine.submit({
        tenant: TENANT,
        agentId: "web3",
        actions: [{ type: "exec", params: { command: `echo ran >> ${marker}` } }],
      });
      const dispatched = await t.waitFor(task.id, ["dispatched"]);
      const agent = remoteAgent(t, "web3");
      try {
        const done = await t.waitFor(task.id, ["done"]);
        // The same attempt, not a retry: the agent had never seen it.
        expect(done.execId).toBe(dispatched.execId);
        expect(done.attempt).toBe(1);
        expect(readFileSync(marker, "utf8")).toBe("ran\n");
      } finally {
        await agent.stop();
      }
    } finally {
      await t.stop();
    }
  });
});
