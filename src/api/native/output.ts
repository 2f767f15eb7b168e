/**
 * `GET /tasks/{id}/output`: a task's stdout and stderr as Server-Sent Events, live,
 * as its agents send them (`fw.out.<taskId>.<agentId>`). One frame per chunk
 * (`event: stdout` or `event: stderr`); when the task finishes, an `end` frame with
 * its state and outcome, and the stream closes. Output sent before the client
 * connected is not repeated (a finished task's output is in its results).
 */
import { Elysia } from "elysia";
import { FINAL_TASK_STATES, patterns } from "../../protocol";
import type { EngineApi, TaskView } from "../../runtime/commands";
import type { ApiKeys } from "../auth";
import { HEARTBEAT_MS, keepOpen, sseResponse, sseResponses } from "./sse";
import { ErrorResponse, TaskIdParams } from "./task-schemas";

const FINAL = new Set<string>(FINAL_TASK_STATES);
/** `fw.events.` */
const EVENTS = patterns.allEvents.slice(0, -1);

export function nativeOutput(engine: EngineApi, keys: ApiKeys, heartbeatMs = HEARTBEAT_MS) {
  return new Elysia({ name: "native-output" })
    .derive(({ request }) => ({ tenant: keys.require(request.headers) }))
    .get(
      "/tasks/:id/output",
      async ({ params, request, server, tenant }) => {
        const id = params.id;
        // Another tenant's task does not exist: 404 before the stream starts.
        await engine.get(tenant, id);
        keepOpen(server, request);
        return sseResponse(
          request,
          (sink) => {
            const end = (view: Pick<TaskView, "status" | "outcome">) => {
              sink.send({ event: "end", data: { id, state: view.status, outcome: view.outcome } });
              sink.close();
            };
            const output = engine.subscribeOutput(id, (chunk) =>
              sink.send({
                event: chunk.stream,
                data: {
                  execId: chunk.execId,
                  agent: chunk.agentId,
                  stream: chunk.stream,
                  chunk: chunk.chunk,
                },
              }),
            );
            const events = engine.subscribeEvents(tenant, `${EVENTS}task.${id}.*`, (event) => {
              if (FINAL.has(event.state)) {
                const outcome = (event.data as { outcome?: string } | null)?.outcome ?? null;
                end({ status: event.state, outcome });
              }
            });
            // Subscribed first: a task that finishes from here on is seen either way.
            engine.get(tenant, id).then(
              (view) => {
                if (FINAL.has(view.status)) end(view);
              },
              () => sink.close(),
            );
            return () => {
              output.unsubscribe();
              events.unsubscribe();
            };
          },
          heartbeatMs,
        );
      },
      {
        params: TaskIdParams,
        detail: {
          summary: "A task's live output (Server-Sent Events)",
          description:
            "One `stdout` or `stderr` event per chunk its agent sends, with `{execId, agent, stream, chunk}`; an `end` event with `{id, state, outcome}` when the task finishes, then the stream closes. A comment every 15 s keeps it alive.",
          tags: ["events"],
          responses: sseResponses(
            { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse },
            "`stdout`, `stderr` and `end` events",
          ),
        },
      },
    );
}
