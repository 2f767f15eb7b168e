/**
 * The store's disk fills up under a running engine (SQLite on a real 16 MB tmpfs,
 * filled to the last byte): new work is refused with StoreUnavailableError (503 in
 * every API family) and leaves nothing behind, what was acknowledged before is kept
 * and finishes, and once the filler is deleted the same engine takes work again.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusTimeoutError, StoreFailure, StoreUnavailableError } from "../../../src/errors";
import { subjects } from "../../../src/protocol";
import { startTestEngine, TENANT, type TestEngine, tempDir } from "../../helpers/engine";
import { mountTmpfs, type Tmpfs } from "../../helpers/tmpfs";
import { until } from "../../helpers/until";

/** How many submits may still fit (in the WAL's slack) after the disk is full. */
const MAX_SUBMITS_UNTIL_FULL = 5_000;

describe("the store's disk full under an in-process engine", () => {
  let disk: Tmpfs;
  let t: TestEngine | undefined;
  const logDir = tempDir("fw-disk-full-log-");
  const ranLog = join(logDir, "ran.log");
  const task = (name: string, command = `echo ${name} >> ${ranLog}`) => ({
    tenant: TENANT,
    name,
    actions: [{ type: "exec", params: { command } }],
  });

  beforeAll(async () => {
    writeFileSync(ranLog, "");
    disk = mountTmpfs(16);
    t = await startTestEngine({ dir: disk.dir });
  });
  afterAll(async () => {
    await t?.stop({ keepDir: true });
    disk?.unmount();
  });

  it("refuses new work, keeps what it acknowledged, and takes work again when space returns", async () => {
    const engine = (t as TestEngine).engine;
    // Acknowledged before the disk fills, and still running while it is full: its
    // result cannot be committed, so the agent's outbox keeps sending it.
    const before = await engine.submit(task("before", `sleep 1; echo before >> ${ranLog}`));
    await (t as TestEngine).waitFor(before.id, ["running"]);
    disk.fill();
    expect(disk.available()).toBe(0);

    // SQLite may still fit a few commits in its WAL file's slack: those are on disk
    // and acknowledged. The first commit that needs new space is refused.
    const acknowledged = [before.id];
    let refusal: unknown;
    for (let i = 0; i < MAX_SUBMITS_UNTIL_FULL && refusal === undefined; i++) {
      try {
        acknowledged.push((await engine.submit(task(`t${i}`))).id);
      } catch (error) {
        refusal = error;
      }
    }
    expect(refusal).toBeInstanceOf(StoreUnavailableError);
    expect((refusal as StoreUnavailableError).failure).toBe(StoreFailure.OutOfSpace);
    expect((refusal as Error).message).toMatch(/^the store is out of space \(SQLITE_FULL/);
    // The refused task was taken back, not kept to be written later.
    expect(engine.stats().submitted).toBe(acknowledged.length);
    expect(engine.unavailable()).toMatch(/out of space/);

    // The running task ends while the disk is full: its result cannot be committed,
    // so it is not answered and the agent's outbox keeps it.
    await until(() => (readFileSync(ranLog, "utf8").includes("before") ? true : undefined));
    // A result sent again is not acknowledged either, though memory already has it:
    // answered "durable", the agent would drop a result a crash could still lose.
    await expect(
      (t as TestEngine).bus.request(
        subjects.report("local"),
        {
          kind: "result",
          execId: `${before.id}-0-1`,
          taskId: before.id,
          at: Date.now(),
          outcome: { ok: true },
        },
        { timeoutMs: 500 },
      ),
    ).rejects.toBeInstanceOf(BusTimeoutError);

    // While the store fails, work is refused before anything changes.
    await expect(engine.submit(task("refused"))).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(engine.stats().submitted).toBe(acknowledged.length);
    // The engine still answers reads.
    expect((await engine.get(TENANT, before.id)).id).toBe(before.id);

    disk.free();
    // The writer retries with backoff (at most 5 s apart): the same engine recovers.
    await until(() => (engine.unavailable() === null ? true : undefined), 15_000);
    const after = await engine.submit(task("after"));
    acknowledged.push(after.id);

    for (const id of acknowledged) {
      expect((await (t as TestEngine).waitFor(id, ["done", "failed"])).status).toBe("done");
    }
    // Each acknowledged task ran once; nothing refused ran at all.
    const ran = readFileSync(ranLog, "utf8").trim().split("\n");
    expect(ran).toHaveLength(acknowledged.length);
    expect(new Set(ran).size).toBe(acknowledged.length);
    expect(ran).not.toContain("refused");
    const listed = await engine.list(TENANT, { limit: 10_000 });
    expect(listed.map((view) => view.id).sort((a, b) => a - b)).toEqual(acknowledged);

    // A restart finds exactly that on disk.
    await (t as TestEngine).stop({ keepDir: true });
    t = await startTestEngine({ dir: disk.dir });
    const restored = await t.engine.list(TENANT, { limit: 10_000 });
    expect(restored.map((view) => view.id).sort((a, b) => a - b)).toEqual(acknowledged);
    expect(new Set(restored.map((view) => view.status))).toEqual(new Set(["done"]));
  }, 60_000);
});
