/**
 * XState inspection (the Stately inspector): EngineOptions.inspect receives the
 * inspection events of every actor the engine creates, and FW_INSPECT streams them
 * to a Stately inspector's WebSocket with @statelyai/inspect.
 */
import { rmSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import type { InspectionEvent } from "xstate";
import { loadConfig } from "../../../src/config";
import { ConfigError } from "../../../src/errors";
import { silentLogger } from "../../../src/log";
import { startServer } from "../../../src/main";
import { startTestEngine, TENANT, type TestEngine, tempDir } from "../../helpers/engine";
import { until } from "../../helpers/until";

let t: TestEngine | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

/** The state value of a snapshot inspection event's snapshot. */
function stateOf(snapshot: unknown): unknown {
  return (snapshot as { value?: unknown }).value;
}

/** The machine (task, lane, ...) of the actor an inspection event is about. */
function machineOf(event: InspectionEvent): string | undefined {
  return (event.actorRef as unknown as { logic?: { id?: string } }).logic?.id;
}

function taskIdOf(event: InspectionEvent): number | undefined {
  const snapshot = event.actorRef.getSnapshot() as { context?: { id?: unknown } };
  return typeof snapshot?.context?.id === "number" ? snapshot.context.id : undefined;
}

describe("EngineOptions.inspect", () => {
  it("receives @xstate.event and @xstate.snapshot events for a task's transitions", async () => {
    const events: InspectionEvent[] = [];
    t = await startTestEngine({ engine: { inspect: (event) => events.push(event) } });
    const task = await t.engine.submit({ tenant: TENANT, actions: [{ type: "noop" }] });
    await t.waitFor(task.id, ["done"]);
    const own = events.filter((e) => machineOf(e) === "task" && taskIdOf(e) === task.id);
    const received = own.flatMap((e) => (e.type === "@xstate.event" ? [e.event.type] : []));
    expect(received).toEqual(expect.arrayContaining(["DISPATCH", "ACTION_DONE"]));
    const states = own.flatMap((e) =>
      e.type === "@xstate.snapshot" ? [JSON.stringify(stateOf(e.snapshot))] : [],
    );
    expect(states).toContain(JSON.stringify("dispatched"));
    expect(states).toContain(JSON.stringify("done"));
    // The snapshot event carries the event that caused it.
    const done = own.find((e) => e.type === "@xstate.snapshot" && stateOf(e.snapshot) === "done");
    expect(done?.type === "@xstate.snapshot" && done.event.type).toBe("ACTION_DONE");
  });

  it("inspects every kind of actor: tasks, lanes, batches, schedules, jobs and agents", async () => {
    const machines = new Set<string>();
    t = await startTestEngine({
      engine: {
        workflowFiles: [
          {
            source: "one.yaml",
            value: { name: "one", steps: [{ name: "say", action: "noop", params: {} }] },
          },
        ],
        inspect: {
          next: (event) => {
            const machine = machineOf(event);
            if (machine) machines.add(machine);
          },
        },
      },
    });
    const { tasks } = await t.engine.submitBatch(TENANT, [
      { lane: "one", actions: [{ type: "noop" }] },
      { lane: "one", actions: [{ type: "noop" }] },
    ]);
    for (const task of tasks) await t.waitFor(task.id, ["done"]);
    await t.engine.periodic.create(TENANT, { command: "true", everyMs: 3_600_000 });
    await t.engine.jobs.create(TENANT, { workflow: "one", parameters: {} });
    // The embedded agent's hello makes its actor.
    await until(() => (machines.has("agent") ? true : undefined), 5_000);
    expect([...machines].sort()).toEqual(["agent", "batch", "job", "lane", "schedule", "task"]);
  });
});

describe("FW_INSPECT", () => {
  it("is off unless set, and must be a WebSocket URL", () => {
    expect(loadConfig({}).inspect).toBeNull();
    expect(loadConfig({ FW_INSPECT: "" }).inspect).toBeNull();
    expect(loadConfig({ FW_INSPECT: "ws://127.0.0.1:8081" }).inspect).toBe("ws://127.0.0.1:8081");
    expect(() => loadConfig({ FW_INSPECT: "http://stately.ai" })).toThrow(ConfigError);
  });

  it("streams the engine's inspection events to a Stately inspector's WebSocket", async () => {
    const received: { type?: string; event?: { type?: string } }[] = [];
    const receiver = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (request, server) =>
        server.upgrade(request) ? undefined : new Response("upgrade", { status: 426 }),
      websocket: {
        message: (_socket, message) => {
          received.push(JSON.parse(String(message)));
        },
      },
    });
    const dir = tempDir();
    const server = await startServer(
      loadConfig({
        FW_DATA_DIR: dir,
        FW_API_KEYS: "test:key",
        FW_INSPECT: `ws://127.0.0.1:${receiver.port}`,
        PORT: "0",
        HOST: "127.0.0.1",
      }),
      { log: silentLogger },
    );
    server.listen();
    try {
      const task = await server.engine.submit({ tenant: "test", actions: [{ type: "noop" }] });
      await until(async () => {
        const view = await server.engine.get("test", task.id);
        return view.status === "done" ? true : undefined;
      });
      await until(() =>
        received.some((e) => e.type === "@xstate.event" && e.event?.type === "ACTION_DONE")
          ? true
          : undefined,
      );
      const types = new Set(received.map((e) => e.type));
      expect(types).toContain("@xstate.actor");
      expect(types).toContain("@xstate.snapshot");
    } finally {
      await server.stop();
      receiver.stop(true);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
