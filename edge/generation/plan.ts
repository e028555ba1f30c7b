/**
 * Turns a validated public request into per-image work: config bounds, canonical text, seeds, cache keys.
 * @module
 */
import type { GenerationRequest, Quality } from "../../shared/api";
import { DEFAULT_OUTPUT_COMPRESSION, parseSize, QUALITY_STEPS, RANDOM_SEED } from "../../shared/api";
import { normalizeText } from "../../shared/cache-key";
import { privateCacheKey } from "../../shared/private-cache-key";
import { MAX_SEED } from "../../shared/protocol";
import { deriveSeed, randomSeed } from "../../shared/seed";
import { stepsRun } from "../../shared/strength";
import type { EdgeConfig } from "../config";
import { ApiError } from "../errors";
import type { GenerationJob } from "../objects/generation";
import { cacheKeySecret } from "../privacy/cache-secret";

export interface PlannedImage {
  index: number;
  cacheKey: string;
  seed: number;
  job: GenerationJob;
}

/**
 * What a served image is billed and reported as, before it is known whether it came from the cache: its key,
 * seed, size, format and steps (all of them for text-to-image, those after the start step for an edit).
 */
export function servedBase(image: PlannedImage) {
  const { request } = image.job;
  return {
    cacheKey: image.cacheKey,
    seed: image.seed,
    width: request.width,
    height: request.height,
    steps: stepsRun(request.steps, request.init_image?.strength),
    outputFormat: request.output_format,
  };
}

export interface GenerationPlan {
  width: number;
  height: number;
  steps: number;
  quality: Quality;
  images: PlannedImage[];
}

function invalid(message: string, param: string, code: string): ApiError {
  return new ApiError("invalid_request_error", message, { param, code });
}

/**
 * The encoder quality a request asks for: `output_compression` for jpeg/webp (sharp's quality is 1-100, so 0
 * encodes as 1), null for png, which has none (a value other than 100 is refused, as OpenAI does).
 */
function outputQuality(body: GenerationRequest): number | null {
  if (body.output_format === "png") {
    if (body.output_compression != null && body.output_compression !== DEFAULT_OUTPUT_COMPRESSION) {
      throw invalid(
        "output_compression is only supported for the jpeg and webp output formats",
        "output_compression",
        "unsupported_value",
      );
    }
    return null;
  }
  return Math.max(1, body.output_compression ?? DEFAULT_OUTPUT_COMPRESSION);
}

/** Options OpenAI defines that this model cannot honour: a clear 400 naming the parameter. */
function refuseUnsupported(body: GenerationRequest): void {
  if (body.background === "transparent") {
    throw invalid(
      'background "transparent" is not supported: Z-Image renders opaque images (use "auto" or "opaque")',
      "background",
      "unsupported_value",
    );
  }
}

/** Image-to-image: the normalised input (edge/images-input) and its strength. */
export interface PlanInit {
  image: { width: number; height: number; rgb: Uint8Array; hash: string };
  strength: number;
}

/**
 * Applies the deployment's limits on top of the schema and derives one job per image. With `init`
 * (POST /v1/images/edits) every job also carries the input pixels, and the cache key the input's hash.
 */
export async function planGeneration(
  body: GenerationRequest,
  config: EdgeConfig,
  requestId: string,
  init?: PlanInit,
): Promise<GenerationPlan> {
  refuseUnsupported(body);
  if (body.model != null && body.model !== config.modelId) {
    throw new ApiError(
      "invalid_request_error",
      `Unknown model '${body.model}'; GET /v1/models lists models`,
      {
        param: "model",
        code: "model_not_found",
      },
    );
  }
  const prompt = normalizeText(body.prompt);
  const negativePrompt = normalizeText(body.negative_prompt);
  if (prompt.length === 0)
    throw invalid("prompt must not be empty or only whitespace", "prompt", "empty_prompt");
  if (prompt.length > config.maxPromptChars) {
    throw invalid(`prompt is longer than ${config.maxPromptChars} characters`, "prompt", "prompt_too_long");
  }
  if (negativePrompt.length > config.maxPromptChars) {
    throw invalid(
      `negative_prompt is longer than ${config.maxPromptChars} characters`,
      "negative_prompt",
      "prompt_too_long",
    );
  }
  const size = parseSize(body.size);
  const { minImageSide: min, maxImageSide: max } = config;
  if (!size || [size.width, size.height].some((side) => side < min || side > max)) {
    throw invalid(`width and height must be between ${min} and ${max}`, "size", "size_out_of_range");
  }

  const steps = body.steps ?? QUALITY_STEPS[body.quality];
  // A tiny strength can round t_start up to all of the steps (8 · 5e-324 vanishes next to 8): nothing would run.
  if (init && stepsRun(steps, init.strength) < 1) {
    throw invalid(
      `strength ${init.strength} with ${steps} steps runs no denoising step`,
      "strength",
      "strength_too_small",
    );
  }
  const quality = outputQuality(body);
  const params = { prompt, negativePrompt, ...size, steps, guidanceScale: body.guidance_scale };
  let baseSeed: number;
  if (body.seed == null) baseSeed = await deriveSeed(params);
  else if (body.seed === RANDOM_SEED) baseSeed = randomSeed();
  else baseSeed = body.seed;
  // Written as a subtraction: baseSeed + n - 1 can round back to MAX_SEED above 2^53.
  if (baseSeed > MAX_SEED - (body.n - 1)) {
    throw invalid(`seed + n - 1 must not exceed ${MAX_SEED}`, "seed", "seed_out_of_range");
  }

  // Keyed with the server secret: the URL of an image cannot be computed from a guessed prompt (docs/privacy.md).
  const keyOptions = { secret: await cacheKeySecret(config), embedMetadata: body.embed_metadata };
  const images = await Promise.all(
    Array.from({ length: body.n }, async (_, index): Promise<PlannedImage> => {
      const seed = baseSeed + index;
      const canonical = {
        modelRevision: config.modelRevision,
        ...params,
        seed,
        outputFormat: body.output_format,
        outputQuality: quality,
        ...(init ? { init: { imageHash: init.image.hash, strength: init.strength } } : {}),
      };
      const key = await privateCacheKey(canonical, keyOptions);
      return {
        index,
        cacheKey: key,
        seed,
        job: {
          cacheKey: key,
          modelRevision: config.modelRevision,
          request: {
            request_id: `${requestId}-${index}`,
            prompt,
            negative_prompt: negativePrompt,
            width: size.width,
            height: size.height,
            steps,
            guidance_scale: body.guidance_scale,
            seed,
            output_format: body.output_format,
            ...(quality === null ? {} : { quality }),
            embed_metadata: body.embed_metadata,
            ...(init
              ? {
                  init_image: {
                    format: "rgb8" as const,
                    width: init.image.width,
                    height: init.image.height,
                    strength: init.strength,
                  },
                }
              : {}),
          },
          ...(init ? { initPixels: init.image.rgb, initImageHash: init.image.hash } : {}),
        },
      };
    }),
  );
  return { ...size, steps, quality: body.quality, images };
}
