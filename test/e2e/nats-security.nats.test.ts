/**
 * NATS security with the checked-in configuration (deploy/nats/nats-server.conf): the
 * engine and each agent log in as themselves, and the server holds each agent to its
 * own subjects. A real nats-server, the real engine process, real agent processes, and
 * this test's own clients logging in with an agent's credentials to try what a
 * compromised agent would.
 */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { connect, type NatsConnection, PermissionViolationError } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentExit, startAgentProcess } from "../helpers/agent-process";
import { tempDir } from "../helpers/engine";
import { type SecureNats, startSecureNats } from "../helpers/secure-nats";
import { AUTH, freePort, type ServerProcess, startServerProcess } from "../helpers/server-process";
import { until } from "../helpers/until";

interface Task {
  id: number;
  state: string;
  status: string;
  execId: string | null;
  agent: string | null;
  results: { stdout?: string }[];
}

interface AgentView {
  id: string;
  status: string;
  labels: Record<string, string>;
}

/** A client of the test's own, with every permission error the server sent it. */
interface Probe {
  readonly nc: NatsConnection;
  readonly refused: string[];
}

async function probe(options: Parameters<typeof connect>[0]): Promise<Probe> {
  const nc = await connect(options);
  const refused: string[] = [];
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "error" && status.error instanceof PermissionViolationError) {
        refused.push(status.error.message);
      }
    }
  })();
  return { nc, refused };
}

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe("NATS permissions with deploy/nats/nats-server.conf", () => {
  let nats: SecureNats;
  let engine: ServerProcess;
  const agents: ChildProcess[] = [];
  const probes: Probe[] = [];
  const dir = tempDir("fw-nats-security-");

  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${engine.url}${path}`, {
      method,
      headers: body ? { ...AUTH, "content-type": "application/json" } : AUTH,
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, json: (await response.json()) as unknown };
  };
  const task = async (id: number) => (await api("GET", `/tasks/${id}`)).json as Task;
  const agentList = async () => (await api("GET", "/agents")).json as AgentView[];
  const submit = async (agent: string, command: string) => {
    const created = await api("POST", "/tasks", {
      agent,
      actions: [{ type: "exec", params: { command } }],
    });
    expect(created.status).toBe(201);
    return (created.json as Task).id;
  };
  const finished = (id: number) =>
    until(async () => {
      const t = await task(id);
      return ["done", "failed", "cancelled", "timedOut"].includes(t.status) ? t : undefined;
    }, 20_000);
  /** Logs in as `user`; kept to be closed after the file. */
  const login = async (user: string) => {
    const client = await probe(nats.client(user));
    probes.push(client);
    return client;
  };

  beforeAll(async () => {
    nats = await startSecureNats(dir);
    engine = await startServerProcess({
      dataDir: join(dir, "engine"),
      port: await freePort(),
      env: { ...nats.engineEnv, FW_AGENT_TIMEOUT_MS: "2000" },
    });
    for (const id of ["web-1", "web-2"] as const) {
      agents.push(
        startAgentProcess({
          natsUrl: nats.url,
          id,
          dir,
          config: { actions: ["exec", "noop"], heartbeatMs: 200, labels: { name: id } },
          env: nats.agentEnv(id),
        }),
      );
    }
    await until(async () => {
      const online = (await agentList()).filter((a) => a.status === "online");
      return online.length === 2 ? true : undefined;
    }, 30_000);
  }, 60_000);

  afterAll(async () => {
    for (const client of probes) await client.nc.close().catch(() => {});
    for (const child of agents) child.kill("SIGKILL");
    await engine?.stop("SIGKILL");
    await nats?.server.stop();
  });

  it("runs tasks on two agents that each log in with their own credentials", async () => {
    const [one, two] = [
      await submit("web-1", "echo on web-1"),
      await submit("web-2", "echo on web-2"),
    ];
    const [first, second] = [await finished(one), await finished(two)];
    expect(first).toMatchObject({ status: "done", agent: "web-1" });
    expect(first.results[0]?.stdout).toBe("on web-1\n");
    expect(second).toMatchObject({ status: "done", agent: "web-2" });
    expect(second.results[0]?.stdout).toBe("on web-2\n");
    // Each hello got through on the agent's own subject: the engine has their labels.
    const byId = Object.fromEntries((await agentList()).map((a) => [a.id, a.labels]));
    expect(byId).toMatchObject({ "web-1": { name: "web-1" }, "web-2": { name: "web-2" } });
  });

  it("refuses agent web-1's subscriptions to web-2's commands and to others' replies", async () => {
    const web1 = await login("agent-web-1");
    // A refused SUB is answered (and the subscription's callback called with the error)
    // before the PONG of the flush that follows it.
    const refused: string[] = [];
    const stolen: string[] = [];
    const subscribe = (subject: string) =>
      web1.nc.subscribe(subject, {
        callback: (error, msg) => {
          if (error !== null) refused.push(error.message);
          else stolen.push(msg.subject);
        },
      });
    // What it may: its own commands.
    subscribe("fw.agent.web-1.cmd");
    await web1.nc.flush();
    expect(refused).toEqual([]);

    for (const subject of ["fw.agent.web-2.cmd", "fw.agent.*.cmd", "fw.>", "_INBOX.>"]) {
      subscribe(subject);
    }
    await web1.nc.flush();
    expect(refused).toEqual([
      'Permissions Violation for Subscription to "fw.agent.web-2.cmd"',
      'Permissions Violation for Subscription to "fw.agent.*.cmd"',
      'Permissions Violation for Subscription to "fw.>"',
      'Permissions Violation for Subscription to "_INBOX.>"',
    ]);
    // web-2 still gets its commands, and web-1's refused subscriptions none of them.
    const id = await submit("web-2", "echo still mine");
    expect(await finished(id)).toMatchObject({ status: "done" });
    expect(stolen).toEqual([]);
  });

  it("refuses web-1's forged hello, heartbeat, report and output of web-2, commands and events", async () => {
    // A witness with the engine's rights sees what reaches the engine's subjects.
    const witness = await login("engine");
    const seen: string[] = [];
    for (const pattern of [
      "fw.agent.*.hello",
      "fw.agent.*.heartbeat",
      "fw.agent.*.instance-exit",
      "fw.report.*",
      "fw.out.>",
      "fw.events.>",
    ]) {
      witness.nc.subscribe(pattern, {
        callback: (_error, msg) => {
          if (msg.string().includes("forged")) seen.push(msg.subject);
        },
      });
    }
    await witness.nc.flush();
    expect(witness.refused).toEqual([]);

    const web1 = await login("agent-web-1");
    const forged = [
      "fw.agent.web-2.hello",
      "fw.agent.web-2.heartbeat",
      "fw.agent.web-2.instance-exit",
      "fw.report.web-2",
      "fw.out.1.web-2",
      "fw.agent.web-2.cmd",
      "fw.events.task.1.done",
      "fw.events.agent.web-2.online",
    ];
    for (const subject of forged)
      web1.nc.publish(subject, encode({ agentId: "web-2", forged: true }));
    // Then one it may send, which the witness sees after anything sent before it.
    web1.nc.publish("fw.out.1.web-1", encode({ forged: true }));
    await web1.nc.flush();
    await until(() => (seen.length > 0 ? true : undefined));
    // The client hands the server's errors on asynchronously, after the flush.
    await until(() => (web1.refused.length >= forged.length ? true : undefined));
    expect(web1.refused).toEqual(
      forged.map((subject) => `Permissions Violation for Publish to "${subject}"`),
    );
    expect(seen).toEqual(["fw.out.1.web-1"]);
  });

  it("takes an agent's word only for itself on its own subjects", async () => {
    const web1 = await login("agent-web-1");
    const { nc } = web1;
    // Hello and heartbeat naming another agent, on web-1's own subjects.
    nc.publish(
      "fw.agent.web-1.heartbeat",
      encode({ agentId: "ghost", at: Date.now(), running: [] }),
    );
    const hello = await nc.request(
      "fw.agent.web-1.hello",
      encode({
        agentId: "ghost",
        version: "0",
        labels: {},
        capabilities: ["exec"],
        instances: [],
        running: [],
      }),
      { timeout: 5_000 },
    );
    expect(hello.json()).toEqual({
      ok: false,
      message: "hello on fw.agent.web-1.hello names agent ghost: an agent speaks only for itself",
    });
    // The heartbeat was sent first on the same connection, so it has been handled too.
    expect((await agentList()).map((a) => a.id).sort()).toEqual(["web-1", "web-2"]);

    // A result for a task web-2 runs, sent as web-1: the engine ignores it.
    const id = await submit("web-2", "sleep 30");
    const running = await until(async () => {
      const t = await task(id);
      return t.status === "running" && t.execId ? t : undefined;
    });
    const ack = await nc.request(
      "fw.report.web-1",
      encode({
        kind: "result",
        execId: running.execId,
        taskId: id,
        at: Date.now(),
        outcome: { ok: true, stdout: "forged" },
      }),
      { timeout: 5_000 },
    );
    expect(ack.json()).toMatchObject({ ignored: true });
    expect(await task(id)).toMatchObject({ status: "running" });
    expect((await api("POST", `/tasks/${id}/cancel`)).status).toBeLessThan(300);
    expect(await finished(id)).toMatchObject({ status: "cancelled" });

    // An instance exit naming web-2 is not relayed; web-1's own is, as an event.
    const witness = await login("engine");
    const relayed: string[] = [];
    witness.nc.subscribe("fw.events.agent.*.instanceExited", {
      callback: (_error, msg) => {
        relayed.push(msg.subject);
      },
    });
    await witness.nc.flush();
    const exit = (agentId: string) =>
      encode({ agentId, instanceId: "game-1", code: 1, signal: null, at: Date.now() });
    nc.publish("fw.agent.web-1.instance-exit", exit("web-2"));
    nc.publish("fw.agent.web-1.instance-exit", exit("web-1"));
    await until(() => (relayed.length > 0 ? true : undefined));
    expect(relayed).toEqual(["fw.events.agent.web-1.instanceExited"]);
  });

  it("an engine with a wrong password exits before it listens, naming why", async () => {
    const started = startServerProcess({
      dataDir: join(dir, "engine-refused"),
      port: await freePort(),
      env: { ...nats.engineEnv, FW_NATS_PASSWORD: "not-the-password" },
    });
    await expect(started).rejects.toThrow(
      /^server exited before it was ready:\nfleetwork: cannot use NATS at nats:\/\/127\.0\.0\.1:\d+: .*the server refused the credentials \(user "engine"\): authorization violation\n$/,
    );
  });

  describe("an agent that cannot prove who it is exits at once, naming why", () => {
    /** Starts agent `id` with `env` and waits for it to exit. */
    async function refusedAgent(id: string, env: Record<string, string>, natsUrl = nats.url) {
      const child = startAgentProcess({
        natsUrl,
        id,
        dir,
        config: { actions: ["noop"] },
        env: { FW_NATS_USER: "", FW_NATS_PASSWORD: "", ...env },
        output: "pipe",
      });
      agents.push(child);
      return agentExit(child);
    }

    it("without credentials", async () => {
      const { code, stderr } = await refusedAgent("web-1", {});
      expect(code).toBe(1);
      expect(stderr).toMatch(
        /^fleetwork: cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: the server refused the credentials \(no user\): authorization violation$/,
      );
    });

    it("with a wrong password", async () => {
      const { code, stderr } = await refusedAgent("web-1", {
        FW_NATS_USER: "agent-web-1",
        FW_NATS_PASSWORD: "not-the-password",
      });
      expect(code).toBe(1);
      expect(stderr).toMatch(
        /the server refused the credentials \(user "agent-web-1"\): authorization violation$/,
      );
      expect(stderr).not.toContain("not-the-password");
    });

    it("with another agent's credentials", async () => {
      const { code, stderr } = await refusedAgent("web-2", nats.agentEnv("web-1"));
      expect(code).toBe(1);
      expect(stderr).toBe(
        `fleetwork: NATS user "agent-web-1" may not subscribe to fw.agent.web-2.cmd: use agent web-2's own credentials`,
      );
    });

    it("with the password in the URL, which no message repeats", async () => {
      const url = nats.url.replace("nats://", "nats://agent-web-1:wrong-secret@");
      const { code, stderr } = await refusedAgent("web-1", {}, url);
      expect(code).toBe(1);
      expect(stderr).toMatch(
        /^fleetwork: cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: the server refused the credentials \(user "agent-web-1"\): authorization violation$/,
      );
      expect(stderr).not.toContain("wrong-secret");
    });
  });
});
