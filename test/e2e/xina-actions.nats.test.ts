/**
 * XINA actions against the real server process in NATS mode, with a real host agent
 * process: what the commands did is checked on the host (files written, processes
 * stopped), not only in the engine's records.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgentProcess } from "../helpers/agent-process";
import { tempDir } from "../helpers/engine";
import { type NatsServer, startNats } from "../helpers/nats";
import { AUTH, freePort, type ServerProcess, startServerProcess } from "../helpers/server-process";
import { until } from "../helpers/until";

const AGENT = "xina-host";

interface XinaTask {
  id: number;
  state: string;
  outcome?: string;
  thread: string | null;
}
interface Reply {
  ok?: boolean;
  tasks: XinaTask[];
  error?: { code: string; message: string };
}

describe("XINA actions on a real agent over a real NATS server", () => {
  let nats: NatsServer;
  let server: ServerProcess;
  let agent: ChildProcess | undefined;
  const dir = tempDir("fw-xina-nats-");
  const file = (name: string) => join(dir, name);

  const act = async (body: unknown) => {
    const response = await fetch(`${server.url}/xina/action`, {
      method: "POST",
      headers: { ...AUTH, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as Reply };
  };
  /** The engine's status of a task, through the native API. */
  const status = async (id: number) => {
    const response = await fetch(`${server.url}/tasks/${id}`, { headers: AUTH });
    return ((await response.json()) as { status: string }).status;
  };
  const untilStatus = (id: number, wanted: string) =>
    until(async () => ((await status(id)) === wanted ? true : undefined));

  beforeAll(async () => {
    nats = await startNats();
    server = await startServerProcess({
      dataDir: join(dir, "engine"),
      port: await freePort(),
      env: { FW_NATS_URL: nats.url },
    });
    agent = startAgentProcess({
      natsUrl: nats.url,
      id: AGENT,
      dir,
      config: { actions: ["exec", "noop"], heartbeatMs: 100 },
    });
    await until(async () => {
      const response = await fetch(`${server.url}/agents`, { headers: AUTH });
      const agents = (await response.json()) as { id: string; status: string }[];
      return agents.some((a) => a.id === AGENT && a.status === "online") ? true : undefined;
    });
  }, 60_000);

  afterAll(async () => {
    agent?.kill("SIGKILL");
    await server?.stop("SIGKILL");
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a conf without an agent: this engine has no default one", async () => {
    const answer = await act({
      action: "run",
      tasks: [{ name: "where", conf: { command: "true" } }],
    });
    expect(answer.status).toBe(400);
    expect(answer.json.error?.code).toBe("INVALID_CONF");
    expect(answer.json.error?.message).toContain("tasks[0].conf.agent");
  });

  it("runs a two-task thread on the agent, one task after the other", async () => {
    const out = file("thread.txt");
    const step = (n: number) => ({
      name: `step-${n}`,
      thread: "nats-thread",
      conf: {
        agent: AGENT,
        command: `echo start ${n} >> ${out}; sleep 0.2; echo end ${n} >> ${out}`,
      },
    });
    const answer = await act({ action: "run", tasks: [step(1), step(2)] });
    expect(answer.status).toBe(200);
    const ids = answer.json.tasks.map((task) => task.id);
    expect(ids).toHaveLength(2);
    for (const id of ids) await untilStatus(id, "done");
    expect(readFileSync(out, "utf8")).toBe("start 1\nend 1\nstart 2\nend 2\n");
  });

  it("cancels a running command and its process is gone", async () => {
    const pidFile = file("sleeper.pid");
    const answer = await act({
      action: "run",
      tasks: [
        {
          name: "sleeper",
          ref_id: 31,
          conf: { agent: AGENT, command: `echo $$ > ${pidFile}; exec sleep 30` },
        },
      ],
    });
    const id = answer.json.tasks[0]?.id ?? 0;
    await untilStatus(id, "running");
    const pid = await until(async () => {
      const text = existsSync(pidFile) ? readFileSync(pidFile, "utf8").trim() : "";
      return text === "" ? undefined : Number(text);
    });
    expect(existsSync(`/proc/${pid}`)).toBe(true);

    const cancelled = await act({ action: "cancel", tasks: [{ type: "ref", ref: [31] }] });
    expect(cancelled.status).toBe(200);
    expect(cancelled.json.tasks).toMatchObject([{ id, state: "concluded", outcome: "canceled" }]);
    await until(async () => (existsSync(`/proc/${pid}`) ? undefined : true), 10_000);
  });
});
