import { describe, expect, it } from "vitest";
import {
  isValidPattern,
  isValidQueueName,
  isValidSubject,
  SubjectIndex,
} from "../../../src/bus/subject";
import { InvalidInputError } from "../../../src/errors";

describe("isValidSubject", () => {
  it.each(["a", "a.b", "fw.agent.a-1_x.cmd", "fw.out.42.agent", "a*.b>", "ü.ß"])(
    "accepts %j",
    (subject) => {
      expect(isValidSubject(subject)).toBe(true);
    },
  );

  it.each(["", ".", "a.", ".a", "a..b", "a b", "a.\tb", "a\n", "a.*", "*", ">", "a.>", "a.*.b"])(
    "rejects %j",
    (subject) => {
      expect(isValidSubject(subject)).toBe(false);
    },
  );
});

describe("isValidPattern", () => {
  it.each(["a", "a.b", "*", ">", "a.*", "a.>", "*.*.>", "a.*.c", "fw.events.>", "a*.b>"])(
    "accepts %j",
    (pattern) => {
      expect(isValidPattern(pattern)).toBe(true);
    },
  );

  it.each(["", "a..b", "a.", ".a", "a.>.b", ">.a", "> ", "a b", "a.\r"])(
    "rejects %j",
    (pattern) => {
      expect(isValidPattern(pattern)).toBe(false);
    },
  );
});

describe("isValidQueueName", () => {
  it("accepts a plain name and rejects empty or whitespace names", () => {
    expect(isValidQueueName("engine")).toBe(true);
    expect(isValidQueueName("")).toBe(false);
    expect(isValidQueueName("a b")).toBe(false);
  });
});

describe("SubjectIndex.match", () => {
  const table: ReadonlyArray<readonly [pattern: string, subject: string, matches: boolean]> = [
    ["a.b.c", "a.b.c", true],
    ["a.b.c", "a.b", false],
    ["a.b.c", "a.b.c.d", false],
    ["a.b.c", "a.b.x", false],
    ["a.*.c", "a.b.c", true],
    ["a.*.c", "a.x.c", true],
    ["a.*.c", "a.c", false],
    ["a.*.c", "a.b.b.c", false],
    ["*", "a", true],
    ["*", "a.b", false],
    ["*.*", "a.b", true],
    ["*.*", "a", false],
    ["a.>", "a.b", true],
    ["a.>", "a.b.c.d", true],
    ["a.>", "a", false],
    ["a.>", "b.c", false],
    [">", "a", true],
    [">", "a.b.c", true],
    ["*.>", "a", false],
    ["*.>", "a.b", true],
    ["a.*.>", "a.b", false],
    ["a.*.>", "a.b.c", true],
    ["fw.agent.*.heartbeat", "fw.agent.a1.heartbeat", true],
    ["fw.agent.*.heartbeat", "fw.agent.a1.cmd", false],
    ["fw.events.>", "fw.events.task.7.done", true],
    ["fw.report.*", "fw.report.a1.extra", false],
    // `*` and `>` are wildcards only as whole tokens, as in NATS.
    ["a*.b", "ab.b", false],
    ["a*.b", "a*.b", true],
  ];

  it.each(table)("%j against %j -> %s", (pattern, subject, matches) => {
    const index = new SubjectIndex<string>();
    index.add(pattern, "v");
    expect(index.match(subject)).toEqual(matches ? ["v"] : []);
  });

  it("returns every matching entry across literal, `*` and `>` branches", () => {
    const index = new SubjectIndex<string>();
    index.add("a.b.c", "exact");
    index.add("a.*.c", "star");
    index.add("a.>", "rest");
    index.add(">", "all");
    index.add("a.b", "other");
    expect([...index.match("a.b.c")].sort()).toEqual(["all", "exact", "rest", "star"]);
  });

  it("keeps each (pattern, value) pair as its own entry", () => {
    const index = new SubjectIndex<string>();
    index.add("a.b", "v");
    index.add("a.*", "v");
    expect(index.match("a.b")).toEqual(["v", "v"]);
    expect(index.size).toBe(2);
  });

  it("throws InvalidInputError on an invalid pattern or subject", () => {
    const index = new SubjectIndex<string>();
    for (const pattern of ["a.>.b", "a..b", ""]) {
      expect(() => index.add(pattern, "v")).toThrow(InvalidInputError);
    }
    for (const subject of ["a.*", "a..b", "", "a.>"]) {
      expect(() => index.match(subject)).toThrow(InvalidInputError);
    }
    expect(index.size).toBe(0);
  });

  it("returns the same array for a subject until the index changes", () => {
    const index = new SubjectIndex<string>();
    index.add("a.*", "one");
    const first = index.match("a.b");
    expect(index.match("a.b")).toBe(first);
    index.add("a.b", "two");
    const second = index.match("a.b");
    expect(second).not.toBe(first);
    expect([...second].sort()).toEqual(["one", "two"]);
  });

  it("sees a new subscription on a subject already cached as empty", () => {
    const index = new SubjectIndex<string>();
    expect(index.match("a.b")).toEqual([]);
    index.add("a.b", "v");
    expect(index.match("a.b")).toEqual(["v"]);
  });

  it("forgets cached subjects once full, so unique subjects cannot grow it without bound", () => {
    const index = new SubjectIndex<number>({ cacheSize: 2 });
    index.add("s.*", 1);
    const first = index.match("s.0");
    index.match("s.1");
    index.match("s.2");
    const again = index.match("s.0");
    expect(again).not.toBe(first);
    expect(again).toEqual([1]);
  });

  it("still answers correctly when the cache is full or off", () => {
    for (const cacheSize of [0, 2]) {
      const index = new SubjectIndex<number>({ cacheSize });
      index.add("s.*", 1);
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 10; i++) expect(index.match(`s.${i}`)).toEqual([1]);
      }
    }
  });
});

describe("SubjectIndex.remove", () => {
  it("removes one entry by identity and reports whether it found it", () => {
    const index = new SubjectIndex<object>();
    const a = {};
    const b = {};
    index.add("x.*", a);
    index.add("x.*", b);
    expect(index.remove("x.*", a)).toBe(true);
    expect(index.remove("x.*", a)).toBe(false);
    expect(index.remove("x.y", b)).toBe(false);
    expect(index.remove("x.>", b)).toBe(false);
    expect(index.remove("a..b", b)).toBe(false);
    expect(index.match("x.y")).toEqual([b]);
    expect(index.size).toBe(1);
  });

  it("drops removed entries from cached results", () => {
    const index = new SubjectIndex<string>();
    index.add("a.>", "v");
    expect(index.match("a.b")).toEqual(["v"]);
    index.remove("a.>", "v");
    expect(index.match("a.b")).toEqual([]);
  });

  it("prunes emptied branches but keeps the ones still in use", () => {
    const index = new SubjectIndex<string>();
    index.add("fw.out.1.a", "one");
    index.add("fw.out.*.a", "star");
    index.add("fw.out.>", "rest");
    index.remove("fw.out.1.a", "one");
    expect([...index.match("fw.out.1.a")].sort()).toEqual(["rest", "star"]);
    index.remove("fw.out.*.a", "star");
    expect(index.match("fw.out.1.a")).toEqual(["rest"]);
    index.remove("fw.out.>", "rest");
    expect(index.match("fw.out.1.a")).toEqual([]);
    expect(index.size).toBe(0);
    // Re-adding after a full prune rebuilds the path.
    index.add("fw.out.1.a", "again");
    expect(index.match("fw.out.1.a")).toEqual(["again"]);
  });
});
