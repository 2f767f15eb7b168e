/**
 * The Bus contract against a real nats-server, plus what only NATS has: surviving a
 * server restart, draining on close, and the JetStream event stream.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { nanos, type Status } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsBus } from "../../../src/bus";
import { ensureEventStream, replayEvents } from "../../../src/bus/event-stream";
import { InvalidInputError, UnavailableError } from "../../../src/errors";
import { freePort, type NatsServer, startNats } from "../../helpers/nats";
import { busContract, Inbox, uniquePrefix, within } from "./bus-contract";

let server: NatsServer;

beforeAll(async () => {
  server = await startNats();
});

afterAll(async () => {
  await server?.stop();
});

busContract("nats", async () => {
  const bus = await NatsBus.connect({ servers: server.url, name: "bus-contract" });
  return { bus, cleanup: () => bus.close() };
});

/** Resolves on the connection's next status event of this type. */
async function nextStatus(bus: NatsBus, type: Status["type"]): Promise<void> {
  for await (const status of bus.natsConnection.status()) {
    if (status.type === type) return;
  }
  throw new Error(`the connection closed before a ${type} event`);
}

/** Polls `check` until it holds; fails naming `what` after `ms`. */
async function waitUntil(check: () => Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("NatsBus on a real server", () => {
  it("delivers again after the server restarts, and counts the reconnect", async () => {
    const reconnectedTo: string[] = [];
    const subscriber = await NatsBus.connect({
      servers: server.url,
      name: "subscriber",
      onReconnect: (to) => reconnectedTo.push(to),
    });
    const publisher = await NatsBus.connect({ servers: server.url, name: "publisher" });
    try {
      const subject = `${uniquePrefix("reconnect")}.ping`;
      const inbox = new Inbox();
      subscriber.subscribe(subject, inbox.handler);
      // Until the server has the subscription, another connection's publish can miss it.
      await subscriber.flush();
      publisher.publish(subject, "before");
      await inbox.until(1);
      expect(subscriber.connected).toBe(true);
      expect(subscriber.reconnects).toBe(0);

      const back = Promise.all([
        nextStatus(subscriber, "reconnect"),
        nextStatus(publisher, "reconnect"),
      ]);
      await server.restart();
      await within(back, "both clients to reconnect", 15_000);

      expect(subscriber.reconnects).toBeGreaterThanOrEqual(1);
      // The callback (the engine's reconnect metric) heard each one.
      expect(reconnectedTo).toHaveLength(subscriber.reconnects);
      expect(subscriber.connected).toBe(true);
      // The client re-sent its subscription on reconnect; a round trip proves the
      // server has processed it.
      await subscriber.flush();
      publisher.publish(subject, "after");
      await inbox.until(2, "a message published after the restart");
      expect(inbox.data).toEqual(["before", "after"]);
    } finally {
      await Promise.all([subscriber.close(), publisher.close()]);
    }
  });

  it("close() drains: what was published just before reaches another connection", async () => {
    const subscriber = await NatsBus.connect({ servers: server.url });
    const publisher = await NatsBus.connect({ servers: server.url });
    try {
      const subject = `${uniquePrefix("drain")}.last`;
      const inbox = new Inbox<number>();
      subscriber.subscribe(subject, inbox.handler);
      await subscriber.flush();
      for (let i = 0; i < 100; i++) publisher.publish(subject, i);
      await publisher.close();
      expect(publisher.connected).toBe(false);
      await inbox.until(100, "every message published before close()");
      expect(inbox.data).toEqual(Array.from({ length: 100 }, (_, i) => i));
    } finally {
      await Promise.all([subscriber.close(), publisher.close()]);
    }
  });

  it("copies payloads through JSON: undefined stays undefined, a Date becomes its ISO text", async () => {
    const bus = await NatsBus.connect({ servers: server.url });
    try {
      const subject = `${uniquePrefix("json")}.p`;
      const inbox = new Inbox();
      bus.subscribe(subject, inbox.handler);
      const when = new Date(1_750_000_000_000);
      const payload = { when, gone: undefined, list: [1, undefined] };
      bus.publish(subject, payload);
      bus.publish(subject, undefined);
      await inbox.until(2);
      expect(inbox.data).toEqual([{ when: when.toISOString(), list: [1, null] }, undefined]);
      expect(inbox.data[0]).not.toBe(payload);
    } finally {
      await bus.close();
    }
  });

  it("refuses payloads JSON cannot carry or the server would not take", async () => {
    const bus = await NatsBus.connect({ servers: server.url });
    try {
      const subject = `${uniquePrefix("limits")}.p`;
      expect(() => bus.publish(subject, { n: 1n })).toThrow(InvalidInputError);
      const max = bus.natsConnection.info?.max_payload ?? 1024 * 1024;
      expect(() => bus.publish(subject, "x".repeat(max + 1))).toThrow(InvalidInputError);
    } finally {
      await bus.close();
    }
  });

  it("rejects connect() with UnavailableError when no server listens", async () => {
    const port = await freePort();
    await expect(
      NatsBus.connect({ servers: `nats://127.0.0.1:${port}`, maxReconnectAttempts: 0 }),
    ).rejects.toBeInstanceOf(UnavailableError);
  });
});

describe("the JetStream event stream", () => {
  it("stores events published with core NATS and replays them in order, from a sequence", async () => {
    const bus = await NatsBus.connect({ servers: server.url, name: "events" });
    try {
      await ensureEventStream(bus, { maxAgeMs: 60_000 });
      // Again with other limits: an existing stream is updated, not refused.
      await ensureEventStream(bus, { maxAgeMs: 120_000, maxBytes: 64 * 1024 * 1024 });
      const jsm = await jetstreamManager(bus.natsConnection);
      const info = await jsm.streams.info("FW_EVENTS");
      expect(info.config.subjects).toEqual(["fw.events.>"]);
      expect(info.config.storage).toBe("file");
      expect(info.config.retention).toBe("limits");
      expect(info.config.max_age).toBe(nanos(120_000));
      expect(info.config.max_bytes).toBe(64 * 1024 * 1024);
      const base = info.state.last_seq;

      for (let n = 1; n <= 20; n++) {
        bus.publish(`fw.events.task.${n}.done`, { taskId: n, event: "done" });
      }
      bus.publish("fw.events.lane.l1.paused", { lane: "l1" });
      await bus.flush();
      // The stream stores asynchronously after the server has accepted the publish.
      await waitUntil(
        async () => (await jsm.streams.info("FW_EVENTS")).state.last_seq >= base + 21,
        "the stream to store 21 events",
      );

      const tasks = await replayEvents(bus, { filter: "fw.events.task.>", limit: 100 });
      expect(tasks.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => base + i + 1));
      expect(tasks.map((e) => e.subject)).toEqual(
        Array.from({ length: 20 }, (_, i) => `fw.events.task.${i + 1}.done`),
      );
      expect(tasks.map((e) => e.data)).toEqual(
        Array.from({ length: 20 }, (_, i) => ({ taskId: i + 1, event: "done" })),
      );

      const tail = await replayEvents(bus, {
        filter: "fw.events.task.>",
        startSeq: base + 11,
        limit: 100,
      });
      expect(tail.map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => base + 11 + i));
      expect(tail.map((e) => (e.data as { taskId: number }).taskId)).toEqual(
        Array.from({ length: 10 }, (_, i) => 11 + i),
      );

      const firstFive = await replayEvents(bus, { startSeq: base + 1, limit: 5 });
      expect(firstFive.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5].map((i) => base + i));

      const last = await replayEvents(bus, { startSeq: base + 20, limit: 10 });
      expect(last.map((e) => e.subject)).toEqual([
        "fw.events.task.20.done",
        "fw.events.lane.l1.paused",
      ]);

      expect(await replayEvents(bus, { startSeq: base + 22, limit: 10 })).toEqual([]);
    } finally {
      await bus.close();
    }
  });
});
