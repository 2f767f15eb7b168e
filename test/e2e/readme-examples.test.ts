import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../helpers/engine";
import { freePort, REPO, type ServerProcess, startServerProcess } from "../helpers/server-process";

const readme = readFileSync(join(REPO, "README.md"), "utf8");
const packageJson = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
  scripts: Record<string, string>;
};

/** The shell commands of every ```sh block, continuation lines joined. */
function shellCommands(markdown: string): string[] {
  const commands: string[] = [];
  for (const block of markdown.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const joined = (block[1] as string).replace(/\\\n\s*/g, "");
    for (const line of joined.split("\n")) {
      const command = line.replace(/\s+#.*$/, "").trim();
      if (command) commands.push(command);
    }
  }
  return commands;
}

describe("the README's commands are true", () => {
  const commands = shellCommands(readme);

  it("opens with npm install && npm start, then npm test", () => {
    expect(commands.slice(0, 2)).toEqual(["npm install && npm start", "npm test"]);
  });

  it("names only npm scripts that exist", () => {
    const scripts = commands.flatMap((c) =>
      [...c.matchAll(/npm (?:run )?([a-z]+)/g)].map((m) => m[1]),
    );
    for (const script of scripts) {
      if (script === "install" || script === "ci") continue;
      expect(packageJson.scripts, `npm ${script}`).toHaveProperty(script as string);
    }
    expect(packageJson.scripts.start).toContain("src/cli.ts server");
  });

  describe("its curl examples work against a real server", () => {
    let server: ServerProcess;
    let port: number;
    let dataDir: string;
    beforeAll(async () => {
      port = await freePort();
      dataDir = tempDir("fw-readme-");
      // As a newcomer runs it: no FW_API_KEYS, so the server makes and prints a key.
      server = await startServerProcess({ dataDir, port, env: { FW_API_KEYS: "" } });
    });

    it("prints the generated key once, with a curl line that works", () => {
      const key = readFileSync(join(dataDir, "api-key"), "utf8").trim().split(":")[1] as string;
      expect(server.output()).toContain(`curl -H 'Authorization: Bearer ${key}'`);
    });
    afterAll(() => server?.stop());

    const curls = commands.filter((c) => c.startsWith("curl "));
    const keyLine = commands.find((c) => c.startsWith("KEY="));
    it("has examples to run", () => {
      expect(curls.length).toBeGreaterThanOrEqual(3);
    });
    it.each(curls)("%s", (command) => {
      const local = command.replaceAll("localhost:8080", `127.0.0.1:${port}`);
      // The README's own line that reads the key, run in the server's data dir.
      const readKey = (keyLine ?? "").replace("data/api-key", join(dataDir, "api-key"));
      if (/^curl -s?N /.test(command)) {
        // A stream (Server-Sent Events) that its --max-time ends: curl exits 28 then.
        let streamed: string;
        try {
          streamed = execFileSync("sh", ["-c", `${readKey}; ${local} --fail-with-body`], {
            encoding: "utf8",
            timeout: 10_000,
          });
        } catch (error) {
          const failed = error as { status?: number; stdout?: string };
          if (failed.status !== 28) throw error;
          streamed = failed.stdout ?? "";
        }
        expect(command).toMatch(/--max-time \d/);
        expect(streamed).toMatch(/^id: \d+\nevent: \S+\ndata: \{.*\}$/m);
        return;
      }
      const output = execFileSync("sh", ["-c", `${readKey}; ${local} --fail-with-body`], {
        encoding: "utf8",
        timeout: 10_000,
      });
      expect(() => JSON.parse(output)).not.toThrow();
      // A batch (POST /rpc with an array) answers 200 even when a call in it fails.
      if (command.includes("/rpc")) {
        for (const answer of [JSON.parse(output)].flat()) expect(answer).toHaveProperty("result");
      }
    });
  });
});
