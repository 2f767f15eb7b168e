import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeys, createApp } from "../../src/api";
import { EmbeddedBus } from "../../src/bus/embedded-bus";
import { systemClock } from "../../src/clock";
import { createRootLogger, enterLogContext, type Logger, withLogContext } from "../../src/log";
import type { AgentView, EngineApi } from "../../src/runtime/commands";
import { TimerService } from "../../src/runtime/timer-service";
import { until } from "../helpers/until";

/** A root logger whose JSON lines land in an array. */
function capture(level = "info"): { log: Logger; lines: Record<string, unknown>[]; raw: string[] } {
  const raw: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const log = createRootLogger({
    level,
    pretty: false,
    destination: {
      write(line: string) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  });
  return { log, lines, raw };
}

const SECRET = "s3cret-value";

describe("the root logger", () => {
  it("redacts credential headers, wherever the headers object is", () => {
    const { log, lines, raw } = capture();
    const headers = {
      authorization: `Bearer ${SECRET}`,
      "private-token": SECRET,
      "api-key": SECRET,
      "x-api-key": SECRET,
      cookie: `session=${SECRET}`,
      accept: "application/json",
    };
    log.info({ headers }, "top level");
    log.info({ req: { method: "GET", headers } }, "one down");
    log.child({ scope: "http" }).info({ request: { raw: { headers } } }, "two down");
    expect(raw.join("")).not.toContain(SECRET);
    const [top, one, two] = lines as {
      headers?: Record<string, string>;
      req?: { headers: Record<string, string>; method: string };
      request?: { raw: { headers: Record<string, string> } };
    }[];
    for (const seen of [top?.headers, one?.req?.headers, two?.request?.raw.headers]) {
      expect(seen).toEqual({
        authorization: "[Redacted]",
        "private-token": "[Redacted]",
        "api-key": "[Redacted]",
        "x-api-key": "[Redacted]",
        cookie: "[Redacted]",
        accept: "application/json",
      });
    }
    expect(one?.req?.method).toBe("GET");
  });

  it("redacts key, apiKey, apiKeys, token and password fields", () => {
    const { log, lines, raw } = capture();
    log.info({ key: SECRET, apiKey: SECRET, token: SECRET, client: "ops" }, "flat");
    log.info(
      { config: { apiKeys: [{ client: "ops", key: SECRET }], password: SECRET, port: 8080 } },
      "nested",
    );
    expect(raw.join("")).not.toContain(SECRET);
    expect(lines[0]).toMatchObject({
      key: "[Redacted]",
      apiKey: "[Redacted]",
      token: "[Redacted]",
      client: "ops",
    });
    expect(lines[1]).toMatchObject({
      config: { apiKeys: "[Redacted]", password: "[Redacted]", port: 8080 },
    });
  });
});

describe("the ids bound to a request", () => {
  it("are on what it logs and awaits, not on the shared timer heap or bus delivery it feeds", async () => {
    const { log, lines } = capture();
    const timers = new TimerService(systemClock);
    const bus = new EmbeddedBus();
    bus.subscribe("fw.test", () => log.info("delivered"));
    const fired = new Promise<void>((resolve) => {
      withLogContext({ reqId: "r-1" }, () => {
        log.info("inside");
        // Armed from inside the request, like a task's delivery timeout.
        timers.setTimeout(() => {
          log.info("timer fired");
          resolve();
        }, 1);
        bus.publish("fw.test", {});
      });
    });
    await fired;
    await until(() => lines.find((line) => line.msg === "delivered"));
    log.info("outside");
    timers.stop();
    await bus.close();
    const byMsg = (msg: string) => lines.find((line) => line.msg === msg);
    expect(byMsg("inside")).toMatchObject({ reqId: "r-1" });
    expect(byMsg("timer fired")).not.toHaveProperty("reqId");
    expect(byMsg("delivered")).not.toHaveProperty("reqId");
    expect(byMsg("outside")).not.toHaveProperty("reqId");
  });
});

describe("HTTP requests in the logs", () => {
  const { log, lines, raw } = capture("debug");
  const engineLog = log.child({ scope: "engine" });
  // Only what the routes used here call: GET /agents logs from "inside the engine".
  const engine = {
    agents(): AgentView[] {
      engineLog.info("listing agents");
      return [];
    },
  } as unknown as EngineApi;
  const app = createApp(engine, {
    log: log.child({ scope: "http" }),
    apiKeys: new ApiKeys([{ client: "ops", key: SECRET }]),
    enterLogContext,
  });
  let base = "";
  beforeAll(() => {
    app.listen({ port: 0, hostname: "127.0.0.1" });
    base = `http://127.0.0.1:${app.server?.port}`;
  });
  afterAll(() => app.stop());

  const requestLine = (reqId: string) =>
    until(() => lines.find((line) => line.msg === "request" && line.reqId === reqId));

  it("gives each request an id, sends it back and puts it on every line of the request", async () => {
    const response = await fetch(`${base}/agents`, {
      headers: {
        authorization: `Bearer ${SECRET}`,
        "private-token": SECRET,
        "api-key": SECRET,
        "x-api-key": SECRET,
        cookie: `c=${SECRET}`,
      },
    });
    expect(response.status).toBe(200);
    const reqId = response.headers.get("x-request-id") ?? "";
    expect(reqId).toMatch(/^[0-9a-f-]{36}$/);

    const line = await requestLine(reqId);
    expect(line).toMatchObject({
      level: 30,
      scope: "http",
      reqId,
      method: "GET",
      route: "/agents",
      path: "/agents",
      status: 200,
    });
    expect(typeof line.ms).toBe("number");
    // At debug the headers are there, with every credential redacted.
    expect(line.headers).toMatchObject({
      authorization: "[Redacted]",
      "private-token": "[Redacted]",
      "api-key": "[Redacted]",
      "x-api-key": "[Redacted]",
      cookie: "[Redacted]",
    });
    expect(raw.join("")).not.toContain(SECRET);
    // A line logged by the engine while the request ran carries the request's id.
    expect(lines.find((l) => l.msg === "listing agents")).toMatchObject({
      scope: "engine",
      reqId,
    });
  });

  it("keeps a caller's sane x-request-id, replaces an odd one", async () => {
    const kept = await fetch(`${base}/agents`, {
      headers: { authorization: `Bearer ${SECRET}`, "x-request-id": "trace-42.a" },
    });
    expect(kept.headers.get("x-request-id")).toBe("trace-42.a");
    await requestLine("trace-42.a");
    const odd = await fetch(`${base}/agents`, {
      headers: { authorization: `Bearer ${SECRET}`, "x-request-id": "no spaces <here>" },
    });
    expect(odd.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("logs refusals and unknown routes with their status, by route template", async () => {
    const refused = await fetch(`${base}/agents`, { headers: { authorization: "Bearer wrong" } });
    expect(refused.status).toBe(401);
    expect(await requestLine(refused.headers.get("x-request-id") ?? "")).toMatchObject({
      level: 30,
      route: "/agents",
      status: 401,
    });
    const unknown = await fetch(`${base}/no/such/7`, {
      headers: { authorization: `Bearer ${SECRET}` },
    });
    expect(unknown.status).toBe(404);
    expect(await requestLine(unknown.headers.get("x-request-id") ?? "")).toMatchObject({
      route: "unmatched",
      path: "/no/such/7",
      status: 404,
    });
  });

  it("logs liveness checks at debug only", async () => {
    const alive = await fetch(`${base}/`);
    expect(await requestLine(alive.headers.get("x-request-id") ?? "")).toMatchObject({
      level: 20,
      route: "/",
      status: 200,
    });
  });
});
