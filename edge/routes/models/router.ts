/**
 * GET /v1/models: the one model this deployment serves, with the revision that is part of every cache key.
 * @module
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { modelListSchema, modelSchema } from "../../../shared/api";
import { errorEnvelopeSchema } from "../../../shared/errors";
import { type EdgeConfig, readConfig } from "../../config";
import { ApiError } from "../../errors";
import type { AppEnv } from "../../types";

export const listModelsRoute = createRoute({
  method: "get",
  path: "/v1/models",
  summary: "List models",
  responses: {
    200: { description: "Models", content: { "application/json": { schema: modelListSchema } } },
  },
});

export const retrieveModelRoute = createRoute({
  method: "get",
  path: "/v1/models/{model}",
  summary: "Retrieve a model (the openai SDK's models.retrieve)",
  request: {
    params: z.object({ model: z.string().meta({ description: "Model id", example: "z-image-turbo" }) }),
  },
  responses: {
    200: { description: "The model", content: { "application/json": { schema: modelSchema } } },
    404: { description: "No such model", content: { "application/json": { schema: errorEnvelopeSchema } } },
  },
});

function servedModel(config: EdgeConfig) {
  return {
    id: config.modelId,
    object: "model" as const,
    created: config.modelCreated,
    owned_by: "z-image",
    revision: config.modelRevision,
  };
}

export function mountModelRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(listModelsRoute, (c) =>
    c.json({ object: "list" as const, data: [servedModel(readConfig(c.env))] }, 200),
  );
  app.openapi(retrieveModelRoute, (c) => {
    const config = readConfig(c.env);
    const { model } = c.req.valid("param");
    if (model !== config.modelId) {
      throw new ApiError("not_found_error", `The model '${model}' does not exist`, {
        param: "model",
        code: "model_not_found",
      });
    }
    return c.json(servedModel(config), 200);
  });
}
