/**
 * A per-client rate limit: one token bucket per API client (the client its key
 * names), or per remote address for requests without a valid key, so that one busy or
 * runaway client cannot take the engine's one event-loop thread from the others.
 * Over the limit a request is refused before it is routed, with 429 and `Retry-After`,
 * in the shape of the family whose path it is (refusal-answer.ts).
 */
import { Elysia } from "elysia";
import type { ApiKeys } from "./auth";

export interface RateLimit {
  /** Tokens added per second: the sustained rate a client may keep up. */
  readonly perSecond: number;
  /** The bucket's size: how many requests a client may send at once after a quiet spell. */
  readonly burst: number;
}

/** A request refused because its client is over its rate; nothing was done. */
export class RateLimitedError extends Error {
  constructor(
    /** Whole seconds until the client's next request would be taken (at least 1). */
    readonly retryAfterSeconds: number,
  ) {
    super(`too many requests; retry after ${retryAfterSeconds} s`);
    this.name = "RateLimitedError";
  }
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms of `now`). */
  at: number;
}

/**
 * Refills are sums of small fractions (0.1 + 0.1 + ... is 0.9999999999999999 after
 * ten), which without this slack would make a client wait one step too long.
 */
const TOKEN_EPSILON = 1e-9;

/** How many clients' buckets are kept before full ones are dropped. @default 100,000 */
const MAX_BUCKETS = 100_000;

/**
 * Token buckets by client key, on an injected clock. A bucket that has filled up again
 * is the same as no bucket, so buckets are dropped when they are full and the map is
 * at its cap; memory stays bounded however many addresses call.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    /** Milliseconds, monotonic. */
    private readonly now: () => number,
    private readonly maxBuckets = MAX_BUCKETS,
  ) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) {
      throw new RangeError(
        `a rate limit needs perSecond > 0 and burst >= 1, got ${JSON.stringify(limit)}`,
      );
    }
  }

  /** How many clients have a bucket now. */
  get size(): number {
    return this.buckets.size;
  }

  /**
   * Takes a token from `key`'s bucket: 0 when there was one, else the whole seconds
   * (rounded up, at least 1) until there will be.
   */
  take(key: string): number {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxBuckets) this.evict(now);
      bucket = { tokens: this.limit.burst, at: now };
      this.buckets.set(key, bucket);
    } else {
      this.refill(bucket, now);
      // Most recently used last: when the map is full of clients still draining,
      // the ones dropped are those not heard from for longest.
      this.buckets.delete(key);
      this.buckets.set(key, bucket);
    }
    if (bucket.tokens + TOKEN_EPSILON >= 1) {
      bucket.tokens = Math.max(0, bucket.tokens - 1);
      return 0;
    }
    const seconds = (1 - bucket.tokens) / this.limit.perSecond;
    return Math.max(1, Math.ceil(seconds));
  }

  private refill(bucket: Bucket, now: number): void {
    const elapsed = Math.max(0, now - bucket.at) / 1000;
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + elapsed * this.limit.perSecond);
    bucket.at = now;
  }

  /**
   * Drops full buckets; if none is, the tenth least recently used, so that a flood of
   * new addresses does not make every request sweep the whole map.
   */
  private evict(now: number): void {
    for (const [key, bucket] of this.buckets) {
      this.refill(bucket, now);
      if (bucket.tokens >= this.limit.burst) this.buckets.delete(key);
    }
    if (this.buckets.size < this.maxBuckets) return;
    let drop = Math.max(1, Math.floor(this.maxBuckets / 10));
    for (const key of this.buckets.keys()) {
      if (drop-- === 0) break;
      this.buckets.delete(key);
    }
  }
}

/** The one route that is never limited: a supervisor's liveness check must not fail under load. */
const isLiveness = (request: Request) =>
  request.method === "GET" && new URL(request.url).pathname === "/";

interface ServerLike {
  requestIP?(request: Request): { address: string } | null;
}

/** The bucket a request draws from: its API client, else its remote address. */
function clientKey(request: Request, apiKeys: ApiKeys, server: unknown): string {
  const auth = apiKeys.authenticate(request.headers);
  if ("client" in auth) return `client:${auth.client}`;
  const address = (server as ServerLike | null)?.requestIP?.(request)?.address;
  return `address:${address ?? "unknown"}`;
}

/**
 * Refuses, before routing, a request whose client has no token left: the error is
 * answered by the app's error handler in the family's shape, with `Retry-After`.
 * Without a limit (null or undefined) it does nothing.
 */
export function rateLimit(
  limit: RateLimit | null | undefined,
  apiKeys: ApiKeys,
  /** Milliseconds, monotonic. @default performance.now */
  now: () => number = () => performance.now(),
) {
  const plugin = new Elysia({ name: "rate-limit" });
  if (!limit) return plugin;
  const buckets = new TokenBuckets(limit, now);
  return plugin.onRequest(({ request, server }) => {
    if (isLiveness(request)) return;
    const wait = buckets.take(clientKey(request, apiKeys, server));
    if (wait > 0) throw new RateLimitedError(wait);
  });
}
