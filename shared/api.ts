/**
 * Zod schemas of the public HTTP API (OpenAI-compatible images API plus Z-Image parameters).
 * The edge builds its OpenAPI document from these; clients and tests can import the inferred types.
 * Configured limits (size bounds, prompt length) are checked by the edge on top of these static rules.
 * @module
 */
import { z } from "zod";
import { MAX_SEED, OUTPUT_FORMATS } from "./protocol";

/** Width and height must be multiples of this (the VAE downsamples 8x, the DiT patchifies 2x2). */
export const SIZE_MULTIPLE = 16;
export const MAX_IMAGES_PER_REQUEST = 4;
/** Absolute upper bound of a prompt, in characters; a deployment may configure a lower one. */
export const MAX_PROMPT_CHARS = 4000;
export const DEFAULT_STEPS = 8;
export const DEFAULT_GUIDANCE_SCALE = 0;
export const DEFAULT_SIZE = "1024x1024";
/** Value of `seed` that asks for a fresh random seed (and therefore, usually, a cache miss). */
export const RANDOM_SEED = "random";

const SIZE_PATTERN = /^(\d{1,5})x(\d{1,5})$/;

/** Parses "WxH"; returns null when malformed. */
export function parseSize(size: string): { width: number; height: number } | null {
  const m = SIZE_PATTERN.exec(size);
  if (!m) return null;
  return { width: Number(m[1]), height: Number(m[2]) };
}

export const imageSizeSchema = z
  .string()
  .regex(SIZE_PATTERN, "size must be WIDTHxHEIGHT, e.g. 1024x1024")
  .refine((s) => {
    const p = parseSize(s);
    return p !== null && p.width % SIZE_MULTIPLE === 0 && p.height % SIZE_MULTIPLE === 0;
  }, `width and height must be multiples of ${SIZE_MULTIPLE}`)
  .meta({ description: "WIDTHxHEIGHT in pixels, both multiples of 16", example: "1024x1024" });

export const seedSchema = z.union([z.number().int().min(0).max(MAX_SEED), z.literal(RANDOM_SEED)]).meta({
  description:
    'Integer 0..2^53-1, or "random" for a fresh random seed. When omitted the seed is derived from the ' +
    "prompt and parameters, so repeating a request returns the cached image. Image i of n uses seed+i.",
});

export const generationRequestSchema = z
  .strictObject({
    prompt: z.string().min(1).max(MAX_PROMPT_CHARS),
    model: z
      .string()
      .max(128)
      .optional()
      .meta({ description: "Optional; must name a model from /v1/models" }),
    n: z.number().int().min(1).max(MAX_IMAGES_PER_REQUEST).default(1),
    size: imageSizeSchema.default(DEFAULT_SIZE),
    response_format: z.enum(["url", "b64_json"]).default("url"),
    output_format: z.enum(OUTPUT_FORMATS).default("png"),
    user: z.string().max(256).optional(),
    seed: seedSchema.optional(),
    steps: z.number().int().min(1).max(50).default(DEFAULT_STEPS),
    guidance_scale: z.number().min(0).max(20).default(DEFAULT_GUIDANCE_SCALE),
    negative_prompt: z.string().max(MAX_PROMPT_CHARS).default(""),
    embed_metadata: z
      .boolean()
      .default(false)
      .meta({
        description:
          "Embed the prompt and generation parameters in the image file (EXIF ImageDescription). Off by default: " +
          "image bytes carry no prompt unless asked for.",
      }),
  })
  .meta({
    id: "ImageGenerationRequest",
    example: { prompt: "a lighthouse at dawn, watercolor", n: 1, size: "1024x1024" },
  });

export type GenerationRequest = z.infer<typeof generationRequestSchema>;
export type GenerationRequestInput = z.input<typeof generationRequestSchema>;

export const generatedImageSchema = z
  .object({
    url: z.string().optional().meta({ description: "Absolute URL of GET /v1/images/{cacheKey}.{ext}" }),
    b64_json: z.string().optional(),
    seed: z.number().int(),
  })
  .meta({ id: "GeneratedImage" });

export const generationResponseSchema = z
  .object({
    created: z.number().int().meta({ description: "Unix time in seconds" }),
    data: z.array(generatedImageSchema),
  })
  .meta({ id: "ImageGenerationResponse" });

export type GenerationResponse = z.infer<typeof generationResponseSchema>;

export const modelSchema = z
  .object({
    id: z.string(),
    object: z.literal("model"),
    created: z.number().int(),
    owned_by: z.string(),
    revision: z.string(),
  })
  .meta({ id: "Model" });

export const modelListSchema = z
  .object({ object: z.literal("list"), data: z.array(modelSchema) })
  .meta({ id: "ModelList" });

export type ModelList = z.infer<typeof modelListSchema>;

/** Cache status header values of POST /v1/images/generations. */
export type CacheStatus = "HIT" | "MISS" | "PARTIAL";
