/** The native agents API: what the engine knows of its agents. */
import { Elysia, t } from "elysia";
import type { AgentView, EngineApi } from "../../runtime/commands";
import type { ApiKeys } from "../auth";
import { ErrorResponse } from "./task-schemas";

const AgentResponse = t.Object({
  id: t.String(),
  status: t.Union([t.Literal("online"), t.Literal("offline")]),
  labels: t.Record(t.String(), t.String()),
  capabilities: t.Array(t.String()),
  instances: t.Array(t.Record(t.String(), t.Unknown())),
  version: t.String(),
  running: t.Array(t.String()),
  lastSeenAt: t.String(),
});

function presentAgent(agent: AgentView) {
  return {
    ...agent,
    labels: { ...agent.labels },
    capabilities: [...agent.capabilities],
    instances: agent.instances.map((instance) => ({ ...instance })),
    running: [...agent.running],
    lastSeenAt: new Date(agent.lastSeenAt).toISOString(),
  };
}

export function nativeAgents(engine: EngineApi, keys: ApiKeys) {
  return new Elysia({ name: "native-agents" })
    .onBeforeHandle(({ request }) => {
      keys.require(request.headers);
    })
    .get("/agents", () => engine.agents().map(presentAgent), {
      response: { 200: t.Array(AgentResponse), 401: ErrorResponse },
      detail: {
        summary: "Agents with status, labels, instances, last heartbeat",
        tags: ["agents"],
      },
    });
}
