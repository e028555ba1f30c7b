/**
 * GET /v1/webhooks/secret (the account's signing secret; created on first read), POST
 * /v1/webhooks/secret/rotate (a new one; the previous keeps signing for 24 h), and GET / PUT / DELETE
 * /v1/webhooks/endpoint (the account's default endpoint for jobs without a webhook_url). Auth: the accounts
 * extension.
 * @module
 */
import type { Hono } from "hono";
import { z } from "zod";
import "../middleware/api-key-auth";
import type { AppEnv } from "../types";
import { readBody } from "../validation";
import { checkWebhookTarget, deleteEndpoint, readEndpoint, writeEndpoint } from "./endpoint";
import { accountSecret, rotateSecret } from "./secrets";

export const webhookEndpointInputSchema = z
  .object({
    url: z.string().max(2048).meta({ description: "https URL of a public host (the SSRF guard applies)" }),
    events: z
      .enum(["completed", "all"])
      .default("completed")
      .meta({ description: "completed: the terminal event of each job; all: every job event" }),
  })
  .strict();

const endpointView = (row: { url: string; events: string; updatedAt: number } | null) => ({
  object: "webhook_endpoint",
  url: row?.url ?? null,
  events: row?.events ?? null,
  updated_at: row ? Math.floor(row.updatedAt / 1000) : null,
});

export const WEBHOOKS_PATH = "/v1/webhooks";

const view = (row: { secret: string; previous_until: number | null }) => ({
  object: "webhook_secret",
  secret: row.secret,
  previous_valid_until:
    row.previous_until && row.previous_until > Date.now() ? Math.floor(row.previous_until / 1000) : null,
});

export function mountWebhookRoutes(app: Hono<AppEnv>): void {
  app.get(`${WEBHOOKS_PATH}/secret`, async (c) =>
    c.json(view(await accountSecret(c.env.DB, c.get("principal").accountId))),
  );
  app.post(`${WEBHOOKS_PATH}/secret/rotate`, async (c) =>
    c.json(view(await rotateSecret(c.env.DB, c.get("principal").accountId))),
  );
  app.get(`${WEBHOOKS_PATH}/endpoint`, async (c) =>
    c.json(endpointView(await readEndpoint(c.env.DB, c.get("principal").accountId))),
  );
  app.put(`${WEBHOOKS_PATH}/endpoint`, async (c) => {
    const input = await readBody(c, webhookEndpointInputSchema);
    const url = checkWebhookTarget(c, input.url, "url");
    const accountId = c.get("principal").accountId;
    await writeEndpoint(c.env.DB, accountId, { url, events: input.events });
    return c.json(endpointView(await readEndpoint(c.env.DB, accountId)));
  });
  app.delete(`${WEBHOOKS_PATH}/endpoint`, async (c) => {
    await deleteEndpoint(c.env.DB, c.get("principal").accountId);
    return c.json(endpointView(null));
  });
}
