import { describe, expect, it } from "vitest";
import type { BusMessage } from "../../../src/bus";
import { EmbeddedBus } from "../../../src/bus";
import { SimulatedClock } from "../../../src/clock";
import {
  BusClosedError,
  BusTimeoutError,
  InvalidInputError,
  NoRespondersError,
} from "../../../src/errors";

describe("EmbeddedBus delivery", () => {
  it("never runs a handler inside publish(), but does before flush() resolves", async () => {
    const bus = new EmbeddedBus();
    const seen: unknown[] = [];
    bus.subscribe("a.b", (message) => seen.push(message.data));
    bus.publish("a.b", 1);
    expect(seen).toEqual([]);
    await bus.flush();
    expect(seen).toEqual([1]);
  });

  it("delivers on a microtask, not a later task", async () => {
    const bus = new EmbeddedBus();
    const seen: unknown[] = [];
    bus.subscribe("a", (message) => seen.push(message.data));
    bus.publish("a", "x");
    await Promise.resolve();
    expect(seen).toEqual(["x"]);
  });

  it("hands the message its concrete subject and the payload by reference", async () => {
    const bus = new EmbeddedBus();
    const payload = { n: 1 };
    const seen: BusMessage[] = [];
    bus.subscribe("fw.events.>", (message) => seen.push(message));
    bus.publish("fw.events.task.7.done", payload);
    await bus.flush();
    expect(seen).toHaveLength(1);
    expect(seen[0]?.subject).toBe("fw.events.task.7.done");
    expect(seen[0]?.data).toBe(payload);
    expect(seen[0] && "respond" in seen[0]).toBe(false);
  });

  it("delivers to every matching subscriber and to no other", async () => {
    const bus = new EmbeddedBus();
    const seen: string[] = [];
    bus.subscribe("a.*", () => seen.push("star"));
    bus.subscribe("a.>", () => seen.push("rest"));
    bus.subscribe("a.b", () => seen.push("exact"));
    bus.subscribe("a.c", () => seen.push("other"));
    bus.subscribe("a.b.c", () => seen.push("deeper"));
    bus.publish("a.b", null);
    await bus.flush();
    expect(seen.sort()).toEqual(["exact", "rest", "star"]);
  });

  it("keeps publish order for every subscriber, across subjects", async () => {
    const bus = new EmbeddedBus();
    const first: number[] = [];
    const second: number[] = [];
    bus.subscribe("n.>", (message) => first.push(message.data as number));
    bus.subscribe("n.*", (message) => second.push(message.data as number));
    const sent: number[] = [];
    for (let i = 0; i < 5000; i++) {
      bus.publish(i % 2 === 0 ? "n.even" : "n.odd", i);
      sent.push(i);
    }
    await bus.flush();
    expect(first).toEqual(sent);
    expect(second).toEqual(sent);
  });

  it("delivers messages published by a handler after the ones already queued", async () => {
    const bus = new EmbeddedBus();
    const seen: string[] = [];
    bus.subscribe("in", (message) => {
      seen.push(`in:${message.data}`);
      bus.publish("out", message.data);
    });
    bus.subscribe("out", (message) => seen.push(`out:${message.data}`));
    bus.publish("in", 1);
    bus.publish("in", 2);
    await bus.flush();
    await bus.flush();
    expect(seen).toEqual(["in:1", "in:2", "out:1", "out:2"]);
  });

  it("schedules one microtask for a burst of publishes", async () => {
    const bus = new EmbeddedBus();
    let received = 0;
    bus.subscribe("burst", () => received++);
    const original = globalThis.queueMicrotask;
    let scheduled = 0;
    globalThis.queueMicrotask = (callback) => {
      scheduled++;
      original(callback);
    };
    try {
      for (let i = 0; i < 10_000; i++) bus.publish("burst", i);
    } finally {
      globalThis.queueMicrotask = original;
    }
    await bus.flush();
    expect(scheduled).toBe(1);
    expect(received).toBe(10_000);
  });

  it("rejects invalid subjects, patterns and queue names with InvalidInputError", () => {
    const bus = new EmbeddedBus();
    expect(() => bus.publish("a.*", 1)).toThrow(InvalidInputError);
    expect(() => bus.publish("a..b", 1)).toThrow(InvalidInputError);
    expect(() => bus.publish("", 1)).toThrow(InvalidInputError);
    expect(() => bus.subscribe("a.>.b", () => {})).toThrow(InvalidInputError);
    expect(() => bus.subscribe("a b", () => {})).toThrow(InvalidInputError);
    expect(() => bus.subscribe("a", () => {}, { queue: "" })).toThrow(InvalidInputError);
  });

  it("resolves flush() at once when nothing is queued", async () => {
    const bus = new EmbeddedBus();
    await expect(bus.flush()).resolves.toBeUndefined();
  });
});

describe("EmbeddedBus queue groups", () => {
  it("gives each message to exactly one member, round-robin, and all to plain subscribers", async () => {
    const bus = new EmbeddedBus();
    const members = [new Set<number>(), new Set<number>(), new Set<number>()];
    for (const [i, got] of members.entries()) {
      // Different patterns, same queue name: still one group, as in NATS.
      const pattern = i === 0 ? "work.*" : i === 1 ? "work.>" : "work.item";
      bus.subscribe(pattern, (message) => got.add(message.data as number), { queue: "workers" });
    }
    const plain: number[] = [];
    bus.subscribe("work.item", (message) => plain.push(message.data as number));
    const count = 3000;
    for (let i = 0; i < count; i++) bus.publish("work.item", i);
    await bus.flush();

    expect(plain).toHaveLength(count);
    const all = members.flatMap((got) => [...got]);
    expect(all).toHaveLength(count);
    expect(new Set(all).size).toBe(count);
    for (const got of members) expect(got.size).toBe(count / members.length);
  });

  it("treats separate queue names as separate groups", async () => {
    const bus = new EmbeddedBus();
    const counts = { a1: 0, a2: 0, b1: 0 };
    bus.subscribe("q", () => counts.a1++, { queue: "a" });
    bus.subscribe("q", () => counts.a2++, { queue: "a" });
    bus.subscribe("q", () => counts.b1++, { queue: "b" });
    for (let i = 0; i < 10; i++) bus.publish("q", i);
    await bus.flush();
    expect(counts).toEqual({ a1: 5, a2: 5, b1: 10 });
  });

  it("stops sending to a member that left and gives its share to the rest", async () => {
    const bus = new EmbeddedBus();
    let left = 0;
    let stayed = 0;
    const leaving = bus.subscribe("q", () => left++, { queue: "g" });
    bus.subscribe("q", () => stayed++, { queue: "g" });
    bus.publish("q", 0);
    bus.publish("q", 1);
    await bus.flush();
    leaving.unsubscribe();
    for (let i = 0; i < 10; i++) bus.publish("q", i);
    await bus.flush();
    expect(left).toBe(1);
    expect(stayed).toBe(11);
  });
});

describe("EmbeddedBus request/reply", () => {
  it("resolves with the responder's answer, and respond exists only on requests", async () => {
    const bus = new EmbeddedBus();
    bus.subscribe<{ n: number }>("math.double", (message) => {
      expect(message.respond).toBeTypeOf("function");
      message.respond?.(message.data.n * 2);
    });
    await expect(bus.request<number>("math.double", { n: 21 })).resolves.toBe(42);
  });

  it("takes the first answer when several plain subscribers respond", async () => {
    const bus = new EmbeddedBus();
    let answered = 0;
    for (const answer of ["first", "second"]) {
      bus.subscribe("ask", (message) => {
        answered++;
        message.respond?.(answer);
      });
    }
    await expect(bus.request("ask", null)).resolves.toBe("first");
    expect(answered).toBe(2);
  });

  it("sends a request to one member of a queue group", async () => {
    const bus = new EmbeddedBus();
    let calls = 0;
    for (let i = 0; i < 3; i++) {
      bus.subscribe(
        "svc",
        (message) => {
          calls++;
          message.respond?.(i);
        },
        { queue: "svc" },
      );
    }
    const answers = await Promise.all([0, 1, 2].map(() => bus.request("svc", null)));
    expect(answers).toEqual([0, 1, 2]);
    expect(calls).toBe(3);
  });

  it("answers asynchronously, from a later task", async () => {
    const bus = new EmbeddedBus();
    bus.subscribe("slow", (message) => {
      setTimeout(() => message.respond?.("late but in time"), 1);
    });
    await expect(bus.request("slow", null, { timeoutMs: 1000 })).resolves.toBe("late but in time");
  });

  it("rejects with NoRespondersError when nobody listens", async () => {
    const bus = new EmbeddedBus();
    bus.subscribe("other", () => {});
    await expect(bus.request("nobody.home", null)).rejects.toBeInstanceOf(NoRespondersError);
  });

  it("rejects with BusTimeoutError when no answer comes in time, and ignores a late one", async () => {
    const bus = new EmbeddedBus();
    let late: ((data: unknown) => void) | undefined;
    bus.subscribe("silent", (message) => {
      late = message.respond;
    });
    const error = await bus.request("silent", null, { timeoutMs: 20 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BusTimeoutError);
    expect(error).toMatchObject({ subject: "silent", timeoutMs: 20 });
    expect(() => late?.("too late")).not.toThrow();
  });

  it("times out on the injected clock and clears the timer on an answer", async () => {
    const clock = new SimulatedClock();
    const bus = new EmbeddedBus({ clock });
    const responders: Array<(data: unknown) => void> = [];
    bus.subscribe("held", (message) => {
      if (message.respond) responders.push(message.respond);
    });
    const answered = bus.request("held", null, { timeoutMs: 100 });
    const timedOut = bus.request("held", null, { timeoutMs: 100 });
    await bus.flush();
    expect(clock.pending).toBe(2);
    responders[0]?.("ok");
    expect(clock.pending).toBe(1);
    await expect(answered).resolves.toBe("ok");
    clock.advance(99);
    let settled = false;
    timedOut.then(
      () => {},
      () => {
        settled = true;
      },
    );
    await Promise.resolve();
    expect(settled).toBe(false);
    clock.advance(1);
    await expect(timedOut).rejects.toBeInstanceOf(BusTimeoutError);
  });

  it("rejects a request timeout that is not a positive number", async () => {
    const bus = new EmbeddedBus();
    bus.subscribe("x", () => {});
    for (const timeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(bus.request("x", null, { timeoutMs })).rejects.toBeInstanceOf(InvalidInputError);
    }
  });
});

describe("EmbeddedBus handler errors", () => {
  it("keeps delivering to the other subscribers and reports each error", async () => {
    const reported: Array<[unknown, string]> = [];
    const bus = new EmbeddedBus({ onError: (error, subject) => reported.push([error, subject]) });
    const boom = new Error("boom");
    const seen: number[] = [];
    bus.subscribe("e", () => {
      throw boom;
    });
    bus.subscribe("e", (message) => seen.push(message.data as number));
    bus.publish("e", 1);
    bus.publish("e", 2);
    await bus.flush();
    expect(seen).toEqual([1, 2]);
    expect(bus.errors).toBe(2);
    expect(reported).toEqual([
      [boom, "e"],
      [boom, "e"],
    ]);
  });

  it("counts errors without an onError, and survives an onError that throws", async () => {
    const quiet = new EmbeddedBus();
    const loud = new EmbeddedBus({
      onError: () => {
        throw new Error("reporter broke");
      },
    });
    for (const bus of [quiet, loud]) {
      const seen: number[] = [];
      bus.subscribe("e", () => {
        throw new Error("boom");
      });
      bus.subscribe("e", (message) => seen.push(message.data as number));
      bus.publish("e", 1);
      await bus.flush();
      expect(seen).toEqual([1]);
      expect(bus.errors).toBe(1);
    }
  });

  it("reports the rejection of an async handler", async () => {
    const boom = new Error("async boom");
    let reported: (error: unknown) => void = () => {};
    const report = new Promise<unknown>((resolve) => {
      reported = resolve;
    });
    const bus = new EmbeddedBus({ onError: (error) => reported(error) });
    bus.subscribe("e", async () => {
      throw boom;
    });
    bus.publish("e", 1);
    await expect(report).resolves.toBe(boom);
    expect(bus.errors).toBe(1);
  });
});

describe("EmbeddedBus unsubscribe", () => {
  it("stops delivery, including messages already queued", async () => {
    const bus = new EmbeddedBus();
    const seen: number[] = [];
    const subscription = bus.subscribe("u", (message) => seen.push(message.data as number));
    expect(subscription.pattern).toBe("u");
    bus.publish("u", 1);
    subscription.unsubscribe();
    bus.publish("u", 2);
    await bus.flush();
    expect(seen).toEqual([]);
    expect(() => subscription.unsubscribe()).not.toThrow();
  });

  it("is safe from inside a handler, for itself and for others", async () => {
    const bus = new EmbeddedBus();
    const self: number[] = [];
    const other: number[] = [];
    const later: number[] = [];
    const otherSubscription = bus.subscribe("d", (message) => other.push(message.data as number));
    const selfSubscription = bus.subscribe("d", (message) => {
      self.push(message.data as number);
      selfSubscription.unsubscribe();
      otherSubscription.unsubscribe();
      // Subscribing during delivery gets later messages, not the current one.
      bus.subscribe("d", (next) => later.push(next.data as number));
    });
    for (let i = 1; i <= 3; i++) bus.publish("d", i);
    await bus.flush();
    expect(self).toEqual([1]);
    expect(other).toEqual([1]);
    expect(later).toEqual([]);
    bus.publish("d", 4);
    await bus.flush();
    expect(later).toEqual([4]);
  });

  it("turns a request with a single responder that left into a no-responders error", async () => {
    const bus = new EmbeddedBus();
    bus.subscribe("gone", () => {}).unsubscribe();
    await expect(bus.request("gone", null)).rejects.toBeInstanceOf(NoRespondersError);
  });
});

describe("EmbeddedBus close", () => {
  it("rejects pending requests, drops queued messages, refuses new work", async () => {
    const bus = new EmbeddedBus();
    const seen: unknown[] = [];
    bus.subscribe("never.answers", () => seen.push("request"));
    bus.subscribe("c", (message) => seen.push(message.data));
    const pending = bus.request("never.answers", null, { timeoutMs: 60_000 });
    bus.publish("c", 1);
    const flushed = bus.flush();
    await bus.close();

    await expect(pending).rejects.toBeInstanceOf(BusClosedError);
    await expect(flushed).resolves.toBeUndefined();
    await Promise.resolve();
    expect(seen).toEqual([]);

    expect(() => bus.publish("c", 2)).toThrow(BusClosedError);
    expect(() => bus.subscribe("c", () => {})).toThrow(BusClosedError);
    await expect(bus.request("c", null)).rejects.toBeInstanceOf(BusClosedError);
    await expect(bus.flush()).rejects.toBeInstanceOf(BusClosedError);
    await expect(bus.close()).resolves.toBeUndefined();
  });

  it("stops delivery at once when a handler closes the bus", async () => {
    const bus = new EmbeddedBus();
    const seen: number[] = [];
    bus.subscribe("c", (message) => {
      seen.push(message.data as number);
      void bus.close();
    });
    bus.publish("c", 1);
    bus.publish("c", 2);
    await Promise.resolve();
    await Promise.resolve();
    expect(seen).toEqual([1]);
  });

  it("clears request timers so none fire after close", async () => {
    const clock = new SimulatedClock();
    const bus = new EmbeddedBus({ clock });
    bus.subscribe("r", () => {});
    const pending = bus.request("r", null);
    expect(clock.pending).toBe(1);
    await bus.close();
    expect(clock.pending).toBe(0);
    await expect(pending).rejects.toBeInstanceOf(BusClosedError);
  });
});
