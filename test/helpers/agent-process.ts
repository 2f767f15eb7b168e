/**
 * A host agent as a real child process (`bun src/cli.ts agent`), connected to a NATS
 * server, with its config file and state dir under `dir`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO } from "./server-process";

export interface AgentProcessOptions {
  readonly natsUrl: string;
  readonly id: string;
  /** Where `<id>.json` and `<id>-state/` go. */
  readonly dir: string;
  /** The agent's config file contents (labels, actions, instances, heartbeatMs...). */
  readonly config: Record<string, unknown>;
  readonly logLevel?: string;
  readonly env?: Record<string, string>;
  /**
   * `"pipe"` makes the agent's stdout and stderr readable on the returned child (to
   * count the lines it logs); nobody reads them otherwise, so they are dropped.
   * @default "ignore"
   */
  readonly output?: "ignore" | "pipe";
}

export function startAgentProcess(options: AgentProcessOptions): ChildProcess {
  const config = join(options.dir, `${options.id}.json`);
  writeFileSync(config, JSON.stringify(options.config));
  return spawn(
    BUN,
    [
      join(REPO, "src", "cli.ts"),
      "agent",
      "--nats",
      options.natsUrl,
      "--id",
      options.id,
      "--config",
      config,
      "--state-dir",
      join(options.dir, `${options.id}-state`),
      "--log-level",
      options.logLevel ?? "info",
    ],
    {
      cwd: REPO,
      stdio: ["ignore", options.output ?? "ignore", options.output ?? "ignore"],
      env: { ...process.env, FW_LOG_PRETTY: "0", ...options.env },
    },
  );
}

/** Waits for an agent started with `output: "pipe"` to exit: its code and its stderr. */
export async function agentExit(
  child: ChildProcess,
): Promise<{ code: number | null; stderr: string }> {
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, stderr: stderr.trim() };
}
