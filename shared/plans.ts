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
  image_base_micros: micros,
  // Bounded so width * height * steps * rate stays an exact integer (see edge/accounts/pricing.ts).
  megapixel_step_micros: z.number().int().nonnegative().max(100_000),
  cache_hit_micros: micros,
});

export type PlanInput = z.infer<typeof planInputSchema>;
