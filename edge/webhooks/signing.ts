/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp` (Unix seconds)
 * and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with a per-account `whsec_` secret,
 * through the `standardwebhooks` library (the same one receivers verify with). The id is fixed per event, so
 * every retry of one delivery carries the same `webhook-id` and a receiver can dedupe on it.
 * Not wired to deliveries yet: async jobs, which emit them, are not built (docs/streaming-jobs-webhooks.md).
 * @module
 */
import { Webhook } from "standardwebhooks";

const SECRET_BYTES = 24;

/** A fresh `whsec_` secret (24 random bytes, base64), as Standard Webhooks secrets are written. */
export function generateWebhookSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

export interface SignedDelivery {
  headers: Record<"webhook-id" | "webhook-timestamp" | "webhook-signature" | "content-type", string>;
  body: string;
}

/**
 * Signs one delivery attempt. `secrets` are the account's current secret and, during a rotation's grace period,
 * the previous one: each gives one `v1,` entry, so receivers still holding the old secret keep verifying.
 */
export function signDelivery(
  secrets: string[],
  webhookId: string,
  payload: unknown,
  now: Date = new Date(),
): SignedDelivery {
  if (secrets.length === 0) throw new Error("signDelivery needs at least one secret");
  const body = JSON.stringify(payload);
  // Standard Webhooks timestamps are whole seconds; sign the same value the header carries.
  const at = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const signature = secrets.map((secret) => new Webhook(secret).sign(webhookId, at, body)).join(" ");
  return {
    body,
    headers: {
      "content-type": "application/json",
      "webhook-id": webhookId,
      "webhook-timestamp": String(at.getTime() / 1000),
      "webhook-signature": signature,
    },
  };
}
