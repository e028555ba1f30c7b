/**
 * Every parameter of OpenAI's CreateImageRequest: accepted (null = default), honoured where the model can, and
 * visible in the response as OpenAI's optional fields. GPU calls go to the scripted fake, which records bodies.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { cacheKey } from "../../shared/cache-key";
import { postGeneration, readError, readJson, testImageRequest, uniquePrompt } from "./support/api";
import { healthyFakeGpu } from "./support/fake-gpu";

afterEach(() => vi.restoreAllMocks());

const OPENAI_NULLABLE = [
  "background",
  "model",
  "moderation",
  "n",
  "output_compression",
  "output_format",
  "partial_images",
  "quality",
  "response_format",
  "size",
  "stream",
  "style",
  "user",
] as const;

describe("OpenAI request parameters", () => {
  it("accepts null for every optional OpenAI parameter and treats it as the default", async () => {
    const gpu = healthyFakeGpu().install();
    const prompt = uniquePrompt("all nulls");
    const nulls = Object.fromEntries(OPENAI_NULLABLE.map((name) => [name, null]));
    const res = await postGeneration({ prompt, ...nulls, size: "64x64", seed: 3 });
    expect(res.status, await res.clone().text()).toBe(200);
    const body = await readJson(res);
    expect(body).toMatchObject({
      size: "64x64",
      quality: "auto",
      output_format: "png",
      background: "opaque",
    });
    expect(body.data).toHaveLength(1);
    // The same request without the nulls is the same image.
    const again = await postGeneration({ prompt, size: "64x64", seed: 3 });
    expect(again.headers.get("x-cache")).toBe("HIT");
    expect(gpu.calls).toHaveLength(1);
  });

  it("accepts what an OpenAI app sends: quality auto, moderation, style, user, stream false, n up to 10", async () => {
    const gpu = healthyFakeGpu().install();
    const res = await postGeneration({
      prompt: uniquePrompt("openai app"),
      size: "64x64",
      quality: "auto",
      moderation: "low",
      style: "natural",
      user: "end-user-7",
      stream: false,
      partial_images: 0,
      background: "opaque",
      n: 6,
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await readJson(res)).data).toHaveLength(6);
    expect(gpu.calls).toHaveLength(6);
  });

  it('size "auto" is the documented default (1024x1024)', async () => {
    healthyFakeGpu().install();
    const body = await readJson(await postGeneration({ prompt: uniquePrompt("auto size"), size: "auto" }));
    expect(body.size).toBe("1024x1024");
  });

  it("quality selects the steps unless steps is given, and the steps enter the cache key", async () => {
    const gpu = healthyFakeGpu().install();
    const prompt = uniquePrompt("quality");
    const low = await postGeneration({ prompt, size: "64x64", seed: 1, quality: "low" });
    expect(low.status).toBe(200);
    expect(gpu.calls.at(-1)?.body?.steps).toBe(4);
    expect((await readJson(low)).usage).toMatchObject({ steps: 4, images: 1, generated: 1, pixels: 4096 });

    // quality "high" = 8 steps: another image than low.
    await postGeneration({ prompt, size: "64x64", seed: 1, quality: "high" });
    expect(gpu.calls.at(-1)?.body?.steps).toBe(8);
    expect(gpu.calls).toHaveLength(2);
    // Explicit steps: 4 steps with quality "hd" is the same image as quality "low".
    const explicit = await postGeneration({ prompt, size: "64x64", seed: 1, quality: "hd", steps: 4 });
    expect(explicit.headers.get("x-cache")).toBe("HIT");
    expect((await readJson(explicit)).quality).toBe("hd");
    expect(gpu.calls).toHaveLength(2);
  });

  it("output_compression sets the jpeg/webp encoder quality and is part of the cache key", async () => {
    const gpu = healthyFakeGpu().install();
    const prompt = uniquePrompt("compression");
    const at80 = await postGeneration({
      prompt,
      size: "64x64",
      seed: 2,
      output_format: "jpeg",
      output_compression: 80,
    });
    expect(at80.status).toBe(200);
    expect(gpu.calls.at(-1)?.body?.quality).toBe(80);
    const url80 = (await readJson(at80)).data[0].url;
    const key80 = await cacheKey({
      ...testImageRequest(prompt, 2),
      outputFormat: "jpeg",
      outputQuality: 80,
    });
    expect(url80).toContain(`${key80}.jpeg`);

    const defaulted = await postGeneration({ prompt, size: "64x64", seed: 2, output_format: "jpeg" });
    expect(gpu.calls.at(-1)?.body?.quality).toBe(100);
    expect((await readJson(defaulted)).data[0].url).not.toBe(url80);
    // 0 is the smallest file sharp can write (quality 1).
    await postGeneration({ prompt, size: "64x64", seed: 2, output_format: "webp", output_compression: 0 });
    expect(gpu.calls.at(-1)?.body?.quality).toBe(1);
    expect(gpu.calls).toHaveLength(3);
  });

  it("png ignores output_compression 100 and refuses any other value, naming the parameter", async () => {
    const gpu = healthyFakeGpu().install();
    const ok = await postGeneration({
      prompt: uniquePrompt("png 100"),
      size: "64x64",
      output_compression: 100,
    });
    expect(ok.status).toBe(200);
    expect(gpu.calls[0].body?.quality).toBeUndefined();
    const refused = await postGeneration({ prompt: "p", size: "64x64", output_compression: 50 });
    expect(refused.status).toBe(400);
    expect(await readError(refused)).toMatchObject({
      param: "output_compression",
      code: "unsupported_value",
    });
  });

  it("the response carries size, quality, output_format, background and usage next to data[].seed", async () => {
    healthyFakeGpu().install();
    const res = await postGeneration({
      prompt: uniquePrompt("fields"),
      size: "64x48".replace("48", "80"),
      output_format: "webp",
      quality: "medium",
      n: 2,
      seed: 10,
    });
    const body = await readJson(res);
    expect(body).toMatchObject({
      size: "64x80",
      quality: "medium",
      output_format: "webp",
      background: "opaque",
      usage: { images: 2, generated: 2, pixels: 64 * 80, steps: 8, price_micros: null },
    });
    expect(body.data.map((d) => d.seed)).toEqual([10, 11]);
  });
});
