/** Routes and deployment rules around the image API: health, models, the OpenAPI document's origin and limits. */
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, installGpu, newCustomer, readError } from "./support";

describe("GET /healthz", () => {
  it("answers without credentials and touches no dependency", async () => {
    const res = await call("/healthz", {}, { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });
});

describe("GET /v1/admin/backends", () => {
  it("reports each GPU backend's readiness and circuit, behind the admin token", async () => {
    installGpu();
    expect((await call("/v1/admin/backends")).status).toBe(401);
    const res = await call("/v1/admin/backends", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { total: number; backends: { url: string; circuit: string }[] };
    expect(body.total).toBe(2);
    expect(body.backends.map((b) => b.url)).toEqual(["http://gpu-a.test", "http://gpu-b.test"]);
    expect(body.backends.every((b) => ["closed", "open", "half-open"].includes(b.circuit))).toBe(true);
  });
});

describe("GET /v1/models/{model}", () => {
  it("retrieves the served model and 404s any other id, with an API key", async () => {
    const { key } = await newCustomer();
    const auth = { headers: { authorization: `Bearer ${key}` } };
    const res = await call("/v1/models/z-image-turbo", auth);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: "z-image-turbo", object: "model", owned_by: "z-image" });
    const missing = await call("/v1/models/dall-e-3", auth);
    expect(missing.status).toBe(404);
    expect(await readError(missing)).toMatchObject({ code: "model_not_found", param: "model" });
    expect((await call("/v1/models/z-image-turbo")).status).toBe(401);
  });
});

describe("public origin", () => {
  it("production without PUBLIC_BASE_URL refuses to serve (503) instead of trusting the Host header", async () => {
    const res = await call("/healthz", {}, { DEPLOYMENT: "production", PUBLIC_BASE_URL: "" });
    expect(res.status).toBe(503);
    expect(await readError(res)).toMatchObject({ code: "deployment_misconfigured" });
  });

  it("image URLs and the OpenAPI servers use PUBLIC_BASE_URL, never the request's host", async () => {
    installGpu();
    const { key } = await newCustomer();
    const env = { DEPLOYMENT: "production", PUBLIC_BASE_URL: "https://api.example.com" };
    const res = await call(
      "/v1/images/generations",
      {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json", host: "evil.test" },
        body: JSON.stringify({ prompt: `origin ${crypto.randomUUID()}`, size: "64x64" }),
      },
      env,
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: { url: string }[] };
    expect(body.data[0].url).toMatch(/^https:\/\/api\.example\.com\/v1\/images\/[0-9a-f]{64}\.png$/);
    const doc = (await (await call("/openapi.json", {}, env)).json()) as { servers: { url: string }[] };
    expect(doc.servers).toEqual([{ url: "https://api.example.com" }]);
  });

  it("local dev keeps the request's origin", async () => {
    const doc = (await (await call("/openapi.json")).json()) as { servers: { url: string }[] };
    expect(doc.servers).toEqual([{ url: "http://edge.test" }]);
  });
});

describe("/openapi.json states the deployment's real limits and security", () => {
  it("publishes the configured prompt limit and the two security schemes", async () => {
    const doc = (await (await call("/openapi.json")).json()) as {
      components: { schemas: Record<string, { properties: Record<string, { maxLength?: number }> }> } & {
        securitySchemes: Record<string, unknown>;
      };
      paths: Record<string, Record<string, { security: unknown[] }>>;
    };
    // vitest.edge.config.ts sets MAX_PROMPT_CHARS=3000 under the 4000 ceiling.
    expect(doc.components.schemas.ImageGenerationRequest.properties.prompt.maxLength).toBe(3000);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(["adminToken", "apiKey"]);
    expect(doc.paths["/v1/images/generations"].post.security).toEqual([{ apiKey: [] }]);
    expect(doc.paths["/v1/admin/plans"].get.security).toEqual([{ adminToken: [] }]);
    expect(doc.paths["/v1/images/{file}"].get.security).toEqual([]);
  });
});
