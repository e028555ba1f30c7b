-- The account's default webhook endpoint (edge/webhooks/endpoint.ts, GET/PUT/DELETE /v1/webhooks/endpoint): every
-- async job of the account without a webhook_url of its own is delivered there, as OpenAI's project webhooks.
CREATE TABLE webhook_endpoints (
  account_id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
