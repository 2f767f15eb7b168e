/**
 * The crash harness (issue 8, item 1): a real nats-server, the real engine as a child
 * process, real agent processes; a steady load through the HTTP APIs while the engine
 * is killed with SIGKILL at seeded random moments and restarted on the same data dir
 * and port; then the load stops, everything settles, and the figures are counted.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startAgentProcess } from "../helpers/agent-process";
import { tempDir } from "../helpers/engine";
import { type NatsServer, startNats } from "../helpers/nats";
import { AUTH, freePort, type ServerProcess } from "../helpers/server-process";
import { until } from "../helpers/until";
import { type CrashFigures, countFigures, type StoredTask } from "./crash-figures";
import { EngineGate } from "./engine-gate";
import { EngineStart } from "./engine-start";
import { readRunLog } from "./run-log";
import { SeededRandom } from "./seeded-random";
import { TaskLoad } from "./task-load";

export interface CrashHarnessOptions {
  /** Kills (and restarts) of the engine. */
  readonly rounds: number;
  /** Replays a run's kill moments and task mix. @default a fresh random seed */
  readonly seed?: number;
  /** @default 3 */
  readonly agents?: number;
  /**
   * When each kill comes: this long after the engine's (re)start was spawned, so some
   * land while it still starts (restoring its state) and most while it serves the
   * load; a quarter of the kills come instead within a second of the spawn. The first
   * kill counts from the moment the load begins. @default 300–4000 ms
   */
  readonly killDelayMs?: { readonly min: number; readonly max: number };
  /** @default 100 */
  readonly ratePerSecond?: number;
  /** How long, after the load stops, tasks may take to reach a final state. @default 60000 */
  readonly settleMs?: number;
  /** Progress lines. @default none */
  readonly progress?: (line: string) => void;
  /** Keep the run's dir (engine logs, run logs) even when every figure is fine. */
  readonly keepDir?: boolean;
}

export interface CrashRun {
  readonly seed: number;
  readonly rounds: number;
  readonly kills: number;
  /** Of the kills, those that came before the restarted engine answered HTTP. */
  readonly killsWhileStarting: number;
  /** Spawn to answering HTTP, for each restart that got that far. */
  readonly restartMs: readonly number[];
  /** How long tasks took to settle after the load stopped. */
  readonly settledInMs: number;
  readonly durationMs: number;
  readonly figures: CrashFigures;
  /** Where engine and run logs are, when kept (a failed run, or `keepDir`). */
  readonly dir: string | undefined;
}

/** True when a figure that must be 0 is not. */
export function crashRunFailed(run: CrashRun): boolean {
  const { figures } = run;
  return (
    figures.lost.length > 0 ||
    figures.doubleRuns.length > 0 ||
    figures.laneOverlaps.length > 0 ||
    figures.stuck.length > 0 ||
    figures.notDone.length > 0 ||
    figures.doneWithoutRun.length > 0 ||
    figures.runsOfUnknownTasks.length > 0
  );
}

const AGENT_HEARTBEAT_MS = 500;
const LIST_PAGE = 1000;
const ENGINE_READY_TIMEOUT_MS = 30_000;

/**
 * A kill within this long of a restart's spawn, now and then: the engine takes about
 * a second to answer, and its start (restoring state, re-arming timers, asking the
 * agents what they run) is where a crash is worth trying too.
 */
const EARLY_KILL_CHANCE = 0.25;
const EARLY_KILL_MS = { min: 50, max: 1_000 };

/** Stream of a seed for the kills, another for the load: the kill moments replay exactly. */
const LOAD_STREAM = 0x9e3779b9;

export async function runCrashHarness(options: CrashHarnessOptions): Promise<CrashRun> {
  const seed = options.seed ?? SeededRandom.newSeed();
  const killRandom = new SeededRandom(seed);
  const loadRandom = new SeededRandom((seed ^ LOAD_STREAM) >>> 0);
  const killDelay = options.killDelayMs ?? { min: 300, max: 4_000 };
  const settleMs = options.settleMs ?? 60_000;
  const say = options.progress ?? (() => {});
  const startedAt = performance.now();
  const dir = tempDir("fw-chaos-");
  const dataDir = join(dir, "engine");
  const logsDir = join(dir, "engine-logs");
  mkdirSync(logsDir);
  say(`seed ${seed}, dir ${dir}`);

  let nats: NatsServer | undefined;
  let engine: EngineStart | undefined;
  const agentProcesses: ChildProcess[] = [];
  let engineStarts = 0;
  const keepLog = (start: EngineStart) =>
    writeFileSync(join(logsDir, `engine-${engineStarts}.log`), start.output());

  try {
    nats = await startNats();
    const natsUrl = nats.url;
    const port = await freePort();
    const startEngine = () => {
      engineStarts++;
      return new EngineStart({
        dataDir,
        port,
        env: { FW_NATS_URL: natsUrl },
        readyTimeoutMs: ENGINE_READY_TIMEOUT_MS,
      });
    };
    /** The engine of `start`, which must come up (no kill is pending for it). */
    const serving = async (start: EngineStart): Promise<ServerProcess> => {
      const server = await start.ready;
      if (!server) throw new Error(`the engine did not start:\n${start.output().slice(-4_000)}`);
      return server;
    };
    engine = startEngine();
    const first = await serving(engine);

    const agentIds = Array.from({ length: options.agents ?? 3 }, (_, i) => `chaos-${i + 1}`);
    const runLog = (agent: string) => join(dir, `runs-${agent}.log`);
    for (const id of agentIds) {
      agentProcesses.push(
        startAgentProcess({
          natsUrl,
          id,
          dir,
          config: { actions: ["exec", "noop"], heartbeatMs: AGENT_HEARTBEAT_MS },
          env: { FW_CHAOS_RUN_LOG: runLog(id) },
        }),
      );
    }
    await until(async () => {
      const response = await fetch(`${first.url}/agents`, { headers: AUTH });
      const agents = (await response.json()) as { id: string; status: string }[];
      const online = agents.filter((a) => a.status === "online").map((a) => a.id);
      return agentIds.every((id) => online.includes(id)) ? true : undefined;
    }, 30_000);
    say(`engine and ${agentIds.length} agents up`);

    const gate = new EngineGate();
    gate.open(first.url);
    const load = new TaskLoad({
      gate,
      random: loadRandom,
      agents: agentIds,
      ratePerSecond: options.ratePerSecond ?? 100,
      maxInFlight: 16,
      requestTimeoutMs: 30_000,
    });
    load.start();
    const loadStartedAt = performance.now();

    const restartMs: number[] = [];
    let kills = 0;
    let killsWhileStarting = 0;
    for (let round = 1; round <= options.rounds; round++) {
      const current: EngineStart = engine;
      const from = round === 1 ? loadStartedAt : current.spawnedAt;
      const early = round > 1 && killRandom.chance(EARLY_KILL_CHANCE);
      const killAt =
        from +
        (early
          ? killRandom.between(EARLY_KILL_MS.min, EARLY_KILL_MS.max)
          : killRandom.between(killDelay.min, killDelay.max));
      // Open the gate when the restarted engine answers, unless its kill came first.
      let killed = false;
      void current.ready.then((server) => {
        if (server && !killed) gate.open(server.url);
      });
      // The random moment: a deliberate wait, not a wait for a condition.
      await delay(killAt - performance.now());
      killed = true;
      gate.close();
      if (current.exitedByItself) {
        throw new Error(`the engine exited by itself:\n${current.output().slice(-4_000)}`);
      }
      const starting = !current.isReady;
      await current.kill();
      kills++;
      if (starting) killsWhileStarting++;
      if (current.readyAfterMs !== undefined && round > 1) restartMs.push(current.readyAfterMs);
      keepLog(current);
      engine = startEngine();
      say(`round ${round}: killed ${starting ? "while it started" : "under load"}`);
    }
    // Load after the last restart too, so it is not only the recovery that is tested.
    const last = await serving(engine);
    if (engine.readyAfterMs !== undefined) restartMs.push(engine.readyAfterMs);
    gate.open(last.url);
    await delay(killRandom.between(killDelay.min, killDelay.max));
    await load.stop();
    if (engine.exitedByItself) {
      throw new Error(`the engine exited by itself:\n${engine.output().slice(-4_000)}`);
    }
    say(`load stopped after ${load.submissions.length} submissions; settling`);

    const settleStart = performance.now();
    await until(
      async () => ((await listTasks(last.url, true)).length === 0 ? true : undefined),
      settleMs,
      200,
    ).catch(() => undefined);
    const settledInMs = Math.round(performance.now() - settleStart);

    const stored = await listTasks(last.url, false);
    const listed = new Set(stored.map((task) => task.id));
    const confirmed = new Map<number, StoredTask | undefined>();
    for (const submission of load.submissions) {
      if (submission.id === undefined || listed.has(submission.id)) continue;
      confirmed.set(submission.id, await getTask(last.url, submission.id));
    }
    const runs = agentIds.flatMap((id) => readRunLog(id, runLog(id)));
    const figures = countFigures({ submissions: load.submissions, stored, confirmed, runs });
    keepLog(engine);
    const run: CrashRun = {
      seed,
      rounds: options.rounds,
      kills,
      killsWhileStarting,
      restartMs,
      settledInMs,
      durationMs: Math.round(performance.now() - startedAt),
      figures,
      dir,
    };
    // A failed run keeps its logs for whoever looks into it.
    if (crashRunFailed(run) || options.keepDir) return run;
    rmSync(dir, { recursive: true, force: true });
    return { ...run, dir: undefined };
  } finally {
    for (const child of agentProcesses) child.kill("SIGKILL");
    await engine?.kill();
    await nats?.stop();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Every task of the test tenant (or only the unfinished ones), newest first. */
async function listTasks(url: string, unfinishedOnly: boolean): Promise<StoredTask[]> {
  const all: StoredTask[] = [];
  const statuses = ["scheduled", "ready", "dispatched", "running", "paused", "cancelling"];
  for (let before: number | undefined; ; ) {
    const query = new URLSearchParams({ limit: String(LIST_PAGE) });
    if (before !== undefined) query.set("before", String(before));
    if (unfinishedOnly) query.set("status", statuses.join(","));
    const response = await fetch(`${url}/tasks?${query}`, { headers: AUTH });
    if (!response.ok) throw new Error(`GET /tasks answered ${response.status}`);
    const page = (await response.json()) as StoredTask[];
    all.push(...page);
    if (page.length < LIST_PAGE) return all;
    before = page.at(-1)?.id;
  }
}

async function getTask(url: string, id: number): Promise<StoredTask | undefined> {
  const response = await fetch(`${url}/tasks/${id}`, { headers: AUTH });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`GET /tasks/${id} answered ${response.status}`);
  return (await response.json()) as StoredTask;
}
