/**
 * Response schemas of the routes that are plain Hono handlers (usage, admin API, jobs, webhooks), for
 * /openapi.json only. They restate what edge/accounts/store.ts, usage.ts and edge/jobs/view.ts return; the
 * contract test (test/edge/contract/) checks every real response against them, so they cannot drift silently.
 * @module
 */
import { z } from "zod";
import { generationResponseSchema } from "../../shared/api";
import { errorEnvelopeSchema } from "../../shared/errors";
import { KEY_MODES } from "../accounts/api-key";
import { SCOPES } from "../accounts/scopes";
import { USAGE_GROUPS } from "../accounts/usage";

const unixMs = z.number().int().meta({ description: "Unix time in milliseconds" });

export const accountSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    plan_id: z.string(),
    status: z.enum(["active", "suspended"]),
    created_at: unixMs,
  })
  .meta({ id: "Account" });

export const keySummarySchema = z
  .object({
    id: z.string(),
    account_id: z.string(),
    name: z.string(),
    prefix: z.string().meta({ description: "Visible start of the key, to recognise it; never usable" }),
    mode: z.enum(KEY_MODES),
    scopes: z.array(z.enum(SCOPES)),
    status: z.enum(["active", "revoked"]),
    created_at: unixMs,
    last_used_at: unixMs.nullable(),
    revoked_at: unixMs.nullable(),
  })
  .meta({ id: "ApiKey" });

export const issuedKeySchema = keySummarySchema
  .extend({ secret: z.string().meta({ description: "The key itself: shown once, never stored" }) })
  .meta({ id: "IssuedApiKey" });

export const planSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    requestsPerMinute: z.number().int(),
    imagesPerDay: z.number().int(),
    maxPixels: z.number().int(),
    maxImagesPerRequest: z.number().int(),
    imageBaseMicros: z.number().int(),
    megapixelStepMicros: z.number().int(),
    cacheHitMicros: z.number().int(),
  })
  .meta({ id: "Plan" });

const list = <T extends z.ZodType>(item: T, id: string) =>
  z.object({ object: z.literal("list"), data: z.array(item) }).meta({ id });

export const accountKeysSchema = list(keySummarySchema, "ApiKeyList");
export const planListSchema = list(planSchema, "PlanList");

const usageTotalsShape = {
  images: z.number().int(),
  generated: z.number().int(),
  cache_hits: z.number().int(),
  amount_micros: z.number().int().meta({ description: "Integer micro-USD" }),
  amount_usd: z.string().meta({ description: "Exact decimal dollars, e.g. 0.005195" }),
};

export const usageReportSchema = z
  .object({
    object: z.literal("usage"),
    account_id: z.string(),
    start: z.string(),
    end: z.string(),
    group_by: z.enum(USAGE_GROUPS),
    currency: z.literal("usd"),
    data: z.array(
      z.union([
        z.object({ day: z.string(), ...usageTotalsShape }),
        z.object({ key_id: z.string(), key_prefix: z.string().nullable(), ...usageTotalsShape }),
      ]),
    ),
    total: z.object(usageTotalsShape),
  })
  .meta({ id: "UsageReport" });

const unixS = z.number().int().meta({ description: "Unix time in seconds" });

/** The job object of edge/jobs/view.ts (202 of `Prefer: respond-async`, GET /v1/jobs/{id}, webhook payloads). */
export const jobSchema = z
  .object({
    id: z.string(),
    object: z.literal("job"),
    operation: z.enum(["image_generation", "image_edit"]).meta({ description: "The endpoint that made it" }),
    status: z.enum(["queued", "running", "succeeded", "failed", "cancelled"]),
    created_at: unixS,
    started_at: unixS.nullable(),
    completed_at: unixS.nullable(),
    attempts: z.number().int().meta({ description: "Dispatches so far (a GPU outage retries the job)" }),
    progress: z.object({
      images_done: z.number().int(),
      images_total: z.number().int(),
      steps_done: z
        .number()
        .int()
        .meta({ description: "Denoising steps done over all images, as they happen" }),
      steps_total: z
        .number()
        .int()
        .meta({ description: "Steps over all images (an edit runs those after its start step)" }),
    }),
    result: generationResponseSchema
      .nullable()
      .meta({ description: "Once succeeded: the synchronous response's body (image URLs)" }),
    error: errorEnvelopeSchema.shape.error.nullable().meta({
      description: "Once failed: why; while queued again after a GPU outage: the last attempt's error",
    }),
    webhook: z
      .object({
        url: z.string(),
        events: z.enum(["completed", "all"]),
        deliveries: z.array(
          z.object({
            id: z.string().meta({ description: "The webhook-id header, the same on every retry" }),
            event: z.string(),
            state: z.enum(["pending", "delivered", "failed"]),
            next_attempt_at: unixS.nullable(),
            attempts: z.array(
              z.object({
                at: unixS,
                status: z.number().int().nullable(),
                error: z.string().nullable(),
                ms: z.number(),
              }),
            ),
          }),
        ),
      })
      .nullable(),
    urls: z.object({ get: z.string(), events: z.string(), cancel: z.string() }),
  })
  .meta({ id: "Job" });

export const jobListSchema = z
  .object({
    object: z.literal("list"),
    data: z.array(
      z.object({
        id: z.string(),
        object: z.literal("job"),
        operation: jobSchema.shape.operation,
        status: jobSchema.shape.status,
        created_at: unixS,
      }),
    ),
    has_more: z.boolean(),
    next_cursor: z.string().nullable().meta({ description: "Pass as `after` for the next page" }),
  })
  .meta({ id: "JobList" });

export const webhookSecretSchema = z
  .object({
    object: z.literal("webhook_secret"),
    secret: z.string().meta({ description: "whsec_...: verify deliveries with it (Standard Webhooks)" }),
    previous_valid_until: unixS
      .nullable()
      .meta({ description: "After a rotation: until when the previous secret still signs too" }),
  })
  .meta({ id: "WebhookSecret" });

export const webhookEndpointSchema = z
  .object({
    object: z.literal("webhook_endpoint"),
    url: z
      .string()
      .nullable()
      .meta({ description: "Where jobs without a webhook_url are delivered; null: unset" }),
    events: z.enum(["completed", "all"]).nullable(),
    updated_at: unixS.nullable(),
  })
  .meta({ id: "WebhookEndpoint" });
