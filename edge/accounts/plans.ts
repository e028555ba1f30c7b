/**
 * Plans are rows in D1 (`plans`), so limits and prices change without a deploy.
 *
 * @module
 */
export interface Plan {
  id: string;
  name: string;
  requestsPerMinute: number;
  imagesPerDay: number;
  maxPixels: number;
  maxImagesPerRequest: number;
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
  max_images_per_request: number;
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
    maxImagesPerRequest: row.max_images_per_request,
    imageBaseMicros: row.image_base_micros,
    megapixelStepMicros: row.megapixel_step_micros,
    cacheHitMicros: row.cache_hit_micros,
  };
}

export { type PlanFields, type PlanInput, planInputSchema } from "../../shared/plans";
