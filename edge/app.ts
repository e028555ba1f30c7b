/**
 * The edge application, built from small route modules.
 *
 * Order of a request: request context (id, served images) -> CORS (public routes only; answers preflights)
 * -> 405 for a wrong method (before anything reads the body or counts) -> EXTENSIONS (auth, rate limit,
 * metering, idempotency: see `AppExtension`) -> routes. Extensions are installed before the public routes, so
 * their middleware wraps them and can read `c.var.servedImages` after `await next()`.
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { notFound, onError } from "./errors";
import { CORS_PATHS, publicCors } from "./middleware/cors";
import { deploymentGuard } from "./middleware/deployment-guard";
import { methodNotAllowedFirst } from "./middleware/method-not-allowed";
import { requestContext } from "./middleware/request-context";
import { mountOpenApiDocument } from "./openapi/document";
import { mountHealthRoutes } from "./routes/health/router";
import { mountImageRoutes } from "./routes/images/router";
import { mountModelRoutes } from "./routes/models/router";
import type { AppEnv } from "./types";
import { validationHook } from "./validation";

export type EdgeApp = OpenAPIHono<AppEnv>;

/** A feature that plugs middleware and routes into the app (e.g. accounts: API keys, rate limits, billing). */
export interface AppExtension {
  name: string;
  /** Called once while the app is built, before the public routes are registered. */
  install(app: EdgeApp): void;
}

export interface CreateAppOptions {
  extensions?: AppExtension[];
}

export function createApp(options: CreateAppOptions = {}): EdgeApp {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.onError(onError);
  app.notFound(notFound);

  app.use("*", requestContext());
  app.use("*", deploymentGuard());
  // Before the 405 check and the extensions' auth: a preflight (OPTIONS, no API key) is answered here.
  const corsMiddleware = publicCors();
  for (const path of CORS_PATHS) app.use(path, corsMiddleware);
  // A wrong method is answered before auth, limits or body parsing run (it costs no quota).
  app.use("*", methodNotAllowedFirst(app));

  // ---- EXTENSION POINT: auth / rate-limit / metering middleware and admin routes go here ----
  for (const extension of options.extensions ?? []) extension.install(app);

  mountHealthRoutes(app);
  mountImageRoutes(app);
  mountModelRoutes(app);
  mountOpenApiDocument(app);
  return app;
}
