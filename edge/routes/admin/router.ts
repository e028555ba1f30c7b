/**
 * The admin API under /v1/admin/* (guarded by `adminAuth`, mounted by the accounts extension).
 * @module
 */
import type { Hono } from "hono";
import type { AppEnv } from "../../types";
import { mountAdminAccountRoutes } from "./accounts";
import { mountAdminKeyRoutes } from "./keys";

export const ADMIN_PATH = "/v1/admin/*";

export function mountAdminRoutes(app: Hono<AppEnv>): void {
  mountAdminAccountRoutes(app);
  mountAdminKeyRoutes(app);
}
