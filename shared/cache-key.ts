/**
 * Canonical image request and its cache key.
 *
 * `cacheKey = hex(sha256(UTF-8(JSON.stringify([CACHE_KEY_VERSION, modelRevision, prompt, negativePrompt,
 *   width, height, steps, guidanceScale, seed, outputFormat, outputQuality]))))`
 * where prompt and negativePrompt are Unicode NFC-normalized and trimmed. Numbers are JSON numbers
 * (shortest round-trip form); `outputQuality` is the jpeg/webp encoder quality (null for png), so `1`, `1.0` and `1e0` in the client's JSON give the same key; the fixed
 * array order makes the client's key order irrelevant. Bump `CACHE_KEY_VERSION` whenever the definition
 * changes. Each image of an n-image request has its own key (its own seed).
 * @module
 */
import { sha256Hex } from "./hmac";
import type { OutputFormat } from "./protocol";

export const CACHE_KEY_VERSION = "zi-cache-v2";

/** Pattern of a cache key as it appears in image URLs. */
export const CACHE_KEY_PATTERN = /^[0-9a-f]{64}$/;

export interface CanonicalImageRequest {
  modelRevision: string;
  prompt: string;
  negativePrompt: string;
  width: number;
  height: number;
  steps: number;
  guidanceScale: number;
  seed: number;
  outputFormat: OutputFormat;
  /** jpeg/webp encoder quality 1-100 (from `output_compression`); null for png. */
  outputQuality: number | null;
}

/** Unicode NFC, then trim surrounding whitespace. */
export function normalizeText(text: string): string {
  return text.normalize("NFC").trim();
}

/** Applies text normalization; numbers pass through (JSON.parse already canonicalized them). */
export function canonicalize(req: CanonicalImageRequest): CanonicalImageRequest {
  return { ...req, prompt: normalizeText(req.prompt), negativePrompt: normalizeText(req.negativePrompt) };
}

/** The exact string that is hashed. */
export function canonicalString(req: CanonicalImageRequest): string {
  const c = canonicalize(req);
  return JSON.stringify([
    CACHE_KEY_VERSION,
    c.modelRevision,
    c.prompt,
    c.negativePrompt,
    c.width,
    c.height,
    c.steps,
    c.guidanceScale,
    c.seed,
    c.outputFormat,
    c.outputQuality,
  ]);
}

/** 64 hex chars. */
export async function cacheKey(req: CanonicalImageRequest): Promise<string> {
  return sha256Hex(canonicalString(req));
}
