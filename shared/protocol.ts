/**
 * The edge -> GPU function protocol: `POST /v1/infer`, one image per request, HMAC-signed (see hmac.ts).
 *
 * Success: 200, body = encoded image bytes, `content-type: image/png|jpeg|webp` and the `INFER_HEADERS`.
 * Errors: JSON error envelope (errors.ts); 400/401/422 bad request or signature; 503 + Retry-After when the
 * queue is full, draining or not ready; 504 when the deadline expired; 500 on model failure.
 * @module
 */
import { z } from "zod";

export const MAX_SEED = Number.MAX_SAFE_INTEGER; // 2^53 - 1
export const OUTPUT_FORMATS = ["png", "jpeg", "webp"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const CONTENT_TYPES: Record<OutputFormat, string> = {
  png: "image/png",
  jpeg: "image/jpeg",
  webp: "image/webp",
};

export const INFER_PATH = "/v1/infer";

export const inferRequestSchema = z.object({
  request_id: z.string().min(1).max(128),
  /** Already Unicode NFC-normalized and trimmed by the edge. */
  prompt: z.string(),
  negative_prompt: z.string().default(""),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  steps: z.number().int().min(1).max(50),
  guidance_scale: z.number().min(0),
  /** The GPU uses `seed mod 2^32`, as torch's manual_seed does. */
  seed: z.number().int().min(0).max(MAX_SEED),
  output_format: z.enum(OUTPUT_FORMATS),
  quality: z.number().int().min(1).max(100).optional(),
  /** Embed prompt and parameters in the image's EXIF (opt-in; absent or false: none, only the model name). */
  embed_metadata: z.boolean().optional(),
  /** Absolute Unix epoch ms; the GPU drops the request if it is still queued after it. */
  deadline_ms: z.number().int().optional(),
});

export type InferRequest = z.infer<typeof inferRequestSchema>;
export type InferRequestInput = z.input<typeof inferRequestSchema>;

/** Response headers of a successful `POST /v1/infer`. */
export const INFER_HEADERS = {
  seed: "x-zi-seed",
  modelRevision: "x-zi-model-revision",
  promptTruncated: "x-zi-prompt-truncated",
  serverTiming: "server-timing",
} as const;

/** Request headers that carry the HMAC signature (hmac.ts). */
export const HMAC_HEADERS = {
  timestamp: "x-zi-timestamp",
  nonce: "x-zi-nonce",
  signature: "x-zi-signature",
  /** The backend base URL the edge sent the request to; covered by the signature (hmac.ts). */
  audience: "x-zi-audience",
} as const;
