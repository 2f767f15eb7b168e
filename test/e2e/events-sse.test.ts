/**
 * GET /events and GET /tasks/{id}/output over real HTTP: a real server (createApp
 * listening on a loopback port around a real engine and agent), read with fetch and
 * a stream reader, as an SSE client would.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeys, createApp } from "../../src/api";
import { sseResponse } from "../../src/api/native/sse";
import { silentLogger } from "../../src/log";
import type { EventSubscription } from "../../src/runtime/commands";
import { startAgentProcess } from "../helpers/agent-process";
import { startTestEngine, TENANT, type TestEngine, tempDir } from "../helpers/engine";
import { type NatsServer, startNats } from "../helpers/nats";
import { AUTH, freePort, type ServerProcess, startServerProcess } from "../helpers/server-process";
import { until } from "../helpers/until";

const AS_TEST = { authorization: "Bearer key-of-test" };
const AS_OTHER = { authorization: "Bearer key-of-other" };

let t: TestEngine;
let app: ReturnType<typeof createApp>;
let base: string;
/** Event subscriptions the API holds open right now. */
let openSubscriptions = 0;
/**
 * While set, each read of stored events takes until a new event has been published
 * before and after it: live events arrive during a replay, some of them also in the
 * page read, as they would with a slow store.
 */
let slowReads = false;

function nextPublishedEvent(): Promise<void> {
  return new Promise((resolve) => {
    const subscription = t.bus.subscribe("fw.events.>", () => {
      subscription.unsubscribe();
      resolve();
    });
  });
}

beforeAll(async () => {
  t = await startTestEngine();
  // Count the API's subscriptions, to see a disconnect end its stream on the server.
  const subscribe = t.engine.subscribeEvents.bind(t.engine);
  t.engine.subscribeEvents = (...args): EventSubscription => {
    const subscription = subscribe(...args);
    openSubscriptions++;
    let open = true;
    return {
      unsubscribe() {
        if (open) openSubscriptions--;
        open = false;
        subscription.unsubscribe();
      },
    };
  };
  const eventsAfter = t.engine.eventsAfter.bind(t.engine);
  t.engine.eventsAfter = async (...args) => {
    if (!slowReads) return eventsAfter(...args);
    await nextPublishedEvent();
    const page = await eventsAfter(...args);
    await nextPublishedEvent();
    return page;
  };
  app = createApp(t.engine, {
    log: silentLogger,
    apiKeys: new ApiKeys([
      { client: TENANT, key: "key-of-test" },
      { client: "other", key: "key-of-other" },
    ]),
  });
  app.listen({ port: 0, hostname: "127.0.0.1" });
  base = `http://127.0.0.1:${app.server?.port}`;
});

afterAll(async () => {
  await app.stop(true);
  await t.stop();
});

interface Frame {
  readonly id: number | null;
  readonly event: string | null;
  readonly data: Record<string, unknown>;
}

/** An SSE client: collects the frames of one response until it ends or is closed. */
class SseClient {
  readonly frames: Frame[] = [];
  readonly comments: string[] = [];
  ended = false;
  private readonly abort = new AbortController();
  private waiters: (() => void)[] = [];

  static async open(
    path: string,
    headers: Record<string, string>,
    root = base,
  ): Promise<SseClient> {
    const client = new SseClient();
    const response = await fetch(`${root}${path}`, { headers, signal: client.abort.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    void client.pump(response.body as ReadableStream<Uint8Array>);
    // The server says it is connected (and subscribed) before anything else.
    await client.until(() => client.comments.includes("connected"));
    return client;
  }

  private async pump(body: ReadableStream<Uint8Array>) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          this.parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
        this.notify();
      }
    } catch {
      // Aborted by close().
    }
    this.ended = true;
    this.notify();
  }

  private parse(block: string) {
    let id: number | null = null;
    let event: string | null = null;
    let data: string | null = null;
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) this.comments.push(line.slice(1).trim());
      else if (line.startsWith("id: ")) id = Number(line.slice(4));
      else if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data = line.slice(6);
    }
    if (data !== null) this.frames.push({ id, event, data: JSON.parse(data) });
  }

  private notify() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves once `condition` holds (checked as frames come in). */
  until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`condition not met; ${this.frames.length} frames so far`)),
        timeoutMs,
      );
      const check = () => {
        if (condition()) {
          clearTimeout(timer);
          resolve();
        } else if (this.ended) {
          clearTimeout(timer);
          reject(new Error("the stream ended first"));
        } else this.waiters.push(check);
      };
      check();
    });
  }

  get seqs(): number[] {
    return this.frames.map((frame) => frame.id as number);
  }

  close() {
    this.abort.abort();
  }
}

async function submit(body: unknown, headers = AS_TEST): Promise<{ id: number; status: string }> {
  const response = await fetch(`${base}/tasks`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as { id: number; status: string };
}

const noop = (name: string) => ({ name, actions: [{ type: "noop" }] });

/** The newest stored event the tenant may see (0 for none). */
async function lastSeq(tenant = TENANT): Promise<number> {
  await t.engine.flush();
  const events = await t.engine.eventsAfter(tenant, 0, 1_000_000);
  return events[events.length - 1]?.seq ?? 0;
}

describe("GET /events", () => {
  it("needs an API key (401 in the native error shape)", async () => {
    const response = await fetch(`${base}/events`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: "UNAUTHORIZED" } });
  });

  it("refuses a subject pattern outside fw.events and a bad Last-Event-ID (400)", async () => {
    for (const subject of ["fw.report.*", "fw.events.>.task", "fw.events..x"]) {
      const response = await fetch(`${base}/events?subject=${encodeURIComponent(subject)}`, {
        headers: AS_TEST,
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({
        error: { code: "INVALID_INPUT", field: "subject" },
      });
    }
    const response = await fetch(`${base}/events`, {
      headers: { ...AS_TEST, "last-event-id": "yesterday" },
    });
    expect(response.status).toBe(400);
  });

  it("streams live events in the SSE format, one frame per state change", async () => {
    const client = await SseClient.open("/events?subject=fw.events.task.>", AS_TEST);
    const task = await submit(noop("live"));
    await client.until(() =>
      client.frames.some((f) => f.data.id === String(task.id) && f.data.state === "done"),
    );
    client.close();
    const frames = client.frames.filter((f) => f.data.id === String(task.id));
    expect(frames.map((f) => f.event)).toContain("task.done");
    const done = frames.find((f) => f.event === "task.done") as Frame;
    expect(done.data).toMatchObject({ kind: "task", id: String(task.id), event: "done" });
    expect(done.id).toBe(done.data.seq);
    expect(Object.keys(done.data).sort()).toEqual(
      ["at", "data", "event", "id", "kind", "seq", "state"].sort(),
    );
    // Ids increase: the stream is in journal order.
    const seqs = client.seqs;
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
  });

  it("misses no event and repeats none across a disconnect and a Last-Event-ID reconnect", async () => {
    const start = await lastSeq();
    const submitted: number[] = [];
    let submitting = true;
    const submitter = (async () => {
      let n = 0;
      while (submitting) submitted.push((await submit(noop(`load-${n++}`))).id);
    })();

    const first = await SseClient.open(`/events?after=${start}`, AS_TEST);
    await first.until(() => first.frames.length >= 40);
    first.close();
    const lastSeen = first.seqs[first.seqs.length - 1] as number;
    // The server ends the stream and drops its subscription on the client's abort.
    await until(() => (openSubscriptions === 0 ? true : undefined), 5_000);
    // Events happen while nobody listens.
    const gapFrom = submitted.length;
    await until(() => (submitted.length >= gapFrom + 10 ? true : undefined));

    slowReads = true;
    const second = await SseClient.open("/events", {
      ...AS_TEST,
      "last-event-id": String(lastSeen),
    });
    await second.until(() => second.frames.length >= 60);
    slowReads = false;
    submitting = false;
    await submitter;
    for (const id of submitted) await t.waitFor(id, ["done"]);
    const end = await lastSeq();
    await second.until(() => second.seqs.includes(end));
    second.close();

    const all = [...first.seqs, ...second.seqs];
    expect(new Set(all).size).toBe(all.length);
    expect(second.seqs[0]).toBe(lastSeen + 1);
    const window = Array.from({ length: end - start }, (_, i) => start + 1 + i);
    expect(all).toEqual(window);
    // ... and it is exactly what the journal holds for this tenant.
    const stored = await t.engine.eventsAfter(TENANT, start, 1_000_000);
    expect(stored.map((event) => event.seq)).toEqual(window);
    // Every submitted task's events are in it.
    const doneIds = new Set(
      [...first.frames, ...second.frames]
        .filter((frame) => frame.event === "task.done")
        .map((frame) => Number(frame.data.id)),
    );
    for (const id of submitted) expect(doneIds.has(id)).toBe(true);
  });

  it("replays from ?after= and then goes on live", async () => {
    const start = await lastSeq();
    const before = await submit(noop("before"));
    await t.waitFor(before.id, ["done"]);
    const client = await SseClient.open(`/events?after=${start}`, AS_TEST);
    await client.until(() =>
      client.frames.some((f) => f.data.id === String(before.id) && f.event === "task.done"),
    );
    const after = await submit(noop("after"));
    await client.until(() =>
      client.frames.some((f) => f.data.id === String(after.id) && f.event === "task.done"),
    );
    client.close();
    expect(client.seqs[0]).toBe(start + 1);
  });

  it("shows a client only its own tenant's events (and agents')", async () => {
    const start = await lastSeq(TENANT);
    const mine = await SseClient.open(`/events?after=${start}`, AS_TEST);
    const theirs = await SseClient.open(`/events?after=${start}`, AS_OTHER);
    const ownTask = await submit(noop("mine"));
    const otherTask = await submit(noop("theirs"), AS_OTHER);
    await mine.until(() =>
      mine.frames.some((f) => f.data.id === String(ownTask.id) && f.event === "task.done"),
    );
    await theirs.until(() =>
      theirs.frames.some((f) => f.data.id === String(otherTask.id) && f.event === "task.done"),
    );
    // A task of each after them, so anything leaking would have arrived by now.
    const lastOwn = await submit(noop("mine-2"));
    const lastOther = await submit(noop("theirs-2"), AS_OTHER);
    await mine.until(() =>
      mine.frames.some((f) => f.data.id === String(lastOwn.id) && f.event === "task.done"),
    );
    await theirs.until(() =>
      theirs.frames.some((f) => f.data.id === String(lastOther.id) && f.event === "task.done"),
    );
    mine.close();
    theirs.close();
    const taskIds = (client: SseClient) =>
      new Set(client.frames.filter((f) => f.data.kind === "task").map((f) => Number(f.data.id)));
    expect([...taskIds(mine)].sort()).toEqual([ownTask.id, lastOwn.id].sort());
    expect([...taskIds(theirs)].sort()).toEqual([otherTask.id, lastOther.id].sort());
    // A replay is filtered the same way.
    const replay = await SseClient.open(`/events?after=${start}`, AS_OTHER);
    await replay.until(() =>
      replay.frames.some((f) => f.data.id === String(lastOther.id) && f.event === "task.done"),
    );
    replay.close();
    expect([...taskIds(replay)].sort()).toEqual([otherTask.id, lastOther.id].sort());
  });

  it("?task= keeps to one task's events", async () => {
    const start = await lastSeq();
    const [a, b] = [await submit(noop("a")), await submit(noop("b"))];
    await t.waitFor(a.id, ["done"]);
    await t.waitFor(b.id, ["done"]);
    const client = await SseClient.open(`/events?task=${b.id}&after=${start}`, AS_TEST);
    await client.until(() => client.frames.some((f) => f.event === "task.done"));
    const c = await submit(noop("c"));
    await t.waitFor(c.id, ["done"]);
    client.close();
    expect(client.frames.length).toBeGreaterThan(1);
    for (const frame of client.frames)
      expect(frame.data).toMatchObject({ kind: "task", id: String(b.id) });
    const stored = (await t.engine.eventsAfter(TENANT, start, 1_000))
      .filter((event) => event.kind === "task" && event.id === String(b.id))
      .map((event) => event.seq);
    expect(client.seqs).toEqual(stored);
  });
});

describe("an SSE response", () => {
  it("sends a heartbeat comment while idle and ends when the client aborts", async () => {
    const client = new AbortController();
    let cleanedUp = false;
    const response = sseResponse(
      new Request("http://localhost/events", { signal: client.signal }),
      () => () => {
        cleanedUp = true;
      },
      20,
    );
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes(": heartbeat\n\n")) {
      const { value } = await reader.read();
      text += decoder.decode(value);
    }
    expect(text.startsWith(": connected\n\n")).toBe(true);
    client.abort();
    expect(cleanedUp).toBe(true);
    // Whatever was queued, then the end.
    while (!(await reader.read()).done) {}
  });
});

describe("GET /tasks/{id}/output", () => {
  it("delivers an exec task's stdout chunks live, then ends with the task", async () => {
    // Due in a moment, so the stream is open before the command prints anything.
    const task = await submit({
      name: "count",
      executeAt: Date.now() + 1_000,
      actions: [
        { type: "exec", params: { command: "for i in 1 2 3; do echo $i; sleep 0.1; done" } },
      ],
    });
    const client = await SseClient.open(`/tasks/${task.id}/output`, AS_TEST);
    await client.until(() => client.frames.some((f) => f.event === "stdout"));
    // Live: the first line is here while the command still runs.
    const running = await (await fetch(`${base}/tasks/${task.id}`, { headers: AS_TEST })).json();
    expect(running.status).toBe("running");
    await client.until(() => client.ended, 10_000);
    const stdout = client.frames.filter((f) => f.event === "stdout");
    expect(stdout.map((f) => f.data.chunk).join("")).toBe("1\n2\n3\n");
    expect(stdout[0]?.data).toMatchObject({ agent: "local", stream: "stdout" });
    expect(client.frames[client.frames.length - 1]).toMatchObject({
      event: "end",
      data: { id: task.id, state: "done" },
    });
  });

  it("ends at once for a finished task, and is 404 for another client's task", async () => {
    const task = await submit(noop("finished"));
    await t.waitFor(task.id, ["done"]);
    const client = await SseClient.open(`/tasks/${task.id}/output`, AS_TEST);
    await client.until(() => client.ended);
    expect(client.frames).toEqual([
      { id: null, event: "end", data: { id: task.id, state: "done", outcome: expect.anything() } },
    ]);
    const response = await fetch(`${base}/tasks/${task.id}/output`, { headers: AS_OTHER });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
  });
});

describe("over a real NATS server, with a remote agent", () => {
  let nats: NatsServer;
  let server: ServerProcess;
  let agent: ReturnType<typeof startAgentProcess>;
  const dir = tempDir("fw-events-nats-");

  const post = async (body: unknown) => {
    const response = await fetch(`${server.url}/tasks`, {
      method: "POST",
      headers: { ...AUTH, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: number };
  };

  beforeAll(async () => {
    nats = await startNats();
    server = await startServerProcess({
      dataDir: join(dir, "engine"),
      port: await freePort(),
      env: { FW_NATS_URL: nats.url },
    });
    agent = startAgentProcess({
      natsUrl: nats.url,
      id: "remote",
      dir,
      config: { actions: ["exec", "noop"], heartbeatMs: 100 },
    });
    await until(async () => {
      const response = await fetch(`${server.url}/agents`, { headers: AUTH });
      const agents = (await response.json()) as { id: string; status: string }[];
      return agents.some((a) => a.id === "remote" && a.status === "online") ? true : undefined;
    });
  });

  afterAll(async () => {
    agent?.kill("SIGTERM");
    await server?.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("replays, resumes and streams output the same as embedded", async () => {
    const first = await SseClient.open("/events?after=0", AUTH, server.url);
    const one = await post({ agent: "remote", actions: [{ type: "noop" }] });
    await first.until(() =>
      first.frames.some((f) => f.data.id === String(one.id) && f.event === "task.done"),
    );
    first.close();
    const lastSeen = first.seqs[first.seqs.length - 1] as number;
    // While nobody listens: a task whose output is then streamed live.
    const two = await post({
      agent: "remote",
      executeAt: Date.now() + 1_000,
      actions: [
        { type: "exec", params: { command: "for i in 1 2 3; do echo $i; sleep 0.1; done" } },
      ],
    });
    const output = await SseClient.open(`/tasks/${two.id}/output`, AUTH, server.url);
    const second = await SseClient.open(
      "/events",
      { ...AUTH, "last-event-id": String(lastSeen) },
      server.url,
    );
    await output.until(() => output.ended);
    await second.until(() =>
      second.frames.some((f) => f.data.id === String(two.id) && f.event === "task.done"),
    );
    second.close();
    expect(
      output.frames
        .filter((f) => f.event === "stdout")
        .map((f) => f.data.chunk)
        .join(""),
    ).toBe("1\n2\n3\n");
    expect(output.frames.filter((f) => f.event === "stdout")[0]?.data).toMatchObject({
      agent: "remote",
    });
    expect(output.frames[output.frames.length - 1]).toMatchObject({
      event: "end",
      data: { state: "done" },
    });
    const all = [...first.seqs, ...second.seqs];
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => (all[0] as number) + i));
    expect(first.seqs[0]).toBe(1);
  });
});
