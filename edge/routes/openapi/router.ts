/**
 * GET /openapi.json, generated from the same zod schemas that validate requests.
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../types";

export function mountOpenApiRoute(app: OpenAPIHono<AppEnv>): void {
  // Documents how to authenticate, so the /docs page's "Authorize" sends the pasted key as a bearer token.
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", {
    type: "http",
    scheme: "bearer",
    description: "An API key (zi_live_... or zi_test_...); admin routes take ADMIN_TOKEN instead.",
  });
  app.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "Z-Image API",
      version: "1.0.0",
      description:
        "Pay-per-image text-to-image API (OpenAI-compatible images endpoint) serving Z-Image-Turbo.",
    },
    servers: [{ url: new URL(c.req.url).origin }],
    security: [{ apiKey: [] }],
  }));
}
