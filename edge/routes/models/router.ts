/**
 * GET /v1/models: the one model this deployment serves, with the revision that is part of every cache key.
 * @module
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { modelListSchema } from "../../../shared/api";
import { readConfig } from "../../config";
import type { AppEnv } from "../../types";

export const listModelsRoute = createRoute({
  method: "get",
  path: "/v1/models",
  summary: "List models",
  responses: {
    200: { description: "Models", content: { "application/json": { schema: modelListSchema } } },
  },
});

export function mountModelRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(listModelsRoute, (c) => {
    const config = readConfig(c.env);
    return c.json(
      {
        object: "list" as const,
        data: [
          {
            id: config.modelId,
            object: "model" as const,
            created: config.modelCreated,
            owned_by: "z-image",
            revision: config.modelRevision,
          },
        ],
      },
      200,
    );
  });
}
