/**
 * One agent partitioned from NATS (issue 8, outages): a TCP proxy between that agent
 * and nats-server is cut while the agent has running and queued work, for longer
 * than the engine's agent timeout, then restored. What a user sees:
 *
 * - the agent goes offline once the timeout passes; its running attempts are timed
 *   out ("agentOffline") and each task retries or ends per its own retry policy;
 * - work queued for it (a lane behind a running task, new submits) is acknowledged
 *   and waits: its run is sent again until it is delivered or its delivery timeout;
 * - the other agents carry on;
 * - when the link is back the agent is online again, takes the retries and new work,
 *   and its reports about attempts the engine already settled are ignored.
 *
 * An attempt that was running when the link dropped keeps running on the host; if
 * its task retries, its command runs again in the new attempt (at least once across
 * attempts), but no (task, attempt) ever runs twice.
 */
import { afterAll, describe, expect, it } from "vitest";
import {
  FINAL_STATUSES,
  type Fleet,
  type FleetAgent,
  type FleetTask,
  startFleet,
} from "../helpers/fleet";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy";
import { until } from "../helpers/until";

const AGENT_TIMEOUT_MS = 2_000;
/** Longer than the agent timeout, and than the running commands' sleep. */
const PARTITION_MS = 6_000;
const RUNNING_SLEEP_S = 3;
const RETRY_ONCE = { limit: 1, backoffMs: 500 };
const NO_RETRY = { limit: 0 };

describe("an agent partitioned from NATS and coming back", () => {
  let fleet: Fleet | undefined;
  let proxy: TcpProxy | undefined;
  afterAll(async () => {
    await fleet?.stop();
    await proxy?.close();
  });

  it("is offline past its timeout, its attempts settle per policy, and it takes work again on return", async () => {
    fleet = await startFleet({
      prefix: "fw-partition-",
      env: { FW_AGENT_TIMEOUT_MS: String(AGENT_TIMEOUT_MS), FW_DELIVERY_TIMEOUT_MS: "30000" },
    });
    const f = fleet;
    proxy = await startTcpProxy({ port: f.nats.port });
    const link = proxy;
    f.startAgent("steady");
    f.startAgent("island", `nats://127.0.0.1:${link.port}`);
    await f.waitOnline(["steady", "island"]);
    const agentStatus = async (id: string) =>
      (await f.agents()).find((agent: FleetAgent) => agent.id === id)?.status;
    const acknowledged = async (
      agent: string,
      options: Parameters<Fleet["submit"]>[1],
    ): Promise<FleetTask> => {
      const answer = await f.submit(agent, options);
      expect(answer.status).toBe(201);
      return answer.task as FleetTask;
    };

    // Running on the island when the link drops: one task that may retry, one not.
    const retried = await acknowledged("island", { sleep: RUNNING_SLEEP_S, retry: RETRY_ONCE });
    const notRetried = await acknowledged("island", { sleep: RUNNING_SLEEP_S, retry: NO_RETRY });
    // A lane: its first task runs, the second is queued behind it.
    const laneHead = await acknowledged("island", {
      sleep: RUNNING_SLEEP_S,
      retry: NO_RETRY,
      lane: "island-serial",
    });
    const laneQueued = await acknowledged("island", { retry: NO_RETRY, lane: "island-serial" });
    for (const task of [retried, notRetried, laneHead]) {
      await until(async () => ((await f.task(task.id)).status === "running" ? true : undefined));
    }
    expect((await f.task(laneQueued.id)).status).toBe("ready");

    await link.cut();
    const cutAt = Date.now();
    await until(async () => ((await agentStatus("island")) === "offline" ? true : undefined));
    const offlineAfterMs = Date.now() - cutAt;

    // The engine settled the island's running attempts per each task's policy.
    const settled = await until(async () => {
      const [r, n, h] = await Promise.all([retried, notRetried, laneHead].map((t) => f.task(t.id)));
      return r && n && h && r.attempt === 1 && n.status === "timedOut" && h.status === "timedOut"
        ? { r, n, h }
        : undefined;
    });
    expect(settled.n.timeoutReason).toBe("agentOffline");
    expect(settled.h.timeoutReason).toBe("agentOffline");
    // The lane moved on to its queued task; it waits for the island like new work does.
    const during = await acknowledged("island", { retry: NO_RETRY });
    // The rest of the fleet is not affected.
    const elsewhere = await acknowledged("steady", { retry: NO_RETRY });
    await until(async () => ((await f.task(elsewhere.id)).status === "done" ? true : undefined));

    // The commands that were running finish on the host, partitioned or not.
    await until(() => (f.ran().length >= 3 ? true : undefined), 10_000);
    await until(
      () => (Date.now() - cutAt >= PARTITION_MS ? true : undefined),
      PARTITION_MS + 1_000,
    );

    await link.restore();
    const restoredAt = Date.now();
    await f.waitOnline(["island"]);
    const onlineAfterMs = Date.now() - restoredAt;
    const after = await acknowledged("island", { retry: NO_RETRY });

    const ids = [retried, notRetried, laneHead, laneQueued, during, elsewhere, after].map(
      (task) => task.id,
    );
    const final = await until(async () => {
      const tasks = await Promise.all(ids.map((id) => f.task(id)));
      return tasks.every((task) => (FINAL_STATUSES as readonly string[]).includes(task.status))
        ? tasks
        : undefined;
    }, 40_000);
    const drainMs = Date.now() - restoredAt;
    const byId = new Map(final.map((task) => [task.id, task]));
    const ran = f.ran();
    const runs = new Map<string, number>();
    for (const execId of ran) runs.set(execId, (runs.get(execId) ?? 0) + 1);

    console.log(
      [
        `agent partitioned for ${PARTITION_MS / 1000} s (agent timeout ${AGENT_TIMEOUT_MS / 1000} s)`,
        `  offline ${offlineAfterMs} ms after the cut; online ${onlineAfterMs} ms after the link was back`,
        `  every task final ${drainMs} ms after the link was back`,
        ...final.map(
          (task) =>
            `  task ${task.id}: ${task.status}${task.timeoutReason ? ` (${task.timeoutReason})` : ""}, attempt ${task.attempt}`,
        ),
        `  attempts run on hosts: ${ran.join(", ")}`,
      ].join("\n"),
    );

    expect(offlineAfterMs).toBeGreaterThanOrEqual(AGENT_TIMEOUT_MS - 500);
    // No (task, attempt) ran twice.
    expect([...runs].filter(([, count]) => count > 1)).toEqual([]);
    // The retried task ran its second attempt after the return; its first attempt also
    // ran to its end on the partitioned host: its command ran once per attempt.
    expect(byId.get(retried.id)).toMatchObject({ status: "done", attempt: 2 });
    expect(runs.get(`${retried.id}-0-1`)).toBe(1);
    expect(runs.get(`${retried.id}-0-2`)).toBe(1);
    // Not retried: timed out, though its command did run to its end on the host.
    expect(byId.get(notRetried.id)).toMatchObject({ status: "timedOut" });
    expect(runs.get(`${notRetried.id}-0-1`)).toBe(1);
    // Queued behind the lane's head, new during the partition, new after: all ran once.
    for (const task of [laneQueued, during, elsewhere, after]) {
      expect(byId.get(task.id)).toMatchObject({ status: "done", attempt: 1 });
      expect(runs.get(`${task.id}-0-1`)).toBe(1);
    }
    // Nothing ran that the engine did not send: every run is one of these tasks'.
    expect(ran.every((execId) => ids.includes(Number(execId.split("-")[0])))).toBe(true);
    expect(link.accepted).toBeGreaterThanOrEqual(2);
  }, 90_000);
});
