import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import { describe, expect, it } from "vitest";
import { BRIDGE_TOKEN, startBridgeFixture, useBridgeFixture } from "./bridge-fixture";

const bridge = useBridgeFixture();

// ephemeralCache: false makes every decision come from Redis, which is what these tests are about.
function limiter(algorithm: ReturnType<typeof Ratelimit.slidingWindow>, prefix: string) {
  return new Ratelimit({
    redis: bridge.redis,
    limiter: algorithm,
    prefix,
    ephemeralCache: false,
    timeout: 0,
  });
}

describe("@upstash/ratelimit through the bridge", () => {
  it("sliding window: 20 concurrent calls at a limit of 5 admit exactly 5", async () => {
    const rl = limiter(Ratelimit.slidingWindow(5, "60 s"), "t:sw");
    const results = await Promise.all(Array.from({ length: 20 }, () => rl.limit("key-a")));
    expect(results.filter((r) => r.success)).toHaveLength(5);
    expect(results.every((r) => r.limit === 5 && r.reason === undefined)).toBe(true);
    expect(results.filter((r) => !r.success).every((r) => r.remaining === 0)).toBe(true);
    expect(results.every((r) => r.reset > Date.now())).toBe(true);
  });

  it("counts in Redis: separate limiter instances share one budget per identifier", async () => {
    const first = limiter(Ratelimit.slidingWindow(3, "60 s"), "t:shared");
    const second = limiter(Ratelimit.slidingWindow(3, "60 s"), "t:shared");
    expect((await first.limit("k")).remaining).toBe(2);
    expect((await second.limit("k")).remaining).toBe(1);
    expect((await first.limit("k")).success).toBe(true);
    expect((await second.limit("k")).success).toBe(false);
    expect((await first.limit("other")).success).toBe(true);
  });

  it("daily image quota: a fixed 1-day window consumed by image count", async () => {
    const quota = limiter(Ratelimit.fixedWindow(10, "1 d"), "t:quota");
    const four = await quota.limit("acct", { rate: 4 });
    expect(four).toMatchObject({ success: true, limit: 10, remaining: 6 });
    const dayMs = 86_400_000;
    expect(four.reset).toBe((Math.floor(Date.now() / dayMs) + 1) * dayMs);
    expect((await quota.limit("acct", { rate: 6 })).success).toBe(true);
    expect((await quota.limit("acct", { rate: 1 })).success).toBe(false);
    expect(await quota.getRemaining("acct")).toMatchObject({ remaining: 0, limit: 10 });
    // A refund (negative rate) gives images back, e.g. after a failed generation.
    await quota.limit("acct", { rate: -2 });
    expect(await quota.getRemaining("acct")).toMatchObject({ remaining: 1 });
  });

  it("token bucket and cached fixed window also run", async () => {
    const bucket = limiter(Ratelimit.tokenBucket(1, "60 s", 2), "t:tb");
    const bucketResults = await Promise.all([bucket.limit("k"), bucket.limit("k"), bucket.limit("k")]);
    expect(bucketResults.filter((r) => r.success)).toHaveLength(2);
    const cached = new Ratelimit({
      redis: bridge.redis,
      limiter: Ratelimit.cachedFixedWindow(2, "60 s"),
      prefix: "t:cfw",
      ephemeralCache: new Map(),
    });
    expect((await cached.limit("k")).success).toBe(true);
    const keys = await bridge.redis.keys("t:cfw:k:*");
    expect(keys).toHaveLength(1);
    expect(await bridge.redis.get(keys[0])).toBe(1);
  });

  it("surfaces Redis being down as an error, not as a decision", async () => {
    const other = await startBridgeFixture();
    const client = new Redis({ url: other.bridge.url, token: BRIDGE_TOKEN, retry: false });
    const rl = new Ratelimit({ redis: client, limiter: Ratelimit.slidingWindow(5, "60 s"), timeout: 0 });
    expect((await rl.limit("k")).success).toBe(true);
    await other.redis.stop();
    await expect(rl.limit("k")).rejects.toThrow(/redis unavailable/);
    await other.bridge.close();
  });
});
