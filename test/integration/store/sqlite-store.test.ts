import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors";
import { SqliteStore } from "../../../src/store/sqlite-store";
import { commitSet, event, storeContract, task } from "./store-contract";

storeContract("sqlite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fw-sqlite-"));
  const store = new SqliteStore(join(dir, "data", "fleetwork.db"));
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe("SqliteStore on disk", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "fw-sqlite-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps what was committed across close and reopen", async () => {
    const file = join(dir, "fleetwork.db");
    const first = new SqliteStore(file);
    await first.migrate();
    await first.commit(commitSet({ tasks: [task(1)], events: [event(1)] }));
    await first.close();
    const second = new SqliteStore(file);
    await second.migrate();
    expect(await second.getTask(1)).toEqual(task(1));
    expect(await second.counters()).toEqual({ taskId: 1, batchId: 0, eventSeq: 1 });
    await second.close();
  });

  it("compacts the journal by age through an index, not a scan of every event", async () => {
    const file = join(dir, "fleetwork.db");
    const store = new SqliteStore(file);
    await store.migrate();
    await store.close();
    const db = new Database(file, { readonly: true });
    const plan = db
      .query<{ detail: string }, []>("EXPLAIN QUERY PLAN DELETE FROM events WHERE at < 1")
      .all()
      .map((row) => row.detail);
    db.close();
    expect(plan.join("; ")).toMatch(/USING (COVERING )?INDEX events_at/);
  });

  it("refuses a file whose directory cannot be created with a ConfigError naming it", () => {
    const blocker = join(dir, "not-a-dir");
    writeFileSync(blocker, "a regular file where a directory should be");
    const file = join(blocker, "data", "fleetwork.db");
    let thrown: unknown;
    try {
      new SqliteStore(file);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const message = (thrown as ConfigError).message;
    expect(message).toContain(file);
    expect(message).toMatch(/ENOTDIR|not a directory/i);
    expect(message).not.toContain("\n");
  });
});
