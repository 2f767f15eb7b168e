/**
 * Issue 6's crash rule: 20 jobs of a 3-step workflow on 2 agent processes over real
 * NATS, max_jobs 3 and priority_slots 1; the engine is killed with SIGKILL while jobs
 * run and started again on the same data dir. Every job finishes exactly once, and no
 * step's command runs twice on an agent (the agents outlive the engine and report
 * what they finished once it is back).
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgentProcess } from "../helpers/agent-process";
import { tempDir } from "../helpers/engine";
import { type NatsServer, startNats } from "../helpers/nats";
import {
  freePort,
  type ServerProcess,
  startServerProcess,
  TEST_API_KEY,
} from "../helpers/server-process";
import { until } from "../helpers/until";

const JOBS = 20;
const HEADERS = { client: "test", "api-key": TEST_API_KEY, "content-type": "application/json" };

describe("jobs survive kill -9 of the engine", () => {
  const dir = tempDir("fw-jobs-kill9-");
  const runs = join(dir, "runs.log");
  const workflows = join(dir, "workflows");
  let nats: NatsServer;
  let engine: ServerProcess;
  let port: number;
  const agents: ChildProcess[] = [];

  const startEngine = async () =>
    startServerProcess({
      dataDir: join(dir, "engine"),
      port,
      env: { FW_NATS_URL: nats.url, FW_WORKFLOWS_DIR: workflows, FW_LOG_LEVEL: "warn" },
    });

  beforeAll(async () => {
    mkdirSync(workflows);
    // Each step records its run (step and content) and takes a moment, so the kill
    // lands while steps are running.
    const step = (name: string) => ({
      name,
      action: "exec",
      labels: { role: "encoder" },
      params: { command: `echo "${name} {{content_id}}" >> ${runs}; sleep 0.2` },
    });
    writeFileSync(
      join(workflows, "story.json"),
      JSON.stringify({ name: "story", steps: [step("one"), step("two"), step("three")] }),
    );
    nats = await startNats();
    port = await freePort();
    engine = await startEngine();
    for (const id of ["enc-1", "enc-2"]) {
      agents.push(
        startAgentProcess({
          natsUrl: nats.url,
          id,
          dir,
          config: { actions: ["exec"], heartbeatMs: 200, labels: { role: "encoder" } },
          logLevel: "warn",
        }),
      );
    }
  }, 60_000);

  afterAll(async () => {
    for (const agent of agents) agent.kill("SIGKILL");
    await engine?.stop("SIGKILL");
    await nats?.stop();
  });

  async function call(method: string, path: string, body?: unknown) {
    const response = await fetch(`${engine.url}${path}`, {
      method,
      headers: HEADERS,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: JSON.parse(text) };
  }

  async function jobs(): Promise<{ id: number; queue_state: string; failed: boolean }[]> {
    const listed = await call("GET", `/jobs?limit=${JOBS * 2}`);
    expect(listed.status).toBe(200);
    return listed.json;
  }

  it("finishes every job exactly once, running no step twice", async () => {
    await until(async () => {
      const agentsOnline = await fetch(`${engine.url}/agents`, {
        headers: { authorization: `Bearer ${TEST_API_KEY}` },
      });
      const list = (await agentsOnline.json()) as { id: string; status: string }[];
      return list.filter((a) => a.id.startsWith("enc-") && a.status === "online").length === 2
        ? true
        : undefined;
    }, 30_000);
    for (const [name, setting] of [
      ["max_jobs", "3"],
      ["priority_slots", "1"],
      ["retry_delay", "1"],
    ]) {
      expect((await call("POST", "/settings", { name, setting })).status).toBe(200);
    }
    const ids: number[] = [];
    for (let i = 0; i < JOBS; i++) {
      const created = await call("POST", "/job", {
        client: "test",
        job: { workflow: "story", priority: i === JOBS - 1 ? 1 : 9 },
        parameters: { content_id: `c${i}` },
      });
      expect(created.status, JSON.stringify(created.json)).toBe(200);
      ids.push(created.json.id);
    }
    // Some jobs are done, others run or wait: kill the engine now.
    await until(
      async () =>
        (await jobs()).filter((j) => j.queue_state === "completed").length >= 4 ? true : undefined,
      60_000,
    );
    const atKill = await jobs();
    await engine.stop("SIGKILL");
    // The kill lands mid-run: jobs started (steps running) and others still queued.
    expect(atKill.some((j) => j.queue_state === "started")).toBe(true);
    expect(atKill.some((j) => j.queue_state === "queued")).toBe(true);
    engine = await startEngine();

    const finished = await until(async () => {
      const all = await jobs();
      return all.length === JOBS && all.every((j) => j.queue_state === "completed")
        ? all
        : undefined;
    }, 90_000);
    expect(finished.every((j) => j.failed === false)).toBe(true);
    expect(new Set(finished.map((j) => j.id))).toEqual(new Set(ids));

    expect(existsSync(runs)).toBe(true);
    const lines = readFileSync(runs, "utf8").trimEnd().split("\n");
    const counts = new Map<string, number>();
    for (const line of lines) counts.set(line, (counts.get(line) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1);
    expect(twice).toEqual([]);
    expect(counts.size).toBe(JOBS * 3);
  }, 240_000);
});
