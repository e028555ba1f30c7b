/**
 * POST /v1/images/generations: per image, an R2 lookup by cacheKey; misses go through the single-flight
 * Durable Object of that cacheKey. Answers `{created, data, size, quality, output_format, background, usage}` with
 * `x-cache: HIT|MISS|COALESCED|PARTIAL` (see `cacheStatus`).
 * @module
 */
import { createRoute, type RouteHandler, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { encodeBase64 } from "hono/utils/encode";
import {
  type GenerationRequest,
  generationRequestSchema,
  generationResponseSchema,
} from "../../../shared/api";
import { errorEnvelopeSchema } from "../../../shared/errors";
import { publicOrigin, readConfig } from "../../config";
import { ApiError } from "../../errors";
import { cacheStatus } from "../../generation/cache-status";
import { flightConcurrency, mapLimited } from "../../generation/concurrency";
import { type GenerationPlan, type PlannedImage, planGeneration, servedBase } from "../../generation/plan";
import { createJob, parsePrefer } from "../../jobs/create";
import { jsonBody } from "../../middleware/json-body";
import type { FlightOutcome } from "../../objects/generation";
import { streamGeneration } from "../../streaming/generate-stream";
import type { StreamKind } from "../../streaming/sse";
import type { AppEnv, ServedImage } from "../../types";

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: errorEnvelopeSchema } },
});

export const generateImagesRoute = createRoute({
  method: "post",
  path: "/v1/images/generations",
  summary: "Generate images (OpenAI-compatible)",
  middleware: [jsonBody({ maxBytes: (c) => readConfig(c.env).maxBodyBytes })] as const,
  request: {
    body: { required: true, content: { "application/json": { schema: generationRequestSchema } } },
  },
  responses: {
    200: {
      description:
        "Images, each with its seed; `x-cache` says whether they came from the cache. With `stream: true`: " +
        "server-sent events (image_generation.partial_image / .completed, docs/streaming-jobs-webhooks.md)",
      content: {
        "application/json": { schema: generationResponseSchema },
        "text/event-stream": { schema: z.string() },
      },
    },
    400: errorResponse("Invalid request"),
    413: errorResponse("Body too large"),
    415: errorResponse("Content-Type is not application/json"),
    502: errorResponse("A GPU backend rejected the request"),
    503: errorResponse("No GPU backend available; see Retry-After"),
  },
});

type Env = AppEnv["Bindings"];

interface ServedResult {
  served: ServedImage;
  bytes?: Uint8Array;
}

async function readBytes(env: Env, key: string): Promise<Uint8Array> {
  const object = await env.IMAGES.get(key);
  if (!object) throw new Error(`image ${key} vanished from R2 right after it was stored`);
  return new Uint8Array(await object.arrayBuffer());
}

/** One image: from R2 if cached, else through the single flight of its cacheKey (also used by edits.ts). */
export async function resolveImage(env: Env, image: PlannedImage, wantBytes: boolean): Promise<ServedResult> {
  const base = servedBase(image);
  // A hit needs one R2 call: the whole object when bytes are wanted, else only its head.
  if (wantBytes) {
    const object = await env.IMAGES.get(image.cacheKey);
    if (object) {
      const bytes = new Uint8Array(await object.arrayBuffer());
      return { served: { ...base, cache: "hit", source: "r2", bytes: object.size }, bytes };
    }
  } else {
    const head = await env.IMAGES.head(image.cacheKey);
    if (head) return { served: { ...base, cache: "hit", source: "r2", bytes: head.size } };
  }

  const stub = env.GENERATION.get(env.GENERATION.idFromName(image.cacheKey));
  let outcome: FlightOutcome;
  try {
    outcome = await stub.generate(image.job);
  } catch (err) {
    // The Durable Object itself failed (reset, overloaded, storage error): transient for the client.
    console.error(
      JSON.stringify({ level: "error", msg: "flight_failed", cacheKey: image.cacheKey, error: String(err) }),
    );
    throw new ApiError("service_unavailable", "Image generation failed; retry later", {
      code: "generation_failed",
      headers: { "retry-after": "1" },
    });
  }
  if (!outcome.ok) {
    throw outcome.status === 503
      ? new ApiError("service_unavailable", outcome.message, {
          code: outcome.code,
          headers: { "retry-after": String(outcome.retryAfterS) },
        })
      : new ApiError("server_error", outcome.message, { status: 502, code: outcome.code });
  }
  const bytes = wantBytes ? await readBytes(env, image.cacheKey) : undefined;
  return { served: { ...base, cache: "miss", source: outcome.source, bytes: outcome.size }, bytes };
}

export const generateImages: RouteHandler<typeof generateImagesRoute, AppEnv> = async (c) => {
  const body = c.req.valid("json");
  const plan = await planGeneration(body, readConfig(c.env), c.var.requestId);
  return (await answerRequest(c, body, plan, "image_generation")) as never;
};

/**
 * The three ways a planned request (generation or edit) is answered: `stream: true` -> server-sent events on
 * this connection; `Prefer: respond-async` / `wait=N` or a `webhook_url` -> an async job (202 + Location);
 * otherwise the images, synchronously.
 */
export async function answerRequest(
  c: Context<AppEnv>,
  body: GenerationRequest,
  plan: GenerationPlan,
  kind: StreamKind,
): Promise<Response> {
  // A stream is answered on this connection; a webhook needs a job. Both at once would drop the webhook.
  if (body.stream && body.webhook_url) {
    throw new ApiError("invalid_request_error", "stream: true and webhook_url exclude each other; send one", {
      param: "webhook_url",
      code: "unsupported_value",
    });
  }
  // text/event-stream (edge/streaming/): returned as is; the OpenAPI route types only the JSON answer.
  if (body.stream) return streamGeneration(c, body, plan, kind);
  // Prefer: respond-async / wait=N: an async job (edge/jobs/), answered 202 + Location.
  // A webhook_url makes it a job too.
  const prefer = parsePrefer(c.req.header("prefer")) ?? (body.webhook_url ? { wait: 0 } : null);
  if (prefer) return createJob(c, body, plan, prefer.wait);
  return c.json(await answerPlan(c, body, plan), 200);
}

/**
 * Resolves every planned image (cache or single flight) and builds the response body; records the served
 * images for metering and sets `x-cache`. Shared by generations and edits (edits.ts).
 */
export async function answerPlan(
  c: Context<AppEnv>,
  body: Pick<GenerationRequest, "response_format" | "output_format">,
  plan: GenerationPlan,
) {
  const config = readConfig(c.env);
  const wantBytes = body.response_format === "b64_json";
  const results = await mapLimited(plan.images, flightConcurrency(plan.images), (image) =>
    resolveImage(c.env, image, wantBytes),
  );

  const served = results.map((r) => r.served);
  c.var.servedImages.push(...served);
  const origin = publicOrigin(config, c.req.url);
  const data = results.map(({ served: s, bytes }) =>
    bytes
      ? { b64_json: encodeBase64(bytes.buffer as ArrayBuffer), seed: s.seed }
      : { url: `${origin}/v1/images/${s.cacheKey}.${s.outputFormat}`, seed: s.seed },
  );
  c.header("x-cache", cacheStatus(served));
  const pricer = c.get("priceServedImages");
  return {
    created: Math.floor(Date.now() / 1000),
    data,
    size: `${plan.width}x${plan.height}`,
    quality: plan.quality,
    output_format: body.output_format,
    background: "opaque" as const,
    usage: {
      images: served.length,
      generated: served.filter((s) => s.source === "generated").length,
      pixels: plan.width * plan.height,
      steps: served[0]?.steps ?? plan.steps,
      price_micros: pricer ? pricer(served) : null,
    },
  };
}
