/**
 * A real nats-server started with the checked-in configuration (deploy/nats/), with
 * fresh random passwords for the engine and the two agents it declares (web-1, web-2),
 * and the environment the engine and each agent need to log in.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { NodeConnectionOptions } from "@nats-io/transport-node";
import { type NatsServer, startNats } from "./nats";
import { REPO } from "./server-process";

export const NATS_CONFIG = join(REPO, "deploy", "nats", "nats-server.conf");
export const NATS_TLS_CONFIG = join(REPO, "deploy", "nats", "nats-server-tls.conf");

/** The agents deploy/nats/nats-server.conf declares. */
export const CONFIGURED_AGENTS = ["web-1", "web-2"] as const;
export type ConfiguredAgent = (typeof CONFIGURED_AGENTS)[number];

export interface SecureNats {
  readonly server: NatsServer;
  /** `nats://` or, with TLS, `tls://` and the loopback address. */
  readonly url: string;
  /** Every NATS user's password, by user ("engine", "agent-web-1", ...). */
  readonly passwords: Readonly<Record<string, string>>;
  /** FW_NATS_* for the engine process. */
  readonly engineEnv: Readonly<Record<string, string>>;
  /** FW_NATS_* for an agent process logging in as itself. */
  agentEnv(id: ConfiguredAgent): Record<string, string>;
  /** Options for a test's own client logging in as `user`. */
  client(user: string): NodeConnectionOptions;
}

/** Throwaway TLS material made by openssl: a CA and a server certificate for 127.0.0.1. */
export interface TestCertificates {
  readonly caFile: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** A second CA that signed nothing the server uses: trusting it is trusting the wrong one. */
  readonly otherCaFile: string;
}

function openssl(dir: string, args: string[], input = ""): void {
  execFileSync("openssl", args, { cwd: dir, input, stdio: ["pipe", "ignore", "pipe"] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "1",
    "-subj",
    `/CN=${name}`,
  ]);
}

export function makeCertificates(dir: string): TestCertificates {
  mkdirSync(dir, { recursive: true });
  makeCa(dir, "ca");
  makeCa(dir, "other-ca");
  openssl(dir, [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  ]);
  openssl(
    dir,
    [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.pem",
      "-days",
      "1",
      "-extfile",
      "/dev/stdin",
    ],
    "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  return {
    caFile: join(dir, "ca.pem"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server.key"),
    otherCaFile: join(dir, "other-ca.pem"),
  };
}

const password = () => randomBytes(12).toString("hex");

export async function startSecureNats(
  dir: string,
  options: { tls?: TestCertificates } = {},
): Promise<SecureNats> {
  const passwords: Record<string, string> = { engine: password() };
  for (const id of CONFIGURED_AGENTS) passwords[`agent-${id}`] = password();
  const storeDir = join(dir, "nats-store");
  mkdirSync(storeDir, { recursive: true });
  const tls = options.tls;
  // nats-server parses a variable's value as a config value: double quotes keep it a
  // string. The engine's is given as a bcrypt hash, the way docs/nats-security.md advises.
  const quoted = (value: string) => `"${value}"`;
  const engineHash = Bun.password.hashSync(passwords.engine as string, {
    algorithm: "bcrypt",
    cost: 4,
  });
  const server = await startNats({
    config: tls ? NATS_TLS_CONFIG : NATS_CONFIG,
    env: {
      FW_NATS_STORE_DIR: storeDir,
      FW_NATS_ENGINE_PASSWORD: quoted(engineHash),
      FW_NATS_AGENT_WEB_1_PASSWORD: quoted(passwords["agent-web-1"] as string),
      FW_NATS_AGENT_WEB_2_PASSWORD: quoted(passwords["agent-web-2"] as string),
      ...(tls
        ? { FW_NATS_TLS_SERVER_CERT: tls.serverCert, FW_NATS_TLS_SERVER_KEY: tls.serverKey }
        : {}),
    },
    ...(tls ? { probe: { tls: { caFile: tls.caFile } } } : {}),
  });
  const url = tls ? `tls://127.0.0.1:${server.port}` : server.url;
  const tlsEnv: Record<string, string> = tls ? { FW_NATS_TLS_CA: tls.caFile } : {};
  const login = (user: string) => ({
    FW_NATS_USER: user,
    FW_NATS_PASSWORD: passwords[user] as string,
    ...tlsEnv,
  });
  return {
    server,
    url,
    passwords,
    engineEnv: { FW_NATS_URL: url, ...login("engine") },
    agentEnv: (id) => ({ FW_NATS_URL: url, ...login(`agent-${id}`) }),
    client: (user) => ({
      servers: server.url,
      user,
      // An agent's replies come to its own inbox, which is all its permissions allow.
      ...(user.startsWith("agent-") ? { inboxPrefix: `_INBOX.agent.${user.slice(6)}` } : {}),
      pass: passwords[user] ?? "",
      reconnect: false,
      ...(tls ? { tls: { caFile: tls.caFile } } : {}),
    }),
  };
}
