/**
 * Seeds. Without a client seed the edge derives one from the canonical prompt and parameters, so a repeated
 * request maps to the same cache keys. The derivation leaves out the model revision (a new revision changes
 * the cache key anyway) and the output format (the same picture in PNG or WebP). Derived and random seeds
 * are 32-bit because the GPU uses `seed mod 2^32`; image i of n uses seed + i.
 * @module
 */

import { type CanonicalImageRequest, normalizeText } from "./cache-key";
import { sha256Hex } from "./hmac";

export const SEED_VERSION = "zi-seed-v1";

/** The request fields the seed derives from (a subset of the cache key's canonical request). */
export type SeedInputs = Pick<
  CanonicalImageRequest,
  "prompt" | "negativePrompt" | "width" | "height" | "steps" | "guidanceScale"
>;

/** Deterministic seed in 0..2^32-1: the first 4 bytes (big-endian) of sha256 of the canonical inputs. */
export async function deriveSeed(inputs: SeedInputs): Promise<number> {
  const canonical = JSON.stringify([
    SEED_VERSION,
    normalizeText(inputs.prompt),
    normalizeText(inputs.negativePrompt),
    inputs.width,
    inputs.height,
    inputs.steps,
    inputs.guidanceScale,
  ]);
  const hex = await sha256Hex(canonical);
  return Number.parseInt(hex.slice(0, 8), 16);
}

/** Fresh random seed in 0..2^32-1 (for `seed: "random"`). */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}
