/**
 * Usage reports from the ledger: per UTC day or per API key, over a time range, as JSON or CSV.
 *
 * @module
 */
import { z } from "zod";

export const USAGE_GROUPS = ["day", "key"] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

const DAY_MS = 86_400_000;
/** Longest range one report may cover. */
export const MAX_USAGE_RANGE_MS = 366 * DAY_MS;

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * `start` / `end`: a date (`2026-11-01`, a whole UTC day; `end` includes that day) or an ISO 8601 timestamp
 * (`end` exclusive). Defaults: the last 30 days up to now.
 */
export const usageQuerySchema = z.object({
  start: z
    .string()
    .optional()
    .meta({ description: "Date (YYYY-MM-DD, UTC) or ISO timestamp; default 30 days before end" }),
  end: z
    .string()
    .optional()
    .meta({ description: "Date (inclusive, UTC) or ISO timestamp (exclusive); default now" }),
  group_by: z.enum(USAGE_GROUPS).default("day"),
});

export type UsageQuery = z.infer<typeof usageQuerySchema>;

export interface UsageRange {
  startMs: number;
  endMs: number;
}

/** Parses the range; returns an error message for the caller instead of throwing. */
export function parseUsageRange(
  query: UsageQuery,
  now: number,
): UsageRange | { error: string; param: string } {
  const parse = (value: string, isEnd: boolean): number => {
    if (DATE_ONLY.test(value)) {
      const day = Date.parse(`${value}T00:00:00Z`);
      return isEnd ? day + DAY_MS : day;
    }
    return Date.parse(value);
  };
  const endMs = query.end === undefined ? now : parse(query.end, true);
  if (Number.isNaN(endMs)) return { error: "end must be YYYY-MM-DD or an ISO 8601 timestamp", param: "end" };
  const startMs = query.start === undefined ? endMs - 30 * DAY_MS : parse(query.start, false);
  if (Number.isNaN(startMs))
    return { error: "start must be YYYY-MM-DD or an ISO 8601 timestamp", param: "start" };
  if (startMs >= endMs) return { error: "start must be before end", param: "start" };
  if (endMs - startMs > MAX_USAGE_RANGE_MS)
    return { error: "the range may span at most 366 days", param: "start" };
  return { startMs, endMs };
}

export interface UsageTotals {
  images: number;
  generated: number;
  cache_hits: number;
  amount_micros: number;
  amount_usd: string;
}

export type UsageBucket = UsageTotals & ({ day: string } | { key_id: string; key_prefix: string | null });

export interface UsageReport {
  object: "usage";
  account_id: string;
  start: string;
  end: string;
  group_by: UsageGroup;
  currency: "usd";
  data: UsageBucket[];
  total: UsageTotals;
}

/** Exact decimal dollars from integer micro-dollars (no floating point). */
export function microsToUsd(micros: number): string {
  const sign = micros < 0 ? "-" : "";
  const abs = Math.abs(micros);
  return `${sign}${Math.floor(abs / 1_000_000)}.${String(abs % 1_000_000).padStart(6, "0")}`;
}

interface Row {
  bucket: string;
  key_prefix: string | null;
  images: number;
  generated: number;
  cache_hits: number;
  amount_micros: number;
}

function totals(row: Omit<Row, "bucket" | "key_prefix">): UsageTotals {
  return {
    images: row.images,
    generated: row.generated,
    cache_hits: row.cache_hits,
    amount_micros: row.amount_micros,
    amount_usd: microsToUsd(row.amount_micros),
  };
}

const SUMS = `COUNT(*) AS images, SUM(l.kind = 'generated') AS generated, SUM(l.kind = 'cache_hit') AS cache_hits,
              SUM(l.amount_micros) AS amount_micros`;

export async function usageReport(
  db: D1Database,
  accountId: string,
  range: UsageRange,
  groupBy: UsageGroup,
): Promise<UsageReport> {
  const sql =
    groupBy === "day"
      ? `SELECT strftime('%Y-%m-%d', l.created_at / 1000, 'unixepoch') AS bucket, NULL AS key_prefix, ${SUMS}
           FROM ledger l WHERE l.account_id = ?1 AND l.created_at >= ?2 AND l.created_at < ?3
          GROUP BY bucket ORDER BY bucket`
      : `SELECT l.key_id AS bucket, k.prefix AS key_prefix, ${SUMS}
           FROM ledger l LEFT JOIN api_keys k ON k.id = l.key_id
          WHERE l.account_id = ?1 AND l.created_at >= ?2 AND l.created_at < ?3
          GROUP BY l.key_id ORDER BY l.key_id`;
  const { results } = await db.prepare(sql).bind(accountId, range.startMs, range.endMs).all<Row>();
  const data: UsageBucket[] = results.map((row) =>
    groupBy === "day"
      ? { day: row.bucket, ...totals(row) }
      : { key_id: row.bucket, key_prefix: row.key_prefix, ...totals(row) },
  );
  const sum = (field: "images" | "generated" | "cache_hits" | "amount_micros") =>
    results.reduce((acc, row) => acc + row[field], 0);
  return {
    object: "usage",
    account_id: accountId,
    start: new Date(range.startMs).toISOString(),
    end: new Date(range.endMs).toISOString(),
    group_by: groupBy,
    currency: "usd",
    data,
    total: totals({
      images: sum("images"),
      generated: sum("generated"),
      cache_hits: sum("cache_hits"),
      amount_micros: sum("amount_micros"),
    }),
  };
}

function csvField(value: string | number | null): string {
  const text = value === null ? "" : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The report as CSV (RFC 4180): one line per bucket, no total line (sum the columns). */
export function usageCsv(report: UsageReport): string {
  const amountColumns = ["images", "generated", "cache_hits", "amount_micros", "amount_usd"] as const;
  const head = report.group_by === "day" ? ["day"] : ["key_id", "key_prefix"];
  const lines = [[...head, ...amountColumns].join(",")];
  for (const bucket of report.data) {
    const keys = "day" in bucket ? [bucket.day] : [bucket.key_id, bucket.key_prefix];
    lines.push([...keys, ...amountColumns.map((column) => bucket[column])].map(csvField).join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}
