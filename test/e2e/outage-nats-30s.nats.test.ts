/**
 * nats-server stopped for 30 s in the middle of a steady load (issue 8, outages):
 * the HTTP API keeps taking work (a submit needs only SQLite), and once NATS is back
 * every acknowledged task ends, each attempt's command ran exactly once on its agent,
 * none is left stuck. Prints the figures.
 */
import { afterAll, describe, expect, it } from "vitest";
import { FINAL_STATUSES, type Fleet, type FleetTask, startFleet } from "../helpers/fleet";
import { until } from "../helpers/until";

const OUTAGE_MS = 30_000;
const AGENTS = ["edge-1", "edge-2", "edge-3"];
/** The load: this many submits every TICK_MS, round robin over the agents. */
const PER_TICK = 3;
const TICK_MS = 100;
const BEFORE_MS = 3_000;
const AFTER_MS = 2_000;
/** Each command sleeps a little, so attempts are running when NATS stops. */
const SLEEP_S = 0.5;

describe("nats-server stopped for 30 s during a load", () => {
  let fleet: Fleet | undefined;
  afterAll(async () => {
    await fleet?.stop();
  });

  it("keeps answering, then ends every acknowledged task, each attempt run exactly once", async () => {
    fleet = await startFleet({ prefix: "fw-outage-30s-", env: { FW_AGENT_TIMEOUT_MS: "15000" } });
    const f = fleet;
    for (const id of AGENTS) f.startAgent(id);
    await f.waitOnline(AGENTS);

    const acknowledged: FleetTask[] = [];
    const refused: number[] = [];
    let during = { submits: 0, maxMs: 0 };
    let phase = "before" as "before" | "during" | "after";
    let n = 0;
    let loading = true;
    const load = (async () => {
      while (loading) {
        const tick = Date.now();
        const answers = await Promise.all(
          Array.from({ length: PER_TICK }, () =>
            f.submit(AGENTS[n++ % AGENTS.length] as string, { sleep: SLEEP_S }),
          ),
        );
        for (const answer of answers) {
          if (answer.task) acknowledged.push(answer.task);
          else refused.push(answer.status);
          if (phase === "during") {
            during = { submits: during.submits + 1, maxMs: Math.max(during.maxMs, answer.ms) };
          }
        }
        // The load's own pace, not a wait for a condition.
        await new Promise((resolve) =>
          setTimeout(resolve, Math.max(0, TICK_MS - (Date.now() - tick))),
        );
      }
    })();

    await until(() => (acknowledged.length >= (BEFORE_MS / TICK_MS) * PER_TICK ? true : undefined));
    await f.nats.halt();
    const haltedAt = Date.now();
    phase = "during";
    await until(
      () => (Date.now() - haltedAt >= OUTAGE_MS ? true : undefined),
      OUTAGE_MS + 5_000,
      250,
    );
    await f.nats.resume();
    const resumedAt = Date.now();
    phase = "after";
    await until(() => (Date.now() - resumedAt >= AFTER_MS ? true : undefined));
    loading = false;
    await load;

    // Every acknowledged task reaches a final state.
    const ids = new Set(acknowledged.map((task) => task.id));
    const final = await until(
      async () => {
        const tasks = (await f.tasks()).filter((task) => ids.has(task.id));
        const open = tasks.filter(
          (task) => !(FINAL_STATUSES as readonly string[]).includes(task.status),
        );
        return tasks.length === ids.size && open.length === 0 ? tasks : undefined;
      },
      60_000,
      200,
    );
    const drainMs = Date.now() - resumedAt;
    const statuses: Record<string, number> = {};
    for (const task of final) {
      const key = task.timeoutReason ? `${task.status}(${task.timeoutReason})` : task.status;
      statuses[key] = (statuses[key] ?? 0) + 1;
    }

    const ran = f.ran();
    const runs = new Map<string, number>();
    for (const execId of ran) runs.set(execId, (runs.get(execId) ?? 0) + 1);
    const twice = [...runs].filter(([, count]) => count > 1);
    const doneNotRun = final.filter(
      (task) => task.status === "done" && !runs.has(`${task.execId}`),
    );

    console.log(
      [
        `nats-server stopped for ${OUTAGE_MS / 1000} s under load (${AGENTS.length} agents)`,
        `  tasks acknowledged: ${acknowledged.length} (${during.submits} while NATS was down), refused: ${refused.length}`,
        `  slowest submit while NATS was down: ${during.maxMs.toFixed(0)} ms`,
        `  final states: ${JSON.stringify(statuses)}`,
        `  time from NATS back to every task final: ${drainMs} ms`,
        `  attempts run on agents: ${ran.length}, run twice: ${twice.length}`,
      ].join("\n"),
    );

    expect(refused).toEqual([]);
    expect(during.submits).toBeGreaterThan(0);
    expect(statuses).toEqual({ done: acknowledged.length });
    expect(twice).toEqual([]);
    expect(doneNotRun).toEqual([]);
    expect(ran).toHaveLength(acknowledged.length);
  }, 90_000);
});
