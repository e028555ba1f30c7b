/**
 * Issue 13 item 2 in the Workers runtime: every waiter of a single flight (edge/objects/generation.ts) gets the
 * flight's outcome when the leader does. A GPU killed mid-stream is retried on the other backend for all of them;
 * with both killed, all of them get the one flight's 503 (no waiter starts a flight of its own and sits out the
 * breaker), and nothing is cached.
 */
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
import { FakeGpu, gate } from "./support/fake-gpu";

afterEach(() => vi.restoreAllMocks());

async function coalesced(gpu: FakeGpu, prompt: string, hold: { release: () => void }, waiters = 6) {
  const pending = Array.from({ length: waiters }, () => postGeneration({ prompt, size: "64x64", seed: 3 }));
  // Every request reaches the single flight before the GPU "dies".
  while (gpu.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 50));
  hold.release();
  return Promise.all(pending);
}

describe("failures reach every waiter of a flight", () => {
  it("backends killed mid-stream: the flight retries elsewhere for all six waiters", async () => {
    const hold = gate();
    const gpu = new FakeGpu(TEST_SECRET, TEST_REVISION)
      .queue(BACKEND_A, { kind: "die", afterSteps: 2, gate: hold.promise })
      .queue(BACKEND_B, { kind: "die", afterSteps: 2, gate: hold.promise })
      .always(BACKEND_A, { kind: "ok" })
      .always(BACKEND_B, { kind: "ok" })
      .install();
    const responses = await coalesced(gpu, uniquePrompt("killed, retried"), hold);
    expect(responses.map((r) => r.status)).toEqual(Array(6).fill(200));
    const urls = new Set(await Promise.all(responses.map(async (r) => (await readJson(r)).data[0].url)));
    expect(urls.size).toBe(1);
    // One flight: both backends die once mid-stream (each attempt goes to the other one), then a good attempt.
    expect(gpu.calls.map((c) => c.answered)).toEqual(["die", "die", "ok"]);
  });

  it("both backends killed: all six waiters get the one flight's 503 with Retry-After; nothing is cached", async () => {
    const hold = gate();
    const gpu = new FakeGpu(TEST_SECRET, TEST_REVISION)
      .queue(BACKEND_A, { kind: "die", afterSteps: 1, gate: hold.promise })
      .queue(BACKEND_B, { kind: "die", afterSteps: 1, gate: hold.promise })
      .always(BACKEND_A, { kind: "refuse" })
      .always(BACKEND_B, { kind: "refuse" })
      .install();
    const prompt = uniquePrompt("killed twice");
    const responses = await coalesced(gpu, prompt, hold);
    expect(responses.map((r) => r.status)).toEqual(Array(6).fill(503));
    for (const r of responses) {
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(await readError(r)).toMatchObject({ type: "service_unavailable" });
    }
    // The attempts of ONE flight (maxAttempts = 4); no waiter started a flight of its own.
    expect(gpu.calls).toHaveLength(4);
    expect(await env.IMAGES.head(await testCacheKey(prompt, 3))).toBeNull();
  });
});
