/**
 * Found by the crash harness: when the engine stays down for longer than a task's
 * heartbeat timeout (repeated crashes, a slow restart), its restore must not count
 * its own downtime as the agent's silence. The agent ran on all along; its next
 * heartbeat comes within a second of the restart.
 */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startAgentProcess } from "../helpers/agent-process";
import { tempDir } from "../helpers/engine";
import { type NatsServer, startNats } from "../helpers/nats";
import { AUTH, freePort, type ServerProcess, startServerProcess } from "../helpers/server-process";
import { until } from "../helpers/until";

const HEARTBEAT_TIMEOUT_MS = 2_000;

interface Task {
  status: string;
  timeoutReason: string | null;
}

describe("an engine down for longer than a heartbeat timeout", () => {
  let nats: NatsServer | undefined;
  let engine: ServerProcess | undefined;
  let agent: ChildProcess | undefined;
  afterAll(async () => {
    agent?.kill("SIGKILL");
    await engine?.stop("SIGKILL");
    await nats?.stop();
  });

  it("lets a running attempt finish instead of timing it out at restore", async () => {
    const dir = tempDir("fw-downtime-");
    nats = await startNats();
    const port = await freePort();
    const start = () =>
      startServerProcess({
        dataDir: join(dir, "engine"),
        port,
        env: {
          FW_NATS_URL: (nats as NatsServer).url,
          FW_HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_MS),
        },
      });
    engine = await start();
    const url = engine.url;
    agent = startAgentProcess({
      natsUrl: nats.url,
      id: "steady",
      dir,
      config: { actions: ["exec"], heartbeatMs: 200 },
    });
    await until(async () => {
      const response = await fetch(`${url}/agents`, { headers: AUTH });
      const agents = (await response.json()) as { id: string; status: string }[];
      return agents.some((a) => a.id === "steady" && a.status === "online") ? true : undefined;
    });
    const created = await fetch(`${url}/tasks`, {
      method: "POST",
      headers: { ...AUTH, "content-type": "application/json" },
      body: JSON.stringify({
        agent: "steady",
        actions: [{ type: "exec", params: { command: "sleep 5" } }],
      }),
    });
    const { id } = (await created.json()) as { id: number };
    const task = async () =>
      (await (
        await fetch(`${(engine as ServerProcess).url}/tasks/${id}`, { headers: AUTH })
      ).json()) as Task;
    await until(async () => ((await task()).status === "running" ? true : undefined));

    engine.child.kill("SIGKILL");
    await engine.exited;
    // The downtime is the scenario: longer than the heartbeat timeout, on purpose.
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_TIMEOUT_MS + 1_000));
    engine = await start();

    const settled = await until(async () => {
      const t = await task();
      return ["done", "failed", "timedOut"].includes(t.status) ? t : undefined;
    }, 20_000);
    expect(settled).toMatchObject({ status: "done", timeoutReason: null });
  }, 60_000);
});
