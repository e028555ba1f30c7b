/**
 * `stream: true` on POST /v1/images/generations in the Workers runtime (SELF: the edge without accounts; billing
 * of streams is in accounts/streaming-billing.test.ts): OpenAI's SSE event shapes, previews relayed from the GPU
 * through the single flight, cache hits, joining a flight's stream, mid-stream errors, cancellation.
 */
import { env } from "cloudflare:test";
import { encodeBase64 } from "hono/utils/encode";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  BACKEND_A,
  BACKEND_B,
  postGeneration,
  TEST_REVISION,
  TEST_SECRET,
  testCacheKey,
  uniquePrompt,
} from "./support/api";
import { FakeGpu, fakeImage, gate, healthyFakeGpu } from "./support/fake-gpu";
import { eventTypes, readSse, readUntil } from "./support/sse";

afterEach(() => vi.restoreAllMocks());

const types = eventTypes;

describe("stream: true", () => {
  it("streams progress, partial_images previews (0-based) and one completed event with OpenAI's fields", async () => {
    healthyFakeGpu().install();
    const prompt = uniquePrompt("streamed fox");
    const res = await postGeneration({ prompt, size: "64x64", seed: 7, stream: true, partial_images: 2 });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = await readSse(res);
    const kinds = types(events).filter((t) => t !== "image_generation.progress");
    expect(kinds).toEqual([
      "image_generation.partial_image",
      "image_generation.partial_image",
      "image_generation.completed",
    ]);
    expect(types(events).filter((t) => t === "image_generation.progress").length).toBeGreaterThanOrEqual(8);
    const partials = events.filter((e) => e.data.type === "image_generation.partial_image");
    expect(partials.map((p) => p.data.partial_image_index)).toEqual([0, 1]);
    for (const e of events)
      if (e.data.type !== "image_generation.progress") expect(e.event).toBe(e.data.type);
    const completed = events.at(-1)!.data;
    expect(completed).toMatchObject({
      type: "image_generation.completed",
      size: "64x64",
      quality: "auto",
      background: "opaque",
      output_format: "png",
      usage: { images: 1, generated: 1, pixels: 64 * 64, steps: 8 },
      seed: 7,
    });
    expect(typeof completed.created_at).toBe("number");
    const expected = fakeImage({ prompt, seed: 7, output_format: "png" });
    expect(completed.b64_json).toBe(encodeBase64(expected.buffer as ArrayBuffer));
    // Stored like any generated image.
    expect(await env.IMAGES.head(await testCacheKey(prompt, 7))).not.toBeNull();
  });

  it("a cache hit streams a single completed event", async () => {
    const gpu = healthyFakeGpu().install();
    const prompt = uniquePrompt("streamed hit");
    expect((await postGeneration({ prompt, size: "64x64", seed: 1 })).status).toBe(200);
    const events = await readSse(
      await postGeneration({ prompt, size: "64x64", seed: 1, stream: true, partial_images: 3 }),
    );
    expect(types(events)).toEqual(["image_generation.completed"]);
    expect(events[0].data).toMatchObject({ usage: { generated: 0 } });
    expect(gpu.calls).toHaveLength(1);
  });

  it("an identical request during a flight joins that flight's stream: one GPU call, both get the image", async () => {
    const hold = gate();
    const gpu = new FakeGpu(TEST_SECRET, TEST_REVISION)
      .always(BACKEND_A, { kind: "ok", gate: hold.promise })
      .always(BACKEND_B, { kind: "ok", gate: hold.promise })
      .install();
    const prompt = uniquePrompt("joined stream");
    const body = { prompt, size: "64x64", seed: 2, stream: true, partial_images: 1 } as const;
    // Both streams see the flight queued on the GPU (heartbeats) before it is let go: both have joined.
    const first = await readUntil(await postGeneration(body), "queue_position");
    const second = await readUntil(await postGeneration(body), "queue_position");
    hold.release();
    const [a, b] = await Promise.all([first.rest(), second.rest()]);
    expect(gpu.calls).toHaveLength(1);
    for (const events of [a, b]) {
      expect(types(events).filter((t) => t !== "image_generation.progress")).toEqual([
        "image_generation.partial_image",
        "image_generation.completed",
      ]);
    }
    // The leader generated; the joiner's image was the leader's work (priced as a cache hit).
    expect(a.at(-1)!.data).toMatchObject({ usage: { generated: 1 } });
    expect(b.at(-1)!.data).toMatchObject({ usage: { generated: 0 } });
    expect(a.at(-1)!.data.b64_json).toBe(b.at(-1)!.data.b64_json);
  });

  it("a failure mid-stream arrives as data: {error: envelope}; nothing is stored", async () => {
    new FakeGpu(TEST_SECRET, TEST_REVISION)
      .always(BACKEND_A, { kind: "die", afterSteps: 2 })
      .always(BACKEND_B, { kind: "die", afterSteps: 2 })
      .install();
    const prompt = uniquePrompt("dies mid-stream");
    const events = await readSse(
      await postGeneration({ prompt, size: "64x64", seed: 4, stream: true, partial_images: 1 }),
    );
    const last = events.at(-1)!;
    expect(last.event).toBe("error");
    expect(last.data.error).toMatchObject({ type: "service_unavailable", code: "gpu_attempts_exhausted" });
    expect(types(events)).not.toContain("image_generation.completed");
    expect(await env.IMAGES.head(await testCacheKey(prompt, 4))).toBeNull();
  });

  it("a client that goes away cancels the GPU work when nobody else waits; nothing is stored", async () => {
    const gpu = new FakeGpu(TEST_SECRET, TEST_REVISION)
      .always(BACKEND_A, { kind: "ok", stepMs: 50 })
      .always(BACKEND_B, { kind: "ok", stepMs: 50 })
      .install();
    const prompt = uniquePrompt("walks away");
    const res = await postGeneration({ prompt, size: "64x64", seed: 5, stream: true, steps: 30 });
    const reader = res.body!.getReader();
    const text = new TextDecoder();
    let seen = "";
    while (!seen.includes("image_generation.progress")) seen += text.decode((await reader.read()).value);
    await reader.cancel();
    while (!gpu.calls[0]?.aborted) await new Promise((r) => setTimeout(r, 10));
    expect(gpu.calls).toHaveLength(1);
    expect(await env.IMAGES.head(await testCacheKey(prompt, 5))).toBeNull();
  });
});
