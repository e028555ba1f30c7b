/**
 * D1 records of Idempotency-Keys (scoped to the account) and R2 copies of the responses they replay.
 *
 * A claim is an upsert that only succeeds when no live record exists (none, expired after 24 h, or an
 * in-flight claim whose lock ran out because its request died), so exactly one of N concurrent requests
 * with the same key wins.
 *
 * @module
 */

/** How long a completed response is replayed. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** An in-flight claim older than this is presumed dead and may be taken over (longer than any GPU deadline). */
export const IN_FLIGHT_LOCK_MS = 10 * 60 * 1000;
/** R2 key prefix of stored responses. */
export const BODY_PREFIX = "idempotency/";

export interface IdempotencyRecord {
  fingerprint: string;
  state: "in_flight" | "done";
  request_id: string;
  response_status: number | null;
  response_headers: string | null;
  body_ref: string | null;
}

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: ArrayBuffer;
}

export class IdempotencyStore {
  readonly #db: D1Database;
  readonly #bucket: R2Bucket;

  constructor(db: D1Database, bucket: R2Bucket) {
    this.#db = db;
    this.#bucket = bucket;
  }

  /** Tries to claim the key for this request; returns the existing record when someone else holds it. */
  async claim(
    accountId: string,
    key: string,
    fingerprint: string,
    requestId: string,
    now: number,
    attempts = 2,
  ): Promise<{ claimed: true } | { claimed: false; record: IdempotencyRecord }> {
    const won = await this.#db
      .prepare(
        `INSERT INTO idempotency_keys
           (account_id, idempotency_key, fingerprint, state, request_id, locked_until, created_at, expires_at)
         VALUES (?1, ?2, ?3, 'in_flight', ?4, ?5, ?6, ?7)
         ON CONFLICT (account_id, idempotency_key) DO UPDATE SET
           fingerprint = excluded.fingerprint, state = 'in_flight', request_id = excluded.request_id,
           locked_until = excluded.locked_until, response_status = NULL, response_headers = NULL,
           body_ref = NULL, created_at = excluded.created_at, expires_at = excluded.expires_at
         WHERE idempotency_keys.expires_at <= ?6
            OR (idempotency_keys.state = 'in_flight' AND idempotency_keys.locked_until <= ?6)
         RETURNING request_id`,
      )
      .bind(accountId, key, fingerprint, requestId, now + IN_FLIGHT_LOCK_MS, now, now + IDEMPOTENCY_TTL_MS)
      .first<{ request_id: string }>();
    if (won?.request_id === requestId) return { claimed: true };
    const record = await this.#db
      .prepare(
        `SELECT fingerprint, state, request_id, response_status, response_headers, body_ref
           FROM idempotency_keys WHERE account_id = ? AND idempotency_key = ?`,
      )
      .bind(accountId, key)
      .first<IdempotencyRecord>();
    // The holder finished and released between our two statements: try once more.
    if (!record && attempts > 1) return this.claim(accountId, key, fingerprint, requestId, now, attempts - 1);
    if (!record) throw new Error("idempotency record vanished twice while claiming");
    return { claimed: false, record };
  }

  /** Drops an in-flight claim (the request failed), so a retry runs again. */
  async release(accountId: string, key: string, requestId: string): Promise<void> {
    await this.#db
      .prepare(
        `DELETE FROM idempotency_keys
          WHERE account_id = ? AND idempotency_key = ? AND request_id = ? AND state = 'in_flight'`,
      )
      .bind(accountId, key, requestId)
      .run();
  }

  /**
   * Stores the response body in R2 and returns the D1 statement that marks the record done. The caller runs
   * that statement in the same batch as the ledger rows, so both commit or neither does.
   */
  async prepareCompletion(
    accountId: string,
    key: string,
    requestId: string,
    response: StoredResponse,
  ): Promise<D1PreparedStatement> {
    const bodyRef = `${BODY_PREFIX}${accountId}/${requestId}`;
    await this.#bucket.put(bodyRef, response.body);
    return this.#db
      .prepare(
        `UPDATE idempotency_keys SET state = 'done', response_status = ?, response_headers = ?, body_ref = ?
          WHERE account_id = ? AND idempotency_key = ? AND request_id = ?`,
      )
      .bind(response.status, JSON.stringify(response.headers), bodyRef, accountId, key, requestId);
  }

  /** The stored response of a completed record; null if its body is gone. */
  async load(record: IdempotencyRecord): Promise<StoredResponse | null> {
    if (record.state !== "done" || !record.body_ref || record.response_status === null) return null;
    const object = await this.#bucket.get(record.body_ref);
    if (!object) return null;
    return {
      status: record.response_status,
      headers: JSON.parse(record.response_headers ?? "{}") as Record<string, string>,
      body: await object.arrayBuffer(),
    };
  }

  /** Deletes records past their 24 h and their stored bodies. */
  async purgeExpired(now: number): Promise<number> {
    const { results } = await this.#db
      .prepare("DELETE FROM idempotency_keys WHERE expires_at <= ? RETURNING body_ref")
      .bind(now)
      .all<{ body_ref: string | null }>();
    const refs = results.map((r) => r.body_ref).filter((ref): ref is string => ref !== null);
    if (refs.length > 0) await this.#bucket.delete(refs);
    return results.length;
  }
}
