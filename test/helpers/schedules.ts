/**
 * A schedule host for tests, without the engine: real SQLite in a temp dir, the real
 * group-commit writer, journal and embedded bus, the timer service on a simulated
 * clock, and recorded callbacks in place of the engine's agents and exec tasks.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { EmbeddedBus } from "../../src/bus";
import { SimulatedClock } from "../../src/clock";
import { silentLogger } from "../../src/log";
import { Journal } from "../../src/runtime/journal";
import {
  type FinishedTask,
  type RunRequest,
  scheduleRef,
} from "../../src/runtime/schedule-records";
import { Schedules } from "../../src/runtime/schedules";
import { TimerService } from "../../src/runtime/timer-service";
import { GroupCommitWriter } from "../../src/store/group-commit";
import { SqliteStore } from "../../src/store/sqlite-store";
import { tempDir } from "./engine";

/** 2026-01-01T00:00:00Z, the SimulatedClock's default start. */
export const T0 = Date.UTC(2026, 0, 1);

export interface StartedRun {
  readonly schedule: RunRequest;
  readonly agentId: string;
  readonly taskId: number;
  /** Offset from T0 when the run started. */
  readonly at: number;
}

export interface Agent {
  readonly id: string;
  readonly labels: Record<string, string>;
}

export interface ScheduleHarness {
  readonly schedules: Schedules;
  readonly clock: SimulatedClock;
  readonly store: SqliteStore;
  readonly bus: EmbeddedBus;
  readonly dir: string;
  /** The agents `onlineAgents` reports; change it freely. */
  agents: Agent[];
  /** Every run the host asked for, in order. */
  readonly started: StartedRun[];
  /** `runOn` answers with this; replace it to delay or fail submissions. */
  runOn: (schedule: RunRequest, agentId: string, taskId: number) => Promise<number>;
  /** Moves the clock and lets the runs the ticks started be submitted. */
  advance(ms: number): Promise<void>;
  /** Hands the host a finished exec task for `run`, as the engine would. */
  finish(run: StartedRun, result?: Partial<ExecResult> & { outcome?: string }): void;
  /** Events published on the bus for schedules: `<event>` per committed change. */
  readonly events: string[];
  stop(options?: { keepDir?: boolean }): Promise<void>;
}

export interface ExecResult {
  readonly ok: boolean;
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Lets queued microtasks, resolved promises and the writer's setImmediate run. */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function startScheduleHarness(
  options: {
    dir?: string;
    now?: number;
    /** Restore the schedules stored in `dir` (a restart). */
    restore?: boolean;
    /** Task ids handed out start here (after a restart, past the earlier ones). */
    firstTaskId?: number;
  } = {},
): Promise<ScheduleHarness> {
  const dir = options.dir ?? tempDir("fw-schedules-");
  const clock = new SimulatedClock(options.now ?? T0);
  const store = new SqliteStore(join(dir, "fleetwork.db"));
  await store.migrate();
  const bus = new EmbeddedBus();
  const counters = await store.counters();
  let journal: Journal | undefined;
  const writer = new GroupCommitWriter(store, {
    log: silentLogger,
    onCommitted: (set) => journal?.publishCommitted(set.events),
  });
  journal = new Journal(writer, bus, counters.eventSeq);
  const timers = new TimerService(clock);
  const events: string[] = [];
  const subscription = bus.subscribe("fw.events.schedule.>", (message) => {
    events.push(message.subject.split(".").at(-1) ?? "");
  });
  let nextTaskId = options.firstTaskId ?? 1;
  const schedules = new Schedules({
    timers,
    clock,
    writer,
    journal,
    store,
    log: silentLogger,
    callbacks: {
      onlineAgents: () => harness.agents,
      runOn: (schedule, agentId) => {
        const taskId = nextTaskId++;
        harness.started.push({ schedule, agentId, taskId, at: clock.now() - T0 });
        return harness.runOn(schedule, agentId, taskId);
      },
    },
  });
  const harness: ScheduleHarness = {
    schedules,
    clock,
    store,
    bus,
    dir,
    agents: [],
    started: [],
    events,
    runOn: async (_schedule, _agentId, taskId) => taskId,
    async advance(ms) {
      clock.advance(ms);
      await settle();
    },
    finish(run, result = {}) {
      const outcome = result.outcome ?? (result.ok === false ? "failed" : "succeeded");
      const task: FinishedTask = {
        refId: scheduleRef(run.schedule.id),
        agentId: run.agentId,
        outcome,
        results: [
          {
            ok: result.ok ?? outcome === "succeeded",
            exitCode: result.exitCode ?? 0,
            stdout: result.stdout ?? "",
            stderr: result.stderr ?? "",
          },
        ],
        error: null,
        finishedAt: clock.now(),
      };
      harness.schedules.taskFinished(run.taskId, task);
    },
    async stop({ keepDir = false } = {}) {
      harness.schedules.stop();
      timers.stop();
      await writer.close();
      subscription.unsubscribe();
      await bus.close();
      await store.close();
      if (!keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
  if (options.restore) schedules.restore(await store.schedules());
  return harness;
}
