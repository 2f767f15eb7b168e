/**
 * Issue 6's story, in-process: 20 jobs of a 3-step workflow on 2 encoder agents with
 * max_jobs 3 and priority_slots 1. Never more than 3 jobs are started; a priority job
 * overtakes the queue; a step failing twice then succeeding is retried; one failing
 * past retry_limit fails its job; callbacks reach a loopback server in order; the
 * logs tell the story.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execAction } from "../../../agent/actions/exec";
import { Agent } from "../../../agent/agent";
import { silentLogger } from "../../../src/log";
import type { JobView } from "../../../src/runtime/commands";
import { startTestEngine, TENANT, type TestEngine, tempDir } from "../../helpers/engine";
import { until } from "../../helpers/until";

const JOBS = 20;
let t: TestEngine;
let dir: string;
let server: ReturnType<typeof Bun.serve>;
const received: { job_id: number; event?: string; status?: string; task_name?: string }[] = [];
const agents: Agent[] = [];

beforeAll(async () => {
  dir = tempDir();
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      received.push((await request.json()) as (typeof received)[number]);
      return new Response("ok");
    },
  });
  const encode = [
    // Fails `fails` times for this content, then succeeds; records every run.
    `echo " {{content_id}}" >> ${dir}/encodes`,
    `n=$(grep -c " {{content_id}}$" ${dir}/encodes)`,
    `sleep 0.05; [ "$n" -gt "{{fails}}" ]`,
  ].join("; ");
  t = await startTestEngine({
    dir,
    engine: {
      workflowFiles: [
        {
          source: "encode.yaml",
          value: {
            name: "encode",
            steps: [
              { name: "prepare", action: "exec", params: { command: "true" } },
              {
                name: "encode",
                action: "exec",
                labels: { role: "encoder" },
                params: { command: encode },
              },
              { name: "publish", action: "exec", params: { command: "true" } },
            ],
          },
        },
      ],
      jobCallbackBackoffMs: 10,
    },
  });
  for (const id of ["enc-1", "enc-2"]) {
    const agent = new Agent({
      id,
      bus: t.bus,
      log: silentLogger,
      actions: [execAction],
      labels: { role: "encoder" },
      heartbeatMs: 200,
    });
    agent.start();
    agents.push(agent);
  }
  await until(() =>
    t.engine.agents().filter((a) => a.labels.role === "encoder").length === 2 ? true : undefined,
  );
  await t.engine.jobs.setSetting("max_jobs", "3");
  await t.engine.jobs.setSetting("priority_slots", "1");
  await t.engine.jobs.setSetting("retry_delay", "0");
  await t.engine.jobs.setSetting("retry_limit", "2");
}, 30_000);

afterAll(async () => {
  for (const agent of agents) await agent.stop();
  await t?.stop();
  server?.stop(true);
});

describe("20 jobs, 2 encoders, max_jobs 3, priority_slots 1", () => {
  it("keeps the slots, lets a priority job overtake, retries, fails past the limit, calls back in order", async () => {
    const started = new Set<number>();
    let most = 0;
    const order: number[] = [];
    const subscription = t.bus.subscribe<{ id: string; state: string }>("fw.events.job.>", (m) => {
      const id = Number(m.data.id);
      if (m.data.state === "started") {
        started.add(id);
        order.push(id);
      } else started.delete(id);
      most = Math.max(most, started.size);
    });
    const callback = `http://127.0.0.1:${server.port}/hook`;
    const jobs: JobView[] = [];
    for (let i = 0; i < JOBS; i++) {
      // Job 3 fails twice then succeeds; job 5 fails past the limit of 2 retries.
      const fails = i === 3 ? 2 : i === 5 ? 9 : 0;
      jobs.push(
        await t.engine.jobs.create(TENANT, {
          workflow: "encode",
          parameters: { content_id: `c${i}`, fails, rest_endpoints: [callback] },
          priority: 9,
        }),
      );
    }
    // The normal jobs still queued when the priority job comes (the engine's own view;
    // start events may still be on their way).
    const waiting = t.engine.jobs
      .views()
      .filter((job) => job.state === "queued")
      .map((job) => job.id);
    const urgent = await t.engine.jobs.create(TENANT, {
      workflow: "encode",
      parameters: { content_id: "urgent", fails: 0, rest_endpoints: [callback] },
      priority: 1,
    });
    const all = [...jobs, urgent];
    const done = await until(async () => {
      const views = await Promise.all(all.map((job) => t.engine.jobs.find(TENANT, job.id)));
      return views.every((v) => v?.state === "completed") ? views : undefined;
    }, 60_000);
    subscription.unsubscribe();

    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBeGreaterThanOrEqual(2);
    // Created last, it started before every normal job still queued ahead of it.
    expect(waiting.length).toBeGreaterThan(0);
    for (const id of waiting) expect(order.indexOf(urgent.id)).toBeLessThan(order.indexOf(id));

    const failed = done.filter((v) => v?.failed).map((v) => v?.id);
    expect(failed).toEqual([jobs[5]?.id]);
    const encodes = readFileSync(join(dir, "encodes"), "utf8").trimEnd().split("\n");
    const runs = (content: string) => encodes.filter((line) => line.endsWith(` ${content}`));
    expect(runs("c3")).toHaveLength(3);
    expect(runs("c5")).toHaveLength(3); // the first try and 2 retries
    expect(runs("c0")).toHaveLength(1);

    // Callbacks: per job, the step events in order, then the job's end.
    await until(() =>
      received.filter((r) => r.status !== undefined).length === JOBS + 1 ? true : undefined,
    );
    const story = (id: number) =>
      received.filter((r) => r.job_id === id).map((r) => r.status ?? `${r.task_name}:${r.event}`);
    expect(story(jobs[0]?.id as number)).toEqual([
      "prepare:task_started",
      "prepare:task_completed",
      "encode:task_started",
      "encode:task_completed",
      "publish:task_started",
      "publish:task_completed",
      "completed",
    ]);
    expect(story(jobs[3]?.id as number)).toEqual([
      "prepare:task_started",
      "prepare:task_completed",
      "encode:task_started",
      "encode:task_failed",
      "encode:task_started",
      "encode:task_failed",
      "encode:task_started",
      "encode:task_completed",
      "publish:task_started",
      "publish:task_completed",
      "completed",
    ]);
    expect(story(jobs[5]?.id as number).at(-1)).toBe("failed");

    // The logs tell the same story.
    // Each callback is logged once its answer is in, a moment after the server has it.
    const lines = await until(async () => {
      const log = await t.engine.jobs.logs(TENANT, jobs[3]?.id as number);
      const text = log.map((l) => `${l.progname}: ${l.message}`);
      return text.filter((l) => l.startsWith("callback: POST")).length === 11 ? text : undefined;
    });
    expect(lines[0]).toBe("controller: job has started");
    expect(lines).toContain("controller: 'encode' will be retried in 0 s (1 of 2)");
    expect(lines.filter((l) => l.startsWith("worker: 'encode' started on enc-"))).toHaveLength(3);
    expect(lines).toContain("controller: job has completed successfully");
    // Both encoders did work.
    const encoders = new Set<string>();
    for (const job of all) {
      for (const line of await t.engine.jobs.logs(TENANT, job.id)) {
        const on = /^'encode' started on (enc-\d)/.exec(line.message);
        if (on) encoders.add(on[1] as string);
      }
    }
    expect(encoders).toEqual(new Set(["enc-1", "enc-2"]));
    const failedLog = await t.engine.jobs.logs(TENANT, jobs[5]?.id as number);
    expect(failedLog.map((l) => l.message)).toContain("'encode' failed past retry_limit 2");
  }, 90_000);
});
