import { describe, expect, it } from "vitest";
import {
  generateApiKey,
  hashApiKey,
  isWellFormedKey,
  KEY_RANDOM_CHARS,
  keyPrefix,
  newId,
} from "../../../edge/accounts/api-key";
import type { Plan } from "../../../edge/accounts/plans";
import { unitPriceMicros } from "../../../edge/accounts/pricing";
import { PrincipalCache } from "../../../edge/accounts/principal-cache";
import type { Principal } from "../../../edge/accounts/store";
import { microsToUsd, parseUsageRange, type UsageReport, usageCsv } from "../../../edge/accounts/usage";
import { applyLimitHeaders, openAiDuration, retryHeaders } from "../../../edge/middleware/rate-limit/headers";

const plan: Plan = {
  id: "pro",
  name: "Pro",
  requestsPerMinute: 120,
  imagesPerDay: 5000,
  maxPixels: 2359296,
  maxImagesPerRequest: 10,
  imageBaseMicros: 1000,
  megapixelStepMicros: 500,
  cacheHitMicros: 200,
};

describe("API keys", () => {
  it("have the documented shape, >= 128 bits of randomness, and a visible prefix", async () => {
    const live = await generateApiKey("live");
    const test = await generateApiKey("test");
    expect(live.plaintext).toMatch(/^zi_live_[0-9A-Za-z]{32}$/);
    expect(test.plaintext).toMatch(/^zi_test_[0-9A-Za-z]{32}$/);
    expect(KEY_RANDOM_CHARS * Math.log2(62)).toBeGreaterThanOrEqual(128);
    expect(live.prefix).toBe(live.plaintext.slice(0, 14));
    expect(keyPrefix(live.plaintext)).toBe(live.prefix);
    expect(live.hash).toBe(await hashApiKey(live.plaintext));
    expect(live.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(isWellFormedKey(live.plaintext)).toBe(true);
    expect(isWellFormedKey(`${live.plaintext}x`)).toBe(false);
    expect(isWellFormedKey("zi_prod_" + "a".repeat(32))).toBe(false);
  });

  it("do not repeat and use the whole alphabet evenly enough", async () => {
    const keys = await Promise.all(Array.from({ length: 500 }, () => generateApiKey("live")));
    expect(new Set(keys.map((k) => k.plaintext)).size).toBe(500);
    const counts = new Map<string, number>();
    for (const k of keys) for (const ch of k.plaintext.slice(8)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(62);
    // 16,000 draws over 62 symbols: expected 258 each; a biased generator (e.g. modulo without rejection) skews this.
    for (const n of counts.values()) expect(n).toBeGreaterThan(150);
    expect(newId("acct")).toMatch(/^acct_[0-9A-Za-z]{22}$/);
  });
});

describe("pricing", () => {
  it("prices generated images by megapixels x steps, rounded up, plus the base", () => {
    expect(unitPriceMicros(plan, "generated", { width: 1024, height: 1024, steps: 8 })).toBe(1000 + 4195);
    expect(unitPriceMicros(plan, "generated", { width: 64, height: 64, steps: 1 })).toBe(1000 + 3);
    expect(unitPriceMicros(plan, "generated", { width: 1024, height: 1024, steps: 16 })).toBe(1000 + 8389);
  });

  it("prices cache hits flat", () => {
    expect(unitPriceMicros(plan, "cache_hit", { width: 1024, height: 1024, steps: 50 })).toBe(200);
  });

  it("formats micro-dollars exactly", () => {
    expect(microsToUsd(5195)).toBe("0.005195");
    expect(microsToUsd(12_000_001)).toBe("12.000001");
    expect(microsToUsd(0)).toBe("0.000000");
  });
});

describe("PrincipalCache", () => {
  const principal = { keyId: "key_1", accountId: "acct_1" } as Principal;

  it("trusts an entry for less than the TTL, then forgets it", () => {
    let now = 1_000;
    const cache = new PrincipalCache({ now: () => now });
    cache.set("h", principal);
    now += 29_999;
    expect(cache.get("h", 30_000)).toBe(principal);
    now += 1;
    expect(cache.get("h", 30_000)).toBeUndefined();
  });

  it("caches unknown keys too, evicts the oldest beyond its size, and drops an account's keys", () => {
    const cache = new PrincipalCache({ maxEntries: 2 });
    cache.set("unknown", null);
    expect(cache.get("unknown", 1000)).toBeNull();
    cache.set("a", principal);
    cache.set("b", { ...principal, accountId: "acct_2" });
    expect(cache.get("unknown", 1000)).toBeUndefined();
    cache.deleteAccount("acct_1");
    expect(cache.get("a", 1000)).toBeUndefined();
    expect(cache.get("b", 1000)).toBeDefined();
  });
});

describe("rate-limit headers", () => {
  it("writes OpenAI's reset durations", () => {
    expect([0, 250, 999, 1000, 1001, 59_000, 60_000, 360_000, 3_723_000].map(openAiDuration)).toEqual([
      "0ms",
      "250ms",
      "999ms",
      "1s",
      "2s",
      "59s",
      "1m0s",
      "6m0s",
      "1h2m3s",
    ]);
  });

  const now = 1_700_000_000_000;
  it("writes the IETF draft fields and the x-ratelimit trio, combining policies", () => {
    const headers = new Headers();
    applyLimitHeaders(
      headers,
      { policy: "requests", limit: 10, remaining: 3, resetAt: now + 41_200, windowSeconds: 60 },
      now,
    );
    applyLimitHeaders(
      headers,
      { policy: "images", limit: 50, remaining: 7, resetAt: now + 3_600_000, windowSeconds: 86400 },
      now,
    );
    expect(headers.get("ratelimit-policy")).toBe('"requests";q=10;w=60, "images";q=50;w=86400;qu="images"');
    expect(headers.get("ratelimit")).toBe('"requests";r=3;t=42, "images";r=7;t=3600');
    expect(headers.get("x-ratelimit-limit")).toBe("10");
    expect(headers.get("x-ratelimit-remaining")).toBe("3");
    expect(headers.get("x-ratelimit-reset")).toBe("42");
    expect(headers.get("x-ratelimit-remaining-images")).toBe("7");
  });

  it("adds Retry-After and retry-after-ms to a 429", () => {
    const headers = retryHeaders(
      { policy: "requests", limit: 10, remaining: 0, resetAt: now + 1500, windowSeconds: 60 },
      now,
    );
    expect(headers["retry-after"]).toBe("2");
    expect(headers["retry-after-ms"]).toBe("1500");
    expect(headers["x-should-retry"]).toBeUndefined();
  });
});

describe("usage ranges and CSV", () => {
  const now = Date.parse("2026-11-25T12:00:00Z");
  it("reads dates as whole UTC days (end inclusive) and timestamps as given", () => {
    expect(parseUsageRange({ start: "2026-11-01", end: "2026-11-02", group_by: "day" }, now)).toEqual({
      startMs: Date.parse("2026-11-01T00:00:00Z"),
      endMs: Date.parse("2026-11-03T00:00:00Z"),
    });
    expect(parseUsageRange({ group_by: "day" }, now)).toEqual({ startMs: now - 30 * 86_400_000, endMs: now });
    expect(parseUsageRange({ start: "2026-11-25T10:00:00Z", group_by: "day" }, now)).toEqual({
      startMs: Date.parse("2026-11-25T10:00:00Z"),
      endMs: now,
    });
    expect(parseUsageRange({ start: "2020-01-01", group_by: "day" }, now)).toMatchObject({ param: "start" });
  });

  it("quotes CSV fields that need it", () => {
    const report: UsageReport = {
      object: "usage",
      account_id: "a",
      start: "",
      end: "",
      group_by: "key",
      currency: "usd",
      data: [
        {
          key_id: 'k,"1"',
          key_prefix: null,
          images: 1,
          generated: 1,
          cache_hits: 0,
          amount_micros: 5,
          amount_usd: "0.000005",
        },
      ],
      total: { images: 1, generated: 1, cache_hits: 0, amount_micros: 5, amount_usd: "0.000005" },
    };
    expect(usageCsv(report)).toBe(
      'key_id,key_prefix,images,generated,cache_hits,amount_micros,amount_usd\r\n"k,""1""",,1,1,0,5,0.000005\r\n',
    );
  });
});
