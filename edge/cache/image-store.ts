/**
 * R2 layout of cached images: one object per cacheKey, key = the cacheKey itself (its hash already covers
 * the output format), with content type, immutable Cache-Control and the generation parameters as metadata.
 * R2 makes a put visible only once it is complete, and the sha256 option makes R2 refuse corrupted uploads,
 * so a reader never sees a partial image.
 * @module
 */

import type { CanonicalImageRequest } from "../../shared/cache-key";
import { sha256Hex } from "../../shared/hmac";

export const IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable";

/** The canonical request the cacheKey was computed from, plus how it was made. */
export interface ImageMetadata extends CanonicalImageRequest {
  cacheKeyVersion: string;
  promptTruncated: boolean;
  requestId: string;
}

/** R2 allows 2 KB of custom metadata per object, so prompts are cut to 200 characters (<= 800 bytes of
 * UTF-8 each) to keep every put valid; the cacheKey, not the metadata, identifies the input. */
const MAX_PROMPT_METADATA = 200;

export function toCustomMetadata(meta: ImageMetadata): Record<string, string> {
  return {
    cacheKeyVersion: meta.cacheKeyVersion,
    modelRevision: meta.modelRevision,
    prompt: meta.prompt.slice(0, MAX_PROMPT_METADATA),
    negativePrompt: meta.negativePrompt.slice(0, MAX_PROMPT_METADATA),
    width: String(meta.width),
    height: String(meta.height),
    steps: String(meta.steps),
    guidanceScale: String(meta.guidanceScale),
    seed: String(meta.seed),
    outputFormat: meta.outputFormat,
    outputQuality: meta.outputQuality === null ? "" : String(meta.outputQuality),
    promptTruncated: meta.promptTruncated ? "1" : "0",
    requestId: meta.requestId,
  };
}

export interface StoredImage {
  etag: string;
  size: number;
}

export async function putImage(
  bucket: R2Bucket,
  key: string,
  bytes: Uint8Array,
  contentType: string,
  meta: ImageMetadata,
): Promise<StoredImage> {
  const object = await bucket.put(key, bytes, {
    httpMetadata: { contentType, cacheControl: IMMUTABLE_CACHE_CONTROL },
    customMetadata: toCustomMetadata(meta),
    sha256: await sha256Hex(bytes),
  });
  return { etag: object.httpEtag, size: object.size };
}

export async function headImage(bucket: R2Bucket, key: string): Promise<StoredImage | null> {
  const object = await bucket.head(key);
  return object ? { etag: object.httpEtag, size: object.size } : null;
}
