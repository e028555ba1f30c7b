/**
 * The cache key as the edge uses it: keyed with a server secret, so it cannot be computed from a guessed prompt.
 *
 * `privateCacheKey = hex(HMAC-SHA256(secret, canonicalString(req) [+ "\n+metadata"]))`
 *
 * The plain `cacheKey` (cache-key.ts) is a hash of public inputs: anyone could compute it for a guessed prompt and
 * ask `HEAD /v1/images/{key}.png` whether someone generated it. Keyed with CACHE_KEY_SECRET, the key (and so the
 * image URL) is unguessable without the secret, while identical requests of different customers still share one
 * cached image. Images that embed their generation parameters (`embed_metadata: true`) are other bytes, so they
 * get their own key (the suffix). See docs/privacy.md.
 * @module
 */
import { type CanonicalImageRequest, canonicalString } from "./cache-key";
import { hmacSha256Hex } from "./hmac";

export interface PrivateKeyOptions {
  /** CACHE_KEY_SECRET (or the edge's fallback derived from GPU_HMAC_SECRET); must not be empty. */
  secret: string;
  /** The image embeds its prompt and parameters (opt-in). */
  embedMetadata?: boolean;
}

/** 64 hex chars, like the plain key, so image URLs keep their shape. */
export async function privateCacheKey(
  req: CanonicalImageRequest,
  options: PrivateKeyOptions,
): Promise<string> {
  if (!options.secret) throw new Error("privateCacheKey: an empty secret would make keys guessable");
  const suffix = options.embedMetadata ? "\n+metadata" : "";
  return hmacSha256Hex(options.secret, `${canonicalString(req)}${suffix}`);
}
