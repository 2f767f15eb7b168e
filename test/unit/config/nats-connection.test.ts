/**
 * How the engine and the agent read their NATS credentials and TLS files: what they
 * pass to the bus, and the one line a mistake gets at start.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadAgentConfig, loadConfig } from "../../../src/config";
import { ConfigError } from "../../../src/errors";
import { tempDir } from "../../helpers/engine";

const dir = tempDir("fw-nats-config-");
function file(name: string, text: string) {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const URL = "nats://127.0.0.1:4222";
const engine = (env: Record<string, string>) => loadConfig({ FW_NATS_URL: URL, ...env });
const agent = (env: Record<string, string>) =>
  loadAgentConfig({ FW_NATS_URL: URL, FW_AGENT_ID: "web-1", ...env });

describe("NATS credentials and TLS for the engine and the agent", () => {
  it("passes user and password on, for the engine and for the agent", () => {
    const env = { FW_NATS_USER: "engine", FW_NATS_PASSWORD: "s3cret" };
    expect(engine(env)).toMatchObject({
      natsUrl: URL,
      natsClient: { user: "engine", pass: "s3cret" },
    });
    expect(agent(env)).toMatchObject({
      natsUrl: URL,
      natsClient: { user: "engine", pass: "s3cret" },
    });
  });

  it("takes credentials out of the URL, so the URL it keeps can be logged", () => {
    const config = engine({ FW_NATS_URL: "nats://agent-web-1:p%40ss@nats.example:4222" });
    expect(config.natsUrl).toBe("nats://nats.example:4222");
    expect(config.natsClient).toEqual({ user: "agent-web-1", pass: "p@ss" });
  });

  it("reads the password from FW_NATS_PASSWORD_FILE's first line", () => {
    const path = file("password", "from-file\nignored\n");
    expect(agent({ FW_NATS_USER: "u", FW_NATS_PASSWORD_FILE: path }).natsClient).toEqual({
      user: "u",
      pass: "from-file",
    });
  });

  it("requires TLS for tls:// and for any TLS file, trusting the files given", () => {
    expect(engine({ FW_NATS_URL: "tls://127.0.0.1:4222" })).toMatchObject({
      natsUrl: "tls://127.0.0.1:4222",
      natsClient: { tls: {} },
    });
    const ca = file("ca.pem", PEM);
    const cert = file("client.pem", PEM);
    const key = file(
      "client.key",
      "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
    );
    expect(
      agent({ FW_NATS_TLS_CA: ca, FW_NATS_TLS_CERT: cert, FW_NATS_TLS_KEY: key }).natsClient,
    ).toEqual({ tls: { caFile: ca, certFile: cert, keyFile: key } });
  });

  it("asks nothing of a plain nats:// URL without credentials", () => {
    expect(engine({}).natsClient).toEqual({});
    expect(loadConfig({}).natsClient).toEqual({});
  });

  it.each([
    [
      "a CA file that does not exist",
      { FW_NATS_TLS_CA: join(dir, "nope.pem") },
      /^FW_NATS_TLS_CA \/.*nope\.pem cannot be read: ENOENT/,
    ],
    [
      "a CA file that is not PEM",
      { FW_NATS_TLS_CA: file("ca.txt", "hello") },
      /^FW_NATS_TLS_CA \/.*ca\.txt is not a PEM file \(no "-----BEGIN" line\)$/,
    ],
    [
      "a certificate without its key",
      { FW_NATS_TLS_CERT: file("only-cert.pem", PEM) },
      /^FW_NATS_TLS_CERT and FW_NATS_TLS_KEY go together: set both or neither$/,
    ],
    [
      "a password without a user",
      { FW_NATS_PASSWORD: "x" },
      /^FW_NATS_PASSWORD needs FW_NATS_USER$/,
    ],
    [
      "credentials twice",
      { FW_NATS_URL: "nats://a:b@127.0.0.1:4222", FW_NATS_USER: "a" },
      /^NATS credentials are given twice/,
    ],
    [
      "an unreadable password file",
      { FW_NATS_USER: "u", FW_NATS_PASSWORD_FILE: join(dir, "nope") },
      /^FW_NATS_PASSWORD_FILE \/.*nope cannot be read: ENOENT/,
    ],
    [
      "an empty password file",
      { FW_NATS_USER: "u", FW_NATS_PASSWORD_FILE: file("empty", "\n") },
      /^FW_NATS_PASSWORD_FILE \/.*empty is empty$/,
    ],
    [
      "a scheme the client does not speak",
      { FW_NATS_URL: "ws://127.0.0.1:4222" },
      /^FW_NATS_URL scheme ws is not supported \(use nats:\/\/ or tls:\/\/\)/,
    ],
  ])("refuses %s in one line, for the engine and the agent", (_name, env, message) => {
    for (const load of [engine, agent]) {
      expect(() => load(env)).toThrow(ConfigError);
      expect(() => load(env)).toThrow(message);
    }
  });

  it("refuses a TLS key path that is not a file it can read", () => {
    // A directory: unreadable as a file even for root, which chmod would not stop.
    expect(() => agent({ FW_NATS_TLS_CERT: file("c.pem", PEM), FW_NATS_TLS_KEY: dir })).toThrow(
      /^FW_NATS_TLS_KEY \/.* cannot be read: EISDIR/,
    );
  });

  it("refuses NATS options for an engine that has no NATS URL", () => {
    expect(() => loadConfig({ FW_NATS_USER: "engine" })).toThrow(
      /^FW_NATS_USER is set but FW_NATS_URL is not$/,
    );
  });
});
