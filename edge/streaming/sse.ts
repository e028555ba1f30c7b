/**
 * Server-sent events in the shapes OpenAI's image streaming uses (openapi ImageGenStreamEvent), as the official
 * openai SDK parses them: `event: <type>` + one JSON object per `data:` line; an object with an `error` field makes
 * the SDK throw an APIError carrying it, so a mid-stream failure is `data: {"error": <envelope fields>}`.
 * Hand-written because it is a few lines of framing; no SSE library adds anything here.
 * @module
 */
import type { ImageUsage, Quality } from "../../shared/api";
import type { OutputFormat } from "../../shared/protocol";

export interface ImageEventFields {
  created_at: number;
  size: string;
  quality: Quality;
  background: "opaque";
  output_format: OutputFormat;
}

/** OpenAI's event names: `image_generation.*` for generations, `image_edit.*` for edits. */
export type StreamKind = "image_generation" | "image_edit";

export type ImageStreamEvent =
  | ({
      type: `${StreamKind}.partial_image`;
      b64_json: string;
      partial_image_index: number;
    } & ImageEventFields &
      ImageIndex)
  | ({ type: `${StreamKind}.completed`; b64_json: string; usage: ImageUsage } & ImageEventFields & ImageIndex)
  /** Not an OpenAI event (the SDK passes it through): denoising progress, and the queue while waiting. */
  | ({
      type: `${StreamKind}.progress`;
      step: number;
      total: number;
      queue_position: number | null;
    } & ImageIndex);

/** Which of the request's `n` images an event belongs to (an extension; OpenAI streams n = 1 only). */
interface ImageIndex {
  image_index: number;
  /** Only on completed events (extensions the SDK passes through): the image's seed, its URL (served from the
   * cache, like `response_format: "url"`) and where it came from (the sync path's per-image `x-cache`). */
  seed?: number;
  url?: string;
  cache?: "HIT" | "MISS" | "COALESCED";
}

export function sseEvent(event: ImageStreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** `retryAfterS`: what the sync path sends as Retry-After (an extension field next to the envelope). */
export function sseError(
  error: { message: string; type: string; param: string | null; code: string | null },
  retryAfterS?: number,
): string {
  const payload = retryAfterS === undefined ? { error } : { error, retry_after: retryAfterS };
  return `event: error\ndata: ${JSON.stringify(payload)}\n\n`;
}

/** A comment line: keeps proxies from closing an idle stream while the image waits for a GPU. */
export const SSE_KEEPALIVE = ": keepalive\n\n";
