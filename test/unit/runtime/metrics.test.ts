import { describe, expect, it } from "vitest";
import type { EntityEvent } from "../../../src/protocol";
import type { AgentView, EngineStats } from "../../../src/runtime/commands";
import { EngineMetrics, instrumentStore } from "../../../src/runtime/metrics";
import type { CommitSet, Store } from "../../../src/store/store";
import { sample } from "../../helpers/prometheus";

let seq = 0;
function task(id: number, event: string, at: number, state = event): EntityEvent {
  return { seq: ++seq, kind: "task", id: String(id), event, state, at };
}

function metrics(options: ConstructorParameters<typeof EngineMetrics>[0] = {}) {
  return new EngineMetrics({ processMetrics: false, ...options });
}

describe("EngineMetrics fed with task events", () => {
  it("counts transitions by state and events by kind, once per top-level state", async () => {
    const m = metrics();
    m.observeEvent(task(1, "ready", 1_000));
    m.observeEvent(task(1, "dispatched", 1_010));
    m.observeEvent(task(1, "running", 1_030, "running.executing"));
    // A change inside running is the same top-level state: not a new transition.
    m.observeEvent(task(1, "running", 1_040, "running.waitingForConclude"));
    m.observeEvent(task(1, "done", 2_030));
    m.observeEvent({ seq: ++seq, kind: "job", id: "7", event: "running", state: "running", at: 1 });
    m.observeEvent({ seq: ++seq, kind: "agent", id: "a", event: "online", state: "online", at: 1 });
    m.observeEvent({ seq: ++seq, kind: "agent", id: "a", event: "we ird!", state: "x", at: 1 });
    const text = await m.metrics();
    for (const state of ["ready", "dispatched", "running", "done"]) {
      expect(sample(text, "fleetwork_task_transitions_total", { state, kind: "unknown" })).toBe(1);
    }
    expect(sample(text, "fleetwork_events_total", { kind: "task", event: "running" })).toBe(2);
    expect(sample(text, "fleetwork_events_total", { kind: "job", event: "running" })).toBe(1);
    expect(sample(text, "fleetwork_events_total", { kind: "agent", event: "online" })).toBe(1);
    // Odd event names do not become label values.
    expect(sample(text, "fleetwork_events_total", { kind: "agent", event: "other" })).toBe(1);
  });

  it("measures ready→dispatched, dispatched→running and running→final from the timestamps", async () => {
    const m = metrics();
    m.observeEvent(task(1, "ready", 1_000));
    m.observeEvent(task(1, "dispatched", 1_004)); // 4 ms
    m.observeEvent(task(1, "running", 1_024)); // 20 ms
    m.observeEvent(task(1, "done", 1_724)); // 0.7 s
    m.observeEvent(task(2, "ready", 2_000));
    m.observeEvent(task(2, "dispatched", 2_300)); // 300 ms
    m.observeEvent(task(2, "running", 2_400)); // 100 ms
    m.observeEvent(task(2, "failed", 5_400)); // 3 s
    const text = await m.metrics();

    const dispatch = "fleetwork_task_dispatch_latency_seconds";
    expect(sample(text, `${dispatch}_count`)).toBe(2);
    expect(sample(text, `${dispatch}_sum`)).toBeCloseTo(0.304, 6);
    expect(sample(text, `${dispatch}_bucket`, { le: "0.005" })).toBe(1);
    expect(sample(text, `${dispatch}_bucket`, { le: "0.25" })).toBe(1);
    expect(sample(text, `${dispatch}_bucket`, { le: "0.5" })).toBe(2);
    expect(sample(text, `${dispatch}_bucket`, { le: "+Inf" })).toBe(2);

    const start = "fleetwork_task_start_latency_seconds";
    expect(sample(text, `${start}_count`)).toBe(2);
    expect(sample(text, `${start}_sum`)).toBeCloseTo(0.12, 6);
    expect(sample(text, `${start}_bucket`, { le: "0.025" })).toBe(1);

    const run = "fleetwork_task_run_duration_seconds";
    expect(sample(text, `${run}_count`, { state: "done" })).toBe(1);
    expect(sample(text, `${run}_sum`, { state: "done" })).toBeCloseTo(0.7, 6);
    expect(sample(text, `${run}_count`, { state: "failed" })).toBe(1);
    expect(sample(text, `${run}_sum`, { state: "failed" })).toBeCloseTo(3, 6);
    expect(sample(text, `${run}_bucket`, { state: "failed", le: "2.5" })).toBe(0);
    expect(sample(text, `${run}_bucket`, { state: "failed", le: "5" })).toBe(1);
    // Finished tasks are not followed any more.
    expect(m.trackedTasks).toBe(0);
  });

  it("times each action of a multi-action task, and the run from the first start", async () => {
    const m = metrics();
    m.observeEvent(task(1, "ready", 0));
    m.observeEvent(task(1, "dispatched", 10));
    m.observeEvent(task(1, "running", 20));
    m.observeEvent(task(1, "ready", 120)); // next action
    m.observeEvent(task(1, "dispatched", 150));
    m.observeEvent(task(1, "running", 160));
    m.observeEvent(task(1, "paused", 200, "paused.suspended"));
    m.observeEvent(task(1, "running", 900)); // resumed: not a start
    m.observeEvent(task(1, "done", 1_020));
    const text = await m.metrics();
    expect(sample(text, "fleetwork_task_dispatch_latency_seconds_count")).toBe(2);
    expect(sample(text, "fleetwork_task_dispatch_latency_seconds_sum")).toBeCloseTo(0.04, 6);
    expect(sample(text, "fleetwork_task_start_latency_seconds_count")).toBe(2);
    expect(sample(text, "fleetwork_task_start_latency_seconds_sum")).toBeCloseTo(0.02, 6);
    expect(sample(text, "fleetwork_task_run_duration_seconds_sum", { state: "done" })).toBeCloseTo(
      1,
      6,
    );
    expect(
      sample(text, "fleetwork_task_transitions_total", { state: "running", kind: "unknown" }),
    ).toBe(3);
  });

  it("keeps tasks by active state, and forgets a task scheduled again or cleaned", async () => {
    const m = metrics();
    m.observeEvent(task(1, "ready", 0));
    m.observeEvent(task(2, "ready", 0));
    m.observeEvent(task(3, "ready", 0));
    m.observeEvent(task(2, "dispatched", 5));
    m.observeEvent(task(3, "dispatched", 5));
    m.observeEvent(task(3, "running", 6));
    let text = await m.metrics();
    expect(sample(text, "fleetwork_tasks_active", { state: "ready" })).toBe(1);
    expect(sample(text, "fleetwork_tasks_active", { state: "dispatched" })).toBe(1);
    expect(sample(text, "fleetwork_tasks_active", { state: "running" })).toBe(1);
    expect(sample(text, "fleetwork_tasks_active", { state: "paused" })).toBe(0);

    // Retry backoff: back to scheduled, no longer followed; its next run starts afresh.
    m.observeEvent(task(3, "scheduled", 50));
    m.observeEvent(task(2, "cleaned", 60, "dispatched"));
    text = await m.metrics();
    expect(sample(text, "fleetwork_tasks_active", { state: "running" })).toBe(0);
    expect(sample(text, "fleetwork_tasks_active", { state: "dispatched" })).toBe(0);
    expect(
      sample(text, "fleetwork_task_transitions_total", { state: "scheduled", kind: "unknown" }),
    ).toBe(1);
    expect(m.trackedTasks).toBe(1);

    m.observeEvent(task(3, "ready", 1_050));
    m.observeEvent(task(3, "dispatched", 1_060));
    text = await m.metrics();
    // 5 ms for tasks 2 and 3, then 10 ms for 3's retry: not measured from its first ready.
    expect(sample(text, "fleetwork_task_dispatch_latency_seconds_count")).toBe(3);
    expect(sample(text, "fleetwork_task_dispatch_latency_seconds_sum")).toBeCloseTo(0.02, 6);
  });

  it("follows at most maxTrackedTasks, dropping the oldest", async () => {
    const m = metrics({ maxTrackedTasks: 3 });
    for (let id = 1; id <= 5; id++) m.observeEvent(task(id, "ready", id));
    expect(m.trackedTasks).toBe(3);
    let text = await m.metrics();
    expect(sample(text, "fleetwork_tasks_active", { state: "ready" })).toBe(3);
    // Task 1 was dropped: its dispatch is counted but not timed.
    m.observeEvent(task(1, "dispatched", 100));
    m.observeEvent(task(5, "dispatched", 100));
    text = await m.metrics();
    expect(
      sample(text, "fleetwork_task_transitions_total", { state: "dispatched", kind: "unknown" }),
    ).toBe(2);
    expect(sample(text, "fleetwork_task_dispatch_latency_seconds_count")).toBe(1);
    expect(m.trackedTasks).toBe(3);
  });
});

describe("EngineMetrics read at scrape time and fed by the other layers", () => {
  const agent = (id: string, status: "online" | "offline"): AgentView => ({
    id,
    status,
    labels: {},
    capabilities: [],
    instances: [],
    version: "0",
    running: [],
    lastSeenAt: 0,
  });

  it("reads agents, engine stats and bus state from their sources at each scrape", async () => {
    const m = metrics();
    let stats: EngineStats = {
      liveTasks: 4,
      passivatedWakeups: 2,
      timers: 9,
      submitted: 12,
      finished: { done: 3 },
      commits: 7,
      lastCommitBatch: 15,
      storeFailure: null,
    };
    let agents = [agent("a", "online"), agent("b", "online"), agent("c", "offline")];
    let connected = true;
    m.watchEngine({ stats: () => stats, agents: () => agents });
    m.watchBus(() => connected);
    let text = await m.metrics();
    expect(sample(text, "fleetwork_agents", { status: "online" })).toBe(2);
    expect(sample(text, "fleetwork_agents", { status: "offline" })).toBe(1);
    expect(sample(text, "fleetwork_engine_live_tasks")).toBe(4);
    expect(sample(text, "fleetwork_engine_timers")).toBe(9);
    expect(sample(text, "fleetwork_store_last_commit_rows")).toBe(15);
    expect(sample(text, "fleetwork_store_up")).toBe(1);
    expect(sample(text, "fleetwork_tasks_submitted_total")).toBe(12);
    expect(sample(text, "fleetwork_bus_connected")).toBe(1);

    stats = { ...stats, submitted: 20, storeFailure: "disk full" };
    agents = [agent("a", "offline")];
    connected = false;
    m.busReconnected();
    m.busReconnected();
    text = await m.metrics();
    expect(sample(text, "fleetwork_agents", { status: "online" })).toBe(0);
    expect(sample(text, "fleetwork_agents", { status: "offline" })).toBe(1);
    expect(sample(text, "fleetwork_store_up")).toBe(0);
    expect(sample(text, "fleetwork_tasks_submitted_total")).toBe(20);
    expect(sample(text, "fleetwork_bus_connected")).toBe(0);
    expect(sample(text, "fleetwork_bus_reconnects_total")).toBe(2);
  });

  it("counts HTTP requests by method, route template and status", async () => {
    const m = metrics();
    m.observeRequest("GET", "/tasks/:id", 200, 0.002);
    m.observeRequest("get", "/tasks/:id", 200, 0.004);
    m.observeRequest("GET", "/tasks/:id", 404, 0.001);
    m.observeRequest("BREW", "unmatched", 404, 0.001);
    const text = await m.metrics();
    const requests = "fleetwork_http_requests_total";
    expect(sample(text, requests, { method: "GET", route: "/tasks/:id", status: "200" })).toBe(2);
    expect(sample(text, requests, { method: "GET", route: "/tasks/:id", status: "404" })).toBe(1);
    expect(sample(text, requests, { method: "OTHER", route: "unmatched", status: "404" })).toBe(1);
    const duration = "fleetwork_http_request_duration_seconds";
    expect(sample(text, `${duration}_count`, { method: "GET", route: "/tasks/:id" })).toBe(3);
    expect(sample(text, `${duration}_sum`, { method: "GET", route: "/tasks/:id" })).toBeCloseTo(
      0.007,
      6,
    );
  });

  it("times the store's commits and counts their rows and failures", async () => {
    const m = metrics();
    const committed: CommitSet[] = [];
    let fail = false;
    const fake = {
      kind: "sqlite" as const,
      async commit(set: CommitSet) {
        if (fail) throw new Error("disk full");
        committed.push(set);
      },
      async getMeta(key: string) {
        return `meta:${key}`;
      },
    } as unknown as Store;
    const store = instrumentStore(fake, m);
    const set = (tasks: number, events: number): CommitSet =>
      ({
        tasks: Array.from({ length: tasks }),
        lanes: [],
        batches: [],
        events: Array.from({ length: events }),
        meta: [],
        deletedTasks: [],
      }) as unknown as CommitSet;
    await store.commit(set(2, 2));
    await store.commit(set(30, 30));
    fail = true;
    await expect(store.commit(set(1, 1))).rejects.toThrow("disk full");
    // Everything but commit is the store itself.
    expect(store.kind).toBe("sqlite");
    expect(await store.getMeta("x")).toBe("meta:x");
    expect(committed).toHaveLength(2);
    const text = await m.metrics();
    expect(sample(text, "fleetwork_store_commit_rows_count")).toBe(2);
    expect(sample(text, "fleetwork_store_commit_rows_sum")).toBe(64);
    expect(sample(text, "fleetwork_store_commit_rows_bucket", { le: "5" })).toBe(1);
    expect(sample(text, "fleetwork_store_commit_rows_bucket", { le: "50" })).toBe(1);
    expect(sample(text, "fleetwork_store_commit_rows_bucket", { le: "100" })).toBe(2);
    expect(sample(text, "fleetwork_store_commit_duration_seconds_count")).toBe(2);
    expect(sample(text, "fleetwork_store_commit_failures_total")).toBe(1);
  });

  it("serves the Prometheus text content type, with prom-client's process metrics", async () => {
    const m = new EngineMetrics();
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await m.metrics();
    expect(text).toContain("# TYPE process_cpu_seconds_total counter");
    expect(text).toContain("# TYPE fleetwork_task_dispatch_latency_seconds histogram");
  });
});
