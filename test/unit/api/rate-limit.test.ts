/**
 * The per-client token buckets (src/api/rate-limit.ts) on an injected clock: a burst,
 * then the sustained rate; Retry-After rounded up; clients independent; memory bounded.
 * And FW_RATE_LIMIT as the configuration reads it. (The 429s themselves, per family,
 * from a real server: test/e2e/http-limits.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { TokenBuckets } from "../../../src/api/rate-limit";
import { loadConfig } from "../../../src/config";
import { ConfigError } from "../../../src/errors";

/** A clock the test moves by hand (milliseconds). */
function manualClock() {
  let ms = 1_000;
  return { now: () => ms, advance: (by: number) => (ms += by) };
}

describe("TokenBuckets", () => {
  it("takes a full burst at once, then refuses until a token has been refilled", () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ perSecond: 10, burst: 5 }, clock.now);
    for (let i = 0; i < 5; i++) expect(buckets.take("a")).toBe(0);
    // No token: one comes back in 100 ms, which Retry-After rounds up to 1 s.
    expect(buckets.take("a")).toBe(1);
    clock.advance(99);
    expect(buckets.take("a")).toBe(1);
    clock.advance(1);
    expect(buckets.take("a")).toBe(0);
    expect(buckets.take("a")).toBe(1);
  });

  it("allows the sustained rate and no more", () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ perSecond: 100, burst: 1 }, clock.now);
    let taken = 0;
    // 10 s in steps of 1 ms, a request at every step: 1,000 per second offered.
    for (let step = 0; step < 10_000; step++) {
      if (buckets.take("a") === 0) taken++;
      clock.advance(1);
    }
    expect(taken).toBeGreaterThanOrEqual(1_000);
    expect(taken).toBeLessThanOrEqual(1_001);
  });

  it("never holds more than the burst, however long the client was quiet", () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ perSecond: 1_000, burst: 3 }, clock.now);
    buckets.take("a");
    clock.advance(3_600_000);
    for (let i = 0; i < 3; i++) expect(buckets.take("a")).toBe(0);
    expect(buckets.take("a")).toBe(1);
  });

  it("says how many whole seconds to wait, rounded up, for a slow rate", () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ perSecond: 0.25, burst: 1 }, clock.now);
    expect(buckets.take("a")).toBe(0);
    // A token every 4 s.
    expect(buckets.take("a")).toBe(4);
    clock.advance(2_500);
    expect(buckets.take("a")).toBe(2);
    clock.advance(1_500);
    expect(buckets.take("a")).toBe(0);
  });

  it("keeps one bucket per client: one client's flood leaves another's intact", () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ perSecond: 1, burst: 2 }, clock.now);
    expect([buckets.take("a"), buckets.take("a"), buckets.take("a")]).toEqual([0, 0, 1]);
    expect([buckets.take("b"), buckets.take("b")]).toEqual([0, 0]);
  });

  it("does not go back in time when the clock does not move", () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ perSecond: 1, burst: 1 }, clock.now);
    expect(buckets.take("a")).toBe(0);
    for (let i = 0; i < 100; i++) expect(buckets.take("a")).toBe(1);
  });

  it("keeps at most its cap of buckets, dropping full ones, then the least recently used", () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ perSecond: 1, burst: 2 }, clock.now, 100);
    for (let i = 0; i < 99; i++) buckets.take(`idle-${i}`);
    clock.advance(10_000);
    // A busy client empties its bucket while a flood of new addresses comes in: the
    // idle (full) buckets go first, then the flood's oldest, never the busy one.
    buckets.take("busy");
    buckets.take("busy");
    for (let i = 0; i < 1_000; i++) {
      buckets.take(`new-${i}`);
      expect(buckets.take("busy")).toBe(1);
      expect(buckets.size).toBeLessThanOrEqual(100);
    }
  });

  it("refuses a limit that could never admit a request", () => {
    expect(() => new TokenBuckets({ perSecond: 0, burst: 1 }, () => 0)).toThrow(RangeError);
    expect(() => new TokenBuckets({ perSecond: 1, burst: 0 }, () => 0)).toThrow(RangeError);
  });
});

describe("FW_RATE_LIMIT", () => {
  const read = (value?: string) =>
    loadConfig(value === undefined ? {} : { FW_RATE_LIMIT: value }).rateLimit;

  it("defaults to 5,000 requests a second with a burst of 10,000", () => {
    expect(read()).toEqual({ perSecond: 5_000, burst: 10_000 });
  });

  it("reads <rate>/<burst>, a rate alone (burst twice the rate), and 0 for none", () => {
    expect(read("100/150")).toEqual({ perSecond: 100, burst: 150 });
    expect(read("0.5/1")).toEqual({ perSecond: 0.5, burst: 1 });
    expect(read("20")).toEqual({ perSecond: 20, burst: 40 });
    expect(read("0")).toBeNull();
  });

  it.each(["fast", "-1", "10/0", "0/10", "10/", "/10", "1e3"])(
    "refuses %s with one line naming the variable",
    (value) => {
      expect(() => read(value)).toThrow(ConfigError);
      expect(() => read(value)).toThrow(/FW_RATE_LIMIT/);
    },
  );
});
