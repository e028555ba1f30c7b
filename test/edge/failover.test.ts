import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  BACKEND_A,
  BACKEND_B,
  postGeneration,
  readError,
  readJson,
  TEST_REVISION,
  TEST_SECRET,
  testCacheKey,
  uniquePrompt,
} from "./support/api";
import { FakeGpu, healthyFakeGpu } from "./support/fake-gpu";

afterEach(() => vi.restoreAllMocks());

describe("GPU failover through the edge", () => {
  it("serves every request from the healthy backend when the other one is down", async () => {
    const gpu = new FakeGpu(TEST_SECRET, TEST_REVISION)
      .always(BACKEND_A, { kind: "refuse" })
      .always(BACKEND_B, { kind: "ok" })
      .install();
    for (let i = 0; i < 3; i++) {
      const res = await postGeneration({ prompt: uniquePrompt(`failover ${i}`), size: "64x64" });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-cache")).toBe("MISS");
    }
    expect(gpu.callsTo(BACKEND_B)).toHaveLength(3);
    expect(gpu.callsTo(BACKEND_A).length).toBeGreaterThan(0);
  });

  it("sends the backends no Authorization header when GPU_BACKEND_TOKEN is unset", async () => {
    const gpu = healthyFakeGpu().install();
    const res = await postGeneration({ prompt: uniquePrompt("no backend token"), size: "64x64" });
    expect(res.status).toBe(200);
    expect(gpu.calls).toHaveLength(1);
    expect(gpu.calls[0]).toMatchObject({ auth: "ok", authorization: null });
  });

  it("answers 503 with Retry-After in the envelope when all backends are unavailable, and caches nothing", async () => {
    const gpu = new FakeGpu(TEST_SECRET, TEST_REVISION)
      .always(BACKEND_A, { kind: "status", status: 503, retryAfter: "1" })
      .always(BACKEND_B, { kind: "status", status: 503, retryAfter: "1" })
      .install();
    const prompt = uniquePrompt("all busy");
    const res = await postGeneration({ prompt, size: "64x64", seed: 1 });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
    expect(await readError(res)).toMatchObject({
      type: "service_unavailable",
      code: "gpu_attempts_exhausted",
    });
    // Two rounds over both backends (maxAttempts = 4), the second after the 1 s Retry-After.
    expect(gpu.calls.map((c) => c.answered)).toEqual(["status", "status", "status", "status"]);
    const key = await testCacheKey(prompt, 1);
    expect(await env.IMAGES.head(key)).toBeNull();

    // Once a backend recovers (after its Retry-After) the same request is generated and then cached.
    vi.restoreAllMocks();
    const healthy = healthyFakeGpu().install();
    const retry = await postGeneration({ prompt, size: "64x64", seed: 1 });
    expect(retry.status).toBe(200);
    expect(retry.headers.get("x-cache")).toBe("MISS");
    expect((await readJson(retry)).data[0].seed).toBe(1);
    expect(healthy.calls).toHaveLength(1);
  });

  it("answers 503 (not 500) when the single flight itself fails, e.g. R2 refuses the write", async () => {
    healthyFakeGpu().install();
    // The Durable Object shares this isolate, so failing R2 puts here fails its write too.
    const bucketProto = Object.getPrototypeOf(env.IMAGES) as R2Bucket;
    vi.spyOn(bucketProto, "put").mockRejectedValue(new Error("R2 put failed (test)"));
    const res = await postGeneration({ prompt: uniquePrompt("r2 down"), size: "64x64" });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await readError(res)).toMatchObject({ type: "service_unavailable", code: "generation_failed" });
  });
});
