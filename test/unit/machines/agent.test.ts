/**
 * The agent machine: online while heartbeats come, offline after silence or goodbye.
 */
import { describe, expect, it, vi } from "vitest";
import { createActor } from "xstate";
import { type AgentContext, type AgentEvent, agentMachine } from "../../../machines";
import { expectRefused, sendNow, T0, TestClock, type Untimed } from "./helpers";

const TIMEOUT_MS = 30_000;

function startAgent(heartbeatTimeoutMs = TIMEOUT_MS) {
  const clock = new TestClock();
  const agentLost = vi.fn();
  const reconcile = vi.fn();
  const machine = agentMachine.provide({ actions: { agentLost, reconcile } });
  const actor = createActor(machine, {
    input: {
      id: "a1",
      labels: { zone: "eu" },
      capabilities: ["exec"],
      version: "1.0.0",
      heartbeatTimeoutMs,
      now: T0,
    },
    clock,
  });
  actor.start();
  const send = (event: Untimed<AgentEvent>) => sendNow(actor, clock, event);
  const value = () => actor.getSnapshot().value;
  const context = (): AgentContext => actor.getSnapshot().context;
  return { actor, clock, agentLost, reconcile, send, value, context };
}

const hello = {
  type: "HELLO",
  labels: { zone: "us" },
  capabilities: ["exec", "docker"],
  version: "1.1.0",
  running: ["x1"],
} as const;

describe("agent", () => {
  it("starts online with a deadline one timeout away", () => {
    const agent = startAgent();
    expect(agent.value()).toBe("online");
    expect(agent.context()).toMatchObject({ lastSeenAt: T0, offlineDeadline: T0 + TIMEOUT_MS });
  });

  it("heartbeats keep it online", () => {
    const agent = startAgent();
    for (let beat = 1; beat <= 10; beat++) {
      agent.clock.advance(TIMEOUT_MS - 1);
      agent.send({ type: "HEARTBEAT", running: [`x${beat}`] });
    }
    expect(agent.value()).toBe("online");
    expect(agent.agentLost).not.toHaveBeenCalled();
    expect(agent.context()).toMatchObject({
      lastSeenAt: T0 + 10 * (TIMEOUT_MS - 1),
      offlineDeadline: T0 + 10 * (TIMEOUT_MS - 1) + TIMEOUT_MS,
      running: ["x10"],
    });
  });

  it("silence past the timeout puts it offline and reports it lost", () => {
    const agent = startAgent();
    agent.send({ type: "HEARTBEAT", running: ["x1"] });
    agent.clock.advance(TIMEOUT_MS - 1);
    expect(agent.value()).toBe("online");
    agent.clock.advance(1);
    expect(agent.value()).toBe("offline");
    expect(agent.agentLost).toHaveBeenCalledTimes(1);
    expect(agent.context()).toMatchObject({ offlineDeadline: null, running: [] });
    expect(agent.clock.pending).toBe(0);
  });

  it("HELLO brings an offline agent back and reconciles its attempts", () => {
    const agent = startAgent();
    agent.clock.advance(TIMEOUT_MS);
    agent.clock.advance(5_000);
    agent.send(hello);
    expect(agent.value()).toBe("online");
    expect(agent.reconcile).toHaveBeenCalledTimes(1);
    expect(agent.context()).toMatchObject({
      labels: { zone: "us" },
      capabilities: ["exec", "docker"],
      version: "1.1.0",
      running: ["x1"],
      lastSeenAt: T0 + TIMEOUT_MS + 5_000,
    });
    agent.clock.advance(TIMEOUT_MS);
    expect(agent.value()).toBe("offline");
    expect(agent.agentLost).toHaveBeenCalledTimes(2);
  });

  it("a HEARTBEAT brings an offline agent back", () => {
    const agent = startAgent();
    agent.clock.advance(TIMEOUT_MS);
    agent.send({ type: "HEARTBEAT", running: [] });
    expect(agent.value()).toBe("online");
    expect(agent.context().offlineDeadline).toBe(T0 + 2 * TIMEOUT_MS);
    expect(agent.reconcile).not.toHaveBeenCalled();
  });

  it("HELLO while online reconciles and restarts the deadline", () => {
    const agent = startAgent();
    agent.clock.advance(20_000);
    agent.send(hello);
    expect(agent.reconcile).toHaveBeenCalledTimes(1);
    agent.clock.advance(TIMEOUT_MS - 1);
    expect(agent.value()).toBe("online");
    agent.clock.advance(1);
    expect(agent.value()).toBe("offline");
  });

  it("GOODBYE puts it offline at once", () => {
    const agent = startAgent();
    agent.send({ type: "HEARTBEAT", running: ["x1"] });
    agent.clock.advance(100);
    agent.send({ type: "GOODBYE" });
    expect(agent.value()).toBe("offline");
    expect(agent.agentLost).toHaveBeenCalledTimes(1);
    expect(agent.context()).toMatchObject({
      offlineDeadline: null,
      running: [],
      updatedAt: T0 + 100,
    });
    expect(agent.clock.pending).toBe(0);
  });

  it("refuses GOODBYE and REARM while offline", () => {
    const agent = startAgent();
    agent.send({ type: "GOODBYE" });
    expectRefused(agent.actor, { type: "GOODBYE", at: agent.clock.now() });
    expectRefused(agent.actor, { type: "REARM", at: agent.clock.now() });
  });

  it("a timeout of 0 never puts it offline", () => {
    const agent = startAgent(0);
    expect(agent.context().offlineDeadline).toBeNull();
    agent.clock.advance(365 * 24 * 3_600_000);
    expect(agent.value()).toBe("online");
  });

  it("REARM after a restore re-arms the deadline for exactly the time left", () => {
    const clock = new TestClock(T0 + 20_000);
    const agentLost = vi.fn();
    const machine = agentMachine.provide({ actions: { agentLost } });
    const context: AgentContext = {
      id: "a1",
      labels: {},
      capabilities: [],
      version: "1.0.0",
      heartbeatTimeoutMs: TIMEOUT_MS,
      lastSeenAt: T0,
      offlineDeadline: T0 + TIMEOUT_MS,
      running: [],
      updatedAt: T0,
    };
    const snapshot = machine.resolveState({ value: "online", context });
    const actor = createActor(machine, { snapshot, input: { ...context, now: T0 }, clock });
    actor.start();
    expect(clock.pending).toBe(0);
    actor.send({ type: "REARM", at: clock.now() });
    clock.advance(9_999);
    expect(actor.getSnapshot().value).toBe("online");
    clock.advance(1);
    expect(actor.getSnapshot().value).toBe("offline");
    expect(agentLost).toHaveBeenCalledTimes(1);
  });

  // Regression (fixed): the timeout's `xstate.after.*` event has no `at`, so `leave` stamps updatedAt
  // with the last heartbeat's time instead of the time the agent went offline.
  it("going offline by silence records when it happened", () => {
    const agent = startAgent();
    agent.clock.advance(TIMEOUT_MS);
    expect(agent.value()).toBe("offline");
    expect(agent.context().updatedAt).toBe(T0 + TIMEOUT_MS);
  });
});
