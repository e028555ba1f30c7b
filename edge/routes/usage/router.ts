/**
 * GET /v1/usage?start=&end=&group_by=day|key — the caller's account usage from the ledger (JSON, or CSV with
 * `Accept: text/csv`). Needs an API key with the `usage:read` scope (auth is mounted by the accounts extension).
 * @module
 */
import type { Hono } from "hono";
import type { AppEnv } from "../../types";
import { respondWithUsage } from "./respond";

export const USAGE_PATH = "/v1/usage";

export function mountUsageRoutes(app: Hono<AppEnv>): void {
  app.get(USAGE_PATH, (c) => respondWithUsage(c, c.var.principal.accountId));
}
