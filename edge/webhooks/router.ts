/**
 * GET /v1/webhooks/secret (the account's signing secret; created on first read) and POST
 * /v1/webhooks/secret/rotate (a new one; the previous keeps signing for 24 h). Auth: the accounts extension.
 * @module
 */
import type { Hono } from "hono";
import "../middleware/api-key-auth";
import type { AppEnv } from "../types";
import { accountSecret, rotateSecret } from "./secrets";

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
}
