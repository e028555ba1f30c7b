/**
 * `x-cache` values: per image, and for a whole request. They follow billing (edge/accounts/ledger.ts): only an
 * image this request's own flight generated is a MISS.
 * @module
 */
import type { CacheStatus } from "../../shared/api";
import type { ServedImage } from "../types";

/** One image: HIT = already stored (R2, or found by its flight); COALESCED = joined another request's flight. */
export function imageCacheStatus(served: ServedImage): Exclude<CacheStatus, "PARTIAL"> {
  if (served.source === "generated") return "MISS";
  return served.source === "coalesced" ? "COALESCED" : "HIT";
}

/** The request's `x-cache`: the images' common status, or PARTIAL when they differ. Matches billing. */
export function cacheStatus(served: ServedImage[]): CacheStatus {
  const statuses = new Set(served.map(imageCacheStatus));
  return statuses.size === 1 ? [...statuses][0] : "PARTIAL";
}
