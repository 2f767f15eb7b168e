/**
 * queue_scheduled_jobs (seed-spec 4.13) and callback retries (4.15): a scheduled job
 * is queued by the scheduler's tick once due; a job with a semaphore waits as
 * `pending` while the semaphore answers non-2xx; a failing callback is retried with
 * backoff and its outcome logged.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEngine, TENANT, type TestEngine } from "../../helpers/engine";
import { until } from "../../helpers/until";

let t: TestEngine;
let server: ReturnType<typeof Bun.serve>;
let semaphoreOpen = false;
let hookFailuresLeft = 2;
const hooks: unknown[] = [];

beforeAll(async () => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === "/semaphore") return new Response("", { status: semaphoreOpen ? 200 : 503 });
      if (hookFailuresLeft > 0) {
        hookFailuresLeft--;
        return new Response("busy", { status: 500 });
      }
      hooks.push(await request.json());
      return new Response("ok");
    },
  });
  t = await startTestEngine({
    engine: {
      workflowFiles: [
        {
          source: "one.yaml",
          value: {
            name: "one",
            steps: [{ name: "say", action: "exec", params: { command: "true" } }],
          },
        },
      ],
      jobSchedulerFirstInMs: 50,
      jobCallbackBackoffMs: 20,
    },
  });
  await t.engine.jobs.setSetting("schedule_interval", "1");
});

afterAll(async () => {
  await t?.stop();
  server?.stop(true);
});

const state = async (id: number) => (await t.engine.jobs.find(TENANT, id))?.state;

describe("queue_scheduled_jobs", () => {
  it("queues a scheduled job on the first tick after its run_at", async () => {
    const job = await t.engine.jobs.create(TENANT, {
      workflow: "one",
      parameters: { content_id: "later" },
      runAt: Date.now() + 300,
    });
    expect(job.state).toBe("scheduled");
    expect(t.engine.jobs.schedules()).toEqual([
      expect.objectContaining({ name: "queue_scheduled_jobs", everySeconds: 1, active: true }),
    ]);
    await until(async () => ((await state(job.id)) === "completed" ? true : undefined), 10_000);
    const log = await t.engine.jobs.logs(TENANT, job.id);
    expect(log.map((l) => l.message)).toContain("Queued by queue_scheduled_jobs");
  });

  it("holds a job with a closed semaphore as pending, and queues it once it opens", async () => {
    const job = await t.engine.jobs.create(TENANT, {
      workflow: "one",
      parameters: { content_id: "gated" },
      semaphoreUrl: `http://127.0.0.1:${server.port}/semaphore`,
    });
    // Due, but gated: it waits for the scheduler to ask the semaphore.
    expect(job.state).toBe("scheduled");
    await until(async () => ((await state(job.id)) === "pending" ? true : undefined), 10_000);
    semaphoreOpen = true;
    await until(async () => ((await state(job.id)) === "completed" ? true : undefined), 10_000);
  });

  it("does nothing while the schedule is inactive", async () => {
    await t.engine.jobs.setScheduleActive("queue_scheduled_jobs", false);
    const job = await t.engine.jobs.create(TENANT, {
      workflow: "one",
      parameters: { content_id: "held" },
      runAt: Date.now() + 100,
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await state(job.id)).toBe("scheduled");
    await t.engine.jobs.setScheduleActive("queue_scheduled_jobs", true);
    await until(async () => ((await state(job.id)) === "completed" ? true : undefined), 10_000);
  });
});

describe("callbacks", () => {
  it("retries a failing endpoint with backoff and logs the outcome, in order", async () => {
    hookFailuresLeft = 2;
    hooks.length = 0;
    const job = await t.engine.jobs.create(TENANT, {
      workflow: "one",
      parameters: { content_id: "cb", rest_endpoints: [`http://127.0.0.1:${server.port}/hook`] },
    });
    await until(() => (hooks.length === 3 ? true : undefined), 10_000);
    expect(hooks).toEqual([
      expect.objectContaining({ job_id: job.id, task_name: "say", event: "task_started" }),
      expect.objectContaining({ job_id: job.id, task_name: "say", event: "task_completed" }),
      { job_id: job.id, status: "completed", workflow: "one", content_id: "cb", custom_data: null },
    ]);
    // The engine logs each callback once it has its answer, a moment after the server.
    const callbacks = await until(async () => {
      const log = await t.engine.jobs.logs(TENANT, job.id);
      const lines = log.filter((l) => l.progname === "callback").map((l) => l.message);
      return lines.length === 3 ? lines : undefined;
    });
    expect(callbacks[0]).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/hook: 200 after 3 attempts$/);
  });
});
