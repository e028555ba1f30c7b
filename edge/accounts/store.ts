/**
 * D1 access for accounts, keys and plans (the source of truth). Every query is a prepared statement with
 * bound parameters.
 *
 * @module
 */

import type { PlanFields } from "../../shared/plans";
import { type GeneratedKey, generateApiKey, type KeyMode, newId } from "./api-key";
import { type Plan, type PlanRow, planFromRow } from "./plans";
import { formatScopes, parseScopes, type Scope } from "./scopes";

/** Who is calling: the result of authenticating an API key. */
export interface Principal {
  keyId: string;
  accountId: string;
  mode: KeyMode;
  scopes: Scope[];
  plan: Plan;
  keyActive: boolean;
  accountActive: boolean;
}

export interface Account {
  id: string;
  name: string;
  plan_id: string;
  status: "active" | "suspended";
  created_at: number;
}

/** A key as listed to admins: never the hash, never the plaintext. */
export interface KeySummary {
  id: string;
  account_id: string;
  name: string;
  prefix: string;
  mode: KeyMode;
  scopes: Scope[];
  status: "active" | "revoked";
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

type KeyRow = Omit<KeySummary, "scopes"> & { scopes: string };

interface PrincipalRow extends PlanRow {
  key_id: string;
  account_id: string;
  mode: KeyMode;
  scopes: string;
  key_status: string;
  account_status: string;
}

const KEY_COLUMNS =
  "id, account_id, name, prefix, mode, scopes, status, created_at, last_used_at, revoked_at";

function toSummary(row: KeyRow): KeySummary {
  return { ...row, scopes: parseScopes(row.scopes) };
}

export class AccountStore {
  readonly #db: D1Database;

  constructor(db: D1Database) {
    this.#db = db;
  }

  /** Looks a key up by its hash, with its account and plan; null when no such key exists. */
  async principalByKeyHash(hash: string): Promise<Principal | null> {
    const row = await this.#db
      .prepare(
        `SELECT k.id AS key_id, k.account_id, k.mode, k.scopes, k.status AS key_status,
                a.status AS account_status, p.*
           FROM api_keys k
           JOIN accounts a ON a.id = k.account_id
           JOIN plans p ON p.id = a.plan_id
          WHERE k.hash = ?`,
      )
      .bind(hash)
      .first<PrincipalRow>();
    if (!row) return null;
    return {
      keyId: row.key_id,
      accountId: row.account_id,
      mode: row.mode,
      scopes: parseScopes(row.scopes),
      plan: planFromRow(row),
      keyActive: row.key_status === "active",
      accountActive: row.account_status === "active",
    };
  }

  async touchKey(keyId: string, at: number): Promise<void> {
    await this.#db.prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ?").bind(at, keyId).run();
  }

  async createAccount(input: { name: string; planId: string }): Promise<Account> {
    const account: Account = {
      id: newId("acct"),
      name: input.name,
      plan_id: input.planId,
      status: "active",
      created_at: Date.now(),
    };
    await this.#db
      .prepare("INSERT INTO accounts (id, name, plan_id, status, created_at) VALUES (?, ?, ?, ?, ?)")
      .bind(account.id, account.name, account.plan_id, account.status, account.created_at)
      .run();
    return account;
  }

  getAccount(id: string): Promise<Account | null> {
    return this.#db.prepare("SELECT * FROM accounts WHERE id = ?").bind(id).first<Account>();
  }

  async setAccountPlan(accountId: string, planId: string): Promise<boolean> {
    const result = await this.#db
      .prepare("UPDATE accounts SET plan_id = ? WHERE id = ?")
      .bind(planId, accountId)
      .run();
    return result.meta.changes > 0;
  }

  async setAccountStatus(accountId: string, status: Account["status"]): Promise<boolean> {
    const result = await this.#db
      .prepare("UPDATE accounts SET status = ? WHERE id = ?")
      .bind(status, accountId)
      .run();
    return result.meta.changes > 0;
  }

  /** Creates a key; the returned plaintext is the only copy that will ever exist. */
  async issueKey(
    accountId: string,
    input: { mode: KeyMode; name: string; scopes: readonly Scope[] },
  ): Promise<{ key: KeySummary; secret: GeneratedKey }> {
    const secret = await generateApiKey(input.mode);
    const key: KeySummary = {
      id: newId("key"),
      account_id: accountId,
      name: input.name,
      prefix: secret.prefix,
      mode: input.mode,
      scopes: [...input.scopes],
      status: "active",
      created_at: Date.now(),
      last_used_at: null,
      revoked_at: null,
    };
    await this.#db
      .prepare(
        `INSERT INTO api_keys (id, account_id, name, prefix, hash, mode, scopes, status, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?)`,
      )
      .bind(
        key.id,
        accountId,
        key.name,
        key.prefix,
        secret.hash,
        key.mode,
        formatScopes(key.scopes),
        key.created_at,
      )
      .run();
    return { key, secret };
  }

  async listKeys(accountId: string): Promise<KeySummary[]> {
    const { results } = await this.#db
      .prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE account_id = ? ORDER BY created_at, id`)
      .bind(accountId)
      .all<KeyRow>();
    return results.map(toSummary);
  }

  /** Revokes a key of the account; returns the key's hash (to evict caches) or null when not found. */
  async revokeKey(accountId: string, keyId: string): Promise<{ key: KeySummary; hash: string } | null> {
    const row = await this.#db
      .prepare(
        `UPDATE api_keys SET status = 'revoked', revoked_at = COALESCE(revoked_at, ?)
          WHERE id = ? AND account_id = ?
          RETURNING ${KEY_COLUMNS}, hash`,
      )
      .bind(Date.now(), keyId, accountId)
      .first<KeyRow & { hash: string }>();
    if (!row) return null;
    const { hash, ...key } = row;
    return { key: toSummary(key), hash };
  }

  async listPlans(): Promise<Plan[]> {
    const { results } = await this.#db.prepare("SELECT * FROM plans ORDER BY id").all<PlanRow>();
    return results.map(planFromRow);
  }

  async getPlan(id: string): Promise<Plan | null> {
    const row = await this.#db.prepare("SELECT * FROM plans WHERE id = ?").bind(id).first<PlanRow>();
    return row ? planFromRow(row) : null;
  }

  /** Creates or replaces a plan; accounts on it see the change within the auth cache TTL. */
  async putPlan(id: string, input: PlanFields): Promise<Plan> {
    const row: PlanRow = { id, ...input };
    await this.#db
      .prepare(
        `INSERT INTO plans (id, name, requests_per_minute, images_per_day, max_pixels, max_images_per_request,
                            image_base_micros, megapixel_step_micros, cache_hit_micros, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET
           name = excluded.name, requests_per_minute = excluded.requests_per_minute,
           images_per_day = excluded.images_per_day, max_pixels = excluded.max_pixels,
           max_images_per_request = excluded.max_images_per_request,
           image_base_micros = excluded.image_base_micros, megapixel_step_micros = excluded.megapixel_step_micros,
           cache_hit_micros = excluded.cache_hit_micros, updated_at = excluded.updated_at`,
      )
      .bind(
        id,
        row.name,
        row.requests_per_minute,
        row.images_per_day,
        row.max_pixels,
        row.max_images_per_request,
        row.image_base_micros,
        row.megapixel_step_micros,
        row.cache_hit_micros,
        Date.now(),
      )
      .run();
    return planFromRow(row);
  }
}
