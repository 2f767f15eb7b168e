import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsBus } from "../../src/bus";
import { replayEvents } from "../../src/bus/event-stream";
import { startAgentProcess } from "../helpers/agent-process";
import { tempDir } from "../helpers/engine";
import { type NatsServer, startNats } from "../helpers/nats";
import { AUTH, freePort, type ServerProcess, startServerProcess } from "../helpers/server-process";
import { until } from "../helpers/until";

interface Task {
  id: number;
  state: string;
  status: string;
  execId: string | null;
  error: string | null;
  timeoutReason: string | null;
  results: { stdout?: string }[];
}

describe("an engine and host agents over a real NATS server", () => {
  let nats: NatsServer;
  let engine: ServerProcess;
  const agents: ChildProcess[] = [];
  const dir = tempDir("fw-nats-e2e-");

  function startAgent(id: string) {
    const child = startAgentProcess({
      natsUrl: nats.url,
      id,
      dir,
      config: { actions: ["exec", "noop"], heartbeatMs: 100 },
    });
    agents.push(child);
    return child;
  }

  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${engine.url}${path}`, {
      method,
      headers: body ? { ...AUTH, "content-type": "application/json" } : AUTH,
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, json: (await response.json()) as unknown };
  };
  const task = async (id: number) => (await api("GET", `/tasks/${id}`)).json as Task;
  const agentOnline = (id: string) =>
    until(async () => {
      const list = (await api("GET", "/agents")).json as { id: string; status: string }[];
      return list.some((a) => a.id === id && a.status === "online") ? true : undefined;
    });

  beforeAll(async () => {
    nats = await startNats();
    engine = await startServerProcess({
      dataDir: join(dir, "engine"),
      port: await freePort(),
      env: { FW_NATS_URL: nats.url, FW_AGENT_TIMEOUT_MS: "1000" },
    });
  }, 60_000);

  afterAll(async () => {
    for (const child of agents) child.kill("SIGKILL");
    await engine?.stop("SIGKILL");
    await nats?.stop();
  });

  it("runs a command on a remote agent and keeps its output", async () => {
    startAgent("host-a");
    await agentOnline("host-a");
    const created = await api("POST", "/tasks", {
      agent: "host-a",
      actions: [{ type: "exec", params: { command: "echo over nats" } }],
    });
    expect(created.status).toBe(201);
    const id = (created.json as Task).id;
    const done = await until(async () => {
      const t = await task(id);
      return t.status === "done" ? t : undefined;
    });
    expect(done.results[0]?.stdout).toBe("over nats\n");

    // Its state changes are kept in JetStream: a late subscriber replays them.
    const reader = await NatsBus.connect({ servers: nats.url, name: "replayer" });
    try {
      const replayed = await replayEvents(reader, { filter: `fw.events.task.${id}.>`, limit: 50 });
      expect(replayed.map((event) => event.subject.split(".").pop())).toEqual([
        "ready",
        "dispatched",
        "running",
        "done",
      ]);
    } finally {
      await reader.close();
    }
  });

  it("times out the attempt of a killed agent, and never runs it twice after a restart", async () => {
    const marker = join(dir, "started.txt");
    const pidFile = join(dir, "attempt.pid");
    const agent = startAgent("host-b");
    await agentOnline("host-b");
    const created = await api("POST", "/tasks", {
      agent: "host-b",
      actions: [
        {
          type: "exec",
          params: { command: `echo start >> ${marker}; echo $$ > ${pidFile}; exec sleep 30` },
        },
      ],
    });
    const id = (created.json as Task).id;
    await until(async () => ((await task(id)).status === "running" ? true : undefined));
    const killedAt = Date.now();
    agent.kill("SIGKILL");
    const timedOut = await until(async () => {
      const t = await task(id);
      return t.status === "timedOut" ? t : undefined;
    });
    // Within the heartbeat timeout (1 s here) plus one second.
    expect(Date.now() - killedAt).toBeLessThanOrEqual(1_000 + 1_000);
    expect(timedOut.timeoutReason).toBe("agentOffline");

    startAgent("host-b");
    await agentOnline("host-b");
    // The restarted agent reports the interrupted attempt failed; the engine ignores it
    // (the task already settled), and nothing runs the command again.
    const again = await task(id);
    expect(again.status).toBe("timedOut");
    expect(readFileSync(marker, "utf8")).toBe("start\n");
    // The orphaned process of the killed agent's attempt is stopped by its successor.
    const pid = Number(readFileSync(pidFile, "utf8"));
    await until(async () => (existsSync(`/proc/${pid}`) ? undefined : true), 5_000);
  });
});
