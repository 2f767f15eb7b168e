#!/usr/bin/env bun
/**
 * `fleetwork <command>`: the command line. `server` (the default) runs the engine
 * with the embedded bus and a local agent; `agent` runs a host agent. Every other
 * command (tasks, agents, submit, tail, batch, help) is the client in src/cli/, which
 * talks to a running engine over HTTP; the engine is loaded only for server and agent.
 */
import { processIo, runClient } from "./cli/index";
import { loadAgentConfig, loadConfig } from "./config";
import { FleetworkError } from "./errors";

const HELP = `Usage: fleetwork [server] [options]

Commands:
  server            run the engine, the HTTP API and (embedded mode) a local agent
  agent             run a host agent: fleetwork agent --nats URL --id ID [--config FILE]

Options (each also an environment variable):
  --port N          HTTP port (PORT, default 8080)
  --host H          interface to listen on (HOST, default 0.0.0.0)
  --data-dir DIR    where the SQLite database lives (FW_DATA_DIR, default ./data)
  --database-url U  postgres://… to use PostgreSQL (FW_DATABASE_URL)
  --nats URL        connect to NATS instead of the embedded bus (FW_NATS_URL)
  --log-level L     fatal|error|warn|info|debug|trace|silent (FW_LOG_LEVEL, default info)
  -h, --help        this text

Agent options:
  --nats URL        the NATS server (FW_NATS_URL)
  --id ID           the agent id (FW_AGENT_ID, or id in the config file)
  --config FILE     JSON or YAML: labels, actions (exec only when listed), instances, stateDir
  --state-dir DIR   ledger and outbox that survive restarts (default ./agent-data)

Client commands (tasks, agents, submit, tail, batch): fleetwork --help
`;

const ENGINE_COMMANDS = new Set(["server", "agent"]);

/** Runs a client command and lets its output reach the pipe before the exit. */
async function client(argv: string[]): Promise<number> {
  const io = processIo();
  try {
    return await runClient(argv, io);
  } finally {
    io.dispose();
    await Promise.all(
      [process.stdout, process.stderr].map(
        (stream) => new Promise<void>((resolve) => stream.write("", () => resolve())),
      ),
    );
  }
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === "help" && ENGINE_COMMANDS.has(rest[0] ?? "")) {
    process.stdout.write(HELP);
    return 0;
  }
  // The client: its commands, its help, and the error for an unknown command.
  if (first !== undefined && !first.startsWith("-") && !ENGINE_COMMANDS.has(first)) {
    return client(argv);
  }
  if ((first === "-h" || first === "--help") && rest.length === 0) {
    return client(argv);
  }
  if (first === "-h" || first === "--help" || rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(HELP);
    return 0;
  }
  const command = first === undefined || first.startsWith("--") ? "server" : first;
  const options = command === first ? rest : argv;
  if (command !== "server" && command !== "agent") {
    process.stderr.write(`fleetwork: unknown command "${command}" (try --help)\n`);
    return 2;
  }
  // Loaded here, so the client commands never load the engine.
  const { startAgent, startServer } = await import("./main");
  const running =
    command === "agent"
      ? await startAgent(loadAgentConfig(process.env, options, Boolean(process.stdout.isTTY)))
      : await startServer(loadConfig(process.env, options, Boolean(process.stdout.isTTY)));
  if ("listen" in running) running.listen();
  const shutdown = (signal: string) => {
    running.log.info({ signal }, "shutting down");
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        running.log.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    // Bad configuration and start-up failures: one clear line, non-zero exit.
    const message = error instanceof FleetworkError ? error.message : (error as Error)?.message;
    process.stderr.write(`fleetwork: ${message ?? String(error)}\n`);
    process.exit(1);
  },
);
