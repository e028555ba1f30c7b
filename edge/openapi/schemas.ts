/**
 * Response schemas of the routes that are plain Hono handlers (usage, admin API), for /openapi.json only.
 * They restate what edge/accounts/store.ts and usage.ts return; the contract test (test/edge/contract/) checks
 * every real response against them, so they cannot drift silently.
 * @module
 */
import { z } from "zod";
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
