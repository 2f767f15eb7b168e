/**
 * Issue 5's load rule, over real HTTP against a real server process: 8 executors
 * long-poll one definition for 5,000 tasks. Every task is started exactly once and
 * ends succeeded; no execId is accepted twice; tasks cancelled mid-run make their
 * executor's next call fail with 422.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTH, freePort, type ServerProcess, startServerProcess } from "../helpers/server-process";

const TASKS = 5_000;
const EXECUTORS = 8;
const CANCELLED = 16;

let dir: string;
let server: ServerProcess;

interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are read field by field.
  body: any;
}

async function rpc(body: unknown): Promise<Reply> {
  const response = await fetch(`${server.url}/rpc`, {
    method: "POST",
    headers: { ...AUTH, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function ok(method: string, params: unknown) {
  const reply = await rpc({ method, params });
  if (reply.status !== 200)
    throw new Error(`${method}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body.result;
}

/** Runs `calls` as batches of 100, in order; every answer must be a result. */
async function batched(calls: { method: string; params: unknown }[]) {
  const results: unknown[] = [];
  for (let i = 0; i < calls.length; i += 100) {
    const reply = await rpc(calls.slice(i, i + 100));
    expect(reply.status).toBe(200);
    for (const answer of reply.body) {
      expect(answer).toHaveProperty("result");
      results.push(answer.result);
    }
  }
  return results;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fw-executor-load-"));
  const definitions = join(dir, "definitions.json");
  writeFileSync(definitions, JSON.stringify([{ name: "load" }, { name: "doomed" }]));
  server = await startServerProcess({
    dataDir: join(dir, "data"),
    port: await freePort(),
    env: { FW_TASK_DEFINITIONS_FILE: definitions, FW_LOG_LEVEL: "warn" },
  });
}, 30_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("8 executors, 5,000 tasks", () => {
  it("starts every task once, ends every one succeeded, and refuses cancelled tasks' calls", async () => {
    const ids = Array.from({ length: TASKS }, (_, i) => `load-${i}`);
    await batched(
      ids.map((id, i) => ({
        method: "awf.task/create-and-execute",
        params: { definition: "load", id, params: { i } },
      })),
    );
    const doomed = Array.from({ length: CANCELLED }, (_, i) => `doomed-${i}`);
    await batched(
      doomed.map((id) => ({
        method: "awf.task/create-and-execute",
        params: { definition: "doomed", id, params: {} },
      })),
    );

    const starts = new Map<string, number>();
    const acceptedExecIds = new Set<string>();
    const duplicateExecIds: string[] = [];
    const refusedAfterCancel: number[] = [];
    let finished = 0;
    let cancelled = 0;

    async function executor() {
      while (finished < TASKS || cancelled < CANCELLED) {
        const polled = await ok("awf.task/long-poll", {
          taskDefinitions: ["load", "doomed"],
          timeout: 500,
        });
        for (const task of polled.resources) {
          const started = await rpc({
            method: "awf.task/start",
            params: { id: task.id, execId: task.execId },
          });
          expect(started.status, JSON.stringify(started.body)).toBe(200);
          if (acceptedExecIds.has(task.execId)) duplicateExecIds.push(task.execId);
          acceptedExecIds.add(task.execId);
          starts.set(task.id, (starts.get(task.id) ?? 0) + 1);
          if (task.definition === "doomed") {
            // Its user cancels it while it runs: the executor's next calls are refused.
            await ok("awf.task/cancel", { id: task.id });
            const beat = await rpc({
              method: "awf.task/notify",
              params: { id: task.id, execId: task.execId, notification: "heartbeat" },
            });
            const done = await rpc({
              method: "awf.task/success",
              params: { id: task.id, execId: task.execId },
            });
            refusedAfterCancel.push(beat.status, done.status);
            cancelled++;
            continue;
          }
          const done = await rpc({
            method: "awf.task/success",
            params: { id: task.id, execId: task.execId, result: { i: task.params.i } },
          });
          expect(done.status, JSON.stringify(done.body)).toBe(200);
          finished++;
        }
      }
    }

    await Promise.all(Array.from({ length: EXECUTORS }, executor));

    expect(duplicateExecIds).toEqual([]);
    expect(starts.size).toBe(TASKS + CANCELLED);
    expect([...starts.values()].every((n) => n === 1)).toBe(true);
    expect(refusedAfterCancel).toEqual(Array(CANCELLED * 2).fill(422));

    const statuses = (await batched(
      [...ids, ...doomed].map((id) => ({ method: "awf.task/status", params: { id } })),
    )) as { resource: { id: string; status: string; outcome: string; retryCount: number } }[];
    const outcomes = new Map(statuses.map((s) => [s.resource.id, s.resource]));
    for (const id of ids) {
      expect(outcomes.get(id), id).toMatchObject({
        status: "done",
        outcome: "succeeded",
        retryCount: 1,
      });
    }
    for (const id of doomed) {
      expect(outcomes.get(id), id).toMatchObject({ status: "done", outcome: "canceled" });
    }
    // Nothing is left to claim.
    expect(
      (await ok("awf.task/poll", { taskDefinitions: ["load", "doomed"], maxBatchSize: 10 }))
        .resources,
    ).toEqual([]);
  }, 240_000);
});
