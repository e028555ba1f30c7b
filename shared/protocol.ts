/**
 * The edge -> GPU function protocol: `POST /v1/infer`, one image per request, HMAC-signed (see hmac.ts).
 *
 * Request body: JSON (`inferRequestSchema`) for text-to-image; for image-to-image a binary frame that carries the
 * JSON and the input pixels (`encodeInferFrame` below, wire format documented there). Either way the HMAC signs
 * the whole body bytes (hmac.ts signs their SHA-256), so the pixels are covered like the prompt.
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
  /** Image-to-image: describes the pixels that follow the JSON in the frame (absent: text-to-image). */
  init_image: z
    .object({
      format: z.literal("rgb8"),
      width: z.number().int().min(1).max(16384),
      height: z.number().int().min(1).max(16384),
      /** (0, 1]; the GPU runs steps − startStep(steps, strength) steps (shared/strength.ts). */
      strength: z.number().gt(0).max(1),
    })
    .optional(),
});

export type InferRequest = z.infer<typeof inferRequestSchema>;
export type InferRequestInput = z.input<typeof inferRequestSchema>;

/** Response headers of a successful `POST /v1/infer`. */
export const INFER_HEADERS = {
  seed: "x-zi-seed",
  modelRevision: "x-zi-model-revision",
  promptTruncated: "x-zi-prompt-truncated",
  /** Transformer steps that ran: `steps` for text-to-image, steps − t_start for image-to-image. */
  stepsRun: "x-zi-steps-run",
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

/** Most pixels an input image may have on the wire (2048²: 12 MiB of RGB8); the edge enforces it first. */
export const MAX_INIT_IMAGE_PIXELS = 2048 * 2048;
/** Largest JSON part of a request (text-to-image bodies are only this). */
export const MAX_INFER_JSON_BYTES = 64 * 1024;
export const INFER_FRAME_CONTENT_TYPE = "application/vnd.zi.infer-frame";

const FRAME_MAGIC = [0x5a, 0x49, 0x46, 0x31]; // "ZIF1"
const FRAME_HEADER_BYTES = 8;

/**
 * Image-to-image wire format (`content-type: application/vnd.zi.infer-frame`), one signed byte string:
 *
 *   bytes 0..3     "ZIF1" (magic + version)
 *   bytes 4..7     n = byte length of the JSON part, u32 little-endian (n <= MAX_INFER_JSON_BYTES)
 *   bytes 8..8+n   the request as UTF-8 JSON (inferRequestSchema, with `init_image`)
 *   bytes 8+n..    the input pixels: init_image.width · height · 3 bytes, RGB8, row-major, no padding
 *
 * Why not base64-in-JSON: a third more bytes and a decode pass on both sides. Why not multipart/form-data: its
 * boundary lives in the (unsigned) content-type header, and a parser per side for two parts is more code than
 * this. The pixels are the edge's normalised RGB (EXIF-oriented, alpha flattened), the exact bytes whose hash is
 * in the cache key, so the GPU never decodes a user file and cannot disagree with the edge about its pixels.
 * A body is a frame iff it starts with the magic (JSON cannot start with "Z"), so the signed bytes alone decide
 * how it is read.
 */
export function encodeInferFrame(request: InferRequestInput, pixels: Uint8Array): Uint8Array {
  return encodeFrame(JSON.stringify(request), pixels);
}

/** The frame layout for any JSON text + bytes (the edge also uses it to hand a job to its Durable Object). */
export function encodeFrame(jsonText: string, pixels: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(jsonText);
  const out = new Uint8Array(FRAME_HEADER_BYTES + json.length + pixels.length);
  out.set(FRAME_MAGIC, 0);
  new DataView(out.buffer).setUint32(4, json.length, true);
  out.set(json, FRAME_HEADER_BYTES);
  out.set(pixels, FRAME_HEADER_BYTES + json.length);
  return out;
}

export function isInferFrame(body: Uint8Array): boolean {
  return body.length >= FRAME_HEADER_BYTES && FRAME_MAGIC.every((b, i) => body[i] === b);
}

/** Splits a frame into its JSON text and pixel bytes (a view, not a copy); null when it is malformed. */
export function decodeInferFrame(body: Uint8Array): { json: string; pixels: Uint8Array } | null {
  if (!isInferFrame(body)) return null;
  const n = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(4, true);
  if (n > MAX_INFER_JSON_BYTES || FRAME_HEADER_BYTES + n > body.length) return null;
  return {
    json: new TextDecoder().decode(body.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + n)),
    pixels: body.subarray(FRAME_HEADER_BYTES + n),
  };
}
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
