import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../helpers/engine";
import { AUTH, freePort, type ServerProcess, startServerProcess } from "../helpers/server-process";

interface TaskBody {
  id: number;
  state: string;
  status: string;
  executeAt: string;
  timeoutReason: string | null;
}

async function post(url: string, body: unknown): Promise<{ status: number; task: TaskBody }> {
  const response = await fetch(`${url}/tasks`, {
    method: "POST",
    headers: { ...AUTH, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, task: (await response.json()) as TaskBody };
}

async function get(url: string, id: number): Promise<TaskBody> {
  const response = await fetch(`${url}/tasks/${id}`, { headers: AUTH });
  expect(response.status).toBe(200);
  return (await response.json()) as TaskBody;
}

async function waitForStatus(
  url: string,
  id: number,
  status: string | string[],
  timeoutMs = 15_000,
) {
  const wanted = Array.isArray(status) ? status : [status];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = await get(url, id);
    if (wanted.includes(task.status)) return task;
    if (Date.now() > deadline) throw new Error(`task ${id} is ${task.state}, not ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("kill -9 right after a 2xx loses nothing", () => {
  let server: ServerProcess | undefined;
  afterEach(async () => {
    await server?.stop("SIGKILL");
    server = undefined;
  });

  it("keeps acknowledged tasks in their state, and their timers fire after restart", async () => {
    const dataDir = tempDir("fw-kill9-");
    const port = await freePort();
    const marker = join(dataDir, "ran.txt");
    server = await startServerProcess({ dataDir, port });

    const soon = await post(server.url, {
      actions: [{ type: "exec", params: { command: `echo soon >> ${marker}` } }],
      executeAt: Date.now() + 3_000,
    });
    const later = await post(server.url, {
      actions: [{ type: "noop" }],
      executeAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const now = await post(server.url, {
      actions: [{ type: "exec", params: { command: `echo now >> ${marker}` } }],
    });
    expect([soon.status, later.status, now.status]).toEqual([201, 201, 201]);
    // Killed the moment the last 2xx arrived: no graceful anything.
    server.child.kill("SIGKILL");
    await server.exited;

    server = await startServerProcess({ dataDir, port });
    expect(await get(server.url, soon.task.id)).toMatchObject({
      status: "scheduled",
      executeAt: soon.task.executeAt,
    });
    expect(await get(server.url, later.task.id)).toMatchObject({
      status: "scheduled",
      executeAt: later.task.executeAt,
    });
    // The immediate task was done, or its attempt died with the engine's embedded
    // agent: then it is settled as lost (it has no retries), never run again.
    const settled = await waitForStatus(server.url, now.task.id, ["done", "timedOut"]);
    if (settled.status === "timedOut") expect(settled.timeoutReason).toBe("agentLost");
    // The restored timer fires at its original time.
    const done = await waitForStatus(server.url, soon.task.id, "done");
    expect(done.status).toBe("done");
    const lines = readFileSync(marker, "utf8").trim().split("\n").sort();
    expect(lines.filter((line) => line === "soon")).toHaveLength(1);
    expect(lines.filter((line) => line === "now").length).toBeLessThanOrEqual(1);
  });
});
