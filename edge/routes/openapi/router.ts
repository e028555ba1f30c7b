/**
 * GET /openapi.json, generated from the same zod schemas that validate requests.
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../types";

export function mountOpenApiRoute(app: OpenAPIHono<AppEnv>): void {
  app.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "Z-Image API",
      version: "1.0.0",
      description:
        "Pay-per-image text-to-image API (OpenAI-compatible images endpoint) serving Z-Image-Turbo.",
    },
    servers: [{ url: new URL(c.req.url).origin }],
  }));
}
