/**
 * A restarted engine hears heartbeats from agents it has no hello from; it asks them
 * (`{kind: "hello"}` on their command subject) and they announce themselves again.
 */
import { describe, expect, it } from "vitest";
import { noopAction } from "../../../agent/actions/noop";
import { Agent } from "../../../agent/agent";
import { EmbeddedBus } from "../../../src/bus";
import { silentLogger } from "../../../src/log";
import { type AgentHello, subjects } from "../../../src/protocol";
import { until } from "../../helpers/until";

describe("an agent asked to say hello again", () => {
  it("announces its labels and capabilities once more", async () => {
    const bus = new EmbeddedBus();
    const hellos: AgentHello[] = [];
    bus.subscribe<AgentHello>(subjects.hello("edge-1"), (message) => {
      hellos.push(message.data);
      message.respond?.({ ok: true });
    });
    const agent = new Agent({
      id: "edge-1",
      bus,
      log: silentLogger,
      actions: [noopAction],
      labels: { role: "encoder" },
      heartbeatMs: 60_000,
    });
    agent.start();
    try {
      await until(() => (hellos.length === 1 ? true : undefined));
      const reply = await bus.request<{ ok: boolean }>(subjects.command("edge-1"), {
        kind: "hello",
      });
      expect(reply.ok).toBe(true);
      await until(() => (hellos.length === 2 ? true : undefined));
      expect(hellos[1]).toMatchObject({
        agentId: "edge-1",
        labels: { role: "encoder" },
        capabilities: ["noop"],
      });
    } finally {
      await agent.stop();
      await bus.close();
    }
  });
});
