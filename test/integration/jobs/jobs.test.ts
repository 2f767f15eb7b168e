/**
 * The job runtime (seed-spec 4.10–4.14) with the embedded agent running real `exec`
 * steps: steps in order, slots and priorities, retries, and a restart mid-step.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { JobView } from "../../../src/runtime/commands";
import { startTestEngine, TENANT, type TestEngine, tempDir } from "../../helpers/engine";
import { until } from "../../helpers/until";

const engines: TestEngine[] = [];
afterEach(async () => {
  for (const t of engines.splice(0)) await t.stop();
});

/** Three steps appending to a file; `gate` makes the middle one wait for a file. */
function workflowFiles(dir: string) {
  const out = join(dir, "out.txt");
  const step = (name: string, command: string) => ({ name, action: "exec", params: { command } });
  return [
    {
      source: "three.yaml",
      value: {
        name: "three",
        steps: [
          step("one", `echo "one {{n}}" >> ${out}`),
          step(
            "two",
            `until [ -e ${dir}/gate-{{n}} ]; do sleep 0.02; done; echo "two {{n}}" >> ${out}`,
          ),
          step("three", `echo "three {{n}}" >> ${out}`),
        ],
      },
    },
    {
      source: "pulled.yaml",
      value: {
        name: "pulled",
        steps: [
          { name: "check", executor: "qc", params: { file: "{{content_id}}.mp4" } },
          step("after", `echo "after {{content_id}}" >> ${out}`),
        ],
      },
    },
    {
      source: "flaky.yaml",
      value: {
        name: "flaky",
        steps: [
          // Fails until it has run `fails` times, counting its runs in a file.
          step(
            "count",
            `echo x >> ${dir}/runs-{{n}}; [ $(wc -l < ${dir}/runs-{{n}}) -gt {{fails}} ]`,
          ),
        ],
      },
    },
  ];
}

async function start(dir = tempDir()) {
  const t = await startTestEngine({
    dir,
    engine: { workflowFiles: workflowFiles(dir), taskDefinitions: [{ name: "qc" }] },
  });
  engines.push(t);
  return t;
}

async function settle(t: TestEngine, id: number, state: string): Promise<JobView> {
  return until(async () => {
    const job = await t.engine.jobs.find(TENANT, id);
    return job?.state === state ? job : undefined;
  });
}

describe("jobs", () => {
  it("runs a workflow's steps in order and completes", async () => {
    const t = await start();
    const dir = t.dir;
    const job = await t.engine.jobs.create(TENANT, { workflow: "three", parameters: { n: 1 } });
    expect(job).toMatchObject({ state: "started", queueState: 1, failed: false });
    writeFileSync(join(dir, "gate-1"), "");
    const done = await settle(t, job.id, "completed");
    expect(done).toMatchObject({ queueState: 2, failed: false });
    expect(readFileSync(join(dir, "out.txt"), "utf8")).toBe("one 1\ntwo 1\nthree 1\n");
  });

  it("runs an executor step as pulled work: an executor claims it, the job goes on", async () => {
    const t = await start();
    const job = await t.engine.jobs.create(TENANT, {
      workflow: "pulled",
      parameters: { content_id: "x7" },
    });
    const x = t.engine.executor;
    const [claimed] = await x.longPoll(TENANT, ["qc"], 1, 5_000);
    expect(claimed).toMatchObject({ params: { file: "x7.mp4" }, label: "pulled/check" });
    await x.start(TENANT, claimed?.id as string, claimed?.task.execId as string);
    await x.success(TENANT, claimed?.id as string, claimed?.task.execId as string, { ok: 1 });
    expect(await settle(t, job.id, "completed")).toMatchObject({ failed: false });
    expect(readFileSync(join(t.dir, "out.txt"), "utf8")).toBe("after x7\n");
  });

  it("keeps slots: max_jobs, priority_slots for jobs under priority_threshold", async () => {
    const t = await start();
    await t.engine.jobs.setSetting("max_jobs", "2");
    await t.engine.jobs.setSetting("priority_slots", "1");
    const normal = [];
    for (const n of [1, 2, 3]) {
      normal.push(
        await t.engine.jobs.create(TENANT, { workflow: "three", parameters: { n }, priority: 9 }),
      );
    }
    const started = () =>
      t.engine.jobs
        .views()
        .filter((j) => j.state === "started")
        .map((j) => j.id);
    // One slot is kept for priority jobs: one normal job runs.
    await until(() => (started().length === 1 ? true : undefined));
    expect(started()).toEqual([normal[0]?.id]);
    const urgent = await t.engine.jobs.create(TENANT, {
      workflow: "three",
      parameters: { n: 9 },
      priority: 1,
    });
    await until(() => (started().length === 2 ? true : undefined));
    expect(started()).toEqual([normal[0]?.id, urgent.id]);
    for (const n of [9, 1, 2, 3]) writeFileSync(join(t.dir, `gate-${n}`), "");
    for (const job of [...normal, urgent]) await settle(t, job.id, "completed");
  });

  it("retries a failed step after retry_delay, then fails the job past retry_limit", async () => {
    const t = await start();
    await t.engine.jobs.setSetting("retry_delay", "0");
    await t.engine.jobs.setSetting("retry_limit", "2");
    const recovers = await t.engine.jobs.create(TENANT, {
      workflow: "flaky",
      parameters: { n: 1, fails: 2 },
    });
    const gives = await t.engine.jobs.create(TENANT, {
      workflow: "flaky",
      parameters: { n: 2, fails: 5 },
    });
    expect(await settle(t, recovers.id, "completed")).toMatchObject({ failed: false });
    expect(await settle(t, gives.id, "completed")).toMatchObject({ failed: true });
    const runs = (n: number) =>
      readFileSync(join(t.dir, `runs-${n}`), "utf8").split("\n").length - 1;
    expect(runs(1)).toBe(3);
    // The first try and retry_limit retries.
    expect(runs(2)).toBe(3);
  });

  it("goes on after a restart mid-step: the interrupted step runs again, finished ones do not", async () => {
    const dir = tempDir();
    const first = await start(dir);
    await first.engine.jobs.setSetting("retry_delay", "0");
    const job = await first.engine.jobs.create(TENANT, { workflow: "three", parameters: { n: 5 } });
    const out = join(dir, "out.txt");
    await until(() =>
      first.engine.jobs.get(TENANT, job.id)?.currentStep === 1 ? true : undefined,
    );
    expect(readFileSync(out, "utf8")).toBe("one 5\n");
    await first.stop({ keepDir: true });
    engines.splice(engines.indexOf(first), 1);
    // The stopping agent cancelled step two's attempt: a failure the job retries.
    const second = await start(dir);
    expect(second.engine.jobs.settings()).toMatchObject({ retry_delay: 0 });
    writeFileSync(join(dir, "gate-5"), "");
    const done = await settle(second, job.id, "completed");
    expect(done.failed).toBe(false);
    expect(readFileSync(out, "utf8")).toBe("one 5\ntwo 5\nthree 5\n");
  });
});
