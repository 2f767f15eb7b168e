import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors";
import { PostgresStore } from "../../../src/store/postgres-store";
import {
  databaseSupply,
  freePort,
  type PostgresServer,
  startPostgres,
} from "../../helpers/postgres";
import { commitSet, event, storeContract, task } from "./store-contract";

let server: PostgresServer;
let databases: ReturnType<typeof databaseSupply>;
const freshDatabase = () => databases.next();

beforeAll(async () => {
  server = await startPostgres();
  databases = databaseSupply(server, "fw_test");
}, 180_000);

afterAll(async () => {
  await databases?.drain();
  await server?.stop();
});

storeContract("postgres", async () => {
  const store = new PostgresStore(await freshDatabase());
  return { store, cleanup: () => store.close() };
});

describe("PostgresStore", () => {
  it("keeps what was committed across close and reopen", async () => {
    const url = await freshDatabase();
    const first = new PostgresStore(url);
    await first.migrate();
    await first.commit(commitSet({ tasks: [task(1)], events: [event(1)] }));
    await first.close();
    const second = new PostgresStore(url);
    await second.migrate();
    expect(await second.getTask(1)).toEqual(task(1));
    expect(await second.counters()).toEqual({ taskId: 1, batchId: 0, eventSeq: 1 });
    await second.close();
  });

  it("forEachScheduled visits every scheduled task when they span several cursor batches", async () => {
    const store = new PostgresStore(await freshDatabase());
    await store.migrate();
    const n = 25_000;
    const tasks = Array.from({ length: n }, (_, i) =>
      task(i + 1, { state: "scheduled", executeAt: 1_000 + i }),
    );
    await store.commit(commitSet({ tasks }));
    const seen = new Set<number>();
    let wrongTime = 0;
    const count = await store.forEachScheduled(1_000, (id, executeAt) => {
      seen.add(id);
      if (executeAt !== 1_000 + id - 1) wrongTime++;
    });
    await store.close();
    // Task 1 is due exactly at the threshold, so it is not "after" it.
    expect(count).toBe(n - 1);
    expect(seen.size).toBe(n - 1);
    expect(seen.has(1)).toBe(false);
    expect(wrongTime).toBe(0);
  });

  it("rejects migrate() with a one-line ConfigError naming host and port when nothing listens", async () => {
    const port = await freePort();
    const store = new PostgresStore(`postgres://fw:secret@127.0.0.1:${port}/fleetwork`);
    const failure = await store.migrate().then(
      () => undefined,
      (error: unknown) => error,
    );
    await store.close();
    expect(failure).toBeInstanceOf(ConfigError);
    const message = (failure as ConfigError).message;
    expect(message).toContain(`127.0.0.1:${port}`);
    expect(message).toMatch(/ECONNREFUSED|refused/i);
    expect(message).not.toContain("secret");
    expect(message).not.toContain("\n");
  });

  it("refuses a URL that is not postgres:// with a ConfigError", () => {
    expect(() => new PostgresStore("mysql://localhost/db")).toThrow(ConfigError);
  });
});
