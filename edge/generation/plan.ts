/**
 * Turns a validated public request into per-image work: config bounds, canonical text, seeds, cache keys.
 * @module
 */
import type { GenerationRequest } from "../../shared/api";
import { parseSize, RANDOM_SEED } from "../../shared/api";
import { normalizeText } from "../../shared/cache-key";
import { privateCacheKey } from "../../shared/private-cache-key";
import { MAX_SEED } from "../../shared/protocol";
import { deriveSeed, randomSeed } from "../../shared/seed";
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

export interface GenerationPlan {
  width: number;
  height: number;
  images: PlannedImage[];
}

function invalid(message: string, param: string, code: string): ApiError {
  return new ApiError("invalid_request_error", message, { param, code });
}

/** Applies the deployment's limits on top of the schema and derives one job per image. */
export async function planGeneration(
  body: GenerationRequest,
  config: EdgeConfig,
  requestId: string,
): Promise<GenerationPlan> {
  if (body.model !== undefined && body.model !== config.modelId) {
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

  const params = { prompt, negativePrompt, ...size, steps: body.steps, guidanceScale: body.guidance_scale };
  let baseSeed: number;
  if (body.seed === undefined) baseSeed = await deriveSeed(params);
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
            steps: body.steps,
            guidance_scale: body.guidance_scale,
            seed,
            output_format: body.output_format,
            embed_metadata: body.embed_metadata,
          },
        },
      };
    }),
  );
  return { ...size, images };
}
