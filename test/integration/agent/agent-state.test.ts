import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { execAction } from "../../../agent/actions/exec";
import { Agent } from "../../../agent/agent";
import { SqliteAgentState } from "../../../agent/state";
import { EmbeddedBus } from "../../../src/bus";
import { silentLogger } from "../../../src/log";
import type { AgentReport, CommandReply, ReportAck } from "../../../src/protocol";
import { tempDir } from "../../helpers/engine";

describe("the agent's state survives its restarts", () => {
  it("keeps attempts and unacknowledged reports in SQLite", () => {
    const dir = tempDir("fw-agent-state-");
    const first = new SqliteAgentState(dir);
    const report: AgentReport = {
      kind: "result",
      execId: "7-0-1",
      taskId: 7,
      at: 1,
      outcome: { ok: true },
    };
    first.putAttempt({ execId: "7-0-1", taskId: 7, state: "succeeded", pid: null });
    first.putAttempt({ execId: "8-0-1", taskId: 8, state: "running", pid: 12345 });
    first.putReport(report);
    first.close();

    const second = new SqliteAgentState(dir);
    expect(second.getAttempt("7-0-1")?.state).toBe("succeeded");
    expect(second.runningAttempts()).toEqual([
      { execId: "8-0-1", taskId: 8, state: "running", pid: 12345 },
    ]);
    expect(second.reports()).toEqual([report]);
    second.deleteReport(report);
    expect(second.reports()).toEqual([]);
    second.close();
  });

  it("never runs a known execId again after a restart", async () => {
    const dir = tempDir("fw-agent-restart-");
    const marker = join(dir, "ran");
    const bus = new EmbeddedBus();
    const reports: AgentReport[] = [];
    // An engine stand-in that records results and acknowledges them as durable.
    bus.subscribe<AgentReport>("fw.report.host1", (message) => {
      if (message.data.kind === "result") reports.push(message.data);
      message.respond?.({ durable: true } satisfies ReportAck);
    });
    const start = () => {
      const agent = new Agent({
        id: "host1",
        bus,
        log: silentLogger,
        actions: [execAction],
        state: new SqliteAgentState(dir),
      });
      agent.start();
      return agent;
    };
    const run = (execId: string, command: string) =>
      bus.request<CommandReply>("fw.agent.host1.cmd", {
        kind: "run",
        execId,
        taskId: 1,
        actionIdx: 0,
        action: { type: "exec", params: { command } },
        timeoutMs: 0,
      });

    const first = start();
    expect(await run("1-0-1", `echo once >> ${marker}`)).toMatchObject({ state: "running" });
    const waitFor = async (count: number) => {
      const deadline = Date.now() + 5_000;
      while (reports.length < count) {
        if (Date.now() > deadline) throw new Error("no result in time");
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    await waitFor(1);
    await first.stop();

    const second = start();
    try {
      // The same execId after a restart: answered from the ledger, not run.
      expect(await run("1-0-1", `echo once >> ${marker}`)).toMatchObject({ state: "succeeded" });
      expect(readFileSync(marker, "utf8")).toBe("once\n");
      expect(reports).toHaveLength(1);
    } finally {
      await second.stop();
    }
  });
});
