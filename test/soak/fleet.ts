/**
 * What a soak runs against, all real and all separate processes: a nats-server, the
 * engine (`fleetwork server` with FW_NATS_URL, SQLite in a temp dir) and host agents
 * (`fleetwork agent`) that allow only `noop`, so the load measures the engine and
 * the messaging, not the cost of forking shells.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgentProcess } from "../helpers/agent-process";
import { type NatsServer, startNats } from "../helpers/nats";
import { AUTH, freePort, type ServerProcess, startServerProcess } from "../helpers/server-process";
import { until } from "../helpers/until";
import { LogLineCounter, type LogLineCounts } from "./log-lines";

export interface FleetOptions {
  readonly agents: number;
  /** pino level of the engine and the agents. */
  readonly logLevel: string;
}

export interface Fleet {
  readonly natsUrl: string;
  readonly engineUrl: string;
  readonly agentIds: readonly string[];
  /** Process ids by name (`engine`, then the agent ids), for memory samples. */
  readonly pids: ReadonlyMap<string, number>;
  /** Log line counts by process name, as logged so far. */
  logCounts(): ReadonlyMap<string, LogLineCounts>;
  /** Stops agents, engine and nats-server and removes the temp dir. */
  stop(): Promise<void>;
}

/** How long an agent may take to come online. */
const ONLINE_TIMEOUT_MS = 30_000;
/** How long a process may take to stop on SIGTERM before it is killed. */
const STOP_GRACE_MS = 10_000;

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** SIGTERM, then SIGKILL if it has not exited within the grace period. */
async function terminate(child: ChildProcess): Promise<void> {
  child.kill("SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const graceOver = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, STOP_GRACE_MS);
  });
  await Promise.race([exited(child), graceOver]);
  clearTimeout(timer);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill("SIGKILL");
    await exited(child);
  }
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), "fw-soak-"));
  const { logLevel } = options;
  const env = { NODE_ENV: "production" };
  let nats: NatsServer | undefined;
  let engine: ServerProcess | undefined;
  const agents = new Map<string, ChildProcess>();
  const agentLogs = new Map<string, LogLineCounter>();

  const stop = async () => {
    // Agents first: an engine that stops before them would see them vanish, not leave.
    await Promise.all([...agents.values()].map(terminate));
    if (engine) await terminate(engine.child);
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    nats = await startNats();
    engine = await startServerProcess({
      dataDir: join(dir, "engine"),
      port: await freePort(),
      env: { ...env, FW_NATS_URL: nats.url, FW_LOG_LEVEL: logLevel },
    });
    for (let i = 1; i <= options.agents; i++) {
      const id = `soak-${i}`;
      const child = startAgentProcess({
        natsUrl: nats.url,
        id,
        dir,
        config: { actions: ["noop"] },
        logLevel,
        env,
        output: "pipe",
      });
      const counter = new LogLineCounter();
      counter.follow(child.stdout);
      counter.follow(child.stderr);
      agents.set(id, child);
      agentLogs.set(id, counter);
    }
    const engineUrl = engine.url;
    const ids = [...agents.keys()];
    await until(async () => {
      const response = await fetch(`${engineUrl}/agents`, { headers: AUTH });
      const list = (await response.json()) as { id: string; status: string }[];
      const online = list.filter((a) => a.status === "online" && ids.includes(a.id));
      return online.length === ids.length ? true : undefined;
    }, ONLINE_TIMEOUT_MS);

    const pids = new Map<string, number>();
    const processes: [string, ChildProcess][] = [["engine", engine.child], ...agents];
    for (const [name, child] of processes) {
      if (child.pid === undefined) throw new Error(`${name} has no pid: it did not start`);
      pids.set(name, child.pid);
    }
    const runningEngine = engine;
    const natsUrl = nats.url;
    return {
      natsUrl,
      engineUrl,
      agentIds: ids,
      pids,
      logCounts() {
        // The engine's output is kept whole by its helper (from its first line, before
        // a listener here could attach); at warn level it stays small.
        const engineCounter = new LogLineCounter();
        for (const line of runningEngine.output().split("\n")) engineCounter.count(line);
        const counts = new Map<string, LogLineCounts>([["engine", engineCounter.counts()]]);
        for (const [id, counter] of agentLogs) counts.set(id, counter.counts());
        return counts;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
