/**
 * Zod schemas of the public HTTP API (OpenAI-compatible images API plus Z-Image parameters).
 * The edge builds its OpenAPI document from these; clients and tests can import the inferred types.
 * Configured limits (size bounds, prompt length) are checked by the edge on top of these static rules.
 *
 * Every optional parameter is nullable, as in OpenAI's `CreateImageRequest`: `null` means "the default".
 * @module
 */
import { z } from "zod";
import { MAX_SEED, OUTPUT_FORMATS } from "./protocol";
import { DEFAULT_STRENGTH } from "./strength";

/** Width and height must be multiples of this (the VAE downsamples 8x, the DiT patchifies 2x2). */
export const SIZE_MULTIPLE = 16;
/** OpenAI's bound on `n`; a plan may allow fewer (403 `plan_max_images`). */
export const MAX_IMAGES_PER_REQUEST = 10;
/**
 * Ceiling of a prompt, in characters; a deployment may configure a lower one (`MAX_PROMPT_CHARS`, published in
 * /openapi.json). The text encoder reads at most 512 tokens: longer prompts are truncated and say so.
 */
export const MAX_PROMPT_CHARS = 4000;
export const DEFAULT_STEPS = 8;
export const DEFAULT_GUIDANCE_SCALE = 0;
export const DEFAULT_SIZE = "1024x1024";
/** Value of `seed` that asks for a fresh random seed (and therefore, usually, a cache miss). */
export const RANDOM_SEED = "random";

export const QUALITIES = ["low", "medium", "high", "auto", "standard", "hd"] as const;
export type Quality = (typeof QUALITIES)[number];
/**
 * Euler steps each `quality` selects when `steps` is not given. Z-Image-Turbo is distilled for 8 steps;
 * `low` halves them (faster, softer). `steps` wins over `quality`; the steps, not the label, enter the cache key.
 */
export const QUALITY_STEPS: Record<Quality, number> = {
  low: 4,
  medium: 8,
  high: 8,
  auto: 8,
  standard: 8,
  hd: 8,
};
export const BACKGROUNDS = ["auto", "opaque", "transparent"] as const;
export const DEFAULT_OUTPUT_COMPRESSION = 100;

const SIZE_PATTERN = /^(\d{1,5})x(\d{1,5})$/;

/** Parses "WxH" (or "auto" = DEFAULT_SIZE); returns null when malformed. */
export function parseSize(size: string): { width: number; height: number } | null {
  const m = SIZE_PATTERN.exec(size === "auto" ? DEFAULT_SIZE : size);
  if (!m) return null;
  return { width: Number(m[1]), height: Number(m[2]) };
}

/** A nullable parameter with a default: absent or null -> `fallback` (OpenAI marks every option nullable). */
export function withDefault<T extends z.ZodType>(schema: T, fallback: z.output<T>) {
  return schema
    .nullish()
    .default(fallback as never)
    .transform((value) => (value ?? fallback) as z.output<T>);
}

export const imageSizeSchema = z
  .string()
  .regex(/^(auto|\d{1,5}x\d{1,5})$/, 'size must be WIDTHxHEIGHT, e.g. 1024x1024, or "auto"')
  .refine((s) => {
    const p = parseSize(s);
    // A malformed size already failed the pattern: report that issue alone.
    return p === null || (p.width % SIZE_MULTIPLE === 0 && p.height % SIZE_MULTIPLE === 0);
  }, `width and height must be multiples of ${SIZE_MULTIPLE}`)
  .meta({
    description: `WIDTHxHEIGHT in pixels, both multiples of 16 (e.g. 1024x1024, 1536x1024, 1024x1536), or "auto" = ${DEFAULT_SIZE}`,
    example: "1024x1024",
  });

export const seedSchema = z.union([z.number().int().min(0).max(MAX_SEED), z.literal(RANDOM_SEED)]).meta({
  description:
    'Integer 0..2^53-1, or "random" for a fresh random seed. When omitted the seed is derived from the ' +
    "prompt and parameters, so repeating a request returns the cached image. Image i of n uses seed+i.",
});

/**
 * The output options every image route shares (generations now; edits reuse them): how many, how big,
 * how encoded and delivered.
 */
export const imageOutputFields = {
  n: withDefault(z.number().int().min(1).max(MAX_IMAGES_PER_REQUEST), 1).meta({
    description: `Number of images, 1-${MAX_IMAGES_PER_REQUEST} (a plan may allow fewer). Image i uses seed + i.`,
  }),
  size: withDefault(imageSizeSchema, "auto"),
  quality: withDefault(z.enum(QUALITIES), "auto").meta({
    description:
      "Selects the number of denoising steps when `steps` is not given: low = 4, every other value = 8 " +
      "(the steps Z-Image-Turbo is distilled for).",
  }),
  response_format: withDefault(z.enum(["url", "b64_json"]), "url"),
  output_format: withDefault(z.enum(OUTPUT_FORMATS), "png"),
  output_compression: z
    .number()
    .int()
    .min(0)
    .max(100)
    .nullish()
    .meta({
      description:
        "Encoder quality 0-100 for jpeg and webp (default 100). Part of the cache key. With png it must be " +
        "omitted, null or 100 (as at OpenAI, png has no compression setting).",
    }),
  background: withDefault(z.enum(BACKGROUNDS), "auto").meta({
    description: '"auto" and "opaque" give an opaque image; "transparent" is not supported (400).',
  }),
  user: z.string().max(256).nullish().meta({
    description: "End-user id, accepted for OpenAI compatibility; not stored and not part of the cache key.",
  }),
} as const;

export const generationRequestSchema = z
  .strictObject({
    prompt: z
      .string()
      .min(1)
      .max(MAX_PROMPT_CHARS)
      .meta({ description: "Unicode NFC-normalized and trimmed; not empty" }),
    model: z.string().max(128).nullish().meta({ description: "Optional; must name a model from /v1/models" }),
    ...imageOutputFields,
    moderation: withDefault(z.enum(["auto", "low"]), "auto").meta({
      description: "Accepted for OpenAI compatibility; no effect yet (no moderation model runs).",
    }),
    style: z.enum(["vivid", "natural"]).nullish().meta({
      description: "Accepted for OpenAI compatibility (a DALL-E 3 option); no effect on Z-Image.",
    }),
    stream: withDefault(z.boolean(), false).meta({
      description:
        "`true`: answer text/event-stream with OpenAI's image_generation.partial_image / .completed events " +
        "(docs/streaming-jobs-webhooks.md).",
    }),
    partial_images: withDefault(z.number().int().min(0).max(3), 0).meta({
      description: "Partial images to stream (0-3); only used with `stream: true`.",
    }),
    webhook_url: z
      .url()
      .max(2048)
      .nullish()
      .meta({
        description:
          "Makes the request an async job (as `Prefer: respond-async`) and delivers its events there, signed per " +
          "Standard Webhooks (https, public hosts only).",
      }),
    webhook_events: withDefault(z.enum(["completed", "all"]), "completed").meta({
      description:
        "`completed`: the terminal event only (succeeded, failed, cancelled); `all`: every job event.",
    }),
    seed: seedSchema.nullish(),
    steps: z.number().int().min(1).max(50).nullish().meta({
      description: "Denoising steps 1-50; when omitted, `quality` selects them (8 by default).",
    }),
    guidance_scale: withDefault(z.number().min(0).max(20), DEFAULT_GUIDANCE_SCALE),
    negative_prompt: withDefault(z.string().max(MAX_PROMPT_CHARS), ""),
    embed_metadata: withDefault(z.boolean(), false).meta({
      description:
        "Embed the prompt and generation parameters in the image file (EXIF ImageDescription). Off by default: " +
        "image bytes carry no prompt unless asked for. Part of the cache key (other bytes).",
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

export const imageUsageSchema = z
  .object({
    images: z.number().int().meta({ description: "Images delivered" }),
    generated: z.number().int().meta({ description: "Of those, generated on a GPU (the rest: cache hits)" }),
    pixels: z.number().int().meta({ description: "Pixels per image (width x height)" }),
    steps: z.number().int().meta({ description: "Denoising steps per image" }),
    price_micros: z
      .number()
      .int()
      .nullable()
      .meta({ description: "Amount charged, in micro-USD; null where no billing runs" }),
  })
  .meta({
    id: "ImageUsage",
    description: "This API's units (images, pixels, steps, price), not OpenAI's token counts",
  });

export const generationResponseSchema = z
  .object({
    created: z.number().int().meta({ description: "Unix time in seconds" }),
    data: z.array(generatedImageSchema),
    size: z.string().meta({ description: "WIDTHxHEIGHT of every image" }),
    quality: z.enum(QUALITIES),
    output_format: z.enum(OUTPUT_FORMATS),
    background: z.enum(["opaque"]),
    usage: imageUsageSchema,
  })
  .meta({ id: "ImageGenerationResponse" });

export type GenerationResponse = z.infer<typeof generationResponseSchema>;
export type ImageUsage = z.infer<typeof imageUsageSchema>;

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
export type CacheStatus = "HIT" | "MISS" | "COALESCED" | "PARTIAL";

/**
 * POST /v1/images/edits (multipart/form-data, as OpenAI's SDKs send it): the generation fields minus the
 * DALL-E/streaming-only ones, plus `strength`. The input image itself is a file part (`image` or `image[]`),
 * validated by the edge's input decoder, not by this schema; `size: "auto"` (the default) means the input's
 * size, fitted to the deployment's limits and rounded down to multiples of 16.
 */
export const editRequestSchema = generationRequestSchema
  .omit({ style: true })
  .extend({
    strength: withDefault(z.number().gt(0).max(1), DEFAULT_STRENGTH).meta({
      description:
        `How far the input is noised before denoising, (0, 1], default ${DEFAULT_STRENGTH} (as fal). Steps run = ` +
        "steps − int(steps·(1 − strength)) (diffusers' get_timesteps); strength 1 ignores the input's content.",
    }),
    input_fidelity: z.enum(["high", "low"]).nullish().meta({
      description: "Accepted for OpenAI compatibility (gpt-image-1); no effect (strength controls fidelity).",
    }),
  })
  .meta({ id: "ImageEditRequest" });

export type EditRequest = z.infer<typeof editRequestSchema>;
