/**
 * The admin API under /v1/admin/* (guarded by `adminAuth`, mounted by the accounts extension).
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../types";
import { mountBackendHealthRoute } from "../health/router";
import { mountAdminAccountRoutes } from "./accounts";
import { mountAdminKeyRoutes } from "./keys";

export const ADMIN_PATH = "/v1/admin/*";

export function mountAdminRoutes(app: OpenAPIHono<AppEnv>): void {
  mountAdminAccountRoutes(app);
  mountAdminKeyRoutes(app);
  mountBackendHealthRoute(app);
}
