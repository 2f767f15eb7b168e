/** `fleetwork agents`: the agents the engine knows (GET /agents). */
import { Command } from "commander";
import { action, type ExitHolder, labelsOption, withConnection } from "../command";
import { json, labelText, shortTime, table } from "../format";
import { Exit, type Io } from "../io";
import type { Agent } from "../types";

/** Every label in `wanted` is on the agent with that value. */
export function matchesLabels(agent: Agent, wanted: Readonly<Record<string, string>>): boolean {
  return Object.entries(wanted).every(([key, value]) => agent.labels[key] === value);
}

export function agentsCommand(io: Io, exit: ExitHolder): Command {
  return withConnection(
    new Command("agents")
      .description("list agents: status, labels, capabilities, instances, last heartbeat")
      .option("--labels <k=v,...>", "only agents with all these labels", labelsOption)
      .option("--online", "only agents that are online"),
  ).action(
    action(io, exit, async (ctx, options) => {
      const wanted = (options.labels ?? {}) as Record<string, string>;
      const agents = (await ctx.api.call<Agent[]>("GET", "/agents")).filter(
        (agent) => matchesLabels(agent, wanted) && (!options.online || agent.status === "online"),
      );
      if (ctx.json) {
        ctx.out(json(agents));
        return Exit.Ok;
      }
      if (agents.length === 0) {
        ctx.out("no agents\n");
        return Exit.Ok;
      }
      ctx.out(
        table(
          ["ID", "STATUS", "LABELS", "CAPABILITIES", "INSTANCES", "RUNNING", "LAST SEEN (UTC)"],
          agents.map((agent) => [
            agent.id,
            agent.status,
            labelText(agent.labels),
            agent.capabilities.join(",") || "-",
            String(agent.instances.length),
            String(agent.running.length),
            shortTime(agent.lastSeenAt),
          ]),
        ),
      );
      return Exit.Ok;
    }),
  );
}
