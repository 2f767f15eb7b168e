/**
 * The statechart visualizer (issue 7): `GET /debug` (the page), `/debug/app.js` (its
 * script, bundled from ./client.ts and elkjs by Bun on first request: no internet
 * needed), and the JSON it reads: `/debug/machines`, `/debug/actors` (paged, with
 * filters) and `/debug/actors/{kind}/{id}`. The page is open; its data needs a key,
 * the same as the rest of the native API, and actions go through the native routes.
 */
import { Elysia, t } from "elysia";
import { InvalidInputError } from "../../errors";
import type { ApiKeys } from "../auth";
import type { ActorKind, DebugSource } from "./debug-source";
import { DEBUG_PAGE } from "./page";

const KINDS: readonly ActorKind[] = ["task", "lane", "job", "batch", "schedule", "agent"];
const CLIENT = decodeURIComponent(new URL("./client.ts", import.meta.url).pathname);

let bundle: Promise<string> | null = null;

/** The page's script, built once per process. */
function script(): Promise<string> {
  bundle ??= Bun.build({ entrypoints: [CLIENT], target: "browser", minify: true }).then(
    async (result) => {
      if (!result.success || !result.outputs[0]) {
        bundle = null;
        throw new Error(`the visualizer script did not build: ${result.logs.join("; ")}`);
      }
      return result.outputs[0].text();
    },
  );
  return bundle;
}

const Actor = t.Object({
  kind: t.String(),
  id: t.String(),
  name: t.String(),
  state: t.String(),
  updatedAt: t.Number(),
});

export function debugRoutes(source: DebugSource, keys: ApiKeys) {
  const kindOf = (kind: string): ActorKind => {
    if (!(KINDS as readonly string[]).includes(kind)) {
      throw new InvalidInputError(`kind must be one of ${KINDS.join(", ")}`, "kind");
    }
    return kind as ActorKind;
  };
  return new Elysia({ name: "debug" })
    .get(
      "/debug",
      ({ set }) => {
        set.headers["content-type"] = "text/html; charset=utf-8";
        return DEBUG_PAGE;
      },
      { detail: { summary: "The statechart visualizer (HTML)", tags: ["debug"], hide: true } },
    )
    .get(
      "/debug/app.js",
      async ({ set }) => {
        set.headers["content-type"] = "text/javascript; charset=utf-8";
        return script();
      },
      { detail: { hide: true } },
    )
    .get(
      "/debug/machines",
      ({ request }) => {
        keys.require(request.headers);
        return source.machines();
      },
      {
        response: { 200: t.Record(t.String(), t.Unknown()), 401: t.Unknown() },
        detail: { summary: "Each actor kind's machine as a graph", tags: ["debug"] },
      },
    )
    .get(
      "/debug/actors",
      async ({ request, query }) => {
        const tenant = keys.require(request.headers);
        return source.actors(tenant, {
          kind: kindOf(query.kind ?? "task"),
          ...(query.state ? { state: query.state } : {}),
          ...(query.q ? { q: query.q } : {}),
          offset: query.offset ?? 0,
          limit: query.limit ?? 50,
        });
      },
      {
        query: t.Object({
          kind: t.Optional(t.String()),
          state: t.Optional(t.String({ maxLength: 100 })),
          q: t.Optional(t.String({ maxLength: 200 })),
          offset: t.Optional(t.Integer({ minimum: 0, maximum: 1_000_000 })),
          limit: t.Optional(t.Integer({ minimum: 1, maximum: 500 })),
        }),
        response: {
          200: t.Object({ items: t.Array(Actor), total: t.Integer() }),
          400: t.Unknown(),
          401: t.Unknown(),
        },
        detail: { summary: "A client's actors of one kind, paged, newest first", tags: ["debug"] },
      },
    )
    .get(
      "/debug/actors/:kind/:id",
      async ({ request, params }) => {
        const tenant = keys.require(request.headers);
        return source.actor(tenant, kindOf(params.kind), params.id);
      },
      {
        params: t.Object({ kind: t.String(), id: t.String({ maxLength: 200 }) }),
        response: { 200: t.Unknown(), 400: t.Unknown(), 401: t.Unknown(), 404: t.Unknown() },
        detail: {
          summary: "One actor: state, accepted commands, fields, history",
          tags: ["debug"],
        },
      },
    );
}
