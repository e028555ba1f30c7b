/**
 * Single flight per cacheKey: the Worker routes every cache miss to the Durable Object named by the cacheKey,
 * so N concurrent identical misses reach one instance, which makes one GPU call, stores the image in R2 and
 * answers all N. The flight is kept in memory only while it runs; afterwards R2 is the source of truth.
 * @module
 */
import { DurableObject } from "cloudflare:workers";
import { CACHE_KEY_VERSION } from "../../shared/cache-key";
import type { InferRequest } from "../../shared/protocol";
import { headImage, type ImageMetadata, putImage } from "../cache/image-store";
import { readConfig } from "../config";
import { gpuClientFor } from "../gpu/shared-client";

export interface GenerationJob {
  cacheKey: string;
  request: Omit<InferRequest, "deadline_ms">;
  modelRevision: string;
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

export class GenerationObject extends DurableObject<Env> {
  #flight: Promise<LeaderOutcome> | null = null;

  /** Returns once the image for `job.cacheKey` is in R2 (or generation failed). */
  async generate(job: GenerationJob): Promise<FlightOutcome> {
    if (this.#flight) {
      const outcome = await this.#flight;
      return outcome.ok ? { ...outcome, source: "coalesced" } : outcome;
    }
    this.#flight = this.#run(job);
    try {
      return await this.#flight;
    } finally {
      this.#flight = null;
    }
  }

  async #run(job: GenerationJob): Promise<LeaderOutcome> {
    const existing = await headImage(this.env.IMAGES, job.cacheKey);
    if (existing) return { ok: true, source: "cached", ...existing, promptTruncated: false };

    const outcome = await gpuClientFor(readConfig(this.env)).infer(job.request);
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
    };
    const stored = await putImage(this.env.IMAGES, job.cacheKey, image.bytes, image.contentType, meta);
    return { ok: true, source: "generated", ...stored, promptTruncated: image.promptTruncated };
  }
}
