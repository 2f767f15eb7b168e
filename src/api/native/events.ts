/**
 * `GET /events`: the journal as Server-Sent Events. Every state change of the
 * caller's tasks, lanes, batches, jobs and schedules (and every agent's) is one frame:
 *
 *     id: <seq>
 *     event: <kind>.<event>
 *     data: {"seq":…,"kind":…,"id":…,"event":…,"state":…,"at":…,"data":…}
 *
 * Filtered by `?subject=` (a subject pattern, `fw.events.task.>`) and `?task=<id>`.
 * Resumable: with `Last-Event-ID` (or `?after=<seq>`) the stream first replays the
 * stored events after that seq, then goes on live, with no gap and no duplicate:
 * it subscribes to the live events first, holds them while it reads the store page
 * by page, then sends the held ones it has not sent yet. Without either, it starts
 * with the events from now on.
 */
import { Elysia, t } from "elysia";
import { InvalidInputError } from "../../errors";
import type { Logger } from "../../log";
import { patterns } from "../../protocol";
import type { EngineApi, EngineEvent } from "../../runtime/commands";
import type { ApiKeys } from "../auth";
import { nativeOutput } from "./output";
import { HEARTBEAT_MS, keepOpen, sseResponse, sseResponses } from "./sse";
import { ErrorResponse } from "./task-schemas";

/** Stored events read per page while a stream catches up. */
const REPLAY_PAGE = 500;
/** `fw.events.` */
const EVENTS = patterns.allEvents.slice(0, -1);

export const EventsQuery = t.Object({
  subject: t.Optional(
    t.String({ description: "a subject pattern under fw.events. (`*` one token, `>` the rest)" }),
  ),
  task: t.Optional(t.Integer({ minimum: 1, description: "only this task's events" })),
  after: t.Optional(
    t.Integer({ minimum: 0, description: "replay the stored events after this seq first" }),
  ),
});

/** A subject pattern's tokens, or InvalidInputError when it is not one under fw.events. */
export function parseSubjectPattern(pattern: string): readonly string[] {
  const tokens = pattern.split(".");
  const valid =
    pattern.startsWith(EVENTS) &&
    tokens.every(
      (token, i) =>
        token.length > 0 &&
        !/[\s]/.test(token) &&
        (token === "*" || token === ">" || !/[*>]/.test(token)) &&
        (token !== ">" || i === tokens.length - 1),
    );
  if (!valid) {
    throw new InvalidInputError(
      `subject must be a subject pattern under ${EVENTS} (e.g. ${EVENTS}task.>), got "${pattern}"`,
      "subject",
    );
  }
  return tokens;
}

export function subjectMatches(tokens: readonly string[], subject: string): boolean {
  const parts = subject.split(".");
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token === ">") return parts.length > i;
    if (i >= parts.length) return false;
    if (token !== "*" && token !== parts[i]) return false;
  }
  return parts.length === tokens.length;
}

function eventSubject(event: EngineEvent): string {
  return `${EVENTS}${event.kind}.${event.id}.${event.event}`;
}

/** Where the client resumes: `Last-Event-ID` (a reconnect) before `?after`. */
function resumeAfter(headers: Headers, after: number | undefined): number | null {
  const raw = headers.get("last-event-id");
  if (raw === null || raw.trim() === "") return after ?? null;
  const seq = Number(raw.trim());
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw new InvalidInputError(
      `Last-Event-ID must be an event seq (a whole number), got "${raw}"`,
      "Last-Event-ID",
    );
  }
  return seq;
}

export function nativeEvents(
  engine: EngineApi,
  keys: ApiKeys,
  log: Logger,
  heartbeatMs = HEARTBEAT_MS,
) {
  return new Elysia({ name: "native-events" })
    .use(nativeOutput(engine, keys, heartbeatMs))
    .derive(({ request }) => ({ tenant: keys.require(request.headers) }))
    .get(
      "/events",
      ({ query, request, server, tenant }) => {
        const filters: (readonly string[])[] = [];
        if (query.subject !== undefined) filters.push(parseSubjectPattern(query.subject));
        const taskPattern = query.task === undefined ? undefined : `${EVENTS}task.${query.task}.*`;
        if (taskPattern !== undefined) filters.push(parseSubjectPattern(taskPattern));
        const live = taskPattern ?? query.subject ?? patterns.allEvents;
        const after = resumeAfter(request.headers, query.after);
        keepOpen(server, request);
        return sseResponse(
          request,
          (sink) => {
            let lastSent = after ?? 0;
            let held: EngineEvent[] | null = after === null ? null : [];
            const deliver = (event: EngineEvent) => {
              if (event.seq <= lastSent) return;
              lastSent = event.seq;
              const subject = eventSubject(event);
              if (!filters.every((tokens) => subjectMatches(tokens, subject))) return;
              const { seq, kind, id, event: name, state, at, data } = event;
              sink.send({
                id: seq,
                event: `${kind}.${name}`,
                data: { seq, kind, id, event: name, state, at, data },
              });
            };
            // Live first, so nothing committed while the store is read is missed.
            const subscription = engine.subscribeEvents(tenant, live, (event) => {
              if (held === null) deliver(event);
              else held.push(event);
            });
            if (after !== null) {
              void (async () => {
                let cursor = after;
                for (;;) {
                  const page = await engine.eventsAfter(tenant, cursor, REPLAY_PAGE);
                  if (sink.closed) return;
                  for (const event of page) deliver(event);
                  const last = page[page.length - 1];
                  if (page.length < REPLAY_PAGE || last === undefined) break;
                  cursor = last.seq;
                }
                // Caught up: the held events, then live ones as they come.
                const pending = (held ?? []).sort((a, b) => a.seq - b.seq);
                held = null;
                for (const event of pending) deliver(event);
              })().catch((error: unknown) => {
                log.warn({ err: error }, "event stream replay failed");
                sink.close();
              });
            }
            return () => subscription.unsubscribe();
          },
          heartbeatMs,
        );
      },
      {
        query: EventsQuery,
        detail: {
          summary: "The event stream (Server-Sent Events)",
          description:
            "Every state change of the caller's entities (and of agents) as `id: <seq>`, `event: <kind>.<event>`, `data: <json>`. Filter with `subject` (e.g. `fw.events.task.>`) or `task`; resume with `Last-Event-ID` or `after`: stored events after that seq come first, then live ones, with no gap and no duplicate. A comment every 15 s keeps it alive.",
          tags: ["events"],
          responses: sseResponses(
            { 400: ErrorResponse, 401: ErrorResponse },
            "one frame per event: `id: <seq>`, `event: <kind>.<event>`, `data: <json>`",
          ),
        },
      },
    );
}
