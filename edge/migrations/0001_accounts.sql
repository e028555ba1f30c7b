-- Accounts, API keys, plans, usage ledger and idempotency records. D1 is the source of truth for all of them.
-- Money is integer micro-USD (1 USD = 1,000,000) so sums are exact. Times are Unix milliseconds.

-- Plans are data: editing a row changes limits and prices without a deploy (picked up within the auth cache TTL).
CREATE TABLE plans (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  requests_per_minute INTEGER NOT NULL CHECK (requests_per_minute > 0),
  images_per_day INTEGER NOT NULL CHECK (images_per_day > 0),
  max_pixels INTEGER NOT NULL CHECK (max_pixels > 0),
  -- Price of one generated image: base + ceil(megapixels * steps * per_megapixel_step).
  image_base_micros INTEGER NOT NULL CHECK (image_base_micros >= 0),
  megapixel_step_micros INTEGER NOT NULL CHECK (megapixel_step_micros >= 0),
  -- Price of one image answered from the cache.
  cache_hit_micros INTEGER NOT NULL CHECK (cache_hit_micros >= 0),
  updated_at INTEGER NOT NULL
);

INSERT INTO plans VALUES
  ('free', 'Free', 10, 50, 1048576, 0, 0, 0, 0),
  ('pro', 'Pro', 120, 5000, 2359296, 1000, 500, 200, 0),
  ('enterprise', 'Enterprise', 1200, 100000, 4194304, 500, 400, 100, 0);

CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  plan_id TEXT NOT NULL REFERENCES plans (id),
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (id),
  name TEXT NOT NULL DEFAULT '',
  -- The visible start of the key (e.g. zi_live_Ab3dE9), to recognise it in listings; never enough to use it.
  prefix TEXT NOT NULL,
  -- sha256 hex of the whole key. The plaintext is shown once at creation and never stored.
  hash TEXT NOT NULL UNIQUE,
  mode TEXT NOT NULL CHECK (mode IN ('live', 'test')),
  -- Space-separated scopes, e.g. 'images:generate usage:read'.
  scopes TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
);
CREATE INDEX api_keys_account ON api_keys (account_id, created_at);

-- One row per image a client received. Written in the same D1 batch as the idempotency record (if any),
-- before the response is sent.
CREATE TABLE ledger (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  request_id TEXT NOT NULL,
  cache_key TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('generated', 'cache_hit')),
  -- How the edge got the image: r2 | generated | coalesced | cached (see edge/types.ts ServedImage).
  source TEXT NOT NULL,
  live INTEGER NOT NULL CHECK (live IN (0, 1)),
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  steps INTEGER NOT NULL,
  unit_price_micros INTEGER NOT NULL,
  amount_micros INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX ledger_account_time ON ledger (account_id, created_at);
CREATE INDEX ledger_request ON ledger (request_id);

-- Idempotency-Key records, scoped to the account. The response body lives in R2 (it can exceed D1's row
-- limit with b64_json images); this row holds the fingerprint, state and response metadata.
CREATE TABLE idempotency_keys (
  account_id TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  -- sha256 of method, path and body: the same key with another request is refused (422).
  fingerprint TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
  request_id TEXT NOT NULL,
  -- An in-flight claim older than this (a crashed request) may be taken over.
  locked_until INTEGER NOT NULL,
  response_status INTEGER,
  response_headers TEXT,
  body_ref TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, idempotency_key)
);
CREATE INDEX idempotency_expiry ON idempotency_keys (expires_at);
