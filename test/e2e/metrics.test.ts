/**
 * GET /metrics of a real server process (`fleetwork server`, embedded bus and agent)
 * after it ran a few tasks: the families are there, with values that match what ran.
 */
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../helpers/engine";
import { sample } from "../helpers/prometheus";
import { AUTH, freePort, type ServerProcess, startServerProcess } from "../helpers/server-process";
import { until } from "../helpers/until";

async function submit(url: string, body: unknown): Promise<{ id: number; reqId: string }> {
  const response = await fetch(`${url}/tasks`, {
    method: "POST",
    headers: { ...AUTH, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
  const task = (await response.json()) as { id: number };
  return { id: task.id, reqId: response.headers.get("x-request-id") ?? "" };
}

async function finished(url: string, id: number): Promise<string> {
  return until(async () => {
    const response = await fetch(`${url}/tasks/${id}`, { headers: AUTH });
    const task = (await response.json()) as { state: string };
    return ["done", "failed", "cancelled", "timedOut"].includes(task.state)
      ? task.state
      : undefined;
  });
}

async function scrape(url: string, headers: Record<string, string> = AUTH) {
  const response = await fetch(`${url}/metrics`, { headers });
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    text: await response.text(),
  };
}

describe("GET /metrics of a running server", () => {
  let server: ServerProcess | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it("exposes task, agent, store, bus and HTTP metrics in the Prometheus text format", async () => {
    server = await startServerProcess({ dataDir: tempDir("fw-metrics-"), port: await freePort() });
    const { url } = server;

    // Like every native route, it needs a key.
    expect((await scrape(url, {})).status).toBe(401);

    const sleepers = [
      await submit(url, { actions: [{ type: "exec", params: { command: "sleep 0.2" } }] }),
      await submit(url, { actions: [{ type: "exec", params: { command: "sleep 0.2" } }] }),
    ];
    const failing = await submit(url, {
      actions: [{ type: "exec", params: { command: "exit 3" } }],
    });
    const noop = await submit(url, { actions: [{ type: "noop" }] });
    expect(await finished(url, sleepers[0]?.id ?? 0)).toBe("done");
    expect(await finished(url, sleepers[1]?.id ?? 0)).toBe("done");
    expect(await finished(url, failing.id)).toBe("failed");
    expect(await finished(url, noop.id)).toBe("done");

    // Events reach the metrics once committed: wait for the last ones.
    const text = await until(async () => {
      const answer = await scrape(url);
      const count = (state: string, kind: string) =>
        sample(answer.text, "fleetwork_task_transitions_total", { state, kind });
      return count("done", "exec") === 2 &&
        count("done", "noop") === 1 &&
        count("failed", "exec") === 1
        ? answer.text
        : undefined;
    });
    const answer = await scrape(url);
    expect(answer.status).toBe(200);
    expect(answer.type).toMatch(/^text\/plain; version=0\.0\.4/);

    // Tasks by state, from the events.
    // By the kind of action too.
    expect(sample(text, "fleetwork_task_transitions_total", { state: "ready", kind: "exec" })).toBe(
      3,
    );
    expect(sample(text, "fleetwork_task_transitions_total", { state: "ready", kind: "noop" })).toBe(
      1,
    );
    expect(
      sample(text, "fleetwork_task_transitions_total", { state: "dispatched", kind: "exec" }),
    ).toBe(3);
    expect(sample(text, "fleetwork_events_total", { kind: "task", event: "done" })).toBe(3);
    expect(sample(text, "fleetwork_tasks_active", { state: "running" })).toBe(0);
    // Latencies: every task was dispatched; the sleepers ran 0.2 s each.
    expect(sample(text, "fleetwork_task_dispatch_latency_seconds_count")).toBe(4);
    expect(sample(text, "fleetwork_task_start_latency_seconds_count")).toBeGreaterThanOrEqual(2);
    expect(sample(text, "fleetwork_task_run_duration_seconds_count", { state: "done" })).toBe(2);
    expect(
      sample(text, "fleetwork_task_run_duration_seconds_sum", { state: "done" }),
    ).toBeGreaterThanOrEqual(0.3);
    expect(sample(text, "fleetwork_tasks_submitted_total")).toBe(4);
    // The embedded agent.
    expect(sample(text, "fleetwork_agents", { status: "online" })).toBe(1);
    // Group commits: size and latency.
    expect(sample(text, "fleetwork_store_commit_rows_count")).toBeGreaterThan(0);
    expect(sample(text, "fleetwork_store_commit_rows_sum")).toBeGreaterThanOrEqual(8);
    expect(sample(text, "fleetwork_store_commit_duration_seconds_count")).toBeGreaterThan(0);
    expect(sample(text, "fleetwork_store_last_commit_rows")).toBeGreaterThan(0);
    expect(sample(text, "fleetwork_store_up")).toBe(1);
    // The embedded bus never reconnects.
    expect(sample(text, "fleetwork_bus_reconnects_total")).toBe(0);
    expect(sample(text, "fleetwork_bus_connected")).toBe(1);
    // HTTP, by route template: never the raw path.
    const requests = "fleetwork_http_requests_total";
    expect(sample(text, requests, { method: "POST", route: "/tasks", status: "201" })).toBe(4);
    expect(
      sample(text, requests, { method: "GET", route: "/tasks/:id", status: "200" }),
    ).toBeGreaterThanOrEqual(4);
    expect(sample(text, requests, { method: "GET", route: "/metrics", status: "401" })).toBe(1);
    expect(text).not.toMatch(/route="\/tasks\/\d/);
    expect(
      sample(text, "fleetwork_http_request_duration_seconds_count", {
        method: "POST",
        route: "/tasks",
      }),
    ).toBe(4);
    // prom-client's process metrics.
    expect(sample(text, "process_cpu_seconds_total")).toBeGreaterThan(0);

    // Each request's log line names its id, route and status (JSON logs, info level).
    const lines = server
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(
      lines.find((line) => line.reqId === failing.reqId && line.msg === "request"),
    ).toMatchObject({ method: "POST", route: "/tasks", status: 201, scope: "http" });
    expect(server.output()).not.toContain("test-key");
  });

  it("serves /metrics without a key when FW_METRICS_OPEN=1", async () => {
    server = await startServerProcess({
      dataDir: tempDir("fw-metrics-open-"),
      port: await freePort(),
      env: { FW_METRICS_OPEN: "1" },
    });
    const open = await scrape(server.url, {});
    expect(open.status).toBe(200);
    expect(open.text).toContain("# TYPE fleetwork_task_transitions_total counter");
    // The other routes still need one.
    expect((await fetch(`${server.url}/tasks`)).status).toBe(401);
  });
});
