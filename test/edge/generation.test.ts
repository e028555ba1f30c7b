import { env, SELF } from "cloudflare:test";
import { encodeBase64 } from "hono/utils/encode";
import { afterEach, describe, expect, it, vi } from "vitest";
import { deriveSeed } from "../../shared/seed";
import {
  BACKEND_A,
  BACKEND_B,
  ORIGIN,
  postGeneration,
  readJson,
  TEST_REVISION,
  TEST_SECRET,
  testCacheKey,
  testImageRequest,
  uniquePrompt,
} from "./support/api";
import { FakeGpu, fakeImage, gate, healthyFakeGpu } from "./support/fake-gpu";

afterEach(() => vi.restoreAllMocks()); // restores the real global fetch

function healthyGpu() {
  return healthyFakeGpu().install();
}

describe("POST /v1/images/generations", () => {
  it("generates on a miss, stores in R2, then answers the same request from the cache", async () => {
    const gpu = healthyGpu();
    const prompt = uniquePrompt("a red fox");
    const request = { prompt, size: "64x64", seed: 42 };

    const first = await postGeneration(request);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-cache")).toBe("MISS");
    expect(first.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
    const body = await readJson(first);
    const key = await testCacheKey(prompt, 42);
    expect(body.data).toEqual([{ url: `${ORIGIN}/v1/images/${key}.png`, seed: 42 }]);
    expect(gpu.calls).toHaveLength(1);
    expect(gpu.calls[0].auth).toBe("ok");
    expect(gpu.calls[0].body).toMatchObject({
      prompt,
      width: 64,
      height: 64,
      steps: 8,
      seed: 42,
      guidance_scale: 0,
    });

    const stored = await env.IMAGES.get(key);
    expect(stored?.httpMetadata?.contentType).toBe("image/png");
    expect(stored?.customMetadata).toMatchObject({ seed: "42", modelRevision: TEST_REVISION, width: "64" });
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(
      fakeImage({ output_format: "png", seed: 42, prompt }),
    );

    // Same request, other key order and number spelling: a hit, no GPU call.
    const second = await postGeneration(
      `{"seed":42.0,"size":"64x64","prompt":${JSON.stringify(` ${prompt}\n`)}}`,
    );
    expect(second.status).toBe(200);
    expect(second.headers.get("x-cache")).toBe("HIT");
    expect(await readJson(second)).toMatchObject({ data: body.data });
    expect(gpu.calls).toHaveLength(1);
  });

  it("derives the seed from the prompt when none is given, so repeats hit the cache", async () => {
    const gpu = healthyGpu();
    const prompt = uniquePrompt("a quiet harbour");
    // deriveSeed reads only the prompt and parameters of the request, not its seed field.
    const expectedSeed = await deriveSeed(testImageRequest(prompt, 0));
    const first = await readJson(await postGeneration({ prompt, size: "64x64" }));
    expect(first.data[0].seed).toBe(expectedSeed);
    const again = await postGeneration({ prompt, size: "64x64" });
    expect(again.headers.get("x-cache")).toBe("HIT");
    expect((await readJson(again)).data[0].seed).toBe(expectedSeed);
    expect(gpu.calls).toHaveLength(1);
  });

  it('gives a fresh seed for seed: "random"', async () => {
    const gpu = healthyGpu();
    const prompt = uniquePrompt("random seeds");
    const a = await readJson(await postGeneration({ prompt, size: "64x64", seed: "random" }));
    const b = await readJson(await postGeneration({ prompt, size: "64x64", seed: "random" }));
    expect(a.data[0].seed).not.toBe(b.data[0].seed);
    expect(gpu.calls).toHaveLength(2);
  });

  it("serves n images with seeds seed+i, and reports PARTIAL when some were cached", async () => {
    const gpu = healthyGpu();
    const prompt = uniquePrompt("four variations");
    await postGeneration({ prompt, size: "64x64", seed: 100, n: 2 });
    expect(gpu.calls).toHaveLength(2);

    const res = await postGeneration({ prompt, size: "64x64", seed: 100, n: 4 });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-cache")).toBe("PARTIAL");
    const body = await readJson(res);
    expect(body.data.map((d) => d.seed)).toEqual([100, 101, 102, 103]);
    expect(new Set(body.data.map((d) => d.url)).size).toBe(4);
    expect(gpu.calls.map((c) => c.body?.seed).sort()).toEqual([100, 101, 102, 103]);
  });

  it("returns the image inline for response_format b64_json", async () => {
    healthyGpu();
    const prompt = uniquePrompt("inline");
    for (const expected of ["MISS", "HIT"]) {
      const res = await postGeneration({
        prompt,
        size: "64x64",
        seed: 7,
        response_format: "b64_json",
        output_format: "webp",
      });
      expect(res.headers.get("x-cache")).toBe(expected);
      const body = await readJson(res);
      const bytes = fakeImage({ output_format: "webp", seed: 7, prompt });
      expect(body.data).toEqual([{ b64_json: encodeBase64(bytes.buffer as ArrayBuffer), seed: 7 }]);
    }
  });

  it("coalesces 20 concurrent identical misses into one GPU call", async () => {
    const hold = gate();
    const gpu = new FakeGpu(TEST_SECRET, TEST_REVISION)
      .always(BACKEND_A, { kind: "ok", gate: hold.promise })
      .always(BACKEND_B, { kind: "ok", gate: hold.promise })
      .install();
    const prompt = uniquePrompt("twenty at once");
    const pending = Array.from({ length: 20 }, () => postGeneration({ prompt, size: "64x64", seed: 5 }));
    // Let every request reach the single flight before the GPU answers.
    while (gpu.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    hold.release();
    const responses = await Promise.all(pending);
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    const urls = new Set(await Promise.all(responses.map(async (r) => (await readJson(r)).data[0].url)));
    expect(urls.size).toBe(1);
    expect(gpu.calls).toHaveLength(1);
    // One request led the flight; the other 19 joined it and say so.
    const statuses = responses.map((r) => r.headers.get("x-cache"));
    expect(statuses.filter((s) => s === "MISS")).toHaveLength(1);
    expect(statuses.filter((s) => s === "COALESCED")).toHaveLength(19);
  });

  it("keeps a well-formed client x-request-id, replaces others, and passes it on to the GPU", async () => {
    const gpu = healthyGpu();
    const kept = await postGeneration(
      { prompt: uniquePrompt("ids"), size: "64x64" },
      { "x-request-id": "client-42" },
    );
    expect(kept.headers.get("x-request-id")).toBe("client-42");
    expect(gpu.calls[0].body?.request_id).toBe("client-42-0");
    for (const bad of ["has spaces in it", "x".repeat(65)]) {
      const res = await postGeneration(
        { prompt: uniquePrompt("ids"), size: "64x64" },
        { "x-request-id": bad },
      );
      expect(res.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
    }
  });

  it("accepts application/json with parameters (charset)", async () => {
    healthyGpu();
    const res = await postGeneration(
      { prompt: uniquePrompt("charset"), size: "64x64" },
      { "content-type": "Application/JSON; charset=utf-8" },
    );
    expect(res.status).toBe(200);
  });

  it("accepts a model field naming the served model", async () => {
    healthyGpu();
    const res = await postGeneration({ prompt: uniquePrompt("model"), size: "64x64", model: env.MODEL_ID });
    expect(res.status).toBe(200);
  });
});

describe("GET /v1/models", () => {
  it("lists the served model with its revision", async () => {
    const res = await SELF.fetch(`${ORIGIN}/v1/models`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      object: "list",
      data: [{ id: env.MODEL_ID, object: "model", created: 0, owned_by: "z-image", revision: TEST_REVISION }],
    });
  });
});
