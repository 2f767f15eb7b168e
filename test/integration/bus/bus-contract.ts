/**
 * The behaviour every Bus implementation owes the engine and its agents, run against
 * each of them. Each test opens its own bus and uses subjects with a random token, so
 * tests stay apart on a shared server. Absence is proven with a barrier message on the
 * same bus (one connection delivers in publish order), never by waiting a while.
 */
import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Bus, BusMessage } from "../../../src/bus";
import {
  BusClosedError,
  BusTimeoutError,
  InvalidInputError,
  NoRespondersError,
} from "../../../src/errors";

export interface OpenedBus {
  readonly bus: Bus;
  cleanup(): Promise<void>;
}

/** How long any awaited delivery may take before the test fails instead of hanging. */
export const DELIVERY_DEADLINE_MS = 5_000;

/** A subject prefix no other test uses. */
export function uniquePrefix(label: string): string {
  return `contract.${label}.${randomUUID().replaceAll("-", "")}`;
}

/** Rejects with a message naming what did not happen, once `ms` pass. */
export function within<T>(
  promise: Promise<T>,
  what: string,
  ms = DELIVERY_DEADLINE_MS,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Records what a subscription receives and lets a test await a count. */
export class Inbox<T = unknown> {
  readonly messages: BusMessage<T>[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];

  readonly handler = (message: BusMessage<T>): void => {
    this.messages.push(message);
    this.waiters = this.waiters.filter((waiter) => {
      if (this.messages.length < waiter.count) return true;
      waiter.resolve();
      return false;
    });
  };

  get data(): T[] {
    return this.messages.map((message) => message.data);
  }

  /** Resolves once `count` messages are in (bounded). */
  until(count: number, what = `${count} message(s)`): Promise<void> {
    if (this.messages.length >= count) return Promise.resolve();
    return within(
      new Promise<void>((resolve) => this.waiters.push({ count, resolve })),
      `${what} (have ${this.messages.length})`,
    );
  }
}

/**
 * Resolves when everything published on `bus` before the call has been delivered to
 * every subscriber on this bus: flush, then a marker on a fresh subject, which comes
 * out after everything published before it.
 */
export async function barrier(bus: Bus): Promise<void> {
  await bus.flush();
  const subject = `${uniquePrefix("barrier")}.marker`;
  const inbox = new Inbox();
  const subscription = bus.subscribe(subject, inbox.handler);
  try {
    bus.publish(subject, null);
    await inbox.until(1, "the barrier marker");
  } finally {
    subscription.unsubscribe();
  }
}

export function busContract(name: string, open: () => Promise<OpenedBus>): void {
  describe(`Bus contract: ${name}`, () => {
    let opened: OpenedBus;
    let bus: Bus;
    let prefix: string;

    beforeEach(async () => {
      opened = await open();
      bus = opened.bus;
      prefix = uniquePrefix(name.replace(/[^a-z0-9]/gi, "_"));
    });

    afterEach(async () => {
      await opened.cleanup();
    });

    describe("publish and subscribe", () => {
      it("delivers a message on the exact subject with its subject and payload", async () => {
        const inbox = new Inbox();
        bus.subscribe(`${prefix}.a`, inbox.handler);
        const payload = { id: 7, tags: ["x", "y"], nested: { ok: true }, none: null };
        bus.publish(`${prefix}.a`, payload);
        await inbox.until(1);
        const [message] = inbox.messages;
        expect(message?.subject).toBe(`${prefix}.a`);
        expect(message?.data).toEqual(payload);
        // Plain publishes carry no reply: respond is there only for requests.
        expect(message?.respond).toBeUndefined();
      });

      it("matches `*` to exactly one token and `>` to one or more trailing tokens", async () => {
        const star = new Inbox();
        const rest = new Inbox();
        const exact = new Inbox();
        const deepStar = new Inbox();
        bus.subscribe(`${prefix}.*`, star.handler);
        bus.subscribe(`${prefix}.>`, rest.handler);
        bus.subscribe(`${prefix}.a`, exact.handler);
        bus.subscribe(`${prefix}.*.b.*`, deepStar.handler);
        for (const suffix of ["a", "a.b", "a.b.c", "z.b.c.d"])
          bus.publish(`${prefix}.${suffix}`, suffix);
        bus.publish(`${prefix}`, "bare");
        await barrier(bus);
        expect(star.data).toEqual(["a"]);
        expect(rest.data).toEqual(["a", "a.b", "a.b.c", "z.b.c.d"]);
        expect(exact.data).toEqual(["a"]);
        expect(deepStar.data).toEqual(["a.b.c"]);
        // Every delivery names the concrete subject, never the pattern.
        expect(rest.messages.map((m) => m.subject)).toEqual(
          ["a", "a.b", "a.b.c", "z.b.c.d"].map((suffix) => `${prefix}.${suffix}`),
        );
      });

      it("never runs a handler inside publish()", async () => {
        const inbox = new Inbox();
        bus.subscribe(`${prefix}.async`, inbox.handler);
        bus.publish(`${prefix}.async`, 1);
        expect(inbox.messages).toHaveLength(0);
        await inbox.until(1);
        expect(inbox.data).toEqual([1]);
      });

      it("keeps one publisher's order for 1,000 messages, across subjects", async () => {
        const one = new Inbox<number>();
        const all = new Inbox<number>();
        bus.subscribe(`${prefix}.n.even`, one.handler);
        bus.subscribe(`${prefix}.n.*`, all.handler);
        const sent: number[] = [];
        for (let i = 0; i < 1000; i++) {
          bus.publish(`${prefix}.n.${i % 2 === 0 ? "even" : "odd"}`, i);
          sent.push(i);
        }
        await all.until(1000);
        await one.until(500);
        expect(all.data).toEqual(sent);
        expect(one.data).toEqual(sent.filter((i) => i % 2 === 0));
      });
    });

    describe("queue groups", () => {
      it("hands each of 1,000 messages to exactly one member, and both members get some", async () => {
        const first = new Inbox<number>();
        const second = new Inbox<number>();
        let total = 0;
        let resolveAll: () => void = () => {};
        const all = new Promise<void>((resolve) => {
          resolveAll = resolve;
        });
        const count =
          (inbox: Inbox<number>) =>
          (message: BusMessage<number>): void => {
            inbox.handler(message);
            if (++total === 1000) resolveAll();
          };
        bus.subscribe(`${prefix}.work`, count(first), { queue: "workers" });
        bus.subscribe(`${prefix}.work`, count(second), { queue: "workers" });
        for (let i = 0; i < 1000; i++) bus.publish(`${prefix}.work`, i);
        await within(all, "1,000 queue deliveries");
        await barrier(bus);
        const got = [...first.data, ...second.data].sort((a, b) => a - b);
        expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => i));
        expect(first.messages.length).toBeGreaterThan(0);
        expect(second.messages.length).toBeGreaterThan(0);
      });

      it("gives a plain subscriber every message and the group each message once", async () => {
        const plain = new Inbox<number>();
        const members = [new Inbox<number>(), new Inbox<number>()];
        bus.subscribe(`${prefix}.mixed`, plain.handler);
        for (const member of members) {
          bus.subscribe(`${prefix}.mixed`, member.handler, { queue: "group" });
        }
        for (let i = 0; i < 10; i++) bus.publish(`${prefix}.mixed`, i);
        await plain.until(10);
        await barrier(bus);
        expect(plain.data).toEqual(Array.from({ length: 10 }, (_, i) => i));
        const grouped = members.flatMap((member) => member.data).sort((a, b) => a - b);
        expect(grouped).toEqual(Array.from({ length: 10 }, (_, i) => i));
      });
    });

    describe("request and reply", () => {
      it("resolves with the responder's answer", async () => {
        bus.subscribe<{ n: number }>(`${prefix}.svc`, (message) => {
          expect(message.respond).toBeTypeOf("function");
          message.respond?.({ doubled: message.data.n * 2, subject: message.subject });
        });
        const answer = await bus.request(`${prefix}.svc`, { n: 21 });
        expect(answer).toEqual({ doubled: 42, subject: `${prefix}.svc` });
      });

      it("answers from an async responder and from a queue group member", async () => {
        bus.subscribe(
          `${prefix}.svc.*`,
          async (message) => {
            await Promise.resolve();
            message.respond?.(`hello ${String(message.data)}`);
          },
          { queue: "svc" },
        );
        await expect(bus.request(`${prefix}.svc.greet`, "world")).resolves.toBe("hello world");
      });

      it("rejects with NoRespondersError when nobody listens", async () => {
        const error = await bus.request(`${prefix}.nobody`, 1).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(NoRespondersError);
        expect((error as NoRespondersError).subject).toBe(`${prefix}.nobody`);
        expect((error as NoRespondersError).code).toBe("NO_RESPONDERS");
      });

      it("rejects with BusTimeoutError when the responder never answers", async () => {
        const inbox = new Inbox();
        bus.subscribe(`${prefix}.silent`, inbox.handler);
        const started = Date.now();
        const error = await bus
          .request(`${prefix}.silent`, 1, { timeoutMs: 150 })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(BusTimeoutError);
        expect((error as BusTimeoutError).subject).toBe(`${prefix}.silent`);
        expect((error as BusTimeoutError).timeoutMs).toBe(150);
        expect(Date.now() - started).toBeGreaterThanOrEqual(140);
        // The responder did get the request; it just never answered.
        expect(inbox.messages).toHaveLength(1);
        expect(inbox.messages[0]?.respond).toBeTypeOf("function");
      });
    });

    describe("unsubscribe and failing handlers", () => {
      it("stops delivery after unsubscribe()", async () => {
        const gone = new Inbox();
        const stays = new Inbox();
        const subscription = bus.subscribe(`${prefix}.u`, gone.handler);
        bus.subscribe(`${prefix}.u`, stays.handler);
        expect(subscription.pattern).toBe(`${prefix}.u`);
        bus.publish(`${prefix}.u`, "before");
        await stays.until(1);
        await gone.until(1);
        subscription.unsubscribe();
        subscription.unsubscribe(); // a second call is harmless
        bus.publish(`${prefix}.u`, "after");
        bus.publish(`${prefix}.u`, "marker");
        await stays.until(3);
        await barrier(bus);
        expect(stays.data).toEqual(["before", "after", "marker"]);
        expect(gone.data).toEqual(["before"]);
      });

      it("keeps delivering after a handler throws or an async handler rejects", async () => {
        const seen: unknown[] = [];
        const asyncSeen: unknown[] = [];
        bus.subscribe(`${prefix}.boom`, (message) => {
          seen.push(message.data);
          if (message.data === 1) throw new Error("handler failure (expected by the test)");
        });
        bus.subscribe(`${prefix}.boom`, async (message) => {
          asyncSeen.push(message.data);
          await Promise.resolve();
          if (message.data === 1) throw new Error("async failure (expected by the test)");
        });
        const after = new Inbox();
        bus.subscribe(`${prefix}.boom`, after.handler);
        for (const n of [1, 2, 3]) bus.publish(`${prefix}.boom`, n);
        await after.until(3);
        await barrier(bus);
        expect(seen).toEqual([1, 2, 3]);
        expect(asyncSeen).toEqual([1, 2, 3]);
        expect(after.data).toEqual([1, 2, 3]);
      });
    });

    describe("close", () => {
      it("refuses publish, subscribe, request and flush after close()", async () => {
        await bus.close();
        expect(() => bus.publish(`${prefix}.x`, 1)).toThrow(BusClosedError);
        expect(() => bus.subscribe(`${prefix}.x`, () => {})).toThrow(BusClosedError);
        await expect(bus.request(`${prefix}.x`, 1)).rejects.toBeInstanceOf(BusClosedError);
        await expect(bus.flush()).rejects.toBeInstanceOf(BusClosedError);
        await bus.close(); // closing twice is harmless
      });

      it("rejects a pending request with BusClosedError", async () => {
        bus.subscribe(`${prefix}.pending`, () => {});
        const pending = bus.request(`${prefix}.pending`, 1, { timeoutMs: 20_000 });
        const settled = pending.catch((e: unknown) => e);
        await bus.flush();
        await bus.close();
        expect(await within(settled, "the pending request to settle")).toBeInstanceOf(
          BusClosedError,
        );
      });
    });

    describe("input validation", () => {
      it.each([
        ["an empty token", "a..b"],
        ["a wildcard", "a.*"],
        ["a trailing wildcard", "a.>"],
        ["whitespace", "a b"],
        ["nothing", ""],
        ["a trailing dot", "a."],
      ])("refuses to publish on a subject with %s", async (_, subject) => {
        expect(() => bus.publish(subject, 1)).toThrow(InvalidInputError);
        await expect(bus.request(subject, 1)).rejects.toBeInstanceOf(InvalidInputError);
      });

      it.each([
        ["`>` before the end", "a.>.b"],
        ["an empty token", "a..*"],
        ["whitespace", "a .b"],
        ["nothing", ""],
      ])("refuses a subscription pattern with %s", (_, pattern) => {
        expect(() => bus.subscribe(pattern, () => {})).toThrow(InvalidInputError);
      });

      it("refuses a queue group name with whitespace", () => {
        expect(() => bus.subscribe(`${prefix}.q`, () => {}, { queue: "bad queue" })).toThrow(
          InvalidInputError,
        );
      });

      it("refuses a request timeout that is not positive", async () => {
        bus.subscribe(`${prefix}.t`, (message) => message.respond?.(1));
        await expect(bus.request(`${prefix}.t`, 1, { timeoutMs: 0 })).rejects.toBeInstanceOf(
          InvalidInputError,
        );
      });
    });
  });
}
