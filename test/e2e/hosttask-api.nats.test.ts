/**
 * The host task API end to end: the real server process and a real agent process
 * over a real nats-server. A deploy task made from the built-in template puts a real
 * build on an application instance and starts it; a paused task holds its instance.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgentProcess } from "../helpers/agent-process";
import { tempDir } from "../helpers/engine";
import { packGameBuild } from "../helpers/game-build";
import { type NatsServer, startNats } from "../helpers/nats";
import {
  freePort,
  type ServerProcess,
  startServerProcess,
  TEST_API_KEY,
} from "../helpers/server-process";

const TOKEN = { "PRIVATE-TOKEN": TEST_API_KEY };

interface TaskStatus {
  id: number;
  batchId: number;
  entityId: string | number;
  currentActionIdx: number;
  resultCode: number;
  resultText: string;
}

describe("host task API over NATS with a real agent", () => {
  const dir = tempDir("fw-hosttask-");
  let nats: NatsServer;
  let engine: ServerProcess;
  let agent: ChildProcess;
  let files: Server;
  let filesUrl = "";
  const ports = { "game-1": 0, "game-2": 0 };
  /** Requests under /hold/ wait for `release`; `held` resolves when one arrives. */
  let held: Promise<void> = Promise.resolve();
  let arrived = () => {};
  let release = () => {};

  function holdNext() {
    let opened = () => {};
    const gate = new Promise<void>((resolve) => {
      opened = resolve;
    });
    held = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    release = opened;
    return gate;
  }
  let gate: Promise<void> = Promise.resolve();

  const build = (version: string) => packGameBuild(dir, version);

  async function api(method: string, path: string, body?: unknown) {
    const response = await fetch(`${engine.url}${path}`, {
      method,
      headers: body === undefined ? TOKEN : { ...TOKEN, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as unknown };
  }

  /** Creates from a template; the ids of the batch's tasks. */
  async function create(
    taskTemplateId: string,
    instanceIds: string[],
    params: Record<string, string | number> = {},
  ): Promise<number[]> {
    const reply = await api("POST", "/v3/applicationInstance/task", {
      taskTemplateId,
      applicationInstanceIds: instanceIds,
      taskActionParam: Object.entries(params).map(([paramName, paramValue]) => ({
        paramName,
        paramValue,
      })),
    });
    expect(reply.status, JSON.stringify(reply.json)).toBe(200);
    const [batch] = reply.json as { taskIds: Record<string, number> }[];
    return Object.keys(batch?.taskIds ?? {}).map(Number);
  }

  async function task(id: number): Promise<TaskStatus> {
    const reply = await api("GET", `/v3/applicationInstance/task/${id}`);
    expect(reply.status).toBe(200);
    return (reply.json as TaskStatus[])[0] as TaskStatus;
  }

  /** Bounded polling until the task's status satisfies `done`. */
  async function until(id: number, done: (task: TaskStatus) => boolean): Promise<TaskStatus> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const current = await task(id);
      if (done(current)) return current;
      if (Date.now() > deadline) throw new Error(`task ${id}: ${JSON.stringify(current)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const finished = (id: number) => until(id, (t) => t.resultCode >= 124);

  const game = async (instanceId: keyof typeof ports) =>
    (await fetch(`http://127.0.0.1:${ports[instanceId]}/`)).text();

  const deployParams = (buildId: string, url: string) => ({
    buildId,
    url,
    methodId: "graceful",
    timeout: "10",
  });

  beforeAll(async () => {
    mkdirSync(join(dir, "www"), { recursive: true });
    await build("v1");
    await build("v2");
    files = createServer((req, res) => {
      const path = req.url ?? "/";
      const serve = () => {
        try {
          res.end(readFileSync(join(dir, "www", path.replace(/^\/(hold\/)?/, ""))));
        } catch {
          res.statusCode = 404;
          res.end();
        }
      };
      if (path.startsWith("/hold/")) {
        arrived();
        void gate.then(serve);
      } else {
        serve();
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
    ports["game-1"] = await freePort();
    ports["game-2"] = await freePort();
    agent = startAgentProcess({
      natsUrl: nats.url,
      id: "host-1",
      dir,
      config: {
        heartbeatMs: 200,
        instances: (["game-1", "game-2"] as const).map((id) => ({
          id,
          directory: join(dir, "instances", id),
          start: {
            command: `exec ${process.execPath} server.js`,
            env: { PORT: String(ports[id]) },
          },
          fleetId: 7,
        })),
      },
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      const agents = (await (await fetch(`${engine.url}/agents`, { headers: TOKEN })).json()) as {
        id: string;
      }[];
      if (agents.some((a) => a.id === "host-1")) break;
      if (Date.now() > deadline) throw new Error("agent did not come online");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }, 60_000);

  afterAll(async () => {
    // The instances are real processes outside the agent: stop them first.
    if (engine) {
      await create("3", ["game-1", "game-2"])
        .then((ids) => Promise.all(ids.map(finished)))
        .catch(() => {});
    }
    release();
    agent?.kill("SIGKILL");
    await engine?.stop("SIGKILL");
    await nats?.stop();
    await new Promise((resolve) => files?.close(resolve));
  });

  it("deploys a real build with the deploy template, and the instance answers", async () => {
    const [id] = (await create("1", ["game-1"], deployParams("v1", `${filesUrl}/v1.tar.gz`))) as [
      number,
    ];
    const done = await finished(id);
    expect(done).toMatchObject({
      entityId: "game-1",
      resultCode: 127,
      resultText: "Done",
      currentActionIdx: 4,
    });
    expect(await game("game-1")).toBe("v1");
    const batch = await api("GET", `/v3/applicationInstance/taskBatch/${done.batchId}`);
    expect(batch.json).toEqual([
      expect.objectContaining({ numTasks: 1, numTasksOk: 1, taskIds: { [id]: 127 } }),
    ]);
    const ofHost = (await api("GET", "/v3/host/host-1/task")).json as TaskStatus[];
    expect(ofHost[0]?.id).toBe(id);
  });

  it("a paused task keeps every other task of its instance waiting until it finishes", async () => {
    gate = holdNext();
    const [a] = (await create(
      "1",
      ["game-1"],
      deployParams("v2", `${filesUrl}/hold/v2.tar.gz`),
    )) as [number];
    // The download has reached the file server and waits there: action 0 runs.
    await held;
    const paused = await api("PUT", `/v3/applicationInstance/task/${a}`);
    expect(paused.json).toEqual([expect.objectContaining({ id: a, resultCode: 2 })]);

    const [b] = (await create("4", ["game-1"], { methodId: 1, timeout: 10 })) as [number];
    const [c] = (await create("3", ["game-2"])) as [number];
    expect(await finished(c)).toMatchObject({ resultCode: 127 });
    expect(await task(b)).toMatchObject({ resultCode: 0, currentActionIdx: -1 });

    // The download ends; the task stops before its next action and holds the instance.
    release();
    await until(a, (t) => t.resultCode === 2 && t.currentActionIdx === 1);
    const [c2] = (await create("3", ["game-2"])) as [number];
    await finished(c2);
    expect(await task(b)).toMatchObject({ resultCode: 0 });
    expect(await game("game-1")).toBe("v1");

    const resumed = await api("PUT", `/v3/applicationInstance/task/${a}`);
    expect(resumed.json).toEqual([expect.objectContaining({ id: a, resultCode: 1 })]);
    expect(await finished(a)).toMatchObject({ resultCode: 127, currentActionIdx: 4 });
    expect(await finished(b)).toMatchObject({ resultCode: 127, currentActionIdx: 1 });
    expect(await game("game-1")).toBe("v2");
  });
});
