/**
 * The command-line client: `fleetwork tasks|agents|submit|tail|batch ...`, talking to
 * a running engine over its HTTP API (it never imports the engine). `src/cli.ts` runs
 * `server` and `agent` itself and hands every other command here.
 *
 * Exit codes: 0 ok, 1 an API error (`fleetwork: <message>` on stderr), 2 a usage
 * error; `submit --wait` the command's, `batch watch` 3 for a batch that did not all
 * succeed, 130/143 when interrupted.
 */
import { Command, CommanderError } from "commander";
import { ApiError } from "./api";
import type { ExitHolder } from "./command";
import { agentsCommand } from "./commands/agents";
import { batchCommand } from "./commands/batch";
import { submitCommand } from "./commands/submit";
import { tailCommand } from "./commands/tail";
import { tasksCommand } from "./commands/tasks";
import { Exit, type Io, sleep, UsageError } from "./io";

export function buildProgram(io: Io, exit: ExitHolder): Command {
  const program = new Command("fleetwork")
    .description("Fleetwork: a task engine for remote command execution on fleets of hosts")
    .usage("<command> [options]")
    .enablePositionalOptions()
    .showHelpAfterError("(add --help for usage)")
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      // "error: unknown option '--x'" → "fleetwork: unknown option '--x'"
      outputError: (text, write) => write(text.replace(/^error: /, "fleetwork: ")),
    })
    .exitOverride();

  program.commandsGroup("Engine:");
  program
    .command("server")
    .description("run the engine, its HTTP API and (embedded mode) a local agent (the default)");
  program.command("agent").description("run a host agent that connects over NATS");

  program.commandsGroup("Client (talks to a running engine: --url, --key; see each --help):");
  for (const command of [
    tasksCommand(io, exit),
    agentsCommand(io, exit),
    submitCommand(io, exit),
    tailCommand(io, exit),
    batchCommand(io, exit),
  ]) {
    program.addCommand(command);
  }
  program.addHelpText(
    "after",
    `
Engine options: fleetwork server --help, fleetwork agent --help.
Client commands read the engine's URL from --url or FW_URL (default http://localhost:8080)
and the API key from --key, FW_API_KEY, or <data-dir>/api-key (the key the server made
when FW_API_KEYS is unset; --data-dir or FW_DATA_DIR, default ./data).

Exit codes: 0 ok, 1 API error, 2 usage error (submit --wait: the command's).`,
  );
  // Every command and subcommand reports through the same output, exits the same way.
  const configure = (command: Command) => {
    for (const sub of command.commands) {
      sub.configureOutput({
        writeOut: io.stdout,
        writeErr: io.stderr,
        outputError: (text, write) => write(text.replace(/^error: /, "fleetwork: ")),
      });
      sub.exitOverride();
      sub.showHelpAfterError("(add --help for usage)");
      configure(sub);
    }
  };
  configure(program);
  return program;
}

/** The real Io: this process's streams, environment and signals. */
export function processIo(): Io & { dispose(): void } {
  const controller = new AbortController();
  const onInt = () => controller.abort("SIGINT");
  const onTerm = () => controller.abort("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  return {
    stdout: (text) => {
      process.stdout.write(text);
    },
    stderr: (text) => {
      process.stderr.write(text);
    },
    isTTY: Boolean(process.stdout.isTTY),
    columns: process.stdout.columns,
    env: process.env,
    fetch: (input, init) => fetch(input, init),
    now: () => Date.now(),
    sleep,
    signal: controller.signal,
    dispose: () => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
    },
  };
}

/** Runs one client command line; resolves to the exit code. */
export async function runClient(argv: readonly string[], io: Io): Promise<number> {
  const exit: ExitHolder = { code: Exit.Ok };
  const program = buildProgram(io, exit);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exit.code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") {
        return Exit.Ok;
      }
      // `fleetwork tasks` alone shows its help on stderr: that is a usage error too.
      return error.exitCode === 0 ? Exit.Ok : Exit.Usage;
    }
    if (error instanceof UsageError) {
      io.stderr(`fleetwork: ${error.message}\n`);
      return Exit.Usage;
    }
    if (error instanceof ApiError) {
      io.stderr(`fleetwork: ${error.message}\n`);
      return Exit.ApiError;
    }
    throw error;
  }
}
