import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type ConfigSource, readConfig } from "../../edge/config";
import { CircuitBreaker, parseRetryAfter } from "../../edge/gpu/circuit-breaker";
import { gpuClientFor } from "../../edge/gpu/shared-client";
import { BACKEND_A, BACKEND_B, TEST_REVISION, TEST_SECRET } from "./support/api";
import { type Behaviour, FakeGpu, fakeImage, healthyFakeGpu } from "./support/fake-gpu";
import { unitGpuPair } from "./support/unit-gpu-pair";

const { SECRET, REVISION, A, B, request, client, fake } = unitGpuPair("unit", 200);

describe("GpuClient", () => {
  it("signs the request, sends the deadline and returns the image with its headers", async () => {
    const gpu = fake({ kind: "ok" });
    const before = Date.now();
    const out = await client(gpu).infer(request);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.image.bytes).toEqual(fakeImage(request));
    expect(out.image).toMatchObject({
      contentType: "image/png",
      seed: 9,
      modelRevision: REVISION,
      backend: `http://${A}`,
    });
    expect(gpu.calls).toHaveLength(1);
    expect(gpu.calls[0].auth).toBe("ok");
    expect(gpu.calls[0].body?.deadline_ms).toBeGreaterThanOrEqual(before + 3000);
  });

  it.each<[string, Behaviour, string]>([
    ["a refused connection", { kind: "refuse" }, "connection"],
    ["a timeout", { kind: "hang" }, "timeout"],
    ["a 500", { kind: "status", status: 500 }, "server_error"],
    ["a 503", { kind: "status", status: 503, retryAfter: "30" }, "busy"],
    ["a wrong secret (401)", { kind: "status", status: 401 }, "rejected"],
    ["a truncated image", { kind: "truncated" }, "invalid_response"],
    ["another model revision", { kind: "ok", revision: "rev-0" }, "invalid_response"],
  ])("fails over to the other backend after %s", async (_name, behaviour, outcome) => {
    const gpu = fake(behaviour);
    const out = await client(gpu).infer(request);
    expect(out.ok).toBe(true);
    expect(out.attempts.map((a) => [a.backend, a.outcome])).toEqual([
      [`http://${A}`, outcome],
      [`http://${B}`, "ok"],
    ]);
  });

  it("does not retry a request the backend rejects as invalid (422) and reports 502", async () => {
    const gpu = fake({ kind: "status", status: 422 });
    const out = await client(gpu).infer(request);
    expect(out).toMatchObject({ ok: false, status: 502, code: "gpu_rejected" });
    expect(gpu.calls).toHaveLength(1);
  });

  it("returns 503 with the earliest Retry-After when every backend is busy", async () => {
    const gpu = fake(
      { kind: "status", status: 503, retryAfter: "20" },
      { kind: "status", status: 503, retryAfter: "7" },
    );
    const out = await client(gpu).infer(request);
    expect(out).toMatchObject({ ok: false, status: 503, retryAfterS: 7 });
    // Retry-After is honoured: neither backend is called again before its time (deadline is 3 s).
    expect(gpu.calls).toHaveLength(2);
  });

  it("waits out a short Retry-After and retries within the deadline", async () => {
    const gpu = new FakeGpu(SECRET, REVISION)
      .queue(A, { kind: "status", status: 503, retryAfter: "1" })
      .always(A, {
        kind: "ok",
      });
    const c = client(gpu, { backends: [`http://${A}`], deadlineMs: 5000 });
    const started = Date.now();
    const out = await c.infer(request);
    expect(out.ok).toBe(true);
    expect(out.attempts.map((a) => a.outcome)).toEqual(["busy", "ok"]);
    // Retry-After: 1 is honoured: the second attempt is not made before a second has passed.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it("gives up with 503 when all backends are down", async () => {
    const gpu = fake({ kind: "refuse" }, { kind: "refuse" });
    const out = await client(gpu).infer(request);
    expect(out).toMatchObject({ ok: false, status: 503 });
    if (out.ok) return;
    expect(out.retryAfterS).toBeGreaterThanOrEqual(1);
    expect(out.attempts.every((a) => a.outcome === "connection")).toBe(true);
  });

  it("stops at the overall deadline even when attempts time out one by one", async () => {
    const gpu = fake({ kind: "hang" }, { kind: "hang" });
    const c = client(gpu, { attemptTimeoutMs: 150, deadlineMs: 400, maxAttempts: 10 });
    const out = await c.infer(request);
    expect(out).toMatchObject({ ok: false, status: 503 });
    // 400 ms of budget fits at most three attempts of <= 150 ms, not the ten allowed.
    expect(out.attempts.length).toBeLessThanOrEqual(3);
    expect(out.attempts.every((a) => a.outcome === "timeout")).toBe(true);
  });

  it.each([
    ["no backends", { backends: [] }],
    ["no secret", { secret: "" }],
  ])("answers 503 without calling anything when configured with %s", async (_name, overrides) => {
    const gpu = fake({ kind: "ok" });
    const out = await client(gpu, overrides).infer(request);
    expect(out).toMatchObject({ ok: false, status: 503, code: "gpu_not_configured" });
    expect(gpu.calls).toHaveLength(0);
  });

  it("sends the backend token as Authorization: Bearer to every backend it tries, besides the signature", async () => {
    const gpu = fake({ kind: "status", status: 500 });
    const out = await client(gpu, { backendToken: "rp-api-key" }).infer(request);
    expect(out.ok).toBe(true);
    expect(gpu.calls.map((c) => [c.host, c.authorization, c.auth])).toEqual([
      [A, "Bearer rp-api-key", "ok"],
      [B, "Bearer rp-api-key", "ok"],
    ]);
  });

  it.each([
    ["no backend token", {}],
    ["an empty backend token", { backendToken: "" }],
  ])("sends no Authorization header with %s", async (_name, overrides) => {
    const gpu = fake({ kind: "ok" });
    expect((await client(gpu, overrides).infer(request)).ok).toBe(true);
    expect(gpu.calls).toHaveLength(1);
    expect(gpu.calls[0].authorization).toBeNull();
  });

  it("skips a backend whose circuit is open", async () => {
    const gpu = fake({ kind: "refuse" });
    const c = client(gpu);
    for (let i = 0; i < 4; i++) expect((await c.infer(request)).ok).toBe(true);
    // failureThreshold is 2: after two failures A is skipped for the cooldown.
    expect(gpu.callsTo(A)).toHaveLength(2);
    expect(gpu.callsTo(B)).toHaveLength(4);
  });
});

describe("GPU_BACKEND_TOKEN (edge configuration -> shared GPU client)", () => {
  afterEach(() => vi.restoreAllMocks());

  it("reaches every configured backend as Authorization: Bearer when set", async () => {
    const gpu = new FakeGpu(TEST_SECRET, TEST_REVISION)
      .always(BACKEND_A, { kind: "status", status: 500 })
      .always(BACKEND_B, { kind: "ok" })
      .install();
    const config = readConfig({ ...env, GPU_BACKEND_TOKEN: "rp-key-1\n" });
    const out = await gpuClientFor(config).infer({ ...request, request_id: "req_token" });
    expect(out.ok).toBe(true);
    expect(new Set(gpu.calls.map((c) => c.host))).toEqual(new Set([BACKEND_A, BACKEND_B]));
    for (const call of gpu.calls) expect(call.authorization).toBe("Bearer rp-key-1");
  });

  it("is absent when the secret is unset", async () => {
    const gpu = healthyFakeGpu().install();
    const withoutToken: ConfigSource = { ...env };
    delete withoutToken.GPU_BACKEND_TOKEN;
    const out = await gpuClientFor(readConfig(withoutToken)).infer({
      ...request,
      request_id: "req_no_token",
    });
    expect(out.ok).toBe(true);
    expect(gpu.calls).toHaveLength(1);
    expect(gpu.calls[0].authorization).toBeNull();
  });
});

describe("CircuitBreaker", () => {
  it("opens after the threshold, half-opens after the cooldown for one trial, closes on success", () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 1000 });
    breaker.recordFailure("x", 0);
    expect(breaker.stateOf("x", 0)).toBe("closed");
    breaker.recordFailure("x", 10);
    expect(breaker.stateOf("x", 10)).toBe("open");
    expect(breaker.availableAt("x", 10)).toBe(1010);
    expect(breaker.stateOf("x", 1010)).toBe("half-open");
    breaker.begin("x", 1010);
    expect(breaker.availableAt("x", 1010)).toBeGreaterThan(1010); // only one trial at a time
    breaker.recordSuccess("x");
    expect(breaker.stateOf("x", 1010)).toBe("closed");
    expect(breaker.availableAt("x", 1010)).toBe(1010);
  });

  it("re-opens when the half-open trial fails", () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 1000 });
    breaker.recordFailure("x", 0);
    breaker.begin("x", 1000);
    breaker.recordFailure("x", 1000);
    expect(breaker.stateOf("x", 1500)).toBe("open");
    expect(breaker.availableAt("x", 1500)).toBe(2000);
  });

  it("treats busy as an embargo, not a failure", () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
    breaker.recordBusy("x", 5000);
    expect(breaker.stateOf("x", 0)).toBe("closed");
    expect(breaker.availableAt("x", 0)).toBe(5000);
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    expect(parseRetryAfter("3", 0)).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter(null, 0)).toBeNull();
    expect(parseRetryAfter("soon", 0)).toBeNull();
  });
});
