/**
 * GPU function access settings: HOST (bind address) and METRICS_TOKEN (bearer token in front of GET /metrics).
 * The /metrics checks run against the Hono app in-process (no model, no worker): they are about the gate only.
 */
import { describe, expect, it } from "vitest";
import { createApp } from "../../../gpu-fn/server/app";
import { loadConfig } from "../../../gpu-fn/server/config";
import type { InferService } from "../../../gpu-fn/server/infer-service";
import { GpuMetrics } from "../../../gpu-fn/server/metrics";
import { ServiceState } from "../../../gpu-fn/server/service-state";
import { MemoryNonceStore } from "../../../shared/hmac";

const REQUIRED = { MODEL_DIR: "/models/x", GPU_HMAC_SECRET: "0123456789abcdef" };

describe("GPU function configuration: HOST and METRICS_TOKEN", () => {
  it("binds to all interfaces by default (containers), or to HOST", () => {
    expect(loadConfig(REQUIRED).host).toBe("0.0.0.0");
    expect(loadConfig({ ...REQUIRED, HOST: "" }).host).toBe("0.0.0.0");
    expect(loadConfig({ ...REQUIRED, HOST: "127.0.0.1" }).host).toBe("127.0.0.1");
    expect(loadConfig({ ...REQUIRED, HOST: "::" }).host).toBe("::");
  });

  it("leaves /metrics open without METRICS_TOKEN (or with an empty one)", () => {
    expect(loadConfig(REQUIRED).metricsToken).toBeNull();
    expect(loadConfig({ ...REQUIRED, METRICS_TOKEN: " " }).metricsToken).toBeNull();
    expect(loadConfig({ ...REQUIRED, METRICS_TOKEN: "scrape-me" }).metricsToken).toBe("scrape-me");
  });
});

function app(metricsToken: string | null) {
  const metrics = new GpuMetrics({ maxBatch: 1, queueDepth: () => 0, inFlight: () => 0 });
  const service = {
    infer: () => {
      throw new Error("not used by these tests");
    },
  } as unknown as InferService;
  return createApp({
    service,
    state: new ServiceState(),
    metrics,
    hmac: { secret: "0123456789abcdef", nonces: new MemoryNonceStore() },
    metricsToken,
    retryAfterSeconds: () => 1,
  });
}

const scrape = (a: ReturnType<typeof app>, authorization?: string) =>
  a.request("/metrics", { headers: authorization ? { authorization } : {} });

describe("GET /metrics with METRICS_TOKEN", () => {
  it("answers 200 with Prometheus text to the right bearer token", async () => {
    const res = await scrape(app("s3cret-token"), "Bearer s3cret-token");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await res.text()).toMatch(/^zi_queue_depth 0$/m);
  });

  it.each([
    ["no Authorization header", undefined, "missing_metrics_token"],
    ["another scheme", "Basic czNjcmV0LXRva2Vu", "missing_metrics_token"],
    ["a wrong token of the same length", "Bearer s3cret-tokeN", "invalid_metrics_token"],
    ["a prefix of the token", "Bearer s3cret", "invalid_metrics_token"],
    ["the token plus more", "Bearer s3cret-token-and-more", "invalid_metrics_token"],
  ])("answers 401 in the error envelope for %s", async (_name, authorization, code) => {
    const res = await scrape(app("s3cret-token"), authorization);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const body = (await res.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: "authentication_error", code });
    expect(JSON.stringify(body)).not.toContain("s3cret-token");
  });

  it("is open when no token is configured", async () => {
    const res = await scrape(app(null));
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^zi_ready 0$/m);
  });
});
