/**
 * End to end, as a client sees the API: the official `openai` client (only baseURL and apiKey changed) against
 * the real local stack (wrangler dev + GPU function on the tiny model + redis). Every test uses its own
 * prompt/seed so that one test's cache entries cannot stand in for another's generation.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ImageGenerateParams } from "openai/resources/images";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../infra/dev/start-stack";
import { signRequest } from "../../shared/hmac";
import { INFER_PATH } from "../../shared/protocol";
import { awayFromMinuteBoundary } from "../support/minute-window";
import { E2E_PLAN, type E2EStack, startE2EStack } from "./fixture";

const run = promisify(execFile);

let stack: E2EStack;

beforeAll(async () => {
  stack = await startE2EStack();
});

afterAll(async () => {
  await stack?.stop();
});

/** Z-Image extensions (seed, steps) and small sizes go through the client as extra body fields. */
function params(p: { prompt: string; size: string; seed: number; format: "url" | "b64_json" }) {
  return {
    prompt: p.prompt,
    size: p.size,
    response_format: p.format,
    seed: p.seed,
  } as unknown as ImageGenerateParams & { stream?: false };
}

async function decode(bytes: Buffer) {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  return { data, info };
}

describe("images through the official openai client", () => {
  it("has a GPU function that answers the platforms' health checks", async () => {
    for (const path of ["/healthz", "/readyz", "/ping"]) {
      expect((await fetch(`${stack.urls.gpu}${path}`)).status).toBe(200);
    }
  });

  it("passes the runbook's GPU smoke test, which refuses a wrong secret", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gpu-smoke-"));
    const out = join(dir, "smoke.png");
    const smoke = (secret: string) =>
      run(
        process.execPath,
        ["--import", "tsx", "infra/dev/gpu-smoke.ts", "--url", stack.urls.gpu, "--size", "64", "--out", out],
        {
          cwd: REPO_ROOT,
          env: { ...process.env, GPU_HMAC_SECRET: secret },
        },
      );
    const { stdout } = await smoke(stack.hmacSecret);
    expect(stdout).toContain(`model revision: ${stack.modelRevision}`);
    expect((await sharp(out).metadata()).width).toBe(64);
    const refused = await smoke("a-wrong-secret-of-enough-length").then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(refused?.code).toBe(1);
    expect(refused?.stderr).toContain("/v1/infer answered 401");
    rmSync(dir, { recursive: true, force: true });
  });

  it("returns b64_json images that decode to the requested size", async () => {
    const { apiKey } = await stack.newAccount();
    const client = stack.openai(apiKey);
    const result = await client.images.generate(
      params({ prompt: "a red bicycle", size: "64x96", seed: 101, format: "b64_json" }),
    );
    expect(result.data).toHaveLength(1);
    const bytes = Buffer.from(result.data?.[0].b64_json ?? "", "base64");
    const meta = await sharp(bytes).metadata();
    expect(meta.format).toBe("png");
    expect([meta.width, meta.height]).toEqual([64, 96]);
    const { data } = await decode(bytes);
    // Not a blank canvas: the pixels vary.
    expect(new Set(data).size).toBeGreaterThan(8);
  });

  it("returns a URL that serves the same image, and a repeat is a cache hit with no GPU call", async () => {
    const { apiKey } = await stack.newAccount();
    const client = stack.openai(apiKey);
    const request = params({ prompt: "a blue kite over hills", size: "80x64", seed: 202, format: "url" });

    const gpuBefore = await stack.gpuMetric("zi_requests_total");
    const first = await client.images.generate(request).withResponse();
    expect(first.response.headers.get("x-cache")).toBe("MISS");
    expect(await stack.gpuMetric("zi_requests_total")).toBe(gpuBefore + 1);
    const afterMiss = await stack.usage(apiKey);
    expect(afterMiss).toMatchObject({ images: 1, generated: 1, cache_hits: 0 });
    expect(afterMiss.amount_micros).toBeGreaterThanOrEqual(E2E_PLAN.image_base_micros);

    const url = first.data.data?.[0].url ?? "";
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\/images\/[0-9a-f]{64}\.png$/);
    const served = await fetch(url);
    expect(served.status).toBe(200);
    expect(served.headers.get("content-type")).toBe("image/png");
    const bytes = Buffer.from(await served.arrayBuffer());
    const meta = await sharp(bytes).metadata();
    expect([meta.width, meta.height]).toEqual([80, 64]);
    expect(url).toContain(
      await stack.cacheKeyOf({ prompt: "a blue kite over hills", width: 80, height: 64, seed: 202 }),
    );

    const repeat = await client.images.generate(request).withResponse();
    expect(repeat.response.headers.get("x-cache")).toBe("HIT");
    expect(repeat.data.data?.[0].url).toBe(url);
    expect(await stack.gpuMetric("zi_requests_total")).toBe(gpuBefore + 1);
    // The hit's ledger row is priced at the plan's cache-hit price, not as a generation.
    expect(await stack.usage(apiKey)).toMatchObject({
      images: 2,
      generated: 1,
      cache_hits: 1,
      amount_micros: afterMiss.amount_micros + E2E_PLAN.cache_hit_micros,
    });

    // The same request as b64_json is also a hit, with byte-identical content.
    const inline = await client.images
      .generate(params({ prompt: "a blue kite over hills", size: "80x64", seed: 202, format: "b64_json" }))
      .withResponse();
    expect(inline.response.headers.get("x-cache")).toBe("HIT");
    expect(Buffer.from(inline.data.data?.[0].b64_json ?? "", "base64").equals(bytes)).toBe(true);

    expect(await stack.usage(apiKey)).toMatchObject({
      images: 3,
      generated: 1,
      cache_hits: 2,
      amount_micros: afterMiss.amount_micros + 2 * E2E_PLAN.cache_hit_micros,
    });
  });

  it("computes concurrent identical requests once", async () => {
    const { apiKey } = await stack.newAccount();
    const client = stack.openai(apiKey);
    const request = params({ prompt: "five identical lanterns", size: "64x64", seed: 303, format: "url" });
    const gpuBefore = await stack.gpuMetric("zi_requests_total");

    const results = await Promise.all(Array.from({ length: 5 }, () => client.images.generate(request)));
    const urls = new Set(results.map((r) => r.data?.[0].url));
    expect(urls.size).toBe(1);
    expect(await stack.gpuMetric("zi_requests_total")).toBe(gpuBefore + 1);
    const usage = await stack.usage(apiKey);
    expect(usage.images).toBe(5);
  });

  it("gives identical bytes when the same image is computed again", async () => {
    const { apiKey } = await stack.newAccount();
    const client = stack.openai(apiKey);
    const result = await client.images.generate(
      params({ prompt: "a lighthouse at dawn", size: "64x64", seed: 404, format: "b64_json" }),
    );
    const viaApi = Buffer.from(result.data?.[0].b64_json ?? "", "base64");

    // Recompute twice on the GPU function itself (a signed internal request, bypassing the cache).
    const recompute = async (id: string) => {
      const body = JSON.stringify({
        request_id: id,
        prompt: "a lighthouse at dawn",
        negative_prompt: "",
        width: 64,
        height: 64,
        steps: 8,
        guidance_scale: 0,
        seed: 404,
        output_format: "png",
      });
      const headers = await signRequest({
        secret: stack.hmacSecret,
        method: "POST",
        path: INFER_PATH,
        body,
        audience: stack.urls.gpu,
      });
      const response = await fetch(`${stack.urls.gpu}${INFER_PATH}`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body,
      });
      expect(response.status).toBe(200);
      return Buffer.from(await response.arrayBuffer());
    };
    const again = await recompute("e2e-determinism-1");
    const third = await recompute("e2e-determinism-2");
    expect(again.equals(viaApi)).toBe(true);
    expect(third.equals(viaApi)).toBe(true);
  });

  it("caches each of n images on its own: a request overlapping an earlier one is a partial hit", async () => {
    const { apiKey } = await stack.newAccount();
    const client = stack.openai(apiKey);
    await client.images.generate(params({ prompt: "two moons", size: "64x64", seed: 808, format: "url" }));
    const gpuBefore = await stack.gpuMetric("zi_requests_total");
    const both = await client.images
      .generate({ ...params({ prompt: "two moons", size: "64x64", seed: 808, format: "url" }), n: 2 })
      .withResponse();
    expect(both.response.headers.get("x-cache")).toBe("PARTIAL");
    expect(both.data.data?.map((image) => (image as { seed?: number }).seed)).toEqual([808, 809]);
    expect(await stack.gpuMetric("zi_requests_total")).toBe(gpuBefore + 1);
    expect(await stack.usage(apiKey)).toMatchObject({ images: 3, generated: 2, cache_hits: 1 });
  });

  it("serves jpeg and webp with their content types", async () => {
    const { apiKey } = await stack.newAccount();
    const client = stack.openai(apiKey);
    for (const format of ["jpeg", "webp"] as const) {
      const result = await client.images.generate({
        ...params({ prompt: `a ${format} fox`, size: "64x64", seed: 909, format: "url" }),
        output_format: format,
      });
      const url = result.data?.[0].url ?? "";
      expect(url.endsWith(`.${format}`)).toBe(true);
      const served = await fetch(url);
      expect(served.headers.get("content-type")).toBe(`image/${format}`);
      expect((await sharp(Buffer.from(await served.arrayBuffer())).metadata()).format).toBe(format);
    }
  });

  it("replays an Idempotency-Key without generating or billing again", async () => {
    const { apiKey } = await stack.newAccount();
    const client = stack.openai(apiKey);
    const request = params({ prompt: "an idempotent teapot", size: "64x64", seed: 505, format: "b64_json" });
    const headers = { "Idempotency-Key": `e2e-${Date.now()}` };

    const first = await client.images.generate(request, { headers }).withResponse();
    const gpuAfterFirst = await stack.gpuMetric("zi_requests_total");
    const replay = await client.images.generate(request, { headers }).withResponse();
    expect(replay.response.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.data).toEqual(first.data);
    expect(await stack.gpuMetric("zi_requests_total")).toBe(gpuAfterFirst);
    expect(await stack.usage(apiKey)).toMatchObject({ images: 1, generated: 1, cache_hits: 0 });
  });

  it("takes OpenAI's parameters as an OpenAI app sends them and answers with OpenAI's optional fields", async () => {
    const { apiKey } = await stack.newAccount();
    const client = stack.openai(apiKey);
    const { data: result, response } = await client.images
      .generate({
        prompt: "an orange kite",
        size: "64x64" as "1024x1024",
        n: 2,
        quality: "low",
        output_format: "jpeg",
        output_compression: 70,
        background: "auto",
        moderation: "auto",
        response_format: "b64_json",
        user: "app-user-1",
        stream: false,
        style: null,
      })
      .withResponse();
    expect(result.data).toHaveLength(2);
    expect(result).toMatchObject({
      size: "64x64",
      quality: "low",
      output_format: "jpeg",
      background: "opaque",
    });
    expect((result.usage as unknown as Record<string, number>).steps).toBe(4);
    const meta = await sharp(Buffer.from(result.data?.[0].b64_json ?? "", "base64")).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", 64, 64]);
    expect(response.headers.get("x-ratelimit-limit-requests")).toBe(String(E2E_PLAN.requests_per_minute));
    expect(response.headers.get("x-ratelimit-reset-requests")).toMatch(/^\d+(ms|s)$|^\d+m\d+s$/);

    const model = await client.models.retrieve("z-image-turbo");
    expect(model).toMatchObject({ id: "z-image-turbo", object: "model" });
  });

  it("answers a wrong method with 405 before anything else, even a GET with a JSON body", async () => {
    // A raw request: fetch() refuses to send a GET with a body, a hand-written client does not.
    const { apiKey } = await stack.newAccount();
    const body = JSON.stringify({ prompt: "x", size: "64x64" });
    const { hostname: host, port } = new URL(stack.urls.edge);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), host, () => {
        socket.end(
          `GET /v1/images/generations HTTP/1.1\r\nHost: ${host}:${port}\r\nAuthorization: Bearer ${apiKey}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
        );
      });
      let text = "";
      socket.on("data", (chunk) => {
        text += chunk;
      });
      socket.on("end", () => resolve(text));
      socket.on("error", reject);
    });
    expect(answer.split("\r\n")[0]).toBe("HTTP/1.1 405 Method Not Allowed");
    expect(answer).toContain('"code":"method_not_allowed"');
    expect((await fetch(`${stack.urls.edge}/healthz`)).status).toBe(200);
  });

  it("answers an invalid key with 401", async () => {
    const client = stack.openai("zi_live_0000000000000000000000000000000x");
    const error = await client.models.list().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as { status?: number }).status).toBe(401);
    const raw = await fetch(`${stack.urls.edge}/v1/images/generations`, {
      method: "POST",
      headers: { authorization: "Bearer not-a-key", "content-type": "application/json" },
      body: JSON.stringify({ prompt: "x", size: "64x64" }),
    });
    expect(raw.status).toBe(401);
    expect(((await raw.json()) as { error: { type: string } }).error.type).toBeTruthy();
  });

  it("answers over the plan's request limit with 429 and rate-limit headers", async () => {
    await stack.admin.putPlan("e2e-tiny", { ...E2E_PLAN, name: "E2E tiny", requests_per_minute: 2 });
    const { apiKey } = await stack.newAccount("e2e-tiny");
    await awayFromMinuteBoundary(15_000);
    const call = () =>
      fetch(`${stack.urls.edge}/v1/models`, { headers: { authorization: `Bearer ${apiKey}` } });

    const first = await call();
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit")).toBe("2");
    expect(first.headers.get("x-ratelimit-remaining")).toBe("1");
    expect((await call()).status).toBe(200);
    const limited = await call();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(limited.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(limited.headers.get("ratelimit-policy")).toContain('"requests";q=2;w=60');

    // The official client surfaces it as a 429 error (retries disabled so the test does not wait).
    const error = await stack
      .openai(apiKey)
      .models.list()
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect((error as { status?: number }).status).toBe(429);
  });

  it("answers past the plan's daily image quota with 429 and tells the client not to retry", async () => {
    await stack.admin.putPlan("e2e-one-image", {
      ...E2E_PLAN,
      name: "E2E one image a day",
      images_per_day: 1,
    });
    const { apiKey } = await stack.newAccount("e2e-one-image");
    const client = stack.openai(apiKey);
    const first = await client.images
      .generate(params({ prompt: "the only image today", size: "64x64", seed: 707, format: "url" }))
      .withResponse();
    expect(first.response.headers.get("x-ratelimit-remaining-images")).toBe("0");

    const error = (await client.images
      .generate(params({ prompt: "one image too many", size: "64x64", seed: 708, format: "url" }))
      .then(
        () => null,
        (e: unknown) => e,
      )) as { status?: number; headers?: Headers } | null;
    expect(error?.status).toBe(429);
    expect(error?.headers?.get("x-should-retry")).toBe("false");
    expect(error?.headers?.get("x-ratelimit-limit-images")).toBe("1");
    expect(await stack.usage(apiKey)).toMatchObject({ images: 1 });
  });
});
