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
} as const;

/**
 * The streaming form of the inference call: same HMAC scheme (signed over this path) and request body, plus
 * `previews`. Refusals before any work (signature, validation, queue full, not ready) are the same JSON errors with
 * the same statuses as `/v1/infer`; once accepted, the answer is `200 application/x-ndjson`, one `InferEvent` per
 * line, ending with exactly one `image` or `error` event. Heartbeats come every `heartbeat_ms` until the end.
 */
export const INFER_STREAM_PATH = "/v1/infer/stream";
export const MAX_PREVIEWS = 3;

export const inferStreamRequestSchema = inferRequestSchema.extend({
  /** Low-resolution previews at evenly spaced steps (never the last one). */
  previews: z.number().int().min(0).max(MAX_PREVIEWS).default(0),
});
export type InferStreamRequest = z.infer<typeof inferStreamRequestSchema>;

export type InferEvent =
  | { type: "queued"; position: number; heartbeat_ms: number; t_ms: number }
  | { type: "heartbeat"; position: number; t_ms: number }
  | { type: "started"; batch_size: number; queue_ms: number; t_ms: number }
  | { type: "step"; step: number; total: number; elapsed_ms: number; t_ms: number }
  | {
      type: "preview";
      index: number;
      step: number;
      width: number;
      height: number;
      content_type: string;
      b64: string;
      t_ms: number;
    }
  | {
      type: "image";
      content_type: string;
      seed: number;
      model_revision: string;
      prompt_truncated: boolean;
      server_timing: string;
      batch_size: number;
      b64: string;
      t_ms: number;
    }
  | {
      type: "error";
      status: number;
      error: { message: string; type: string; param: string | null; code: string | null };
      t_ms: number;
    };
