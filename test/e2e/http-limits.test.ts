/**
 * The HTTP layer's limits against a real server process over loopback (issue 8,
 * item 4): one body size limit for every route (413 in each family's shape, the body
 * never read into memory), a per-client rate limit (429 with Retry-After in each
 * family's shape, other clients unaffected), and slow clients (hundreds of
 * slowloris-style connections) that neither starve other clients nor stay open.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasFamilyShape } from "../fuzz/family-shape";
import { rssMiB } from "../fuzz/process-rss";
import { freePort, type ServerProcess, startServerProcess } from "../helpers/server-process";
import { until } from "../helpers/until";

const KEYS = "test:test-key,body:body-key,flood:flood-key,probe:probe-key";
const as = (client: string) => ({ authorization: `Bearer ${client}-key` });

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "fw-http-limits-"));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string>): Promise<ServerProcess> {
  return startServerProcess({
    dataDir: join(tempDir(), "data"),
    port: await freePort(),
    env: { FW_API_KEYS: KEYS, FW_LOG_LEVEL: "warn", ...env },
  });
}

// biome-ignore lint/suspicious/noExplicitAny: JSON answers are read field by field.
type Json = any;

/** One route of each family that takes a body, and what its answer must hold besides the shape. */
const BODY_ROUTES: [family: string, method: string, path: string, extra: (body: Json) => void][] = [
  ["native", "POST", "/tasks", (b) => expect(b.error.code).toBe("PAYLOAD_TOO_LARGE")],
  ["xina", "POST", "/xina/action", (b) => expect(b.error.code).toBe("BODY_TOO_LARGE")],
  ["executor", "POST", "/rpc", (b) => expect(b.error.message).toMatch(/larger than/)],
  ["hosttask", "POST", "/v3/applicationInstance/task", (b) => expect(b.errorCode).toBe(10003)],
  [
    "jobs (create)",
    "POST",
    "/job",
    (b) => expect(b).toEqual({ id: null, error: expect.any(String) }),
  ],
  [
    "jobs (update)",
    "PUT",
    "/jobs/7",
    (b) => expect(b).toEqual({ id: 7, error: expect.any(String) }),
  ],
  ["jobs", "POST", "/settings", (b) => expect(b).toEqual({ error: expect.any(String) })],
  ["periodic", "POST", "/api/v1/tasks/create", (b) => expect(typeof b.error).toBe("string")],
];

/** A body of `bytes` bytes, sent in pieces without a Content-Length (chunked). */
function chunked(bytes: number, piece = 16 * 1024): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const size = Math.min(piece, bytes - sent);
      controller.enqueue(new Uint8Array(size).fill(0x20));
      sent += size;
    },
  });
}

describe("the body size limit (FW_MAX_BODY_BYTES=65536)", () => {
  const LIMIT = 65_536;
  let server: ServerProcess;
  beforeAll(async () => {
    server = await start({ FW_MAX_BODY_BYTES: String(LIMIT), FW_RATE_LIMIT: "0" });
  });
  afterAll(() => server?.stop());

  async function send(method: string, path: string, body: BodyInit, streamed = false) {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: { ...as("body"), "content-type": "application/json" },
      body,
      ...(streamed ? { duplex: "half" } : {}),
    } as RequestInit);
    const text = await response.text();
    return { status: response.status, text, url: `${server.url}${path}` };
  }

  it.each(BODY_ROUTES)(
    "%s (%s %s): one byte over is 413 in the family's shape, with or without a Content-Length",
    async (_family, method, path, extra) => {
      for (const answer of [
        await send(method, path, " ".repeat(LIMIT + 1)),
        await send(method, path, chunked(LIMIT + 1), true),
      ]) {
        expect(answer.status, answer.text).toBe(413);
        expect(hasFamilyShape(answer.url, answer.text).ok, answer.text).toBe(true);
        extra(JSON.parse(answer.text));
      }
      // At the limit the size is fine: whatever the route says, it is not a 413.
      const at = await send(method, path, `{}${" ".repeat(LIMIT - 2)}`);
      expect(at.status, at.text).not.toBe(413);
      const atStreamed = await send(method, path, chunked(LIMIT), true);
      expect(atStreamed.status, atStreamed.text).not.toBe(413);
    },
  );

  it("refuses 64 MiB bodies without holding them: the server's RSS stays flat", async () => {
    const pid = server.child.pid as number;
    const before = rssMiB(pid);
    const huge = new Uint8Array(64 * 1024 * 1024).fill(0x20);
    const started = performance.now();
    for (let i = 0; i < 4; i++) {
      expect((await send("POST", "/tasks", huge)).status).toBe(413);
      expect((await send("POST", "/rpc", chunked(huge.length, 1024 * 1024), true)).status).toBe(
        413,
      );
    }
    const seconds = (performance.now() - started) / 1000;
    const after = rssMiB(pid);
    console.log(
      `body limit: 8 bodies of 64 MiB refused in ${seconds.toFixed(2)} s; ` +
        `server RSS ${before.toFixed(1)} MiB before, ${after.toFixed(1)} MiB after`,
    );
    // Holding even one of them would add 64 MiB.
    expect(after - before).toBeLessThan(32);
    expect(await (await fetch(`${server.url}/`)).json()).toEqual({ result: "alive" });
  });
});

describe("the per-client rate limit (FW_RATE_LIMIT=5/50)", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await start({ FW_RATE_LIMIT: "5/50" });
  });
  afterAll(() => server?.stop());

  async function burst(headers: Record<string, string>, count: number, path = "/agents") {
    return Promise.all(
      Array.from({ length: count }, async () => {
        const response = await fetch(`${server.url}${path}`, { headers });
        return {
          status: response.status,
          retryAfter: response.headers.get("retry-after"),
          text: await response.text(),
        };
      }),
    );
  }

  it("answers a client over its rate 429 with Retry-After, while another client is served", async () => {
    const [flood, probe] = await Promise.all([
      burst(as("flood"), 120),
      // The other client, at the same moment, from the same address.
      (async () => {
        const answers = [];
        for (let i = 0; i < 10; i++) answers.push(...(await burst(as("probe"), 1)));
        return answers;
      })(),
    ]);
    const refused = flood.filter((a) => a.status === 429);
    const served = flood.filter((a) => a.status === 200);
    console.log(
      `rate limit: flood 120 at once → ${served.length} served, ${refused.length} refused 429`,
    );
    // The burst (50) and what refilled meanwhile at 5/s; never all 120.
    expect(served.length).toBeGreaterThanOrEqual(50);
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of refused) {
      expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(answer.text)).toEqual({
        error: { code: "RATE_LIMITED", message: expect.stringMatching(/retry after \d+ s/) },
      });
    }
    expect(probe.map((a) => a.status)).toEqual(Array(10).fill(200));
  });

  it("answers 429 in every family's shape", async () => {
    await burst(as("flood"), 60);
    const routes: [string, string][] = [
      ["GET", "/tasks"],
      ["POST", "/xina/action"],
      ["POST", "/rpc"],
      ["GET", "/v3/applicationInstance/task"],
      ["POST", "/job"],
      ["PUT", "/jobs/7"],
      ["GET", "/jobs"],
      ["GET", "/api/v1/tasks"],
      ["GET", "/debug/machines"],
    ];
    for (const [method, path] of routes) {
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: { ...as("flood"), "content-type": "application/json" },
        ...(method === "GET" ? {} : { body: "{}" }),
      });
      const text = await response.text();
      expect(response.status, `${method} ${path}: ${text}`).toBe(429);
      expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(hasFamilyShape(`${server.url}${path}`, text).ok, `${method} ${path}: ${text}`).toBe(
        true,
      );
    }
  });

  it("lets the client back in once Retry-After has passed", async () => {
    const refused = (await burst(as("flood"), 60)).find((a) => a.status === 429);
    expect(refused).toBeDefined();
    const wait = Number(refused?.retryAfter) * 1000;
    const since = performance.now();
    await until(async () => {
      const response = await fetch(`${server.url}/agents`, { headers: as("flood") });
      await response.arrayBuffer();
      return response.status === 200 ? true : undefined;
    }, wait + 2_000);
    expect(performance.now() - since).toBeLessThanOrEqual(wait + 2_000);
  });

  it("limits requests without a key by address, never GET / and never another client", async () => {
    const anonymous = await burst({}, 120, "/tasks");
    expect(anonymous.some((a) => a.status === 429)).toBe(true);
    expect(anonymous.every((a) => a.status === 401 || a.status === 429)).toBe(true);
    // Same address, but a client of its own; and the liveness check, limited by nothing.
    expect((await burst(as("probe"), 5)).map((a) => a.status)).toEqual(Array(5).fill(200));
    expect((await burst({}, 5, "/")).map((a) => a.status)).toEqual(Array(5).fill(200));
  });
});

describe("slow clients (FW_IDLE_TIMEOUT_S=4)", () => {
  const IDLE_TIMEOUT_S = 4;
  /** Per kind of slow connection. */
  const EACH = 80;
  let server: ServerProcess;
  beforeAll(async () => {
    server = await start({ FW_IDLE_TIMEOUT_S: String(IDLE_TIMEOUT_S), FW_RATE_LIMIT: "0" });
  });
  afterAll(() => server?.stop());

  interface Slow {
    readonly kind: string;
    readonly openedAt: number;
    closedAt?: number;
    socket: Socket;
  }

  /** A connection that sends `head` at once, then one byte of `trickle` every `everyMs`. */
  function slow(kind: string, head: string, trickle: string, everyMs: number): Promise<Slow> {
    return new Promise((resolve, reject) => {
      const socket = connect(new URL(server.url).port as unknown as number, "127.0.0.1");
      const entry: Slow = { kind, openedAt: performance.now(), socket };
      let at = 0;
      const timer = setInterval(() => {
        if (at < trickle.length && !socket.destroyed) socket.write(trickle[at++] as string);
      }, everyMs);
      socket.once("connect", () => {
        if (head) socket.write(head);
        resolve(entry);
      });
      socket.on("data", () => {});
      socket.on("error", () => {});
      socket.once("close", () => {
        clearInterval(timer);
        entry.closedAt = performance.now();
      });
      socket.once("error", reject);
    });
  }

  it(`answers others promptly while ${EACH * 3} slow connections are open, and closes them in bounded time`, async () => {
    const host = `Host: 127.0.0.1\r\n`;
    const connections = await Promise.all([
      // Headers a byte at a time, never finished.
      ...Array.from({ length: EACH }, () =>
        slow("headers", "", `GET /agents HTTP/1.1\r\n${host}X-Slow: ${"a".repeat(10_000)}`, 250),
      ),
      // Full headers, then a body that never finishes (Content-Length 10,000).
      ...Array.from({ length: EACH }, () =>
        slow(
          "body",
          `POST /rpc HTTP/1.1\r\n${host}Authorization: Bearer test-key\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n`,
          `{"method":"awf.task/list","params":{"pad":"${"b".repeat(10_000)}`,
          250,
        ),
      ),
      // A chunked body that never finishes.
      ...Array.from({ length: EACH }, () =>
        slow(
          "chunked",
          `POST /tasks HTTP/1.1\r\n${host}Authorization: Bearer test-key\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
          `1\r\n{\r\n${"1\r\n \r\n".repeat(5_000)}`,
          250,
        ),
      ),
    ]);

    // Another client, meanwhile: each request answered, and quickly.
    const latencies: number[] = [];
    for (let i = 0; i < 50; i++) {
      const started = performance.now();
      const response = await fetch(`${server.url}/agents`, { headers: as("probe") });
      await response.arrayBuffer();
      latencies.push(performance.now() - started);
      expect(response.status).toBe(200);
    }
    latencies.sort((a, b) => a - b);
    const p50 = latencies[Math.floor(latencies.length / 2)] as number;
    const max = latencies[latencies.length - 1] as number;
    const open = connections.filter((c) => c.closedAt === undefined).length;

    await until(
      () => (connections.every((c) => c.closedAt !== undefined) ? true : undefined),
      40_000,
    );
    const lifetimes: Record<string, number> = {};
    for (const c of connections) {
      const seconds = ((c.closedAt as number) - c.openedAt) / 1000;
      lifetimes[c.kind] = Math.max(lifetimes[c.kind] ?? 0, seconds);
    }
    console.log(
      `slow clients: ${connections.length} slow connections (${open} still open during the probe); ` +
        `50 requests from another client: p50 ${p50.toFixed(1)} ms, max ${max.toFixed(1)} ms; ` +
        `longest-lived slow connection by kind (s): ${JSON.stringify(lifetimes, (_k, v) => (typeof v === "number" ? Number(v.toFixed(1)) : v))}`,
    );
    expect(open).toBe(connections.length);
    expect(max).toBeLessThan(1_000);
    // Bun closes a request that stalls: headers after its fixed 10 s, bodies after the
    // idle timeout; both checked on a 4 s tick.
    for (const seconds of Object.values(lifetimes)) expect(seconds).toBeLessThan(20);
    expect(await (await fetch(`${server.url}/`)).json()).toEqual({ result: "alive" });
    expect(server.output()).not.toMatch(/unhandled error/);
  }, 60_000);
});
