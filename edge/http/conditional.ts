/**
 * HTTP conditional requests (RFC 9110 §13) for immutable stored objects: If-Match, If-Unmodified-Since,
 * If-None-Match, If-Modified-Since and If-Range, evaluated in the RFC's order against the object's ETag and
 * upload time. Hand-written because R2's `onlyIf` compares times to the millisecond (an If-Modified-Since
 * copied from our second-resolution Last-Modified would never match) and cannot tell which condition
 * failed (304 or 412), and Hono has no conditional-request middleware for non-static responses.
 * @module
 */

export interface Validators {
  /** Quoted strong entity tag, e.g. `"abc"`. */
  etag: string;
  /** Upload time; HTTP dates have one-second resolution, so compare whole seconds. */
  lastModified: Date;
}

export type PreconditionResult = "proceed" | "not_modified" | "precondition_failed";

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

function parseHttpDate(value: string | null): number | null {
  if (value === null) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

/** Entity tags of a list header (`"a", W/"b"`), or "*". */
function entityTags(value: string): string[] | "*" {
  if (value.trim() === "*") return "*";
  return value.match(/(W\/)?"[^"]*"/g) ?? [];
}

const opaque = (tag: string) => tag.replace(/^W\//, "");

/** Strong comparison (If-Match, If-Range): neither may be weak. */
function strongMatch(header: string, etag: string): boolean {
  const tags = entityTags(header);
  return tags === "*" || tags.some((t) => !t.startsWith("W/") && t === etag);
}

/** Weak comparison (If-None-Match). */
function weakMatch(header: string, etag: string): boolean {
  const tags = entityTags(header);
  return tags === "*" || tags.some((t) => opaque(t) === opaque(etag));
}

/** RFC 9110 §13.2.2 steps 1-4 for a GET or HEAD. */
export function evaluatePreconditions(headers: Headers, v: Validators): PreconditionResult {
  const ifMatch = headers.get("if-match");
  if (ifMatch !== null) {
    if (!strongMatch(ifMatch, v.etag)) return "precondition_failed";
  } else {
    const since = parseHttpDate(headers.get("if-unmodified-since"));
    if (since !== null && seconds(v.lastModified) > since) return "precondition_failed";
  }
  const ifNoneMatch = headers.get("if-none-match");
  if (ifNoneMatch !== null) return weakMatch(ifNoneMatch, v.etag) ? "not_modified" : "proceed";
  const modifiedSince = parseHttpDate(headers.get("if-modified-since"));
  if (modifiedSince !== null && seconds(v.lastModified) <= modifiedSince) return "not_modified";
  return "proceed";
}

/** Whether a Range may be honoured: no If-Range, or one that names this representation (§13.1.5). */
export function ifRangeHolds(headers: Headers, v: Validators): boolean {
  const ifRange = headers.get("if-range");
  if (ifRange === null) return true;
  if (ifRange.trim().startsWith('"') || ifRange.trim().startsWith("W/")) return strongMatch(ifRange, v.etag);
  const date = parseHttpDate(ifRange);
  return date !== null && date === seconds(v.lastModified);
}

const CONDITIONAL_HEADERS = [
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "if-range",
];

/** Plain GETs (the common case) skip the metadata lookup that conditions need. */
export function isConditional(headers: Headers): boolean {
  return CONDITIONAL_HEADERS.some((name) => headers.has(name));
}
