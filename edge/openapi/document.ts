/**
 * GET /openapi.json: the contract. Generated from the zod schemas that validate requests (routes defined with
 * @hono/zod-openapi, plus the doc-only registrations of paths.ts), then completed here with what every
 * operation shares: its security scheme, the errors its middleware can answer (all in the envelope), the
 * rate-limit / idempotency / cache headers, the deployment's real limits and its public origin.
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { publicOrigin, readConfig } from "../config";
import type { AppEnv } from "../types";
import { registerDocumentedPaths } from "./paths";

type Json = Record<string, unknown>;
interface Operation {
  tags?: string[];
  security?: Json[];
  parameters?: Json[];
  responses: Record<string, Json>;
}
interface Document {
  servers?: Json[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json>; securitySchemes?: Json; headers?: Json };
}

const ENVELOPE = { $ref: "#/components/schemas/ErrorEnvelope" };
const header = (description: string, type = "string") => ({ description, schema: { type } });

const HEADERS = {
  "x-request-id": header("Request id (a client-sent id of word characters is kept)"),
  RateLimit: header('Remaining quota, e.g. "requests";r=87;t=42 (draft-ietf-httpapi-ratelimit-headers)'),
  "RateLimit-Policy": header('Quota policy, e.g. "requests";q=120;w=60'),
  "x-ratelimit-limit-requests": header("Requests allowed per minute (OpenAI's name)", "integer"),
  "x-ratelimit-remaining-requests": header("Requests left in the window (OpenAI's name)", "integer"),
  "x-ratelimit-reset-requests": header("Time until the window resets, e.g. 6m0s (OpenAI's format)"),
  "x-ratelimit-limit": header("Requests allowed per minute", "integer"),
  "x-ratelimit-remaining": header("Requests left in the window", "integer"),
  "x-ratelimit-reset": header("Seconds until the window resets", "integer"),
  "x-ratelimit-limit-images": header("Images allowed per UTC day", "integer"),
  "x-ratelimit-remaining-images": header("Images left today", "integer"),
  "x-ratelimit-reset-images": header("Seconds until the daily quota resets", "integer"),
  "x-cache": header(
    "HIT (all images from the cache), MISS (generated for this request), COALESCED (joined an identical " +
      "request's generation in progress), PARTIAL (a mix)",
  ),
  "x-usage-images": header("Images billed by this response", "integer"),
  "x-usage-amount-micros": header("Amount billed by this response, micro-USD", "integer"),
  "idempotent-replayed": header("true when this is the stored response of an earlier Idempotency-Key"),
  "x-original-request-id": header("On a replay: the request id that produced it"),
  "Retry-After": header("Seconds to wait before retrying", "integer"),
  "retry-after-ms": header("Milliseconds to wait before retrying (read by the openai SDK)", "integer"),
  "x-should-retry": header("false when retrying will not help (daily quota spent)"),
  Location: header("The job: /v1/jobs/{id}"),
  "Preference-Applied": header("respond-async or wait=N: the request became a job that has not finished yet"),
};
const ref = (name: keyof typeof HEADERS) => ({ $ref: `#/components/headers/${name}` });
const RATE_LIMIT_HEADERS = (
  [
    "RateLimit",
    "RateLimit-Policy",
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
  ] as const
).map((name) => [name, ref(name)]);
const GENERATION_HEADERS = (
  [
    "x-ratelimit-limit-images",
    "x-ratelimit-remaining-images",
    "x-ratelimit-reset-images",
    "x-cache",
    "x-usage-images",
    "x-usage-amount-micros",
    "idempotent-replayed",
    "x-original-request-id",
  ] as const
).map((name) => [name, ref(name)]);

const ERRORS: Record<string, string> = {
  "400": "Invalid request (the envelope's `param` names the field)",
  "401": "Missing, malformed, unknown or revoked credential",
  "403": "The key lacks the scope, or the request exceeds the plan (size, n)",
  "404": "No such resource",
  "409": "A request with this Idempotency-Key is in progress and could not be waited for",
  "412": "Precondition failed",
  "413": "Body too large",
  "415": "Content-Type is not application/json",
  "416": "Range not satisfiable",
  "422": "Idempotency-Key reused with a different body",
  "429": "Rate limit or daily quota reached; see Retry-After and the rate-limit headers",
  "500": "Internal error",
  "502": "A GPU backend rejected the request",
  "503": "Temporarily unavailable (no GPU backend, limiter unavailable, misconfigured); see Retry-After",
};

/** The operations that make images: the same limits, headers, Idempotency-Key and job answers. */
const IMAGE_POSTS = new Set(["/v1/images/generations", "/v1/images/edits"]);

type Kind = "public" | "apiKey" | "admin";
function kindOf(path: string): Kind {
  if (path.startsWith("/v1/admin/")) return "admin";
  if (path === "/healthz" || path === "/v1/images/{file}") return "public";
  return "apiKey";
}

/** Statuses each operation can answer besides its own: from its auth and its middleware chain. */
function errorStatuses(path: string, method: string, kind: Kind, op: Operation): string[] {
  const statuses = new Set(["500"]);
  if (kind === "apiKey") for (const s of ["401", "429", "503"]) statuses.add(s);
  if (kind === "admin") for (const s of ["401", "503"]) statuses.add(s);
  if (op.parameters?.length || method !== "get") statuses.add("400");
  if (path.includes("{")) statuses.add("404");
  if (path === "/v1/usage") statuses.add("403");
  if (kind === "admin" && method !== "get") statuses.add("404");
  if (IMAGE_POSTS.has(path)) {
    for (const s of ["400", "403", "409", "413", "415", "422", "502", "503"]) statuses.add(s);
  }
  if (path === "/healthz") statuses.add("503");
  return [...statuses];
}

function withHeaders(response: Json, entries: (string | Json)[][]): Json {
  const headers: Json = { ...((response.headers as Json) ?? {}), "x-request-id": ref("x-request-id") };
  for (const [name, value] of entries) headers[name as string] = value;
  return { ...response, headers };
}

function decorate(doc: Document, maxPromptChars: number): void {
  doc.components.securitySchemes = {
    apiKey: {
      type: "http",
      scheme: "bearer",
      description: "An API key (zi_live_... or zi_test_...) in `Authorization: Bearer <key>`",
    },
    adminToken: {
      type: "http",
      scheme: "bearer",
      description: "The deployment's ADMIN_TOKEN secret; API keys are not accepted here",
    },
  };
  doc.components.headers = HEADERS;

  for (const [path, methods] of Object.entries(doc.paths)) {
    const kind = kindOf(path);
    for (const [method, op] of Object.entries(methods)) {
      if (kind === "apiKey") op.security = [{ apiKey: [] }];
      if (kind === "admin") op.security = [{ adminToken: [] }];
      if (kind === "public") op.security = [];
      op.tags ??= [kind === "admin" ? "Admin" : path.startsWith("/v1/images") ? "Images" : "API"];
      if (IMAGE_POSTS.has(path)) {
        // Prefer: wait=N answers the finished job with 200 (as Replicate), not the images' body.
        const ok = (op.responses["200"]?.content as Record<string, { schema: Json }> | undefined)?.[
          "application/json"
        ];
        if (ok) ok.schema = { anyOf: [ok.schema, { $ref: "#/components/schemas/Job" }] };
        op.responses["202"] ??= {
          description:
            "With `Prefer: respond-async`, `Prefer: wait=N` (not finished within N s) or a `webhook_url`: the " +
            "async job (docs/streaming-jobs-webhooks.md); with `wait=N` a job finished in time is the 200",
          content: { "application/json": { schema: { $ref: "#/components/schemas/Job" } } },
          headers: { Location: ref("Location"), "Preference-Applied": ref("Preference-Applied") },
        };
      }
      for (const status of errorStatuses(path, method, kind, op)) {
        op.responses[status] ??= {
          description: ERRORS[status],
          content: { "application/json": { schema: ENVELOPE } },
        };
      }
      for (const [status, response] of Object.entries(op.responses)) {
        const entries: (string | Json)[][] = [];
        const limited = kind === "apiKey" && path !== "/v1/images/{file}";
        if (limited && (status.startsWith("2") || status === "429")) entries.push(...RATE_LIMIT_HEADERS);
        if (IMAGE_POSTS.has(path) && (status.startsWith("2") || status === "429")) {
          entries.push(...GENERATION_HEADERS);
        }
        if (status === "429") {
          entries.push(["Retry-After", ref("Retry-After")], ["retry-after-ms", ref("retry-after-ms")]);
          entries.push(["x-should-retry", ref("x-should-retry")]);
        }
        if (status === "503" || status === "409") entries.push(["Retry-After", ref("Retry-After")]);
        op.responses[status] = withHeaders(response, entries);
      }
      if (IMAGE_POSTS.has(path)) {
        op.parameters = [
          ...(op.parameters ?? []),
          {
            name: "Prefer",
            in: "header",
            required: false,
            description:
              "RFC 7240: `respond-async` answers 202 with a job at once; `wait=N` (N <= 60) holds the answer up " +
              "to N s (200 with the finished job, else 202). Without it the images are answered synchronously.",
            schema: { type: "string" },
          },
          {
            name: "Idempotency-Key",
            in: "header",
            required: false,
            description:
              "Makes retries safe: the same key and body within 24 h replay the stored response (not billed " +
              "again); a different body gives 422; a retry while the first is running waits for it.",
            schema: { type: "string", minLength: 1, maxLength: 255 },
          },
        ];
      }
    }
  }

  // The deployment's own prompt limit (MAX_PROMPT_CHARS), not only the schema's ceiling.
  const request = doc.components.schemas.ImageGenerationRequest as { properties?: Record<string, Json> };
  for (const field of ["prompt", "negative_prompt"]) {
    const property = request?.properties?.[field];
    if (property) property.maxLength = maxPromptChars;
  }
}

export function mountOpenApiDocument(app: OpenAPIHono<AppEnv>): void {
  registerDocumentedPaths(app);
  app.get("/openapi.json", (c) => {
    const config = readConfig(c.env);
    const doc = app.getOpenAPI31Document({
      openapi: "3.1.0",
      info: {
        title: "Z-Image API",
        version: "1.0.0",
        description:
          "Pay-per-image text-to-image API serving Z-Image-Turbo, compatible with OpenAI's images API. Errors " +
          'are always `{"error": {"message", "type", "param", "code"}}`.',
      },
      servers: [{ url: publicOrigin(config, c.req.url) }],
    }) as unknown as Document;
    decorate(doc, config.maxPromptChars);
    return c.json(doc);
  });
}
