/**
 * The README's reference executor (examples/executor.ts) against a real server: it runs
 * as its own child process, claims the tasks of the "example" definition (from
 * FW_TASK_DEFINITIONS_FILE), heartbeats while it works, and succeeds with its result; a
 * task cancelled under it is a 422 it logs and moves past.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../helpers/engine";
import {
  AUTH,
  BUN,
  freePort,
  REPO,
  type ServerProcess,
  startServerProcess,
  TEST_API_KEY,
} from "../helpers/server-process";
import { until } from "../helpers/until";

const EXAMPLE = join(REPO, "examples", "executor.ts");

interface Task {
  id: string;
  status: string;
  outcome?: string;
  result?: unknown;
}
interface LogEntry {
  action: string;
  "status-before": string | null;
  "status-after": string | null;
}

let server: ServerProcess;

async function rpc<T>(method: string, params: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${server.url}/rpc`, {
    method: "POST",
    headers: { ...AUTH, "content-type": "application/json" },
    body: JSON.stringify({ method, params }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function status(id: string): Promise<{ resource: Task; log: LogEntry[] }> {
  const { status: code, body } = await rpc<{ result: { resource: Task; log: LogEntry[] } }>(
    "awf.task/status",
    { id, "include-log": true },
  );
  expect(code).toBe(200);
  return body.result;
}

async function create(id: string, n: number): Promise<Task> {
  const { status: code, body } = await rpc<{ result: { resource: Task } }>(
    "awf.task/create-and-execute",
    { definition: "example", id, params: { n } },
  );
  expect(code, JSON.stringify(body)).toBe(200);
  return body.result.resource;
}

/** Runs the example to its exit; resolves with its exit code and everything it printed. */
function runExample(limit: number): Promise<{ code: number | null; output: string }> {
  const child = spawn(BUN, [EXAMPLE], {
    cwd: REPO,
    env: {
      ...process.env,
      FW_URL: server.url,
      FW_API_KEY: TEST_API_KEY,
      FW_DEFINITION: "example",
      FW_EXECUTOR_LIMIT: String(limit),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 25_000);
  return new Promise((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}

beforeAll(async () => {
  const dir = tempDir("fw-executor-example-");
  const definitions = join(dir, "definitions.json");
  writeFileSync(
    definitions,
    JSON.stringify([
      {
        name: "example",
        params: {
          type: "object",
          properties: { n: { type: "integer", minimum: 0, maximum: 1000 } },
          required: ["n"],
        },
        result: {
          type: "object",
          properties: { sum: { type: "integer" } },
          required: ["sum"],
          additionalProperties: false,
        },
        // Short, so that the example's heartbeats (every third of it) come several times.
        inProgressTimeout: 1_500,
      },
    ]),
  );
  server = await startServerProcess({
    dataDir: dir,
    port: await freePort(),
    env: { FW_TASK_DEFINITIONS_FILE: definitions },
  });
});
afterAll(() => server?.stop());

describe("examples/executor.ts", () => {
  it("is shorter than 80 lines", () => {
    const lines = readFileSync(EXAMPLE, "utf8").trimEnd().split("\n");
    expect(lines.length).toBeLessThan(80);
  });

  it("runs every task it claims to success, heartbeating, and moves past a cancelled one", async () => {
    // Claimed oldest first: the long one, cancelled while it runs, then the others.
    const doomed = await create("doomed", 1_000);
    expect(doomed.status).toBe("ready");
    const sizes: Record<string, number> = { "sum-3": 3, "sum-10": 10, "sum-0": 0 };
    for (const [id, n] of Object.entries(sizes)) await create(id, n);

    const run = runExample(1 + Object.keys(sizes).length);
    await until(
      async () => ((await status("doomed")).resource.status === "in-progress" ? true : undefined),
      10_000,
    );
    const cancel = await rpc<{ result: { resource: Task } }>("awf.task/cancel", { id: "doomed" });
    expect(cancel.status).toBe(200);

    const { code, output } = await run;
    expect(code, output).toBe(0);
    expect(output).toMatch(/doomed: refused \(.+\), moving on/);

    const cancelled = await status("doomed");
    expect(cancelled.resource).toMatchObject({ status: "done", outcome: "canceled" });
    expect(cancelled.resource.result).toBeUndefined();

    for (const [id, n] of Object.entries(sizes)) {
      const { resource, log } = await status(id);
      expect(resource, id).toMatchObject({
        status: "done",
        outcome: "succeeded",
        result: { sum: (n * (n + 1)) / 2 },
      });
      const actions = log.map((entry) => entry.action);
      expect(actions, id).toEqual(
        expect.arrayContaining(["awf.task/start", "awf.task/notify", "awf.task/success"]),
      );
      // In order: started, then kept alive, then finished.
      const start = actions.indexOf("awf.task/start");
      const notify = actions.indexOf("awf.task/notify");
      expect(start).toBeLessThan(notify);
      expect(notify).toBeLessThan(actions.lastIndexOf("awf.task/success"));
      expect(log.at(-1)).toMatchObject({ action: "awf.task/success", "status-after": "done" });
      expect(output).toContain(`${id}: succeeded with sum ${(n * (n + 1)) / 2}`);
    }
    // sum-10 works ~1 s with a beat every 500 ms: it beats more than once.
    const { log } = await status("sum-10");
    const beats = log.filter((entry) => entry.action === "awf.task/notify");
    expect(beats.length).toBeGreaterThanOrEqual(2);
  });
});
