/**
 * The account's default webhook endpoint: where every async job of the account without a `webhook_url` of its own
 * is delivered (as OpenAI's project-level webhooks), set with PUT /v1/webhooks/endpoint. A request's
 * `webhook_url` wins over it. Both pass the same SSRF guard (`checkWebhookTarget`), at the time they are given.
 * @module
 */
import type { Context } from "hono";
import { ApiError } from "../errors";
import type { AppEnv } from "../types";
import { checkWebhookUrl } from "./ssrf";

export type WebhookEvents = "completed" | "all";

export interface WebhookTarget {
  url: string;
  events: WebhookEvents;
}

/** `url` through the SSRF guard (with the deployment's WEBHOOK_ALLOW_HOSTS), or 400 `webhook_url_refused`. */
export function checkWebhookTarget(c: Context<AppEnv>, url: string, param = "webhook_url"): string {
  const allow = String((c.env as { WEBHOOK_ALLOW_HOSTS?: string }).WEBHOOK_ALLOW_HOSTS ?? "")
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean);
  const verdict = checkWebhookUrl(url, allow);
  if (!verdict.ok) {
    throw new ApiError("invalid_request_error", verdict.reason, { param, code: "webhook_url_refused" });
  }
  return verdict.url.href;
}

export async function readEndpoint(
  db: D1Database,
  accountId: string,
): Promise<(WebhookTarget & { updatedAt: number }) | null> {
  const row = await db
    .prepare("SELECT url, events, updated_at FROM webhook_endpoints WHERE account_id = ?")
    .bind(accountId)
    .first<{ url: string; events: WebhookEvents; updated_at: number }>();
  return row ? { url: row.url, events: row.events, updatedAt: row.updated_at } : null;
}

export async function writeEndpoint(db: D1Database, accountId: string, target: WebhookTarget): Promise<void> {
  await db
    .prepare(
      `INSERT INTO webhook_endpoints (account_id, url, events, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (account_id) DO UPDATE SET url = excluded.url, events = excluded.events,
       updated_at = excluded.updated_at`,
    )
    .bind(accountId, target.url, target.events, Date.now())
    .run();
}

export async function deleteEndpoint(db: D1Database, accountId: string): Promise<void> {
  await db.prepare("DELETE FROM webhook_endpoints WHERE account_id = ?").bind(accountId).run();
}
