-- Per-plan bound on `n` (images per request). OpenAI allows up to 10; a plan may allow fewer (403 plan_max_images).
ALTER TABLE plans ADD COLUMN max_images_per_request INTEGER NOT NULL DEFAULT 10
  CHECK (max_images_per_request BETWEEN 1 AND 10);

UPDATE plans SET max_images_per_request = 4 WHERE id = 'free';
