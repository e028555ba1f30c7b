/**
 * What happens when Redis cannot decide: `RATE_LIMIT_FAIL_MODE=open` admits the request (availability first;
 * the ledger still records everything billed), `closed` answers 503. Either way the event is logged.
 *
 * @module
 */
import type { AccountsConfig } from "../../accounts/config";
import { ApiError } from "../../errors";

export function applyFailPolicy(
  config: AccountsConfig,
  limiter: "requests" | "images",
  context: { requestId: string; keyId: string },
  error: Error,
): void {
  console.warn(
    JSON.stringify({
      level: "warn",
      event: "rate_limiter_unavailable",
      limiter,
      policy: config.failMode,
      requestId: context.requestId,
      keyId: context.keyId,
      error: error.message,
    }),
  );
  if (config.failMode === "closed") {
    throw new ApiError("service_unavailable", "Rate limiting is temporarily unavailable; retry shortly", {
      code: "rate_limiter_unavailable",
      headers: { "retry-after": "1", "retry-after-ms": "1000" },
    });
  }
}
