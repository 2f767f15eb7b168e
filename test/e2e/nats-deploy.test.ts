import type { ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsBus } from "../../src/bus";
import { startAgentProcess } from "../helpers/agent-process";
import { tempDir } from "../helpers/engine";
import { packGameBuild } from "../helpers/game-build";
import { type NatsServer, startNats } from "../helpers/nats";
import { AUTH, freePort, type ServerProcess, startServerProcess } from "../helpers/server-process";

interface Task {
  id: number;
  status: string;
  error: string | null;
  currentActionIdx: number;
}

describe("deploying a real build to an application instance over NATS", () => {
  const dir = tempDir("fw-deploy-");
  let nats: NatsServer;
  let engine: ServerProcess;
  let agent: ChildProcess;
  let files: Server;
  let filesUrl = "";
  let gamePort = 0;

  const build = (version: string) => packGameBuild(dir, version);

  const deployActions = (buildId: string) => [
    { type: "download-build", params: { buildId, url: `${filesUrl}/${buildId}.tar.gz` } },
    { type: "extract-build", params: { buildId } },
    { type: "stop-instance", params: { instanceId: "game-1", methodId: "graceful", timeout: 10 } },
    { type: "deploy-build", params: { instanceId: "game-1", buildId } },
    { type: "start-instance", params: { instanceId: "game-1" } },
  ];

  async function run(actions: unknown[]): Promise<Task> {
    const response = await fetch(`${engine.url}/tasks`, {
      method: "POST",
      headers: { ...AUTH, "content-type": "application/json" },
      body: JSON.stringify({ agent: "host-1", actions }),
    });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as Task;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const task = (await (
        await fetch(`${engine.url}/tasks/${id}`, { headers: AUTH })
      ).json()) as Task;
      if (["done", "failed", "cancelled", "timedOut"].includes(task.status)) return task;
      if (Date.now() > deadline) throw new Error(`task ${id} is still ${task.status}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  const game = async () => (await fetch(`http://127.0.0.1:${gamePort}/`)).text();

  beforeAll(async () => {
    mkdirSync(join(dir, "www"), { recursive: true });
    await build("v1");
    await build("v2");
    writeFileSync(join(dir, "www", "v3.tar.gz"), Buffer.from("\x1f\x8b\x08\x00 this is not gzip"));
    files = createServer((req, res) => {
      try {
        res.end(readFileSync(join(dir, "www", (req.url ?? "/").slice(1))));
      } catch {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => files.listen(0, "127.0.0.1", resolve));
    const address = files.address();
    filesUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;

    nats = await startNats();
    engine = await startServerProcess({
      dataDir: join(dir, "engine"),
      port: await freePort(),
      env: { FW_NATS_URL: nats.url },
    });
    gamePort = await freePort();
    agent = startAgentProcess({
      natsUrl: nats.url,
      id: "host-1",
      dir,
      config: {
        heartbeatMs: 200,
        instances: [
          {
            id: "game-1",
            directory: join(dir, "instances", "game-1"),
            start: {
              command: `exec ${process.execPath} server.js`,
              env: { PORT: String(gamePort) },
            },
            labels: { game: "arena" },
            fleetId: 7,
          },
        ],
      },
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      const agents = (await (await fetch(`${engine.url}/agents`, { headers: AUTH })).json()) as {
        id: string;
        instances: { id: string }[];
      }[];
      const host = agents.find((a) => a.id === "host-1");
      if (host) {
        expect(host.instances.map((i) => i.id)).toEqual(["game-1"]);
        break;
      }
      if (Date.now() > deadline) throw new Error("agent did not come online");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }, 60_000);

  afterAll(async () => {
    // Stop the instance first: it is a real process outside the agent.
    if (engine)
      await run([{ type: "stop-instance", params: { instanceId: "game-1" } }]).catch(() => {});
    agent?.kill("SIGKILL");
    await engine?.stop("SIGKILL");
    await nats?.stop();
    await new Promise((resolve) => files?.close(resolve));
  });

  it("downloads, extracts, stops, deploys and starts v1, then upgrades to v2", async () => {
    const first = await run(deployActions("v1"));
    expect(first).toMatchObject({ status: "done", currentActionIdx: 4 });
    expect(await game()).toBe("v1");

    const second = await run(deployActions("v2"));
    expect(second).toMatchObject({ status: "done", currentActionIdx: 4 });
    expect(await game()).toBe("v2");
    const log = readFileSync(join(dir, "instances", "game-1", "logs", "instance.log"), "utf8");
    expect(log).not.toMatch(/Error/);
  });

  it("fails at extract on a corrupted archive, naming why, and keeps the previous build", async () => {
    const broken = await run(deployActions("v3"));
    expect(broken.status).toBe("failed");
    expect(broken.currentActionIdx).toBe(1);
    expect(broken.error).toMatch(/^extract-build: .*corrupt/i);
    expect(await game()).toBe("v2");
  });

  it("reports an instance that crashes as an event", async () => {
    const watcher = await NatsBus.connect({ servers: nats.url, name: "watcher" });
    try {
      const exited = new Promise<{ instanceId: string; signal: string | null }>((resolve) => {
        watcher.subscribe<{ instanceId: string; signal: string | null }>(
          "fw.events.agent.host-1.instanceExited",
          (message) => resolve(message.data),
        );
      });
      await watcher.flush();
      const pid = Number(readFileSync(join(dir, "instances", "game-1", "instance.pid"), "utf8"));
      process.kill(pid, "SIGKILL");
      expect(await exited).toEqual(
        expect.objectContaining({ instanceId: "game-1", signal: "SIGKILL" }),
      );
    } finally {
      await watcher.close();
    }
  });
});
