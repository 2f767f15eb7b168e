/**
 * The agent, not the engine, decides what runs on its host: run commands forged
 * straight onto `fw.agent.<id>.cmd` (no engine involved) for `exec` where exec is not
 * allowed, for an action type nobody knows, and for a known action the agent's
 * `actions` list leaves out, are refused with a failed result naming why, and nothing
 * runs: the marker file each would create never appears. The same forged commands sent
 * to an agent that allows them do create their markers, so the forgery reaches the
 * agent and the markers would show a run.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsBus } from "../../src/bus";
import {
  type AgentHello,
  type AgentReport,
  type CommandReply,
  patterns,
  type ReportAck,
  type RunCommand,
  subjects,
} from "../../src/protocol";
import { startAgentProcess } from "../helpers/agent-process";
import { tempDir } from "../helpers/engine";
import { type NatsServer, startNats } from "../helpers/nats";
import { until } from "../helpers/until";

type Result = Extract<AgentReport, { kind: "result" }>;

describe("an agent enforces its action allowlist whatever arrives on its command subject", () => {
  const dir = tempDir("fw-allowlist-");
  let nats: NatsServer;
  let forger: NatsBus;
  const agents: ChildProcess[] = [];
  const hellos = new Set<string>();
  const results = new Map<string, Result>();
  const started: string[] = [];
  const output: string[] = [];
  let taskId = 1000;

  /** What each agent's game-1 instance would create if it were ever started. */
  const instanceMarker = (agentId: string) => join(dir, `${agentId}-instance-started`);
  const execMarker = (agentId: string) => join(dir, `${agentId}-exec-ran`);
  const instance = (agentId: string) => {
    const directory = join(dir, `${agentId}-game-1`);
    // Deployed (`current` links to a build), so start-instance has everything it needs
    // and only the allowlist can stop it.
    mkdirSync(join(directory, "build-1"), { recursive: true });
    symlinkSync(join(directory, "build-1"), join(directory, "current"));
    return { id: "game-1", directory, start: { command: `touch ${instanceMarker(agentId)}` } };
  };

  /** Publishes a run command as anyone on the bus could, and returns the agent's answer. */
  async function forge(agentId: string, action: RunCommand["action"]) {
    const execId = `forged-${++taskId}`;
    const command: RunCommand = {
      kind: "run",
      execId,
      taskId,
      actionIdx: 0,
      action,
      timeoutMs: 10_000,
    };
    const reply = await forger.request<CommandReply>(subjects.command(agentId), command);
    return { execId, reply };
  }

  const resultOf = (execId: string) => until(() => results.get(execId));

  beforeAll(async () => {
    nats = await startNats();
    forger = await NatsBus.connect({ servers: nats.url, name: "forger" });
    forger.subscribe<AgentHello>(patterns.hellos, (message) => {
      hellos.add(message.data.agentId);
      message.respond?.({ ok: true });
    });
    forger.subscribe<AgentReport>(patterns.reports, (message) => {
      const report = message.data;
      if (report.kind === "result") results.set(report.execId, report);
      if (report.kind === "started") started.push(report.execId);
      message.respond?.({ durable: true } satisfies ReportAck);
    });
    forger.subscribe("fw.out.>", (message) => output.push(message.subject));
    await forger.flush();
    const configs: Record<string, Record<string, unknown>> = {
      // No `actions`: every action but exec.
      "default-agent": { instances: [instance("default-agent")] },
      "noop-only": { actions: ["noop"], instances: [instance("noop-only")] },
      // The control: the same forged commands run here.
      open: { actions: ["exec", "start-instance", "noop"], instances: [instance("open")] },
    };
    for (const [id, config] of Object.entries(configs)) {
      agents.push(
        startAgentProcess({
          natsUrl: nats.url,
          id,
          dir,
          config: { heartbeatMs: 60_000, ...config },
        }),
      );
    }
    await until(() => (hellos.size === 3 ? true : undefined), 30_000);
  }, 60_000);

  afterAll(async () => {
    for (const child of agents) child.kill("SIGKILL");
    await forger?.close();
    await nats?.stop();
  });

  const exec = (agentId: string) => ({
    type: "exec",
    params: { command: `touch ${execMarker(agentId)}` },
  });
  const startInstance = { type: "start-instance", params: { instanceId: "game-1" } };

  it("runs the forged commands on the agent that allows them (the control)", async () => {
    const ran = await forge("open", exec("open"));
    expect(ran.reply).toMatchObject({ ok: true, state: "running" });
    expect(await resultOf(ran.execId)).toMatchObject({ outcome: { ok: true, exitCode: 0 } });
    expect(existsSync(execMarker("open"))).toBe(true);

    // The instance's command touches its marker and exits, so the start itself fails
    // ("exited within"): what counts is that it ran.
    const startedInstance = await forge("open", startInstance);
    expect((await resultOf(startedInstance.execId)).outcome.message).toMatch(
      /^start-instance: game-1 exited within/,
    );
    expect(existsSync(instanceMarker("open"))).toBe(true);
  });

  it.each([
    ["exec, which its default config leaves out", "default-agent", exec("default-agent")],
    ["exec, which its actions list leaves out", "noop-only", exec("noop-only")],
    ["start-instance, known but not in its actions list", "noop-only", startInstance],
    ["an action type nobody knows", "noop-only", { type: "rm-rf", params: { path: "/" } }],
    ["exec spelled otherwise", "default-agent", { type: "Exec", params: exec("x").params }],
    ["exec with a trailing space", "default-agent", { type: "exec ", params: exec("x").params }],
    ["a type named after an object property", "noop-only", { type: "constructor" }],
    ["a type named __proto__", "noop-only", { type: "__proto__" }],
  ])("refuses %s and runs nothing", async (_name, agentId, action) => {
    const { execId, reply } = await forge(agentId, action);
    const why = `action ${action.type} is not enabled on agent ${agentId}`;
    expect(reply).toMatchObject({ ok: true, state: "failed" });
    expect(reply.message).toBe(why);
    const result = await resultOf(execId);
    expect(result.outcome.ok).toBe(false);
    expect(result.outcome.message).toBe(why);

    // The agent handles commands in order: once a noop sent after it is done, the
    // refused one had its chance to run, and did not.
    const after = await forge(agentId, { type: "noop" });
    expect((await resultOf(after.execId)).outcome.ok).toBe(true);
    expect(started).not.toContain(execId);
    expect(output.filter((subject) => subject.endsWith(`.${agentId}`))).toEqual([]);
    expect(existsSync(execMarker(agentId))).toBe(false);
    expect(existsSync(execMarker("x"))).toBe(false);
    expect(existsSync(instanceMarker(agentId))).toBe(false);
  });
});
