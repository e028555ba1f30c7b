/**
 * The plan body of the admin API (`PUT /v1/admin/plans/{id}`): validated by the edge, sent by the admin client
 * of the local stack and the e2e tests.
 * @module
 */
import { z } from "zod";

const count = z.number().int().positive();
const micros = z.number().int().nonnegative().max(1_000_000_000);

/** Body of `PUT /v1/admin/plans/{id}`: the whole plan (create or replace). */
export const planInputSchema = z.strictObject({
  name: z.string().min(1).max(100),
  requests_per_minute: count.max(1_000_000),
  images_per_day: count.max(100_000_000),
  max_pixels: count.max(16_777_216),
  /** Largest `n` of one request (OpenAI's bound is 10); above it -> 403 plan_max_images. */
  max_images_per_request: count.max(10).default(10),
  image_base_micros: micros,
  // Bounded so width * height * steps * rate stays an exact integer (see edge/accounts/pricing.ts).
  megapixel_step_micros: z.number().int().nonnegative().max(100_000),
  cache_hit_micros: micros,
});

/** What a client sends (`max_images_per_request` may be omitted). */
export type PlanInput = z.input<typeof planInputSchema>;
/** The validated plan, every field present. */
export type PlanFields = z.output<typeof planInputSchema>;
