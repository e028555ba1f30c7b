/**
 * The usage ledger: one D1 row per image a client received, priced by the account's plan at that moment.
 *
 * @module
 */
import type { ServedImage } from "../types";
import { type ChargeKind, unitPriceMicros } from "./pricing";
import type { Principal } from "./store";

export interface LedgerRow {
  accountId: string;
  keyId: string;
  requestId: string;
  cacheKey: string;
  kind: ChargeKind;
  source: ServedImage["source"];
  live: boolean;
  width: number;
  height: number;
  steps: number;
  unitPriceMicros: number;
  amountMicros: number;
  createdAt: number;
}

/**
 * Only images this request's own flight generated on a GPU are priced as generated. Images from R2, from
 * another request's concurrent flight ("coalesced") or found stored by the flight ("cached") cost no GPU work
 * for this request and are priced as cache hits.
 */
export function chargeKind(image: ServedImage): ChargeKind {
  return image.source === "generated" ? "generated" : "cache_hit";
}

export function ledgerRows(
  principal: Principal,
  requestId: string,
  images: ServedImage[],
  now: number,
): LedgerRow[] {
  return images.map((image) => {
    const kind = chargeKind(image);
    const unit = unitPriceMicros(principal.plan, kind, image);
    return {
      accountId: principal.accountId,
      keyId: principal.keyId,
      requestId,
      cacheKey: image.cacheKey,
      kind,
      source: image.source,
      live: principal.mode === "live",
      width: image.width,
      height: image.height,
      steps: image.steps,
      unitPriceMicros: unit,
      amountMicros: unit,
      createdAt: now,
    };
  });
}

/** `orIgnore`: a row already written for (request_id, cache_key) is kept (async jobs re-run at least once). */
export function insertLedgerRow(db: D1Database, row: LedgerRow, orIgnore = false): D1PreparedStatement {
  return db
    .prepare(
      `INSERT ${orIgnore ? "OR IGNORE " : ""}INTO ledger (account_id, key_id, request_id, cache_key, kind, source, live, width, height, steps,
                           unit_price_micros, amount_micros, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      row.accountId,
      row.keyId,
      row.requestId,
      row.cacheKey,
      row.kind,
      row.source,
      row.live ? 1 : 0,
      row.width,
      row.height,
      row.steps,
      row.unitPriceMicros,
      row.amountMicros,
      row.createdAt,
    );
}
