/**
 * The store's disk full under the real server process (issue 8, outages): the data dir
 * is a real 32 MB tmpfs, filled to the last byte while an agent over real NATS runs
 * acknowledged work. Every API family that creates work refuses with 503 in its own
 * error shape, saying the store is out of space; nothing acknowledged is lost or half
 * written; the server does not crash. Once the filler is deleted the same process
 * takes work again, and after a restart the store holds exactly what was acknowledged.
 */
import { Database } from "bun:sqlite";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startAgentProcess } from "../helpers/agent-process";
import { tempDir } from "../helpers/engine";
import { FINAL_STATUSES } from "../helpers/fleet";
import { type NatsServer, startNats } from "../helpers/nats";
import { AUTH, freePort, type ServerProcess, startServerProcess } from "../helpers/server-process";
import { mountTmpfs, type Tmpfs } from "../helpers/tmpfs";
import { until } from "../helpers/until";

const AGENT = "host-1";
const INSTANCE = "game-1";
/** How many submits may still fit in SQLite's WAL slack once the disk is full. */
const MAX_SUBMITS_UNTIL_FULL = 2_000;
const OUT_OF_SPACE = /^the store is out of space \(SQLITE_FULL/;

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: each family's JSON is read field by field.
  json: any;
}

describe("the store's disk full under the real server", () => {
  const dir = tempDir("fw-disk-full-");
  const runLog = join(dir, "ran.log");
  let disk: Tmpfs | undefined;
  let nats: NatsServer | undefined;
  let engine: ServerProcess | undefined;
  let agent: ChildProcess | undefined;
  afterAll(async () => {
    agent?.kill("SIGKILL");
    await engine?.stop("SIGKILL");
    await nats?.stop();
    disk?.unmount();
  });

  const call = async (method: string, path: string, body?: unknown): Promise<Answer> => {
    const response = await fetch(`${(engine as ServerProcess).url}${path}`, {
      method,
      headers: body === undefined ? AUTH : { ...AUTH, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {}
    return { status: response.status, json };
  };
  const logged = (marker: string) => `echo ${marker} >> ${runLog}`;
  /** One request per API family that creates work; `n` keeps their names apart. */
  const families = (n: string) => ({
    native: () =>
      call("POST", "/tasks", {
        agent: AGENT,
        actions: [{ type: "exec", params: { command: logged(`native-${n}`) } }],
      }),
    hosttask: () =>
      call("POST", "/v3/applicationInstance/task", {
        taskTemplateId: "5",
        applicationInstanceIds: [INSTANCE],
        taskActionParam: [{ paramName: "command", paramValue: logged(`hosttask-${n}`) }],
      }),
    xina: () =>
      call("POST", "/xina/action", {
        action: "run",
        tasks: [{ name: `xina-${n}`, conf: { agent: AGENT, command: logged(`xina-${n}`) } }],
      }),
    executor: () =>
      call("POST", "/rpc", {
        method: "awf.task/create-and-execute",
        params: { definition: "plain", params: {}, id: `executor-${n}` },
      }),
    jobs: () =>
      call("POST", "/job", {
        client: "test",
        job: { workflow: "quick" },
        parameters: { content_id: `jobs-${n}` },
      }),
    periodic: () =>
      call("POST", "/api/v1/tasks/create", {
        command: "true",
        frequency: "every 1 hours",
      }),
  });
  /** Each family's 503: its own shape, its own place for the message. */
  const refusalMessage: Record<string, (json: Answer["json"]) => unknown> = {
    native: (json) => json.error?.code === "UNAVAILABLE" && json.error.message,
    hosttask: (json) => json.errorCode === 10005 && json.errorMessage,
    xina: (json) => json.error?.code === "UNAVAILABLE" && json.error.message,
    executor: (json) => json.error?.message,
    jobs: (json) => json.id === null && json.error,
    periodic: (json) => json.error,
  };

  it("refuses work in every API family with 503, keeps what it acknowledged, and recovers", async () => {
    writeFileSync(runLog, "");
    disk = mountTmpfs(32);
    const workflows = join(dir, "workflows");
    mkdirSync(workflows);
    writeFileSync(
      join(workflows, "quick.yaml"),
      `name: quick\nsteps:\n  - name: say\n    action: exec\n    agent: ${AGENT}\n    params:\n      command: ${JSON.stringify(logged("jobs-step"))}\n`,
    );
    const definitions = join(dir, "definitions.json");
    writeFileSync(definitions, JSON.stringify([{ name: "plain" }]));
    nats = await startNats();
    const env = {
      FW_NATS_URL: nats.url,
      FW_LOG_LEVEL: "warn",
      FW_WORKFLOWS_DIR: workflows,
      FW_TASK_DEFINITIONS_FILE: definitions,
    };
    const port = await freePort();
    engine = await startServerProcess({ dataDir: disk.dir, port, env });
    agent = startAgentProcess({
      natsUrl: nats.url,
      id: AGENT,
      dir,
      logLevel: "warn",
      config: {
        actions: ["exec"],
        heartbeatMs: 250,
        instances: [
          { id: INSTANCE, directory: join(dir, INSTANCE), start: { command: "sleep 600" } },
        ],
      },
    });
    await until(async () => {
      const agents = (await call("GET", "/agents")).json as { id: string; status: string }[];
      return agents.some((a) => a.id === AGENT && a.status === "online") ? true : undefined;
    }, 20_000);

    // Acknowledged before the disk fills, running while it is full.
    const before = await call("POST", "/tasks", {
      agent: AGENT,
      actions: [{ type: "exec", params: { command: `sleep 1; ${logged("before")}` } }],
    });
    expect(before.status).toBe(201);
    const acknowledged: number[] = [before.json.id];
    await until(async () =>
      (await call("GET", `/tasks/${before.json.id}`)).json.status === "running" ? true : undefined,
    );

    disk.fill();
    expect(disk.available()).toBe(0);
    // SQLite may fit a few more commits into its WAL file's slack: those are on disk
    // and acknowledged (201). The first commit that needs new space is refused.
    let first: Answer | undefined;
    let firstRefused = "";
    for (let i = 0; i < MAX_SUBMITS_UNTIL_FULL && first === undefined; i++) {
      const answer = await families(`fill-${i}`).native();
      if (answer.status === 201) acknowledged.push(answer.json.id);
      else [first, firstRefused] = [answer, `native-fill-${i}`];
    }
    expect(first?.status).toBe(503);
    expect(first?.json.error.message).toMatch(OUT_OF_SPACE);
    const acknowledgedWhileFilling = acknowledged.length - 1;

    // Every family refuses, in its own shape, with the same clear reason.
    const refusals: Record<string, number> = {};
    for (const [family, request] of Object.entries(families("refused"))) {
      const answer = await request();
      refusals[family] = answer.status;
      expect(answer.status, `${family}: ${JSON.stringify(answer.json)}`).toBe(503);
      expect(refusalMessage[family]?.(answer.json), family).toMatch(OUT_OF_SPACE);
    }
    // Reads still work, and the server is alive.
    expect((await call("GET", `/tasks/${before.json.id}`)).status).toBe(200);
    expect(engine.child.exitCode).toBeNull();
    // The running task ends on its host while the disk is full; its result waits in
    // the agent's outbox until the engine can commit it.
    await until(() => (readFileSync(runLog, "utf8").includes("before") ? true : undefined));

    disk.free();
    const freedAt = Date.now();
    // The same process takes work again, without a restart.
    const again = await until(async () => {
      const answer = await families("again").native();
      return answer.status === 201 ? answer : undefined;
    }, 20_000);
    const recoveredMs = Date.now() - freedAt;
    acknowledged.push(again.json.id);
    const accepted: Record<string, number> = {};
    for (const [family, request] of Object.entries(families("after"))) {
      if (family === "native") continue;
      const answer = await request();
      accepted[family] = answer.status;
      expect(answer.status, `${family}: ${JSON.stringify(answer.json)}`).toBeLessThan(300);
      if (family === "hosttask")
        acknowledged.push(...Object.keys(answer.json[0].taskIds).map(Number));
      if (family === "xina")
        acknowledged.push(...answer.json.tasks.map((t: { id: number }) => t.id));
    }

    // Everything acknowledged on an agent finishes; each ran once, nothing refused ran.
    const final = await until(async () => {
      const tasks = await Promise.all(
        acknowledged.map(async (id) => (await call("GET", `/tasks/${id}`)).json),
      );
      return tasks.every((task) => (FINAL_STATUSES as readonly string[]).includes(task.status))
        ? tasks
        : undefined;
    }, 30_000);
    expect(new Set(final.map((task: { status: string }) => task.status))).toEqual(
      new Set(["done"]),
    );
    const ran = readFileSync(runLog, "utf8").split("\n").filter(Boolean);
    // Neither the submit whose commit found the disk full nor any refused after it.
    expect(ran.filter((marker) => marker.includes("refused") || marker === firstRefused)).toEqual(
      [],
    );
    expect(new Set(ran).size).toBe(ran.length);
    for (const marker of ["before", "native-again", "hosttask-after", "xina-after"]) {
      expect(ran).toContain(marker);
    }
    const job = await until(async () => {
      const jobs = (await call("GET", "/jobs?client=test")).json as { status?: string }[];
      return jobs.length > 0 ? jobs : undefined;
    });
    expect(job).toHaveLength(1);
    // Nor did a refused executor task or schedule come to exist.
    const refusedExecutorTask = await call("POST", "/rpc", {
      method: "awf.task/status",
      params: { id: "executor-refused" },
    });
    expect(refusedExecutorTask.status).toBe(404);
    expect((await call("GET", "/api/v1/tasks")).json.tasks).toHaveLength(1);
    // What the operator reads in the server's log.
    expect(engine.output()).toMatch(/the store is out of space \(SQLITE_FULL/);

    console.log(
      [
        "the store's disk full (32 MB tmpfs, filled to the last byte)",
        `  acknowledged while filling (fit in SQLite's WAL slack): ${acknowledgedWhileFilling}`,
        `  refused while full: ${JSON.stringify(refusals)}`,
        `  first submit taken again ${recoveredMs} ms after the filler was deleted`,
        `  accepted after: ${JSON.stringify(accepted)}`,
        `  acknowledged agent tasks, all done: ${final.length}`,
      ].join("\n"),
    );

    // A restart finds the store whole and exactly what was acknowledged.
    expect(await engine.stop("SIGTERM")).toBe(0);
    const db = new Database(join(disk.dir, "fleetwork.db"), { readonly: true });
    try {
      expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    } finally {
      db.close();
    }
    engine = await startServerProcess({ dataDir: disk.dir, port, env });
    const restored = await Promise.all(
      acknowledged.map(async (id) => (await call("GET", `/tasks/${id}`)).json.status),
    );
    expect(new Set(restored)).toEqual(new Set(["done"]));
  }, 90_000);
});
