/**
 * Prices of images under a plan, in integer micro-USD.
 *
 * @module
 */
import type { Plan } from "./plans";

export type ChargeKind = "generated" | "cache_hit";

export interface PricedImage {
  width: number;
  height: number;
  steps: number;
}

/**
 * Price of one image. Generated: `image_base + ceil(width * height * steps * megapixel_step / 1e6)`, i.e. linear
 * in megapixels times denoising steps (what the GPU spends), rounded up to a whole micro-USD.
 * Cache hit: the plan's flat `cache_hit` price, whatever the size.
 * @example unitPriceMicros(pro, "generated", { width: 1024, height: 1024, steps: 8 }) // 1000 + 4195 = 5195
 */
export function unitPriceMicros(plan: Plan, kind: ChargeKind, image: PricedImage): number {
  if (kind === "cache_hit") return plan.cacheHitMicros;
  // Plan bounds (max_pixels <= 2^24, rate <= 1e5) and steps <= 50 keep this product below 2^53, so it is exact.
  const work = image.width * image.height * image.steps * plan.megapixelStepMicros;
  if (!Number.isSafeInteger(work)) throw new RangeError("price operand exceeds 2^53; check plan rates");
  return plan.imageBaseMicros + Math.ceil(work / 1_000_000);
}
