/**
 * The accounts extension: API-key auth, per-key rate limits and daily image quotas, metering into the D1
 * ledger, Idempotency-Key, the usage endpoint and the admin API. Installed through `createApp({ extensions })`.
 *
 * Chains (outermost first):
 * - POST /v1/images/generations: apiKeyAuth -> requireScope("images:generate") -> jsonBody guard -> bufferBody
 *   -> generationLimits (request limit + image quota in one Redis round trip) -> idempotency -> metering -> route
 * - POST /v1/images/edits: the same, with a multipart body limit instead of the JSON guard
 * - GET /v1/usage: apiKeyAuth -> requireScope("usage:read") -> requestRateLimit -> route
 * - GET /v1/models, /v1/models/{id}: apiKeyAuth -> requestRateLimit -> route
 * - /v1/admin/*: adminAuth (ADMIN_TOKEN) -> admin routes
 * Image bytes (`GET /v1/images/{cacheKey}.{ext}`) stay public: content-addressed URLs handed to clients.
 * @module
 */
import type { AppExtension } from "../app";
import { readConfig } from "../config";
import { editFingerprint, readEditForm } from "../images-input/form";
import { JOBS_PATH, mountJobRoutes } from "../jobs/router";
import { adminAuth } from "../middleware/admin-auth";
import { apiKeyAuth, requireScope } from "../middleware/api-key-auth";
import { bufferBody } from "../middleware/buffer-body";
import { generationLimits } from "../middleware/generation-limits";
import { idempotency } from "../middleware/idempotency";
import { jsonBody } from "../middleware/json-body";
import { metering } from "../middleware/metering";
import { requestRateLimit } from "../middleware/rate-limit";
import { ADMIN_PATH, mountAdminRoutes } from "../routes/admin/router";
import { EDITS_PATH, editsBodyLimit } from "../routes/images/edits";
import { mountUsageRoutes, USAGE_PATH } from "../routes/usage/router";
import { mountWebhookRoutes, WEBHOOKS_PATH } from "../webhooks/router";

export function accountsExtension(): AppExtension {
  return {
    name: "accounts",
    install(app) {
      app.use(ADMIN_PATH, adminAuth());
      mountAdminRoutes(app);

      const auth = apiKeyAuth();
      const rateLimit = requestRateLimit();
      app.use(
        "/v1/images/generations",
        auth,
        requireScope("images:generate"),
        jsonBody({ maxBytes: (c) => readConfig(c.env).maxBodyBytes }),
        bufferBody(),
        generationLimits(),
        idempotency(),
        metering(),
      );
      // Edits: the same chain over the multipart form (fields for the quota, field + file hashes for the
      // idempotency fingerprint, since the multipart boundary differs between retries).
      app.use(
        EDITS_PATH,
        auth,
        requireScope("images:generate"),
        editsBodyLimit,
        bufferBody(),
        generationLimits({ fields: async (c) => (await readEditForm(c)).fields }),
        idempotency({ fingerprintBody: editFingerprint }),
        metering(),
      );
      app.use(USAGE_PATH, auth, requireScope("usage:read"), rateLimit);
      for (const path of [JOBS_PATH, `${JOBS_PATH}/*`])
        app.use(path, auth, requireScope("images:generate"), rateLimit);
      mountJobRoutes(app);
      app.use(`${WEBHOOKS_PATH}/*`, auth, requireScope("images:generate"), rateLimit);
      mountWebhookRoutes(app);
      mountUsageRoutes(app);
      // "/v1/models/*" also matches "/v1/models" itself: one registration, so one count per request.
      app.use("/v1/models/*", auth, rateLimit);
    },
  };
}
