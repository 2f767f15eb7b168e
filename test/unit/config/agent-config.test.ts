import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { execAction } from "../../../agent/actions/exec";
import { noopAction } from "../../../agent/actions/noop";
import { loadAgentConfig } from "../../../src/config";
import { allowedActions } from "../../../src/main";
import { tempDir } from "../../helpers/engine";

const dir = tempDir("fw-agent-config-");
function file(name: string, text: string) {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("the agent's configuration", () => {
  it("reads YAML and fills defaults", () => {
    const config = loadAgentConfig({}, [
      "--nats",
      "nats://127.0.0.1:4222",
      "--id",
      "web-1",
      "--config",
      file(
        "a.yaml",
        "labels: { role: web }\ninstances:\n  - id: game-1\n    directory: /srv/game-1\n    start: { command: ./run }\n",
      ),
    ]);
    expect(config).toMatchObject({
      id: "web-1",
      natsUrl: "nats://127.0.0.1:4222",
      labels: { role: "web" },
      actions: null,
      heartbeatMs: 5_000,
      instances: [{ id: "game-1", directory: "/srv/game-1", start: { command: "./run" } }],
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each([
    ["no NATS URL", ["--id", "a"], /needs --nats/],
    ["no id", ["--nats", "nats://x:1"], /needs --id/],
    ["a bad id", ["--nats", "nats://x:1", "--id", "a.b"], /letters, digits/],
    [
      "an unknown flag",
      ["--nats", "nats://x:1", "--id", "a", "--port", "1"],
      /unknown option --port/,
    ],
    [
      "a missing file",
      ["--nats", "nats://x:1", "--id", "a", "--config", "/nope.json"],
      /cannot read/,
    ],
  ])("refuses %s with one clear message", (_, argv, message) => {
    expect(() => loadAgentConfig({}, argv)).toThrow(message);
  });

  it("names the bad field of a config file", () => {
    const bad = file("b.json", JSON.stringify({ heartbeatMs: 10, labels: { a: "b" } }));
    expect(() =>
      loadAgentConfig({}, ["--nats", "nats://x:1", "--id", "a", "--config", bad]),
    ).toThrow(/\/heartbeatMs/);
    const unknown = file("c.json", JSON.stringify({ bogus: true }));
    expect(() =>
      loadAgentConfig({}, ["--nats", "nats://x:1", "--id", "a", "--config", unknown]),
    ).toThrow(/agent config/);
    const twice = file(
      "d.json",
      JSON.stringify({
        instances: [
          { id: "i", directory: "/a", start: { command: "x" } },
          { id: "i", directory: "/b", start: { command: "y" } },
        ],
      }),
    );
    expect(() =>
      loadAgentConfig({}, ["--nats", "nats://x:1", "--id", "a", "--config", twice]),
    ).toThrow(/declared twice/);
  });

  it("keeps exec off unless the config lists it", () => {
    const base = loadAgentConfig({ FW_NATS_URL: "nats://x:1", FW_AGENT_ID: "a" });
    const all = [noopAction, execAction];
    expect(allowedActions(base, all).map((a) => a.type)).toEqual(["noop"]);
    const withExec = { ...base, actions: ["exec"] };
    expect(allowedActions(withExec, all).map((a) => a.type)).toEqual(["exec"]);
    expect(() => allowedActions({ ...base, actions: ["teleport"] }, all)).toThrow(
      /unknown actions: teleport/,
    );
  });
});
