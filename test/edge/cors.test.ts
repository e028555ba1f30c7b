/**
 * CORS on the public API (hono/cors, origins from CORS_ORIGINS), in the production composition (accounts
 * extension installed): preflights are answered before API-key auth; the admin API never gets CORS headers.
 */
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parseCorsOrigins } from "../../edge/config";
import { ADMIN_TOKEN, call, newCustomer } from "./accounts/support";
import { ORIGIN } from "./support/api";

const APP = "https://app.example.com";
const LISTED = { CORS_ORIGINS: `${APP}, https://other.example:8443` };
const IMAGE_PATH = `/v1/images/${"ab".repeat(32)}.png`;

function preflight(path: string, origin: string, method: string, overrides: Record<string, string> = LISTED) {
  return call(
    path,
    {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": method,
        "access-control-request-headers": "authorization, content-type, idempotency-key, x-stainless-os",
      },
    },
    overrides,
  );
}

function corsHeaders(res: Response): Record<string, string> {
  return Object.fromEntries([...res.headers].filter(([name]) => name.startsWith("access-control-")));
}

function exposed(res: Response): string[] {
  return (res.headers.get("access-control-expose-headers") ?? "").split(",").map((h) => h.trim());
}

describe("CORS on the public API", () => {
  it.each([
    ["/v1/images/generations", "POST"],
    [IMAGE_PATH, "GET"],
    ["/v1/models", "GET"],
    ["/v1/usage", "GET"],
    ["/v1/jobs/job_x", "GET"],
    ["/v1/jobs/job_x/cancel", "POST"],
    ["/openapi.json", "GET"],
  ])(
    "answers a preflight for %s from an allowed origin with 204, before API-key auth",
    async (path, method) => {
      const res = await preflight(path, APP, method);
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe(APP);
      expect(res.headers.get("access-control-allow-methods")?.split(",")).toEqual(
        expect.arrayContaining(["GET", "HEAD", "POST"]),
      );
      expect(res.headers.get("access-control-allow-headers")?.split(",")).toEqual(
        expect.arrayContaining(["authorization", "content-type", "idempotency-key", "x-stainless-os"]),
      );
      expect(res.headers.get("access-control-max-age")).toBe("600");
      expect(res.headers.get("vary")?.toLowerCase()).toContain("origin");
    },
  );

  it("gives an origin that is not listed no CORS headers", async () => {
    const res = await preflight("/v1/images/generations", "https://evil.example", "POST");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const other = await preflight("/v1/models", "https://other.example:8443", "GET");
    expect(other.headers.get("access-control-allow-origin")).toBe("https://other.example:8443");
  });

  it("sets the origin and exposes the client headers on answers, errors included", async () => {
    const anonymous = await call("/v1/models", { headers: { origin: APP } }, LISTED);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("access-control-allow-origin")).toBe(APP);
    expect(exposed(anonymous)).toEqual(
      expect.arrayContaining([
        "x-request-id",
        "x-cache",
        "ratelimit",
        "ratelimit-policy",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-remaining-images",
        "retry-after",
        "retry-after-ms",
        "x-usage-images",
        "x-usage-amount-micros",
      ]),
    );

    const { key } = await newCustomer();
    const res = await call(
      "/v1/models",
      { headers: { origin: APP, authorization: `Bearer ${key}` } },
      LISTED,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    // Every header the answer carries for clients is readable by the browser app.
    for (const name of ["x-request-id", "x-ratelimit-limit", "ratelimit"]) {
      expect(res.headers.get(name)).not.toBeNull();
      expect(exposed(res)).toContain(name);
    }
  });

  it("gives the admin API and the webhook secret no CORS: no preflight answer, no headers on answers", async () => {
    const pre = await preflight("/v1/admin/accounts", APP, "POST");
    expect(pre.status).not.toBe(204);
    expect(corsHeaders(pre)).toEqual({});
    const secret = await preflight("/v1/webhooks/secret", APP, "GET");
    expect(secret.status).not.toBe(204);
    expect(corsHeaders(secret)).toEqual({});
    const res = await call(
      "/v1/admin/plans",
      { headers: { origin: APP, authorization: `Bearer ${ADMIN_TOKEN}` } },
      LISTED,
    );
    expect(res.status).toBe(200);
    expect(corsHeaders(res)).toEqual({});
  });

  it("turns CORS off when CORS_ORIGINS is empty", async () => {
    const res = await preflight("/v1/images/generations", APP, "POST", { CORS_ORIGINS: "" });
    expect(res.status).not.toBe(204);
    expect(corsHeaders(res)).toEqual({});
  });

  it("allows any origin with the local default (*), without Vary: Origin", async () => {
    const pre = await SELF.fetch(`${ORIGIN}/v1/images/generations`, {
      method: "OPTIONS",
      headers: { origin: "https://anything.example", "access-control-request-method": "POST" },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("*");
    const doc = await SELF.fetch(`${ORIGIN}/openapi.json`, {
      headers: { origin: "https://anything.example" },
    });
    expect(doc.status).toBe(200);
    expect(doc.headers.get("access-control-allow-origin")).toBe("*");
    expect(doc.headers.get("vary") ?? "").not.toMatch(/origin/i);
  });
});

describe("CORS_ORIGINS parsing", () => {
  it("normalizes origins as browsers send them and keeps *", () => {
    expect(parseCorsOrigins(" https://App.Example.com/ , http://localhost:5173,*")).toEqual([
      "https://app.example.com",
      "http://localhost:5173",
      "*",
    ]);
    expect(parseCorsOrigins("")).toEqual([]);
  });

  it.each(["app.example.com", "https://app.example.com/path", "https://app.example.com?x=1", "file:///tmp"])(
    "rejects %s",
    (entry) => {
      expect(() => parseCorsOrigins(entry)).toThrow(/CORS_ORIGINS/);
    },
  );
});
