/**
 * GET /v1/images/{cacheKey}.{ext}: content-addressed images from R2 with ETag and Last-Modified, conditional
 * requests per RFC 9110 (304 / 412, If-Range), single byte ranges -> 206, and immutable caching (the key's
 * hash covers every input).
 * @module
 */
import type { Context } from "hono";
import { z } from "zod";
import { errorEnvelopeSchema } from "../../../shared/errors";
import { CONTENT_TYPES, OUTPUT_FORMATS, type OutputFormat } from "../../../shared/protocol";
import { IMMUTABLE_CACHE_CONTROL } from "../../cache/image-store";
import { ApiError } from "../../errors";
import { evaluatePreconditions, ifRangeHolds, isConditional } from "../../http/conditional";
import type { AppEnv } from "../../types";

/** Hono path with the key shape in the pattern, so other paths fall through to 404/405. */
export const SERVE_IMAGE_PATH = "/v1/images/:file{[0-9a-f]{64}\\.[a-z]{3,4}}";

const IMAGE_RESPONSE_HEADERS = {
  ETag: { description: "Strong entity tag of the image", schema: { type: "string" as const } },
  "Last-Modified": { description: "When the image was stored", schema: { type: "string" as const } },
  "Cache-Control": {
    description: "public, max-age=31536000, immutable",
    schema: { type: "string" as const },
  },
};

/** OpenAPI description of the same route (registered without a handler: Hono serves SERVE_IMAGE_PATH). */
export const serveImageDoc = {
  method: "get" as const,
  path: "/v1/images/{file}",
  summary: "Fetch a generated image by content address",
  request: {
    params: z.object({
      file: z.string().meta({
        description: "`{cacheKey}.{ext}`: 64 hex characters, then png, jpeg or webp",
        example: `${"0".repeat(64)}.png`,
      }),
    }),
  },
  responses: {
    200: { description: "The image (immutable)", headers: IMAGE_RESPONSE_HEADERS },
    206: {
      description: "A byte range of the image (Range; If-Range must match)",
      headers: IMAGE_RESPONSE_HEADERS,
    },
    304: { description: "Not modified (If-None-Match matched the ETag, or If-Modified-Since)" },
    412: {
      description: "Precondition failed (If-Match or If-Unmodified-Since)",
      content: { "application/json": { schema: errorEnvelopeSchema } },
    },
    404: { description: "Unknown image", content: { "application/json": { schema: errorEnvelopeSchema } } },
    416: {
      description: "Range not satisfiable",
      content: { "application/json": { schema: errorEnvelopeSchema } },
    },
  },
};

const unsatisfiableRange = (size: number) =>
  new ApiError("invalid_request_error", "Range not satisfiable", {
    status: 416,
    code: "range_not_satisfiable",
    headers: { "content-range": `bytes */${size}` },
  });

const unknownImage = () =>
  new ApiError("not_found_error", "No such image", { param: "file", code: "image_not_found" });

/**
 * Parses a single-range `Range: bytes=...` header into an R2 range. Hand-written because R2 needs only this
 * small subset and miniflare silently serves the whole object for ranges it cannot satisfy. Multiple ranges
 * or bad syntax give null: the Range header is then ignored (full 200), as RFC 9110 allows.
 */
export function parseRange(header: string | undefined): R2Range | null {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") return { suffix: Number(m[2]) || 0 };
  const offset = Number(m[1]);
  if (m[2] === "") return { offset };
  const last = Number(m[2]);
  return last < offset ? null : { offset, length: last - offset + 1 };
}

/** First and last byte R2 actually served (it clamps ranges that run past the end). */
function servedSpan(range: R2Range, size: number): { start: number; end: number } {
  if ("suffix" in range && range.suffix !== undefined) {
    return { start: Math.max(0, size - range.suffix), end: size - 1 };
  }
  const start = "offset" in range && range.offset !== undefined ? range.offset : 0;
  const length = "length" in range && range.length !== undefined ? range.length : size - start;
  return { start, end: Math.min(start + length, size) - 1 };
}

/** Headers of every answer about a stored image (200, 206, 304, 412). */
function imageHeaders(object: R2Object): Headers {
  const headers = new Headers();
  object.writeHttpMetadata(headers);
  headers.set("etag", object.httpEtag);
  headers.set("last-modified", object.uploaded.toUTCString());
  headers.set("cache-control", IMMUTABLE_CACHE_CONTROL);
  headers.set("accept-ranges", "bytes");
  return headers;
}

const validators = (object: R2Object) => ({ etag: object.httpEtag, lastModified: object.uploaded });

export async function serveImage(c: Context<AppEnv>): Promise<Response> {
  const [key, ext] = (c.req.param("file") ?? "").split(".");
  if (!OUTPUT_FORMATS.includes(ext as OutputFormat)) throw unknownImage();
  const requestHeaders = c.req.raw.headers;
  let range = parseRange(c.req.header("range"));

  // Conditional requests are decided on the object's metadata first: a 304 or 412 reads no bytes.
  if (isConditional(requestHeaders)) {
    const head = await c.env.IMAGES.head(key);
    if (!head || head.httpMetadata?.contentType !== CONTENT_TYPES[ext as OutputFormat]) throw unknownImage();
    const verdict = evaluatePreconditions(requestHeaders, validators(head));
    if (verdict === "not_modified") return new Response(null, { status: 304, headers: imageHeaders(head) });
    if (verdict === "precondition_failed") {
      throw new ApiError("invalid_request_error", "Precondition failed (If-Match / If-Unmodified-Since)", {
        status: 412,
        code: "precondition_failed",
        headers: { etag: head.httpEtag, "last-modified": head.uploaded.toUTCString() },
      });
    }
    if (range && !ifRangeHolds(requestHeaders, validators(head))) range = null;
  }

  let object: R2ObjectBody | null;
  try {
    object = await c.env.IMAGES.get(key, range ? { range } : {});
  } catch (err) {
    // R2 throws for a range that starts past the end of the object.
    if (!range) throw err;
    const head = await c.env.IMAGES.head(key);
    if (!head) throw unknownImage();
    throw unsatisfiableRange(head.size);
  }
  if (!object || object.httpMetadata?.contentType !== CONTENT_TYPES[ext as OutputFormat])
    throw unknownImage();

  const headers = imageHeaders(object);
  if (range && object.range) {
    const { start, end } = servedSpan(object.range, object.size);
    headers.set("content-range", `bytes ${start}-${end}/${object.size}`);
    headers.set("content-length", String(end - start + 1));
    return new Response(object.body, { status: 206, headers });
  }
  headers.set("content-length", String(object.size));
  return new Response(object.body, { status: 200, headers });
}
