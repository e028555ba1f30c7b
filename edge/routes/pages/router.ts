/**
 * The HTML pages: `/` (links), `/docs` (API reference) and `/playground`. Their scripts and styles are static
 * assets (public/assets/); these routes only return the HTML, with the pages' security headers. They are not
 * part of the OpenAPI document and need no API key.
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../types";
import { docsPage } from "./docs";
import { homePage } from "./home";
import { pageHeaders } from "./layout";
import { playgroundPage } from "./playground";

export const PAGE_PATHS = ["/", "/docs", "/playground"] as const;

export function mountPageRoutes(app: OpenAPIHono<AppEnv>): void {
  const headers = pageHeaders();
  for (const path of PAGE_PATHS) app.use(path, headers);
  app.get("/", (c) => c.html(homePage()));
  app.get("/docs", (c) => c.html(docsPage()));
  app.get("/playground", (c) => c.html(playgroundPage()));
}
