/**
 * NATS over TLS with the checked-in deploy/nats/nats-server-tls.conf and a throwaway CA
 * made by openssl: the engine and an agent connect with `tls://` and the CA
 * (FW_NATS_TLS_CA) and run a task; a client that does not trust the CA cannot connect.
 */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentExit, startAgentProcess } from "../helpers/agent-process";
import { tempDir } from "../helpers/engine";
import {
  makeCertificates,
  type SecureNats,
  startSecureNats,
  type TestCertificates,
} from "../helpers/secure-nats";
import { AUTH, freePort, type ServerProcess, startServerProcess } from "../helpers/server-process";
import { until } from "../helpers/until";

describe("the engine and an agent over TLS", () => {
  let certificates: TestCertificates;
  let nats: SecureNats;
  let engine: ServerProcess;
  const agents: ChildProcess[] = [];
  const dir = tempDir("fw-nats-tls-");

  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${engine.url}${path}`, {
      method,
      headers: body ? { ...AUTH, "content-type": "application/json" } : AUTH,
      body: body ? JSON.stringify(body) : undefined,
    });
    return (await response.json()) as Record<string, unknown>;
  };

  /** Starts agent web-1 with `env` and waits for it to exit, with what it printed. */
  async function refusedAgent(env: Record<string, string>) {
    const child = startAgentProcess({
      natsUrl: nats.url,
      id: "web-1",
      dir,
      config: { actions: ["noop"] },
      env: { ...nats.agentEnv("web-1"), ...env },
      output: "pipe",
    });
    agents.push(child);
    return agentExit(child);
  }

  beforeAll(async () => {
    certificates = makeCertificates(join(dir, "pki"));
    nats = await startSecureNats(dir, { tls: certificates });
    engine = await startServerProcess({
      dataDir: join(dir, "engine"),
      port: await freePort(),
      env: nats.engineEnv,
    });
  }, 60_000);

  afterAll(async () => {
    for (const child of agents) child.kill("SIGKILL");
    await engine?.stop("SIGKILL");
    await nats?.server.stop();
  });

  it("runs a task with engine and agent on tls:// trusting the test CA", async () => {
    expect(nats.url).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);
    agents.push(
      startAgentProcess({
        natsUrl: nats.url,
        id: "web-1",
        dir,
        config: { actions: ["exec"], heartbeatMs: 200 },
        env: nats.agentEnv("web-1"),
      }),
    );
    await until(async () => {
      const list = (await api("GET", "/agents")) as unknown as { id: string; status: string }[];
      return list.some((a) => a.id === "web-1" && a.status === "online") ? true : undefined;
    }, 30_000);
    const created = await api("POST", "/tasks", {
      agent: "web-1",
      actions: [{ type: "exec", params: { command: "echo over tls" } }],
    });
    const done = await until(async () => {
      const t = await api("GET", `/tasks/${created.id}`);
      return t.status === "done" || t.status === "failed" ? t : undefined;
    });
    expect(done).toMatchObject({ status: "done", results: [{ stdout: "over tls\n" }] });
  });

  it("an agent that does not trust the server's CA cannot connect", async () => {
    const { code, stderr } = await refusedAgent({ FW_NATS_TLS_CA: certificates.otherCaFile });
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^fleetwork: cannot connect to NATS at tls:\/\/127\.0\.0\.1:\d+: TLS failed: /,
    );
  });

  it("an agent with no CA (the system's) cannot connect either", async () => {
    const { code, stderr } = await refusedAgent({ FW_NATS_TLS_CA: "" });
    expect(code).toBe(1);
    expect(stderr).toMatch(/TLS failed: /);
  });

  it("a CA file that cannot be read is named at start", async () => {
    const { code, stderr } = await refusedAgent({
      FW_NATS_TLS_CA: `${certificates.serverCert}.missing`,
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^fleetwork: FW_NATS_TLS_CA \/.*server\.pem\.missing cannot be read: ENOENT/,
    );
  });
});
