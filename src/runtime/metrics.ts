/**
 * The engine's Prometheus metrics (prom-client). One collector per server, with its
 * own registry, fed from the outside:
 *
 * - every committed state change, as published on `fw.events.>` (`observeEvent`):
 *   events by kind, task transitions by state, tasks now in each active state, and the
 *   latencies of a task's life (ready→dispatched, dispatched→running, running→final)
 *   from the events' timestamps;
 * - every store commit (`instrumentStore` wraps the store the engine writes through):
 *   rows per commit and commit latency;
 * - every HTTP request (`observeRequest`, by route template, never the raw path);
 * - every bus reconnect (`busReconnected`);
 * - at scrape time, the engine's own numbers (`watchEngine`: agents by status, live
 *   tasks, timers, the last commit's size, store health).
 *
 * Memory stays bounded: a task is followed only while it is due and not finished
 * (ready, dispatched, running, paused, cancelling), at most `maxTrackedTasks` at once
 * (the oldest is dropped beyond); a scheduled task costs nothing here.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { type EntityEvent, EntityKind, FINAL_TASK_STATES } from "../protocol";
import { commitRows } from "../store/group-commit";
import type { CommitSet, Store } from "../store/store";
import type { AgentView, EngineStats } from "./commands";

/** What the collector reads from the engine at scrape time. */
export interface MetricsSource {
  stats(): EngineStats;
  agents(): readonly AgentView[];
}

export interface MetricsOptions {
  /** prom-client's process metrics (CPU, memory, event loop, GC). @default true */
  readonly processMetrics?: boolean;
  /** Most tasks followed at once for latencies and active counts. @default 100000 */
  readonly maxTrackedTasks?: number;
}

/** The states a task is followed in: due, not finished. */
const ACTIVE_STATES = ["ready", "dispatched", "running", "paused", "cancelling"] as const;
const TASK_STATES = new Set<string>(["scheduled", ...ACTIVE_STATES, ...FINAL_TASK_STATES]);
const FINAL = new Set<string>(FINAL_TASK_STATES);
const ACTIVE = new Set<string>(ACTIVE_STATES);
const HTTP_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
/** Event names become label values: anything unexpected is folded into one. */
const EVENT_NAME = /^[A-Za-z][A-Za-z0-9_]{0,39}$/;

const LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];
const RUN_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600];
const COMMIT_ROW_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
const COMMIT_SECONDS_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];
/** An action type as a label value: short and plain, or it counts as `unknown`. */
const ACTION_TYPE = /^[a-z][a-z0-9-]{0,39}$/;
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface TrackedTask {
  state: string;
  /** When it last became ready (ms, the engine's clock). */
  readyAt?: number;
  dispatchedAt?: number;
  /** When it first ran since it last became due. */
  runningAt?: number;
}

export class EngineMetrics {
  readonly registry = new Registry();
  private source: MetricsSource | null = null;
  private busState: (() => boolean) | null = null;
  private readonly tracked = new Map<string, TrackedTask>();
  private readonly maxTracked: number;

  private readonly events: Counter<"kind" | "event">;
  private readonly transitions: Counter<"state" | "kind">;
  private readonly active: Gauge<"state">;
  private readonly dispatchLatency: Histogram;
  private readonly startLatency: Histogram;
  private readonly runDuration: Histogram<"state">;
  private readonly commitSize: Histogram;
  private readonly commitLatency: Histogram;
  private readonly commitFailures: Counter;
  private readonly reconnects: Counter;
  private readonly httpRequests: Counter<"method" | "route" | "status">;
  private readonly httpDuration: Histogram<"method" | "route">;

  constructor(options: MetricsOptions = {}) {
    this.maxTracked = options.maxTrackedTasks ?? 100_000;
    const registers = [this.registry];
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });

    this.events = new Counter({
      name: "fleetwork_events_total",
      help: "State changes published, by entity kind and event",
      labelNames: ["kind", "event"],
      registers,
    });
    this.transitions = new Counter({
      name: "fleetwork_task_transitions_total",
      help: "Tasks entering each state (the task events' top-level state), by the kind of action they run",
      labelNames: ["state", "kind"],
      registers,
    });
    this.active = new Gauge({
      name: "fleetwork_tasks_active",
      help: "Tasks due and not finished, by state (followed since the engine started)",
      labelNames: ["state"],
      registers,
    });
    for (const state of ACTIVE_STATES) this.active.set({ state }, 0);
    this.dispatchLatency = new Histogram({
      name: "fleetwork_task_dispatch_latency_seconds",
      help: "From ready to dispatched: waiting for its lane slot and agent",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.startLatency = new Histogram({
      name: "fleetwork_task_start_latency_seconds",
      help: "From dispatched to running: until the agent reports the start",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.runDuration = new Histogram({
      name: "fleetwork_task_run_duration_seconds",
      help: "From the first start since the task became due to its final state",
      labelNames: ["state"],
      buckets: RUN_BUCKETS,
      registers,
    });
    this.commitSize = new Histogram({
      name: "fleetwork_store_commit_rows",
      help: "Rows written per group commit",
      buckets: COMMIT_ROW_BUCKETS,
      registers,
    });
    this.commitLatency = new Histogram({
      name: "fleetwork_store_commit_duration_seconds",
      help: "Time of one group commit (one transaction, one sync)",
      buckets: COMMIT_SECONDS_BUCKETS,
      registers,
    });
    this.commitFailures = new Counter({
      name: "fleetwork_store_commit_failures_total",
      help: "Group commits the store refused",
      registers,
    });
    this.reconnects = new Counter({
      name: "fleetwork_bus_reconnects_total",
      help: "Times the NATS connection came back after losing its server",
      registers,
    });
    this.httpRequests = new Counter({
      name: "fleetwork_http_requests_total",
      help: "HTTP requests answered, by method, route template and status",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.httpDuration = new Histogram({
      name: "fleetwork_http_request_duration_seconds",
      help: "HTTP request duration, by method and route template",
      labelNames: ["method", "route"],
      buckets: HTTP_BUCKETS,
      registers,
    });

    // Read from the engine at scrape time.
    const read = <T>(get: (source: MetricsSource) => T): T | undefined =>
      this.source === null ? undefined : get(this.source);
    new Gauge({
      name: "fleetwork_agents",
      help: "Agents known to the engine, by status",
      labelNames: ["status"],
      registers,
      collect() {
        const agents = read((source) => source.agents()) ?? [];
        const online = agents.filter((agent) => agent.status === "online").length;
        this.set({ status: "online" }, online);
        this.set({ status: "offline" }, agents.length - online);
      },
    });
    const stat = (name: string, help: string, value: (stats: EngineStats) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const stats = read((source) => source.stats());
          if (stats !== undefined) this.set(value(stats));
        },
      });
    stat("fleetwork_engine_live_tasks", "Task actors in memory", (s) => s.liveTasks);
    stat("fleetwork_engine_timers", "Timers armed in the timer service", (s) => s.timers);
    stat(
      "fleetwork_engine_passivated_wakeups",
      "Passivated tasks waiting in the timer index",
      (s) => s.passivatedWakeups,
    );
    stat(
      "fleetwork_store_last_commit_rows",
      "Rows of the last group commit",
      (s) => s.lastCommitBatch,
    );
    stat(
      "fleetwork_store_up",
      "1 while the store takes writes, 0 while it refuses them (the engine answers 503)",
      (s) => (s.storeFailure === null ? 1 : 0),
    );
    new Counter({
      name: "fleetwork_tasks_submitted_total",
      help: "Tasks submitted since the engine started",
      registers,
      collect() {
        const stats = read((source) => source.stats());
        if (stats === undefined) return;
        this.reset();
        this.inc(stats.submitted);
      },
    });
    const busState = () => this.busState;
    new Gauge({
      name: "fleetwork_bus_connected",
      help: "1 while the bus is connected (the embedded bus always is)",
      registers,
      collect() {
        const connected = busState();
        if (connected !== null) this.set(connected() ? 1 : 0);
      },
    });
  }

  /** The Prometheus text format's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric, in the Prometheus text format. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** Reads the engine's numbers at each scrape. */
  watchEngine(source: MetricsSource): void {
    this.source = source;
  }

  /** Reads whether the bus is connected at each scrape. */
  watchBus(connected: () => boolean): void {
    this.busState = connected;
  }

  /** How many tasks are followed now (bounded by `maxTrackedTasks`). */
  get trackedTasks(): number {
    return this.tracked.size;
  }

  /** One committed state change (the payload of `fw.events.<kind>.<id>.<event>`). */
  observeEvent(event: EntityEvent): void {
    const name = EVENT_NAME.test(event.event) ? event.event : "other";
    this.events.inc({ kind: String(event.kind), event: name });
    if (event.kind === EntityKind.Task && TASK_STATES.has(event.event)) {
      const type = (event.data as { actionType?: unknown } | undefined)?.actionType;
      const kind = typeof type === "string" && ACTION_TYPE.test(type) ? type : "unknown";
      this.observeTask(String(event.id), event.event, event.at, kind);
    } else if (event.kind === EntityKind.Task && event.event === "cleaned") {
      this.forget(String(event.id));
    }
  }

  observeCommit(rows: number, seconds: number): void {
    this.commitSize.observe(rows);
    this.commitLatency.observe(seconds);
  }

  commitFailed(): void {
    this.commitFailures.inc();
  }

  busReconnected(): void {
    this.reconnects.inc();
  }

  /** One answered HTTP request; `route` is the route template (`/tasks/:id`). */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const upper = method.toUpperCase();
    const labels = { method: HTTP_METHODS.has(upper) ? upper : "OTHER", route };
    this.httpRequests.inc({ ...labels, status: String(status) });
    this.httpDuration.observe(labels, seconds);
  }

  private observeTask(id: string, state: string, at: number, kind: string): void {
    const entry = this.tracked.get(id);
    // A change inside a state (running.executing → running.waitingForConclude).
    if (entry !== undefined && entry.state === state) return;
    this.transitions.inc({ state, kind });
    if (!ACTIVE.has(state)) {
      // Final, or scheduled again (retry backoff, re-armed): no longer followed.
      if (entry === undefined) return;
      if (FINAL.has(state) && entry.runningAt !== undefined) {
        this.runDuration.observe({ state }, seconds(at - entry.runningAt));
      }
      this.forget(id);
      return;
    }
    const previous = entry?.state;
    const task = entry ?? this.follow(id, state);
    if (entry !== undefined) {
      this.active.dec({ state: entry.state });
      this.active.inc({ state });
      entry.state = state;
    }
    if (state === "ready") {
      task.readyAt = at;
    } else if (state === "dispatched") {
      if (task.readyAt !== undefined) this.dispatchLatency.observe(seconds(at - task.readyAt));
      task.readyAt = undefined;
      task.dispatchedAt = at;
    } else if (state === "running") {
      if (previous === "dispatched" && task.dispatchedAt !== undefined) {
        this.startLatency.observe(seconds(at - task.dispatchedAt));
      }
      task.dispatchedAt = undefined;
      task.runningAt ??= at;
    }
  }

  private follow(id: string, state: string): TrackedTask {
    if (this.tracked.size >= this.maxTracked) {
      // The oldest followed task makes room (Map keeps insertion order).
      const oldest = this.tracked.keys().next().value;
      if (oldest !== undefined) this.forget(oldest);
    }
    const task: TrackedTask = { state };
    this.tracked.set(id, task);
    this.active.inc({ state });
    return task;
  }

  private forget(id: string): void {
    const entry = this.tracked.get(id);
    if (entry === undefined) return;
    this.tracked.delete(id);
    this.active.dec({ state: entry.state });
  }
}

function seconds(ms: number): number {
  return Math.max(0, ms) / 1000;
}

/** What `instrumentStore` reports to. */
export interface CommitObserver {
  observeCommit(rows: number, seconds: number): void;
  commitFailed(): void;
}

/**
 * The store with its `commit` timed: rows and latency of every group commit go to
 * `observer`. Everything else is the store itself.
 */
export function instrumentStore(store: Store, observer: CommitObserver): Store {
  const commit = async (set: CommitSet): Promise<void> => {
    const started = performance.now();
    try {
      await store.commit(set);
    } catch (error) {
      observer.commitFailed();
      throw error;
    }
    observer.observeCommit(commitRows(set), (performance.now() - started) / 1000);
  };
  return new Proxy(store, {
    get(target, property) {
      if (property === "commit") return commit;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
