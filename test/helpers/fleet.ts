/**
 * A small fleet for outage tests: the real server process on a real nats-server and
 * real agent processes, each agent on the NATS URL the test gives it (the server's
 * own, or a proxy in front of it). Every task's command appends its attempt's
 * `FW_EXEC_ID` to one run log, so a test can count what ran on the hosts.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startAgentProcess } from "./agent-process";
import { tempDir } from "./engine";
import { type NatsServer, startNats } from "./nats";
import { AUTH, freePort, type ServerProcess, startServerProcess } from "./server-process";
import { until } from "./until";

export const FINAL_STATUSES = ["done", "failed", "cancelled", "timedOut"] as const;

export interface FleetTask {
  readonly id: number;
  readonly status: string;
  readonly agentId: string | null;
  readonly attempt: number;
  readonly execId: string | null;
  readonly error: string | null;
  readonly timeoutReason: string | null;
}

export interface FleetAgent {
  readonly id: string;
  readonly status: string;
}

export interface Fleet {
  readonly nats: NatsServer;
  readonly engine: ServerProcess;
  readonly dir: string;
  /** The file every task's command appends its `FW_EXEC_ID` to. */
  readonly runLog: string;
  startAgent(id: string, natsUrl?: string): ChildProcess;
  /** POST /tasks for `agent`: one exec action that sleeps, then logs its attempt. */
  submit(
    agent: string,
    options?: { sleep?: number; retry?: Record<string, number>; lane?: string },
  ): Promise<{ status: number; task?: FleetTask; ms: number }>;
  task(id: number): Promise<FleetTask>;
  tasks(): Promise<FleetTask[]>;
  agents(): Promise<FleetAgent[]>;
  waitOnline(ids: readonly string[], timeoutMs?: number): Promise<void>;
  /** The execIds in the run log, in the order they ran. */
  ran(): string[];
  stop(): Promise<void>;
}

export async function startFleet(options: {
  prefix: string;
  env?: Record<string, string>;
}): Promise<Fleet> {
  const dir = tempDir(options.prefix);
  const runLog = join(dir, "ran.log");
  const nats = await startNats();
  const children: ChildProcess[] = [];
  let engine: ServerProcess;
  try {
    engine = await startServerProcess({
      dataDir: join(dir, "engine"),
      port: await freePort(),
      env: { FW_NATS_URL: nats.url, FW_LOG_LEVEL: "warn", ...options.env },
    });
  } catch (error) {
    await nats.stop();
    throw error;
  }
  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${engine.url}${path}`, { headers: AUTH });
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const agents = () => get<FleetAgent[]>("/agents");
  return {
    nats,
    engine,
    dir,
    runLog,
    startAgent(id, natsUrl = nats.url) {
      const child = startAgentProcess({
        natsUrl,
        id,
        dir,
        config: { actions: ["exec"], heartbeatMs: 250 },
        logLevel: "warn",
      });
      children.push(child);
      return child;
    },
    async submit(agent, { sleep = 0, retry, lane } = {}) {
      const started = performance.now();
      const response = await fetch(`${engine.url}/tasks`, {
        method: "POST",
        headers: { ...AUTH, "content-type": "application/json" },
        body: JSON.stringify({
          agent,
          actions: [
            {
              type: "exec",
              params: { command: `sleep ${sleep}; echo "$FW_EXEC_ID" >> ${runLog}` },
            },
          ],
          ...(retry === undefined ? {} : { retry }),
          ...(lane === undefined ? {} : { lane }),
        }),
      });
      const body = (await response.json()) as FleetTask;
      const ms = performance.now() - started;
      return response.status === 201
        ? { status: response.status, task: body, ms }
        : { status: response.status, ms };
    },
    async tasks() {
      // Newest first, a page of at most 1,000 at a time.
      const all: FleetTask[] = [];
      for (let before: number | undefined; ; ) {
        const page = await get<FleetTask[]>(
          `/tasks?limit=1000${before === undefined ? "" : `&before=${before}`}`,
        );
        all.push(...page);
        if (page.length < 1000) return all;
        before = page[page.length - 1]?.id;
      }
    },
    task: (id) => get<FleetTask>(`/tasks/${id}`),
    agents,
    async waitOnline(ids, timeoutMs = 20_000) {
      await until(async () => {
        const online = new Set(
          (await agents()).filter((a) => a.status === "online").map((a) => a.id),
        );
        return ids.every((id) => online.has(id)) ? true : undefined;
      }, timeoutMs);
    },
    ran() {
      if (!existsSync(runLog)) return [];
      return readFileSync(runLog, "utf8").split("\n").filter(Boolean);
    },
    async stop() {
      for (const child of children) child.kill("SIGKILL");
      await engine.stop("SIGKILL");
      await nats.stop();
    },
  };
}
