/**
 * Health of the edge itself and, for operators, of the GPU backends behind it.
 * - `GET /healthz`: liveness of this Worker. Cheap: touches no binding, no Redis, no GPU.
 * - `GET /v1/admin/backends` (admin token): each GPU backend's `/readyz` answer and its circuit as this isolate
 *   sees it, so an operator can tell "edge up, GPUs cold" from "edge down".
 * @module
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { errorEnvelopeSchema } from "../../../shared/errors";
import { readConfig } from "../../config";
import { gpuClientFor } from "../../gpu/shared-client";
import type { AppEnv } from "../../types";

const PROBE_TIMEOUT_MS = 3000;

const healthSchema = z.object({ status: z.literal("ok") }).meta({ id: "Health" });

const backendSchema = z
  .object({
    url: z.string(),
    circuit: z.enum(["closed", "open", "half-open"]),
    ready: z.boolean(),
    status: z.number().int().nullable().meta({ description: "HTTP status of /readyz; null if unreachable" }),
    latency_ms: z.number().int(),
    detail: z.unknown().meta({ description: "The backend's /readyz body, or the connection error" }),
  })
  .meta({ id: "GpuBackendStatus" });

const backendsSchema = z
  .object({ ready: z.number().int(), total: z.number().int(), backends: z.array(backendSchema) })
  .meta({ id: "GpuBackends" });

export const healthRoute = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["Operations"],
  summary: "Liveness of the edge (no dependencies checked)",
  responses: {
    200: { description: "The Worker is serving", content: { "application/json": { schema: healthSchema } } },
    503: {
      description: "The deployment is misconfigured (see the log)",
      content: { "application/json": { schema: errorEnvelopeSchema } },
    },
  },
});

export const backendsRoute = createRoute({
  method: "get",
  path: "/v1/admin/backends",
  tags: ["Admin"],
  summary: "Readiness of each GPU backend",
  security: [{ adminToken: [] }],
  responses: {
    200: {
      description: "One entry per configured backend",
      content: { "application/json": { schema: backendsSchema } },
    },
    401: {
      description: "Missing or wrong admin token",
      content: { "application/json": { schema: errorEnvelopeSchema } },
    },
  },
});

async function probe(url: string, token: string): Promise<Omit<z.infer<typeof backendSchema>, "circuit">> {
  const started = Date.now();
  try {
    const res = await fetch(`${url}/readyz`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    const text = await res.text();
    let detail: unknown = text.slice(0, 500);
    try {
      detail = JSON.parse(text);
    } catch {}
    return { url, ready: res.status === 200, status: res.status, latency_ms: Date.now() - started, detail };
  } catch (error) {
    return { url, ready: false, status: null, latency_ms: Date.now() - started, detail: String(error) };
  }
}

export function mountHealthRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(healthRoute, (c) => c.json({ status: "ok" as const }, 200));
}

/** Mounted by the accounts extension, behind its admin auth. */
export function mountBackendHealthRoute(app: OpenAPIHono<AppEnv>): void {
  app.openapi(backendsRoute, async (c) => {
    const config = readConfig(c.env);
    const circuits = gpuClientFor(config).circuitStates();
    const backends = await Promise.all(
      circuits.map(async ({ backend, circuit }) => ({
        ...(await probe(backend, config.gpuBackendToken)),
        circuit,
      })),
    );
    return c.json({ ready: backends.filter((b) => b.ready).length, total: backends.length, backends }, 200);
  });
}
