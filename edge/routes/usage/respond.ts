/**
 * Shared by `GET /v1/usage` and `GET /v1/admin/accounts/{id}/usage`: parse the query, build the report,
 * answer JSON or (with `Accept: text/csv`) CSV.
 * @module
 */
import type { Context } from "hono";
import { parseUsageRange, usageCsv, usageQuerySchema, usageReport } from "../../accounts/usage";
import { ApiError } from "../../errors";
import type { AppEnv } from "../../types";
import { validationError } from "../../validation";

export async function respondWithUsage(c: Context<AppEnv>, accountId: string): Promise<Response> {
  const query = usageQuerySchema.safeParse(c.req.query());
  if (!query.success) throw validationError(query.error);
  const range = parseUsageRange(query.data, Date.now());
  if ("error" in range) {
    throw new ApiError("invalid_request_error", range.error, { param: range.param, code: "invalid_range" });
  }
  const report = await usageReport(c.env.DB, accountId, range, query.data.group_by);
  if ((c.req.header("accept") ?? "").toLowerCase().includes("text/csv")) {
    return c.body(usageCsv(report), 200, {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="usage-${report.group_by}.csv"`,
      vary: "accept",
    });
  }
  c.header("vary", "accept");
  return c.json(report, 200);
}
