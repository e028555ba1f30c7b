import { afterEach, describe, expect, it, vi } from "vitest";
import { generate, installGpu, ledgerRows, newCustomer, readError } from "./support";

afterEach(() => vi.restoreAllMocks());

// Port 1 on loopback refuses connections; a wrong token makes the bridge answer 401. Both are Redis failures.
const REFUSED = { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1" };
const BAD_TOKEN = { UPSTASH_REDIS_REST_TOKEN: "wrong-token" };

describe("Redis failure policy", () => {
  it.each([
    ["refused connection", REFUSED],
    ["rejected token", BAD_TOKEN],
  ])("fail-open (%s): admits and bills the request, without limit headers, and logs", async (_, broken) => {
    installGpu();
    const warn = vi.spyOn(console, "warn");
    const { key, accountId } = await newCustomer({ requests_per_minute: 1 });
    const body = { prompt: `otter ${crypto.randomUUID()}`, size: "64x64" };
    const overrides = { ...broken, RATE_LIMIT_FAIL_MODE: "open" };
    const responses = [await generate(key, body, {}, overrides), await generate(key, body, {}, overrides)];
    expect(responses.map((r) => r.status)).toEqual([200, 200]); // the per-minute limit of 1 could not be enforced
    expect(responses[0].headers.get("x-ratelimit-limit")).toBeNull();
    expect(await ledgerRows(accountId)).toHaveLength(2);
    const logged = warn.mock.calls.map((args) => JSON.parse(String(args[0])));
    expect(logged).toContainEqual(
      expect.objectContaining({ event: "rate_limiter_unavailable", policy: "open", limiter: "requests" }),
    );
    expect(logged).toContainEqual(
      expect.objectContaining({ event: "rate_limiter_unavailable", limiter: "images" }),
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
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await readError(res)).toMatchObject({
      type: "service_unavailable",
      code: "rate_limiter_unavailable",
    });
    expect(gpu.calls).toHaveLength(0);
    expect(await ledgerRows(accountId)).toHaveLength(0);
  });

  it("treats a Redis answer slower than RATE_LIMIT_TIMEOUT_MS as a failure", async () => {
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
  });
});
