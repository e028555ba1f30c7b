/**
 * End to end on the real stack (wrangler dev + GPU function on the tiny model + redis): the unmodified openai
 * SDK's stream iterator consumes `stream: true` with partial images, billing shows one generated image; then the
 * GPU function is killed while six identical requests wait on one flight: every one of them gets the flight's
 * 503 + Retry-After, nothing is billed and nothing is stored (issue 13 item 2).
 */
import type { ImageGenerateParamsStreaming, ImageGenStreamEvent } from "openai/resources/images";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type E2EStack, startE2EStack } from "./fixture";

let stack: E2EStack;

beforeAll(async () => {
  stack = await startE2EStack();
});

afterAll(async () => {
  await stack?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("streaming through the official openai client", () => {
  it("iterates partial images and the completed event of a streamed miss; billed once as generated", async () => {
    const { apiKey } = await stack.newAccount();
    const client = stack.openai(apiKey);
    const stream = await client.images.generate({
      prompt: "a paper boat on a pond, streamed",
      size: "256x256",
      stream: true,
      partial_images: 2,
      seed: 1001,
    } as unknown as ImageGenerateParamsStreaming);
    const events: ImageGenStreamEvent[] = [];
    for await (const event of stream) events.push(event);

    const partials = events.filter((e) => e.type === "image_generation.partial_image");
    const completed = events.filter((e) => e.type === "image_generation.completed");
    expect(partials.map((p) => p.partial_image_index)).toEqual([0, 1]);
    expect(completed).toHaveLength(1);
    expect(events.at(-1)?.type).toBe("image_generation.completed");
    const done = completed[0];
    expect(done).toMatchObject({ size: "256x256", background: "opaque", output_format: "png" });
    const meta = await sharp(Buffer.from(done.b64_json, "base64")).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["png", 256, 256]);
    for (const p of partials)
      expect((await sharp(Buffer.from(p.b64_json, "base64")).metadata()).format).toBe("png");
    expect(await stack.usage(apiKey)).toMatchObject({ images: 1, generated: 1 });

    // The same request again is a cache hit: one completed event, billed as a hit.
    const again = await client.images.generate({
      prompt: "a paper boat on a pond, streamed",
      size: "256x256",
      stream: true,
      partial_images: 2,
      seed: 1001,
    } as unknown as ImageGenerateParamsStreaming);
    const hit: ImageGenStreamEvent[] = [];
    for await (const event of again) hit.push(event);
    expect(hit.map((e) => e.type)).toEqual(["image_generation.completed"]);
    expect(await stack.usage(apiKey)).toMatchObject({ images: 2, generated: 1, cache_hits: 1 });
  });
});

describe("a GPU killed under coalesced waiters", () => {
  it("answers every waiter with 503 + Retry-After from the one flight, bills nothing, stores nothing", async () => {
    const { apiKey } = await stack.newAccount();
    const image = { prompt: "six wait for one storm", width: 512, height: 512, seed: 707 };
    const body = JSON.stringify({ prompt: image.prompt, size: "512x512", seed: image.seed });
    const started = Date.now();
    const pending = Array.from({ length: 6 }, () =>
      fetch(`${stack.urls.edge}/v1/images/generations`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body,
      }).then((r) => ({ r, ms: Date.now() - started })),
    );
    // Kill once the GPU function computes (tiny model, 512x512 on the CPU takes a while).
    while ((await stack.gpuMetric("zi_batch_in_flight")) === 0) await sleep(5);
    const killedAt = Date.now() - started;
    await stack.gpu.kill();
    const answers = await Promise.all(pending);
    for (const { r } of answers) {
      expect(r.status).toBe(503);
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(((await r.json()) as { error: { type: string } }).error.type).toBe("service_unavailable");
    }
    console.info(
      `killed at ${killedAt} ms; waiters answered at ${answers.map((a) => a.ms).join(", ")} ms (after the start)`,
    );
    expect(await stack.usage(apiKey)).toMatchObject({ images: 0, amount_micros: 0 });
    const key = await stack.cacheKeyOf(image);
    expect((await fetch(`${stack.urls.edge}/v1/images/${key}.png`)).status).toBe(404);
  });
});
