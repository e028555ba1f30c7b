/**
 * Image routes: generation, edits (image-to-image) and content-addressed serving.
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../types";
import { EDITS_PATH, editImages, editImagesDoc, editsBodyLimit } from "./edits";
import { generateImages, generateImagesRoute } from "./generate";
import { SERVE_IMAGE_PATH, serveImage, serveImageDoc } from "./serve";

export function mountImageRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(generateImagesRoute, generateImages);
  app.post(EDITS_PATH, editsBodyLimit, editImages);
  app.openAPIRegistry.registerPath(editImagesDoc);
  app.get(SERVE_IMAGE_PATH, serveImage);
  app.openAPIRegistry.registerPath(serveImageDoc);
}
