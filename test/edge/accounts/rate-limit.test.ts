import { afterEach, describe, expect, it, vi } from "vitest";
import { awayFromMinuteBoundary } from "../../support/minute-window";
import { admin, generate, installGpu, newCustomer, readError } from "./support";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Parses `"requests";q=10;w=60, "images";...` into {requests: {q: "10", w: "60"}, ...}. */
function structuredList(value: string | null): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const item of (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [name, ...params] = item.split(";");
    out[JSON.parse(name)] = Object.fromEntries(params.map((p) => p.split("=") as [string, string]));
  }
  return out;
}

describe("per-key request rate limit (sliding window, real Redis)", () => {
  it("admits exactly 10 of 200 concurrent requests on a limit of 10; the rest get 429 with retry headers", async () => {
    const gpu = installGpu();
    const body = { prompt: `fox ${crypto.randomUUID()}`, size: "64x64", seed: 1 };
    // Warm the image cache with another customer, so the 200 requests are pure cache hits (no GPU).
    expect((await generate((await newCustomer()).key, body)).status).toBe(200);
    const { key } = await newCustomer({ requests_per_minute: 10 });
    // Freeze the clock mid-minute: the sliding window weighs the previous minute, and a burst that straddled
    // a minute boundary would legitimately admit one more.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Math.floor(Date.now() / 60_000) * 60_000 + 20_000);
    // On a loaded 2-core CI machine a Redis answer may exceed the default 1 s timeout; fail-closed with a long
    // timeout makes any such stall fail the count instead of silently admitting (fail-open) an extra request.
    const strict = { RATE_LIMIT_TIMEOUT_MS: "30000", RATE_LIMIT_FAIL_MODE: "closed" };
    const responses = await Promise.all(Array.from({ length: 200 }, () => generate(key, body, {}, strict)));
    vi.useRealTimers();

    const admitted = responses.filter((r) => r.status === 200);
    const limited = responses.filter((r) => r.status === 429);
    expect(admitted).toHaveLength(10);
    expect(limited).toHaveLength(190);
    expect(gpu.calls).toHaveLength(1); // only the warm-up generated
    expect(admitted.every((r) => r.headers.get("x-cache") === "HIT")).toBe(true);

    for (const res of admitted) {
      expect(res.headers.get("x-ratelimit-limit")).toBe("10");
      expect(Number(res.headers.get("x-ratelimit-remaining"))).toBeLessThan(10);
      expect(structuredList(res.headers.get("ratelimit-policy")).requests).toEqual({ q: "10", w: "60" });
      expect(structuredList(res.headers.get("ratelimit")).requests.r).toBe(
        res.headers.get("x-ratelimit-remaining"),
      );
      // OpenAI's names say the same.
      expect(res.headers.get("x-ratelimit-limit-requests")).toBe("10");
      expect(res.headers.get("x-ratelimit-remaining-requests")).toBe(
        res.headers.get("x-ratelimit-remaining"),
      );
      expect(res.headers.get("x-ratelimit-reset-requests")).toMatch(/^(\d+ms|\d+s|\d+m\d+s)$/);
    }
    const remaining = admitted
      .map((r) => Number(r.headers.get("x-ratelimit-remaining")))
      .sort((a, b) => a - b);
    expect(remaining).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

    for (const res of limited) {
      const retryAfter = Number(res.headers.get("retry-after"));
      const retryAfterMs = Number(res.headers.get("retry-after-ms"));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(Math.ceil(retryAfterMs / 1000)).toBeLessThanOrEqual(retryAfter);
      expect(res.headers.get("x-ratelimit-limit")).toBe("10");
      expect(res.headers.get("x-ratelimit-remaining")).toBe("0");
      expect(Number(res.headers.get("x-ratelimit-reset"))).toBe(retryAfter);
      expect(structuredList(res.headers.get("ratelimit")).requests.r).toBe("0");
    }
    expect(await readError(limited[0])).toMatchObject({
      type: "rate_limit_error",
      code: "rate_limit_exceeded",
    });
  });

  it("a plan change applies to the next request without a deploy", async () => {
    installGpu();
    const { key, accountId } = await newCustomer({ requests_per_minute: 1 });
    await awayFromMinuteBoundary(10_000);
    const body = { prompt: `owl ${crypto.randomUUID()}`, size: "64x64", seed: 1 };
    expect((await generate(key, body)).status).toBe(200);
    expect((await generate(key, body)).status).toBe(429);
    const bigger = await newCustomer({ requests_per_minute: 5 });
    await admin(`/accounts/${accountId}`, { method: "PATCH", body: { plan_id: bigger.planId } });
    const res = await generate(key, body);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-ratelimit-limit")).toBe("5");
  });
});

describe("Redis round trips", () => {
  it("checks the request limit and the image quota in one pipelined call", async () => {
    installGpu();
    const { key } = await newCustomer();
    const body = { prompt: `finch ${crypto.randomUUID()}`, size: "64x64", seed: 4 };
    expect((await generate(key, body)).status).toBe(200); // scripts loaded, image cached
    const fetchSpy = vi.mocked(globalThis.fetch);
    const before = fetchSpy.mock.calls.length;
    expect((await generate(key, body)).status).toBe(200);
    const bridgeCalls = fetchSpy.mock.calls
      .slice(before)
      .map(
        ([input]) =>
          new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url),
      )
      .filter((url) => url.hostname === "127.0.0.1");
    expect(bridgeCalls.map((url) => url.pathname)).toEqual(["/pipeline"]);
  });
});

describe("daily image quota", () => {
  it("counts images, refuses a request that does not fit without consuming the rest, and says not to retry", async () => {
    installGpu();
    const { key } = await newCustomer({ images_per_day: 5 });
    const prompt = `heron ${crypto.randomUUID()}`;
    const four = await generate(key, { prompt, size: "64x64", n: 4, seed: 10 });
    expect(four.status).toBe(200);
    expect(four.headers.get("x-ratelimit-limit-images")).toBe("5");
    expect(four.headers.get("x-ratelimit-remaining-images")).toBe("1");
    expect(structuredList(four.headers.get("ratelimit-policy")).images).toEqual({
      q: "5",
      w: "86400",
      qu: '"images"',
    });

    const two = await generate(key, { prompt, size: "64x64", n: 2, seed: 20 });
    expect(two.status).toBe(429);
    expect(two.headers.get("x-should-retry")).toBe("false");
    expect(two.headers.get("x-ratelimit-remaining-images")).toBe("1");
    const secondsToMidnight = Math.ceil(
      (Math.ceil(Date.now() / 86_400_000) * 86_400_000 - Date.now()) / 1000,
    );
    expect(Math.abs(Number(two.headers.get("retry-after")) - secondsToMidnight)).toBeLessThanOrEqual(2);
    expect(await readError(two)).toMatchObject({ type: "rate_limit_error", code: "daily_quota_exceeded" });

    const one = await generate(key, { prompt, size: "64x64", n: 1, seed: 30 });
    expect(one.status).toBe(200);
    expect(one.headers.get("x-ratelimit-remaining-images")).toBe("0");
    expect((await generate(key, { prompt, size: "64x64", seed: 31 })).status).toBe(429);
  });

  it("is never exceeded under concurrency: 30 concurrent single-image requests on a quota of 10", async () => {
    installGpu();
    const { key } = await newCustomer({ images_per_day: 10 });
    const body = { prompt: `stork ${crypto.randomUUID()}`, size: "64x64", seed: 9 };
    const strict = { RATE_LIMIT_TIMEOUT_MS: "30000", RATE_LIMIT_FAIL_MODE: "closed" };
    const responses = await Promise.all(Array.from({ length: 30 }, () => generate(key, body, {}, strict)));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(10);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(20);
    // The refused reservations were all given back: nothing left, nothing over-counted.
    const after = await generate(key, body, {}, strict);
    expect(after.status).toBe(429);
    expect(after.headers.get("x-ratelimit-remaining-images")).toBe("0");
  });

  it("gives back the images of a failed generation", async () => {
    const gpu = installGpu();
    gpu
      .always("gpu-a.test", { kind: "status", status: 500 })
      .always("gpu-b.test", { kind: "status", status: 500 });
    const { key } = await newCustomer({ images_per_day: 2 });
    const failed = await generate(key, { prompt: `crane ${crypto.randomUUID()}`, size: "64x64", n: 2 });
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect(failed.headers.get("x-ratelimit-remaining-images")).toBe("2");
    gpu.always("gpu-a.test", { kind: "ok" }).always("gpu-b.test", { kind: "ok" });
    const ok = await generate(key, { prompt: `crane ${crypto.randomUUID()}`, size: "64x64", n: 2 });
    expect(ok.status).toBe(200);
  });

  it("refuses sizes above the plan's max pixels with 403", async () => {
    installGpu();
    const { key } = await newCustomer({ max_pixels: 64 * 64 });
    const res = await generate(key, { prompt: "big", size: "128x128" });
    expect(res.status).toBe(403);
    expect(await readError(res)).toMatchObject({
      type: "permission_error",
      param: "size",
      code: "plan_max_pixels",
    });
  });

  it("refuses an n above the plan's max images per request with 403, before counting anything", async () => {
    const gpu = installGpu();
    const { key } = await newCustomer({ max_images_per_request: 2, images_per_day: 5 });
    const res = await generate(key, { prompt: `many ${crypto.randomUUID()}`, size: "64x64", n: 3 });
    expect(res.status).toBe(403);
    expect(await readError(res)).toMatchObject({
      type: "permission_error",
      param: "n",
      code: "plan_max_images",
    });
    expect(gpu.calls).toHaveLength(0);
    const ok = await generate(key, { prompt: `two ${crypto.randomUUID()}`, size: "64x64", n: 2 });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-ratelimit-remaining-images")).toBe("3");
  });
});
