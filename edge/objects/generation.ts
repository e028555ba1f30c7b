/**
 * Single flight per cacheKey: the Worker routes every cache miss to the Durable Object named by the cacheKey,
 * so N concurrent identical misses reach one instance, which makes one GPU call, stores the image in R2 and
 * answers all N. The flight is kept in memory only while it runs; afterwards R2 is the source of truth.
 *
 * Waiters are sync callers (`generate`, RPC) and stream subscribers (`fetch` POST /stream: NDJSON FlightEvents,
 * edge/streaming/flight-events.ts). Every waiter gets the flight's outcome at the same moment, and its progress
 * (queued, steps, previews) as it happens; a late subscriber first gets the previews already made. When the
 * last waiter leaves (only stream subscribers can: an RPC caller is held until the outcome), the GPU call is
 * aborted, so the GPU function drops the job, and nothing is stored.
 * @module
 */
import { DurableObject } from "cloudflare:workers";
import { CACHE_KEY_VERSION } from "../../shared/cache-key";
import { type InferRequest, MAX_PREVIEWS } from "../../shared/protocol";
import { headImage, type ImageMetadata, putImage } from "../cache/image-store";
import { readConfig } from "../config";
import { gpuClientFor } from "../gpu/shared-client";
import { decodeFlightStreamRequest, encodeFlightEvent, type FlightEvent } from "../streaming/flight-events";

export interface GenerationJob {
  cacheKey: string;
  request: Omit<InferRequest, "deadline_ms">;
  modelRevision: string;
  /**
   * Image-to-image: the normalised RGB8 input (`request.init_image` describes it). Held only in memory while
   * the flight runs, sent to the GPU in the signed frame, never written to R2 or logs.
   */
  initPixels?: Uint8Array;
  /** Hash of initPixels (cache-key field), kept in the stored image's metadata instead of the pixels. */
  initImageHash?: string;
}

export type FlightOutcome =
  | {
      ok: true;
      source: "generated" | "coalesced" | "cached";
      etag: string;
      size: number;
      promptTruncated: boolean;
    }
  | { ok: false; status: 502 | 503; retryAfterS: number; message: string; code: string };

type LeaderOutcome = Exclude<FlightOutcome, { source: "coalesced" }>;

interface Flight {
  outcome: Promise<LeaderOutcome>;
  /** Previews asked of the GPU: the `partial_images` of the stream that started the flight (0 for sync). */
  previews: number;
  listeners: Set<(event: FlightEvent) => void>;
  /** Previews made so far, by index (a retried attempt does not repeat an index already sent). */
  previewsMade: Extract<FlightEvent, { type: "preview" }>[];
  waiters: number;
  abort: AbortController;
}

const encoder = new TextEncoder();

export class GenerationObject extends DurableObject<Env> {
  #flight: Flight | null = null;

  /** Returns once the image for `job.cacheKey` is in R2 (or generation failed). */
  async generate(job: GenerationJob): Promise<FlightOutcome> {
    const { flight, leader } = this.#join(job, 0);
    try {
      const outcome = await flight.outcome;
      return outcome.ok && !leader ? { ...outcome, source: "coalesced" } : outcome;
    } finally {
      this.#leave(flight);
    }
  }

  /** POST /stream with a FlightStreamRequest: the flight's events as NDJSON, ending with one `done` event. */
  override async fetch(request: Request): Promise<Response> {
    if (request.method !== "POST" || new URL(request.url).pathname !== "/stream") {
      return new Response("not found", { status: 404 });
    }
    const { job, previews } = decodeFlightStreamRequest(new Uint8Array(await request.arrayBuffer()));
    const { flight, leader } = this.#join(job, Math.min(previews, MAX_PREVIEWS));
    let listener: ((event: FlightEvent) => void) | null = null;
    let left = false;
    const leave = () => {
      if (left) return;
      left = true;
      if (listener) flight.listeners.delete(listener);
      this.#leave(flight);
    };
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        const send = (event: FlightEvent) => {
          if (!left) controller.enqueue(encoder.encode(encodeFlightEvent(event)));
        };
        for (const preview of flight.previewsMade) send(preview);
        listener = send;
        flight.listeners.add(send);
        flight.outcome.then(
          (outcome) => {
            send({
              type: "done",
              outcome: outcome.ok && !leader ? { ...outcome, source: "coalesced" } : outcome,
            });
            // A subscriber that went away cancelled the stream already: there is nothing to close.
            const cancelled = left;
            leave();
            if (!cancelled) controller.close();
          },
          () => {}, // #run never rejects
        );
      },
      cancel: leave,
    });
    return new Response(stream, { headers: { "content-type": "application/x-ndjson" } });
  }

  #join(job: GenerationJob, previews: number): { flight: Flight; leader: boolean } {
    // A flight whose waiters all left is being aborted: a newcomer starts a fresh one instead of its 503.
    if (this.#flight && !this.#flight.abort.signal.aborted) {
      this.#flight.waiters++;
      return { flight: this.#flight, leader: false };
    }
    const flight: Flight = {
      outcome: Promise.resolve(null as unknown as LeaderOutcome),
      previews,
      listeners: new Set(),
      previewsMade: [],
      waiters: 1,
      abort: new AbortController(),
    };
    this.#flight = flight;
    flight.outcome = this.#run(job, flight).finally(() => {
      if (this.#flight === flight) this.#flight = null;
    });
    return { flight, leader: true };
  }

  #leave(flight: Flight): void {
    flight.waiters--;
    // Nobody waits any more (every stream subscriber went away): stop the GPU work.
    if (flight.waiters <= 0) flight.abort.abort();
  }

  #emit(flight: Flight, event: FlightEvent): void {
    for (const listener of flight.listeners) listener(event);
  }

  async #run(job: GenerationJob, flight: Flight): Promise<LeaderOutcome> {
    const existing = await headImage(this.env.IMAGES, job.cacheKey);
    if (existing) return { ok: true, source: "cached", ...existing, promptTruncated: false };

    const outcome = await gpuClientFor(readConfig(this.env)).infer(job.request, {
      ...(job.initPixels ? { initPixels: job.initPixels } : {}),
      previews: flight.previews,
      signal: flight.abort.signal,
      onEvent: (event) => {
        if (event.type === "queued" || event.type === "heartbeat") {
          if (event.position > 0) this.#emit(flight, { type: "queued", position: event.position });
        } else if (event.type === "step") {
          this.#emit(flight, { type: "step", step: event.step, total: event.total, attempt: event.attempt });
        } else if (event.type === "preview" && !flight.previewsMade.some((p) => p.index === event.index)) {
          const preview: Extract<FlightEvent, { type: "preview" }> = {
            type: "preview",
            index: event.index,
            of: flight.previews,
            b64: event.b64,
          };
          flight.previewsMade.push(preview);
          this.#emit(flight, preview);
        }
      },
    });
    if (!outcome.ok) {
      console.warn(
        JSON.stringify({
          level: "warn",
          msg: "gpu_failed",
          requestId: job.request.request_id,
          attempts: outcome.attempts,
        }),
      );
      const { status, retryAfterS, message, code } = outcome;
      return { ok: false, status, retryAfterS, message, code };
    }
    const { image } = outcome;
    const r = job.request;
    const meta: ImageMetadata = {
      cacheKeyVersion: CACHE_KEY_VERSION,
      modelRevision: job.modelRevision,
      prompt: r.prompt,
      negativePrompt: r.negative_prompt,
      width: r.width,
      height: r.height,
      steps: r.steps,
      guidanceScale: r.guidance_scale,
      seed: r.seed,
      outputFormat: r.output_format,
      outputQuality: r.quality ?? null,
      promptTruncated: image.promptTruncated,
      requestId: r.request_id,
      ...(r.init_image && job.initImageHash
        ? { init: { imageHash: job.initImageHash, strength: r.init_image.strength } }
        : {}),
    };
    const stored = await putImage(this.env.IMAGES, job.cacheKey, image.bytes, image.contentType, meta);
    return { ok: true, source: "generated", ...stored, promptTruncated: image.promptTruncated };
  }
}
