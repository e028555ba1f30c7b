/**
 * Plans are rows in D1 (`plans`), so limits and prices change without a deploy.
 *
 * @module
 */
import { z } from "zod";

export interface Plan {
  id: string;
  name: string;
  requestsPerMinute: number;
  imagesPerDay: number;
  maxPixels: number;
  imageBaseMicros: number;
  megapixelStepMicros: number;
  cacheHitMicros: number;
}

export interface PlanRow {
  id: string;
  name: string;
  requests_per_minute: number;
  images_per_day: number;
  max_pixels: number;
  image_base_micros: number;
  megapixel_step_micros: number;
  cache_hit_micros: number;
}

export function planFromRow(row: PlanRow): Plan {
  return {
    id: row.id,
    name: row.name,
    requestsPerMinute: row.requests_per_minute,
    imagesPerDay: row.images_per_day,
    maxPixels: row.max_pixels,
    imageBaseMicros: row.image_base_micros,
    megapixelStepMicros: row.megapixel_step_micros,
    cacheHitMicros: row.cache_hit_micros,
  };
}

const count = z.number().int().positive();
const micros = z.number().int().nonnegative().max(1_000_000_000);

/** Body of `PUT /v1/admin/plans/{id}`: the whole plan (create or replace). */
export const planInputSchema = z.strictObject({
  name: z.string().min(1).max(100),
  requests_per_minute: count.max(1_000_000),
  images_per_day: count.max(100_000_000),
  max_pixels: count.max(16_777_216),
  image_base_micros: micros,
  // Bounded so width * height * steps * rate stays an exact integer (see pricing.ts).
  megapixel_step_micros: z.number().int().nonnegative().max(100_000),
  cache_hit_micros: micros,
});

export type PlanInput = z.infer<typeof planInputSchema>;
