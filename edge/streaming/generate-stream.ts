/**
 * `stream: true` on POST /v1/images/generations: the images of one request as server-sent events (sse.ts).
 * Per image: a cache hit sends one completed event; a miss subscribes to its cacheKey's single flight
 * (the Durable Object fans the flight's events out, so an identical request during a flight joins the same
 * stream), relaying queue position, steps and `partial_images` previews. When every image exists the request is
 * billed once (settlement.ts) and the completed events follow; a failure sends one error event in the envelope
 * and bills nothing; a client that goes away leaves the flight (the last one out cancels the GPU work).
 * @module
 */
import type { Context } from "hono";
import type { GenerationRequest } from "../../shared/api";
import type { ErrorEnvelope } from "../../shared/errors";
import { publicOrigin, readConfig } from "../config";
import { imageCacheStatus } from "../generation/cache-status";
import { flightConcurrency, mapLimited } from "../generation/concurrency";
import { type GenerationPlan, type PlannedImage, servedBase } from "../generation/plan";
import { meteringFailure } from "../middleware/metering";
import type { FlightOutcome } from "../objects/generation";
import type { AppEnv, ServedImage } from "../types";
import { encodeFlightStreamRequest, pickPreviews, readFlightEvents } from "./flight-events";
import "./settlement";
import { type ImageEventFields, SSE_KEEPALIVE, type StreamKind, sseError, sseEvent } from "./sse";

const KEEPALIVE_MS = 10_000;

class StreamFailure extends Error {
  constructor(
    readonly error: ErrorEnvelope["error"],
    readonly retryAfterS?: number,
  ) {
    super(error.message);
  }
}

function outcomeError(outcome: Extract<FlightOutcome, { ok: false }>): ErrorEnvelope["error"] {
  return {
    message: outcome.message,
    type: outcome.status === 503 ? "service_unavailable" : "server_error",
    param: null,
    code: outcome.code,
  };
}

const toB64 = (bytes: Uint8Array) => {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
};

/** `kind`: the event names, `image_generation` (POST /v1/images/generations) or `image_edit` (edits). */
export function streamGeneration(
  c: Context<AppEnv>,
  body: GenerationRequest,
  plan: GenerationPlan,
  kind: StreamKind = "image_generation",
): Response {
  c.set("streamedResponse", true);
  const settlement = c.get("streamSettlement");
  const pricer = c.get("priceServedImages");
  const env = c.env;
  const origin = publicOrigin(readConfig(env), c.req.url);
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const encoder = new TextEncoder();
  let transcript = "";
  let gone = false;
  const subscriptions = new Set<ReadableStream<Uint8Array>>();
  const write = async (text: string, record = true) => {
    if (gone)
      throw new StreamFailure({ message: "client went away", type: "server_error", param: null, code: null });
    if (record) transcript += text;
    // Not awaited: events queue in the stream even while nobody reads (a slow client, a test harness that waits
    // for the request's background work first), so generation and settlement never wait on the reader. A reader
    // that cancelled makes the write reject: the client is gone, so its flights are left.
    writer.write(encoder.encode(text)).catch(() => {
      gone = true;
      for (const s of subscriptions) void s.cancel().catch(() => {});
    });
  };
  const fields: ImageEventFields = {
    created_at: Math.floor(Date.now() / 1000),
    size: `${plan.width}x${plan.height}`,
    quality: plan.quality,
    background: "opaque",
    output_format: body.output_format,
  };
  const partialImages = body.partial_images;

  async function resolve(
    image: PlannedImage,
    imageIndex: number,
  ): Promise<{ served: ServedImage; bytes: Uint8Array }> {
    const { request } = image.job;
    const base = servedBase(image);
    const hit = await env.IMAGES.get(image.cacheKey);
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      return { served: { ...base, cache: "hit", source: "r2", bytes: hit.size }, bytes };
    }
    const stub = env.GENERATION.get(env.GENERATION.idFromName(image.cacheKey));
    const response = await stub.fetch("https://flight/stream", {
      method: "POST",
      body: encodeFlightStreamRequest({ job: image.job, previews: partialImages }),
    });
    if (!response.ok || !response.body) {
      throw new StreamFailure({
        message: "Image generation failed; retry later",
        type: "service_unavailable",
        param: null,
        code: "generation_failed",
      });
    }
    subscriptions.add(response.body);
    let picked: Map<number, number> | null = null;
    const outcome = await readFlightEvents(response.body, async (event) => {
      if (event.type === "step") {
        await write(
          sseEvent({
            type: `${kind}.progress`,
            step: event.step,
            total: event.total,
            queue_position: null,
            image_index: imageIndex,
          }),
          false,
        );
      } else if (event.type === "queued") {
        await write(
          sseEvent({
            type: `${kind}.progress`,
            step: 0,
            total: request.steps,
            queue_position: event.position,
            image_index: imageIndex,
          }),
          false,
        );
      } else if (event.type === "preview") {
        picked ??= pickPreviews(event.of, partialImages);
        const index = picked.get(event.index);
        if (index === undefined) return;
        await write(
          sseEvent({
            type: `${kind}.partial_image`,
            b64_json: event.b64,
            partial_image_index: index,
            ...fields,
            image_index: imageIndex,
          }),
          false,
        );
      }
    });
    subscriptions.delete(response.body);
    if (!outcome.ok) {
      throw new StreamFailure(
        outcomeError(outcome),
        outcome.status === 503 ? outcome.retryAfterS : undefined,
      );
    }
    const object = await env.IMAGES.get(image.cacheKey);
    if (!object) throw new Error(`image ${image.cacheKey} vanished from R2 right after it was stored`);
    const bytes = new Uint8Array(await object.arrayBuffer());
    return { served: { ...base, cache: "miss", source: outcome.source, bytes: object.size }, bytes };
  }

  async function run(): Promise<void> {
    const keepalive = setInterval(() => void write(SSE_KEEPALIVE, false).catch(() => {}), KEEPALIVE_MS);
    try {
      const results = await mapLimited(plan.images, flightConcurrency(plan.images), resolve);
      const served = results.map((r) => r.served);
      const completed = results.map(({ served: s, bytes }, i) =>
        sseEvent({
          type: `${kind}.completed`,
          b64_json: toB64(bytes),
          ...fields,
          usage: {
            images: 1,
            generated: s.source === "generated" ? 1 : 0,
            pixels: plan.width * plan.height,
            steps: s.steps,
            price_micros: pricer ? pricer([s]) : null,
          },
          image_index: i,
          seed: s.seed,
          url: `${origin}/v1/images/${s.cacheKey}.${s.outputFormat}`,
          cache: imageCacheStatus(s),
        }),
      );
      const events = completed.join("");
      // Bill before the images go out, as the sync path does; the transcript is what a replay streams.
      try {
        await settlement?.settle(
          served,
          new Response(transcript + events, {
            status: 200,
            headers: { "content-type": "text/event-stream" },
          }),
        );
      } catch (error) {
        throw new StreamFailure({ ...meteringFailure(c.var.requestId, error), param: null });
      }
      await write(events).catch(() => {}); // billed: a client gone at this instant still got a cached image
    } catch (err) {
      await settlement?.abandon().catch(() => {});
      for (const s of subscriptions) void s.cancel().catch(() => {});
      if (!gone) {
        const error =
          err instanceof StreamFailure
            ? err.error
            : {
                message: "Image generation failed; retry later",
                type: "server_error",
                param: null,
                code: "generation_failed",
              };
        if (!(err instanceof StreamFailure)) {
          console.error(
            JSON.stringify({
              level: "error",
              msg: "stream_failed",
              requestId: c.var.requestId,
              error: String(err),
            }),
          );
        }
        const retryAfterS = err instanceof StreamFailure ? err.retryAfterS : undefined;
        await write(sseError(error, retryAfterS), false).catch(() => {});
      }
    } finally {
      clearInterval(keepalive);
      writer.close().catch(() => {});
    }
  }

  c.executionCtx.waitUntil(run());
  return new Response(readable, {
    status: 200,
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    },
  });
}
