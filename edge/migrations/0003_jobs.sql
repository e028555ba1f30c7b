-- Async jobs (edge/jobs/): the index of an account's jobs for GET /v1/jobs and ownership checks. The job's state
-- lives in its Durable Object (JobObject); this row mirrors its status. Rows expire with the job's retention.
CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX jobs_account_time ON jobs (account_id, created_at DESC, id DESC);

-- A job's ledger rows are keyed by (request_id = job id, cache_key): a re-run of the job's dispatch (at-least-once
-- alarms) cannot bill an image twice (INSERT OR IGNORE).
CREATE UNIQUE INDEX ledger_request_image ON ledger (request_id, cache_key);

-- Per-account Standard Webhooks secret (edge/webhooks/secrets.ts). After a rotation the previous secret still
-- signs (a second v1 signature) until previous_until, so receivers can switch over.
CREATE TABLE webhook_secrets (
  account_id TEXT PRIMARY KEY,
  secret TEXT NOT NULL,
  previous_secret TEXT,
  previous_until INTEGER,
  updated_at INTEGER NOT NULL
);
