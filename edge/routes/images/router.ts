/**
 * Image routes: generation and content-addressed serving.
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../types";
import { generateImages, generateImagesRoute } from "./generate";
import { SERVE_IMAGE_PATH, serveImage, serveImageDoc } from "./serve";

export function mountImageRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(generateImagesRoute, generateImages);
  app.get(SERVE_IMAGE_PATH, serveImage);
  app.openAPIRegistry.registerPath(serveImageDoc);
}
