/**
 * The account's webhook signing secret (`whsec_...`), created on first use, readable and rotatable through
 * GET /v1/webhooks/secret and POST /v1/webhooks/secret/rotate. After a rotation the previous secret keeps signing
 * (a second `v1,` signature) for ROTATION_GRACE_MS, so receivers can switch without dropping deliveries.
 * @module
 */
import { generateWebhookSecret } from "./signing";

export const ROTATION_GRACE_MS = 24 * 3600 * 1000;

interface SecretRow {
  secret: string;
  previous_secret: string | null;
  previous_until: number | null;
}

export async function accountSecret(db: D1Database, accountId: string): Promise<SecretRow> {
  const row = await db
    .prepare("SELECT secret, previous_secret, previous_until FROM webhook_secrets WHERE account_id = ?")
    .bind(accountId)
    .first<SecretRow>();
  if (row) return row;
  await db
    .prepare("INSERT OR IGNORE INTO webhook_secrets (account_id, secret, updated_at) VALUES (?, ?, ?)")
    .bind(accountId, generateWebhookSecret(), Date.now())
    .run();
  return (await db
    .prepare("SELECT secret, previous_secret, previous_until FROM webhook_secrets WHERE account_id = ?")
    .bind(accountId)
    .first<SecretRow>())!;
}

/** The secrets that sign a delivery now: the current one, plus the previous one during its grace period. */
export async function signingSecrets(db: D1Database, accountId: string): Promise<string[]> {
  const row = await accountSecret(db, accountId);
  return row.previous_secret && (row.previous_until ?? 0) > Date.now()
    ? [row.secret, row.previous_secret]
    : [row.secret];
}

export async function rotateSecret(db: D1Database, accountId: string): Promise<SecretRow> {
  const current = await accountSecret(db, accountId);
  const next = generateWebhookSecret();
  await db
    .prepare(
      "UPDATE webhook_secrets SET secret = ?, previous_secret = ?, previous_until = ?, updated_at = ? WHERE account_id = ?",
    )
    .bind(next, current.secret, Date.now() + ROTATION_GRACE_MS, Date.now(), accountId)
    .run();
  return accountSecret(db, accountId);
}
