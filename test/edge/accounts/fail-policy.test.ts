import { afterEach, describe, expect, it, vi } from "vitest";
import { call, generate, installGpu, ledgerRows, newCustomer, readError } from "./support";

afterEach(() => vi.restoreAllMocks());

// Port 1 on loopback refuses connections; a wrong token makes the bridge answer 401. Both are Redis failures.
const REFUSED = { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1" };
const BAD_TOKEN = { UPSTASH_REDIS_REST_TOKEN: "wrong-token" };

describe("Redis failure policy (degraded mode)", () => {
  it.each([
    ["refused connection", REFUSED],
    ["rejected token", BAD_TOKEN],
  ])("local (%s): the quota fails closed, the request limit holds per isolate", async (_, broken) => {
    const gpu = installGpu();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const { key, accountId } = await newCustomer({ requests_per_minute: 3 });
    const overrides = { ...broken, RATE_LIMIT_FAIL_MODE: "local" };
    // Generation needs a quota decision: 503 with Retry-After, nothing generated or billed.
    const res = await generate(key, { prompt: `otter ${crypto.randomUUID()}`, size: "64x64" }, {}, overrides);
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await readError(res)).toMatchObject({ type: "service_unavailable", code: "quota_unavailable" });
    expect(gpu.calls).toHaveLength(0);
    expect(await ledgerRows(accountId)).toHaveLength(0);
    // The in-isolate fallback counts the plan's 3 per minute: the refused generation, two GETs, then 429.
    const models = [];
    for (let i = 0; i < 3; i++) {
      models.push(await call("/v1/models", { headers: { authorization: `Bearer ${key}` } }, overrides));
    }
    expect(models.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(models[0].headers.get("x-ratelimit-limit")).toBe("3");
    expect(models[2].headers.get("retry-after")).not.toBeNull();
    const logged = warn.mock.calls.map((args) => JSON.parse(String(args[0])));
    expect(logged).toContainEqual(
      expect.objectContaining({ event: "rate_limiter_unavailable", policy: "local", limiter: "requests" }),
    );
    expect(logged).toContainEqual(
      expect.objectContaining({ event: "rate_limiter_unavailable", policy: "closed", limiter: "images" }),
    );
    // Logs carry the key id, never the key.
    expect(JSON.stringify(warn.mock.calls)).not.toContain(key);
  });

  it.each([
    ["refused connection", REFUSED],
    ["rejected token", BAD_TOKEN],
  ])("fail-closed (%s): answers 503 and does not generate", async (_, broken) => {
    const gpu = installGpu();
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const { key, accountId } = await newCustomer();
    const res = await generate(
      key,
      { prompt: "x", size: "64x64" },
      {},
      { ...broken, RATE_LIMIT_FAIL_MODE: "closed" },
    );
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await readError(res)).toMatchObject({
      type: "service_unavailable",
      code: "rate_limiter_unavailable",
    });
    expect(gpu.calls).toHaveLength(0);
    expect(await ledgerRows(accountId)).toHaveLength(0);
  });

  it("treats a Redis answer slower than RATE_LIMIT_TIMEOUT_MS as a failure, then skips Redis", async () => {
    installGpu();
    vi.spyOn(console, "warn").mockImplementation(() => {});
    // A listener that never answers: the fetch hangs until the limiter's timeout gives up on it.
    const gpuAndBridge = vi.mocked(globalThis.fetch).getMockImplementation()!;
    vi.mocked(globalThis.fetch).mockImplementation(async (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (url.startsWith("http://redis-hangs.test")) return new Promise<Response>(() => {});
      return gpuAndBridge(input, init);
    });
    const { key } = await newCustomer();
    const res = await generate(
      key,
      { prompt: "y", size: "64x64" },
      {},
      {
        UPSTASH_REDIS_REST_URL: "http://redis-hangs.test",
        RATE_LIMIT_FAIL_MODE: "closed",
        RATE_LIMIT_TIMEOUT_MS: "50",
      },
    );
    expect(res.status).toBe(503);
    expect(await readError(res)).toMatchObject({ code: "rate_limiter_unavailable" });
    // Within the cooldown the next request does not wait for the hung Redis: it is refused without a call.
    const redisCalls = () =>
      vi
        .mocked(globalThis.fetch)
        .mock.calls.filter(([input]) =>
          String(input instanceof Request ? input.url : input).startsWith("http://redis-hangs.test"),
        ).length;
    const before = redisCalls();
    const again = await generate(
      key,
      { prompt: "y", size: "64x64" },
      {},
      {
        UPSTASH_REDIS_REST_URL: "http://redis-hangs.test",
        RATE_LIMIT_FAIL_MODE: "closed",
        RATE_LIMIT_TIMEOUT_MS: "50",
      },
    );
    expect(again.status).toBe(503);
    expect(redisCalls()).toBe(before);
  });
});
