/**
 * What the statechart visualizer (`/debug`) reads: the machines as graphs, and a
 * client's actors (tasks, lanes, jobs, batches, periodic commands, agents) page by page, each with its current state,
 * the commands it accepts now and its history from the journal.
 */
import {
  agentMachine,
  batchMachine,
  jobMachine,
  laneMachine,
  scheduleMachine,
  taskMachine,
} from "../../machines";
import { NotFoundError } from "../errors";
import type { Store } from "../store/store";
import type { AgentView } from "./commands";
import type { Engine } from "./engine";
import { type MachineGraph, machineGraph } from "./machine-graph";
import type { ScheduleView } from "./schedule-records";

type LaneView = ReturnType<Engine["laneViews"]>[number];

export type ActorKind = "task" | "lane" | "job" | "batch" | "schedule" | "agent";

export interface ActorSummary {
  readonly kind: ActorKind;
  readonly id: string;
  readonly name: string;
  /** The state path in its machine: `running.executing`. */
  readonly state: string;
  readonly updatedAt: number;
}

export interface ActorDetail extends ActorSummary {
  /** Client commands it accepts now (task actors; buttons call the native API). */
  readonly accepts: readonly string[];
  readonly fields: Readonly<Record<string, unknown>>;
  /** Its journal, newest first. */
  readonly history: readonly {
    readonly seq: number;
    readonly at: number;
    readonly event: string;
    readonly state: string;
  }[];
}

export interface ActorQuery {
  readonly kind: ActorKind;
  readonly state?: string;
  /** Case-insensitive substring of the id or name. */
  readonly q?: string;
  readonly offset: number;
  readonly limit: number;
}

const HISTORY = 200;
/** How far back a listing reaches (newest first). */
const WINDOW = 20_000;

export class Inspection {
  private readonly graphs: Readonly<Record<ActorKind, MachineGraph>> = {
    task: machineGraph(taskMachine),
    lane: machineGraph(laneMachine),
    job: machineGraph(jobMachine),
    batch: machineGraph(batchMachine),
    schedule: machineGraph(scheduleMachine),
    agent: machineGraph(agentMachine),
  };

  constructor(
    private readonly engine: Pick<
      Engine,
      "get" | "list" | "agents" | "getBatch" | "listBatches" | "jobs" | "periodic" | "laneViews"
    >,
    private readonly store: Pick<Store, "entityEvents">,
  ) {}

  machines(): Readonly<Record<ActorKind, MachineGraph>> {
    return this.graphs;
  }

  async actors(
    tenant: string,
    query: ActorQuery,
  ): Promise<{ readonly items: ActorSummary[]; readonly total: number }> {
    const all = await this.summaries(tenant, query);
    const needle = query.q?.toLowerCase();
    const matching = all.filter(
      (actor) =>
        (query.state === undefined ||
          actor.state === query.state ||
          actor.state.startsWith(`${query.state}.`)) &&
        (needle === undefined ||
          actor.id.toLowerCase().includes(needle) ||
          actor.name.toLowerCase().includes(needle)),
    );
    return {
      items: matching.slice(query.offset, query.offset + query.limit),
      total: matching.length,
    };
  }

  async actor(tenant: string, kind: ActorKind, id: string): Promise<ActorDetail> {
    const events = await this.store.entityEvents(kind, id, HISTORY);
    const history = events
      .filter((e) => e.tenant === tenant || kind === "agent")
      .map((e) => ({ seq: e.seq, at: e.at, event: e.event, state: e.state }));
    if (kind === "task") {
      const view = await this.engine.get(tenant, Number(id));
      return {
        kind,
        id,
        name: view.name,
        state: view.state,
        updatedAt: view.updatedAt,
        accepts: view.accepts,
        fields: {
          agent: view.agentId,
          lane: view.lane,
          action: `${view.currentActionIdx + 1} of ${view.actions.length}`,
          attempt: view.attempt,
          execId: view.execId,
          error: view.error,
          outcome: view.outcome,
        },
        history,
      };
    }
    if (kind === "job") {
      const job = await this.engine.jobs.find(tenant, Number(id));
      if (!job) throw new NotFoundError("job", id);
      return {
        kind,
        id,
        name: job.workflow,
        state: job.state,
        updatedAt: job.updatedAt,
        accepts: [],
        fields: { priority: job.priority, step: job.currentStep, failed: job.failed },
        history,
      };
    }
    if (kind === "lane") {
      const lane = this.engine.laneViews(tenant).find((l) => l.key === id);
      if (!lane) throw new NotFoundError("lane", id);
      return {
        ...laneSummary(lane),
        accepts: [],
        fields: { running: lane.running, queued: lane.queued, shared: lane.shared },
        history,
      };
    }
    if (kind === "batch") {
      const batch = await this.engine.getBatch(tenant, Number(id));
      return {
        kind,
        id,
        name: batch.kind || "batch",
        state: batch.status,
        updatedAt: batch.finishedAt ?? batch.createdAt,
        accepts: [],
        fields: { tasks: batch.taskIds.length, counts: batch.counts },
        history,
      };
    }
    if (kind === "schedule") {
      const schedule = await this.engine.periodic.get(tenant, id);
      return {
        ...scheduleSummary(schedule),
        accepts: [],
        fields: { command: schedule.command, ticks: schedule.ticks, nextAt: schedule.nextAt },
        history,
      };
    }
    const agent = this.engine.agents().find((a) => a.id === id);
    if (!agent) throw new NotFoundError("agent", id);
    return { ...agentSummary(agent), accepts: [], fields: { labels: agent.labels }, history };
  }

  private async summaries(tenant: string, query: ActorQuery): Promise<ActorSummary[]> {
    if (query.kind === "agent") return this.engine.agents().map(agentSummary);
    if (query.kind === "lane") return this.engine.laneViews(tenant).map(laneSummary);
    if (query.kind === "schedule")
      return (await this.engine.periodic.list(tenant)).map(scheduleSummary);
    if (query.kind === "batch") {
      const batches = await this.engine.listBatches(tenant, { limit: WINDOW });
      const others = await Promise.all(
        ["hostTask", "xina"].map((kind) =>
          this.engine.listBatches(tenant, { kind, limit: WINDOW }),
        ),
      );
      return [...batches, ...others.flat()]
        .sort((a, b) => b.id - a.id)
        .map((batch) => ({
          kind: "batch" as const,
          id: String(batch.id),
          name: batch.kind || "batch",
          state: batch.status,
          updatedAt: batch.finishedAt ?? batch.createdAt,
        }));
    }
    if (query.kind === "job") {
      const jobs = await this.engine.jobs.list({
        client: tenant,
        orderBy: "id",
        ascending: false,
        limit: WINDOW,
      });
      return jobs.map((job) => ({
        kind: "job" as const,
        id: String(job.id),
        name: job.workflow,
        state: job.state,
        updatedAt: job.updatedAt,
      }));
    }
    const top = query.state?.split(".")[0];
    const tasks = await this.engine.list(tenant, {
      ...(top === undefined ? {} : { status: [top] }),
      limit: WINDOW,
    });
    return tasks.map((task) => ({
      kind: "task" as const,
      id: String(task.id),
      name: task.name,
      state: task.state,
      updatedAt: task.updatedAt,
    }));
  }
}

function laneSummary(lane: LaneView): ActorSummary {
  return {
    kind: "lane",
    id: lane.key,
    name: lane.shared ? `${lane.key} (shared)` : lane.key,
    state: lane.state,
    updatedAt: lane.updatedAt,
  };
}

function scheduleSummary(schedule: ScheduleView): ActorSummary {
  return {
    kind: "schedule",
    id: schedule.id,
    name: schedule.command,
    state: schedule.state,
    updatedAt: schedule.lastTickAt ?? schedule.nextAt ?? 0,
  };
}

function agentSummary(agent: AgentView): ActorSummary {
  return {
    kind: "agent",
    id: agent.id,
    name: agent.id,
    state: agent.status,
    updatedAt: agent.lastSeenAt,
  };
}
