import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgentProcess } from "../helpers/agent-process";
import { tempDir } from "../helpers/engine";
import { type NatsServer, startNats } from "../helpers/nats";
import { AUTH, freePort, type ServerProcess, startServerProcess } from "../helpers/server-process";
import { until as untilFound } from "../helpers/until";

interface LatestOutput {
  completion_time?: string;
  outputs: { agent_id: string; stdout?: string; stderr?: string }[];
}

describe("periodic commands on real agents over NATS", () => {
  const dir = tempDir("fw-periodic-");
  let nats: NatsServer;
  let engine: ServerProcess;
  const agents: ChildProcess[] = [];
  const startAgent = (id: string) =>
    agents.push(
      startAgentProcess({
        natsUrl: nats.url,
        id,
        dir,
        config: { actions: ["exec"], heartbeatMs: 200 },
        // What the command prints: which host ran it.
        env: { FW_TEST_HOST: id },
      }),
    );

  beforeAll(async () => {
    nats = await startNats();
    engine = await startServerProcess({
      dataDir: join(dir, "engine"),
      port: await freePort(),
      env: { FW_NATS_URL: nats.url },
    });
  }, 60_000);
  afterAll(async () => {
    for (const agent of agents) agent.kill("SIGKILL");
    await engine?.stop("SIGKILL");
    await nats?.stop();
  });

  async function latest(id: string): Promise<LatestOutput> {
    const response = await fetch(`${engine.url}/api/v1/tasks/${id}/latest_output`, {
      headers: AUTH,
    });
    expect(response.status).toBe(200);
    return (await response.json()) as LatestOutput;
  }

  /** This file's bound for every wait. */
  const until = <T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000) =>
    untilFound(probe, timeoutMs);

  it("runs the command on every agent, a late one included, and keeps their output", async () => {
    startAgent("edge-a");
    startAgent("edge-b");
    const log = join(dir, "ran.log");
    const created = await fetch(`${engine.url}/api/v1/tasks/create`, {
      method: "POST",
      headers: { ...AUTH, "content-type": "application/json" },
      body: JSON.stringify({
        command: `echo $FW_TEST_HOST; echo $FW_TEST_HOST >> ${log}`,
        frequency: "every 1 seconds",
      }),
    });
    expect(created.status).toBe(200);
    const { command_id: id } = (await created.json()) as { command_id: string };

    const hosts = (output: LatestOutput) => output.outputs.map((o) => o.agent_id).sort();
    const both = await until(async () => {
      const output = await latest(id);
      return hosts(output).join() === "edge-a,edge-b" ? output : undefined;
    });
    expect(both.outputs).toEqual(
      expect.arrayContaining([
        { agent_id: "edge-a", stdout: "edge-a\n" },
        { agent_id: "edge-b", stdout: "edge-b\n" },
      ]),
    );
    expect(Date.parse(both.completion_time ?? "")).toBeGreaterThan(0);

    // An agent that joins later gets the next ticks.
    startAgent("edge-c");
    await until(async () => (hosts(await latest(id)).includes("edge-c") ? true : undefined));

    const deleted = await fetch(`${engine.url}/api/v1/tasks/${id}`, {
      method: "DELETE",
      headers: AUTH,
    });
    expect(deleted.status).toBe(200);
    const ran = new Set(readFileSync(log, "utf8").trim().split("\n"));
    expect([...ran].sort()).toEqual(["edge-a", "edge-b", "edge-c"]);
  });
});
