import { SELF } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ORIGIN, postGeneration, readError } from "./support/api";
import { type FakeGpu, healthyFakeGpu } from "./support/fake-gpu";

let gpu: FakeGpu;
beforeEach(() => {
  gpu = healthyFakeGpu();
  gpu.install();
});
afterEach(() => {
  // Invalid input must never reach a GPU.
  expect(gpu.calls).toHaveLength(0);
  vi.restoreAllMocks();
});

const valid = { prompt: "a cat", size: "64x64" };

// [name, body, status, param, code]
const bodyCases: [string, unknown, number, string | null, string | null][] = [
  ["missing prompt", { size: "64x64" }, 400, "prompt", "invalid_type"],
  ["prompt not a string", { prompt: 5 }, 400, "prompt", "invalid_type"],
  ["empty prompt", { prompt: "" }, 400, "prompt", "too_small"],
  ["whitespace-only prompt", { prompt: " \n\t " }, 400, "prompt", "empty_prompt"],
  ["prompt over the configured limit", { prompt: "x".repeat(3001) }, 400, "prompt", "prompt_too_long"],
  ["prompt over the absolute limit", { prompt: "x".repeat(4001) }, 400, "prompt", "too_big"],
  ["n = 0", { ...valid, n: 0 }, 400, "n", "too_small"],
  ["n = 11", { ...valid, n: 11 }, 400, "n", "too_big"],
  ["n fractional", { ...valid, n: 1.5 }, 400, "n", "invalid_type"],
  ["n as string", { ...valid, n: "2" }, 400, "n", "invalid_type"],
  ["size malformed", { ...valid, size: "big" }, 400, "size", "invalid_format"],
  ["size not multiple of 16", { ...valid, size: "100x64" }, 400, "size", "custom"],
  ["size below bounds", { ...valid, size: "32x64" }, 400, "size", "size_out_of_range"],
  ["size above bounds", { ...valid, size: "4096x64" }, 400, "size", "size_out_of_range"],
  ["response_format unknown", { ...valid, response_format: "file" }, 400, "response_format", "invalid_value"],
  ["output_format unknown", { ...valid, output_format: "gif" }, 400, "output_format", "invalid_value"],
  ["negative seed", { ...valid, seed: -1 }, 400, "seed", "too_small"],
  ["fractional seed", { ...valid, seed: 1.5 }, 400, "seed", "invalid_union"],
  ["seed string other than random", { ...valid, seed: "lucky" }, 400, "seed", "invalid_union"],
  [
    "seed + n beyond 2^53-1",
    { ...valid, seed: Number.MAX_SAFE_INTEGER, n: 2 },
    400,
    "seed",
    "seed_out_of_range",
  ],
  ["steps 0", { ...valid, steps: 0 }, 400, "steps", "too_small"],
  ["steps 51", { ...valid, steps: 51 }, 400, "steps", "too_big"],
  ["negative guidance", { ...valid, guidance_scale: -1 }, 400, "guidance_scale", "too_small"],
  ["guidance as string", { ...valid, guidance_scale: "1" }, 400, "guidance_scale", "invalid_type"],
  ["negative_prompt not a string", { ...valid, negative_prompt: 1 }, 400, "negative_prompt", "invalid_type"],
  ["unknown model", { ...valid, model: "dall-e-3" }, 400, "model", "model_not_found"],
  ["unknown field", { ...valid, colour: "red" }, 400, "colour", "unrecognized_keys"],
  ["quality unknown", { ...valid, quality: "ultra" }, 400, "quality", "invalid_value"],
  ["background transparent", { ...valid, background: "transparent" }, 400, "background", "unsupported_value"],
  ["background unknown", { ...valid, background: "green" }, 400, "background", "invalid_value"],
  [
    "output_compression with png",
    { ...valid, output_compression: 80 },
    400,
    "output_compression",
    "unsupported_value",
  ],
  [
    "output_compression 101",
    { ...valid, output_format: "jpeg", output_compression: 101 },
    400,
    "output_compression",
    "too_big",
  ],
  [
    "output_compression fractional",
    { ...valid, output_format: "webp", output_compression: 5.5 },
    400,
    "output_compression",
    "invalid_type",
  ],
  ["moderation unknown", { ...valid, moderation: "strict" }, 400, "moderation", "invalid_value"],
  ["style unknown", { ...valid, style: "noir" }, 400, "style", "invalid_value"],
  ["stream not a boolean", { ...valid, stream: "yes" }, 400, "stream", "invalid_type"],
  ["partial_images 4", { ...valid, partial_images: 4 }, 400, "partial_images", "too_big"],
  [
    "stream with webhook_url",
    { ...valid, stream: true, webhook_url: "https://hooks.example.com/z" },
    400,
    "webhook_url",
    "unsupported_value",
  ],
  ["size auto-like typo", { ...valid, size: "Auto" }, 400, "size", "invalid_format"],
  ["user too long", { ...valid, user: "u".repeat(257) }, 400, "user", "too_big"],
  ["body is an array", [valid], 400, null, "invalid_type"],
  ["body is null", null, 400, null, "invalid_type"],
];

describe("POST /v1/images/generations rejects bad bodies with 400 in the envelope", () => {
  it.each(bodyCases)("%s", async (_name, body, status, param, code) => {
    const res = await postGeneration(JSON.stringify(body));
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const error = await readError(res);
    expect(error, JSON.stringify(error)).toMatchObject({ type: "invalid_request_error", param, code });
    expect(error.message.length).toBeGreaterThan(0);
  });
});

describe("transport-level bad input", () => {
  it("malformed JSON -> 400", async () => {
    const res = await postGeneration('{"prompt": "a cat",');
    expect(res.status).toBe(400);
    expect((await readError(res)).type).toBe("invalid_request_error");
  });

  it("empty body -> 400", async () => {
    const res = await postGeneration("");
    expect(res.status).toBe(400);
    expect((await readError(res)).type).toBe("invalid_request_error");
  });

  it("wrong content type -> 415", async () => {
    const res = await SELF.fetch(`${ORIGIN}/v1/images/generations`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify(valid),
    });
    expect(res.status).toBe(415);
    expect(await readError(res)).toMatchObject({
      type: "invalid_request_error",
      code: "unsupported_media_type",
    });
  });

  it("missing content type -> 415", async () => {
    const res = await SELF.fetch(`${ORIGIN}/v1/images/generations`, {
      method: "POST",
      body: new Blob([JSON.stringify(valid)]),
    });
    expect(res.status).toBe(415);
  });

  it("oversize body -> 413", async () => {
    const res = await postGeneration(JSON.stringify({ ...valid, user: "u".repeat(70_000) }));
    expect(res.status).toBe(413);
    expect(await readError(res)).toMatchObject({ type: "invalid_request_error", code: "body_too_large" });
  });

  it("oversize streamed body without content-length -> 413", async () => {
    const chunk = new TextEncoder().encode(" ".repeat(16_384));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 5; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const res = await SELF.fetch(`${ORIGIN}/v1/images/generations`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
    });
    expect(res.status).toBe(413);
  });

  it("wrong method on a known path -> 405 with Allow", async () => {
    for (const [method, path, allow] of [
      ["GET", "/v1/images/generations", "POST"],
      ["PUT", "/v1/images/generations", "POST"],
      ["POST", "/v1/models", "GET, HEAD"],
      ["DELETE", `/v1/images/${"a".repeat(64)}.png`, "GET, HEAD"],
    ]) {
      const res = await SELF.fetch(`${ORIGIN}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get("allow")).toBe(allow);
      expect((await readError(res)).code).toBe("method_not_allowed");
    }
  });

  it("unknown route -> 404 in the envelope", async () => {
    for (const path of [
      // "/" is the home page now (edge/routes/pages); any other unknown path is still a 404.
      "/nope",
      "/v2/images/generations",
      "/v1/images/not-a-key.png",
      `/v1/images/${"a".repeat(64)}.gif`,
    ]) {
      const res = await SELF.fetch(`${ORIGIN}${path}`);
      expect(res.status, path).toBe(404);
      expect((await readError(res)).type).toBe("not_found_error");
    }
  });

  it("every error carries x-request-id", async () => {
    const res = await postGeneration("{");
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
  });
});
