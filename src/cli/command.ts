/** What every client command shares: the connection options and the action wrapper. */
import { type Command, InvalidArgumentError } from "commander";
import { ApiClient, type ConnectionOptions, resolveConnection } from "./api";
import type { Io } from "./io";

export interface Context {
  readonly io: Io;
  readonly api: ApiClient;
  readonly json: boolean;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** Adds --url, --key, --data-dir and --json to a command. */
export function withConnection(
  command: Command,
  jsonHelp = "print the API's JSON instead of a table",
): Command {
  return command
    .option("--json", jsonHelp)
    .option("--url <url>", "the engine's HTTP API (env FW_URL, default http://localhost:8080)")
    .option("--key <key>", "API key (env FW_API_KEY; else the key in <data-dir>/api-key)")
    .option(
      "--data-dir <dir>",
      "where the server keeps its generated key (env FW_DATA_DIR, default ./data)",
    );
}

/** Sets the exit code a command ends with; `runClient` reads it. */
export interface ExitHolder {
  code: number;
}

/**
 * The action of a client command: builds its context from the command's options and
 * keeps the exit code it answers. Errors go up to `runClient`, which prints them.
 */
export function action<A extends unknown[]>(
  io: Io,
  exit: ExitHolder,
  run: (context: Context, options: Record<string, unknown>, ...args: A) => Promise<number>,
) {
  return async (...parameters: unknown[]) => {
    const command = parameters[parameters.length - 1] as Command;
    const options = command.opts() as ConnectionOptions & Record<string, unknown>;
    const args = parameters.slice(0, -2) as A;
    const context: Context = {
      io,
      api: new ApiClient(resolveConnection(options, io), io),
      json: Boolean(options.json),
      out: io.stdout,
      err: io.stderr,
    };
    exit.code = await run(context, options, ...args);
  };
}

/** A commander argument parser for positive integers (task and batch ids, limits). */
export function positiveInt(what: string) {
  return (value: string): number => {
    if (!/^[1-9]\d{0,15}$/.test(value) || !Number.isSafeInteger(Number(value))) {
      throw new InvalidArgumentError(`${what} must be a positive integer.`);
    }
    return Number(value);
  };
}

/** The same for a variadic argument: collects into an array. */
export function positiveInts(what: string) {
  const one = positiveInt(what);
  return (value: string, previous: number[] | undefined): number[] => [
    ...(previous ?? []),
    one(value),
  ];
}

/** `k=v,k2=v2` → record. */
export function labelsOption(value: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const part of value.split(",")) {
    const pair = part.trim();
    if (!pair) continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new InvalidArgumentError(`"${pair}" is not key=value.`);
    labels[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  if (Object.keys(labels).length === 0) throw new InvalidArgumentError("no labels given.");
  return labels;
}
