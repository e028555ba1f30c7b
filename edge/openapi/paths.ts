/**
 * OpenAPI descriptions of routes served by plain Hono handlers (usage, admin API): registered without a handler,
 * like the image route. Errors, security and shared headers are added to every operation by document.ts.
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { planInputSchema } from "../accounts/plans";
import { usageQuerySchema } from "../accounts/usage";
import { createAccountSchema, updateAccountSchema } from "../routes/admin/accounts";
import { issueKeySchema } from "../routes/admin/keys";
import type { AppEnv } from "../types";
import {
  accountKeysSchema,
  accountSchema,
  issuedKeySchema,
  keySummarySchema,
  planListSchema,
  planSchema,
  usageReportSchema,
} from "./schemas";

const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
const jsonBody = (schema: z.ZodType) => ({ required: true, content: { "application/json": { schema } } });
const id = (name: string, description: string) =>
  z.object({ [name]: z.string().meta({ description }) }) as z.ZodObject<Record<string, z.ZodString>>;

const usageResponse = {
  ...json(usageReportSchema, "Usage totals per day or per key (JSON), or the same rows as CSV"),
  content: {
    "application/json": { schema: usageReportSchema },
    "text/csv": { schema: z.string() },
  },
};

export function registerDocumentedPaths(app: OpenAPIHono<AppEnv>): void {
  const r = app.openAPIRegistry;
  r.registerPath({
    method: "get",
    path: "/v1/usage",
    tags: ["Usage"],
    summary: "Usage and charges of the caller's account (`Accept: text/csv` for CSV)",
    request: { query: usageQuerySchema },
    responses: { 200: usageResponse },
  });

  const admin = { tags: ["Admin"] };
  r.registerPath({
    ...admin,
    method: "post",
    path: "/v1/admin/accounts",
    summary: "Create an account",
    request: { body: jsonBody(createAccountSchema) },
    responses: { 201: json(accountSchema, "The account") },
  });
  r.registerPath({
    ...admin,
    method: "get",
    path: "/v1/admin/accounts/{id}",
    summary: "Get an account",
    request: { params: id("id", "Account id") },
    responses: { 200: json(accountSchema, "The account") },
  });
  r.registerPath({
    ...admin,
    method: "patch",
    path: "/v1/admin/accounts/{id}",
    summary: "Change an account's plan or status (applies within AUTH_CACHE_TTL_MS everywhere)",
    request: { params: id("id", "Account id"), body: jsonBody(updateAccountSchema) },
    responses: { 200: json(accountSchema, "The account") },
  });
  r.registerPath({
    ...admin,
    method: "get",
    path: "/v1/admin/accounts/{id}/usage",
    summary: "Any account's usage",
    request: { params: id("id", "Account id"), query: usageQuerySchema },
    responses: { 200: usageResponse },
  });
  r.registerPath({
    ...admin,
    method: "post",
    path: "/v1/admin/accounts/{id}/keys",
    summary: "Issue an API key (the secret is in this response only)",
    request: { params: id("id", "Account id"), body: jsonBody(issueKeySchema) },
    responses: { 201: json(issuedKeySchema, "The key, with its secret") },
  });
  r.registerPath({
    ...admin,
    method: "get",
    path: "/v1/admin/accounts/{id}/keys",
    summary: "List an account's keys (never the secrets)",
    request: { params: id("id", "Account id") },
    responses: { 200: json(accountKeysSchema, "The keys") },
  });
  r.registerPath({
    ...admin,
    method: "post",
    path: "/v1/admin/accounts/{id}/keys/{keyId}/revoke",
    summary: "Revoke a key (refused at once here, everywhere within AUTH_CACHE_TTL_MS)",
    request: {
      params: z.object({
        id: z.string().meta({ description: "Account id" }),
        keyId: z.string().meta({ description: "Key id" }),
      }),
    },
    responses: { 200: json(keySummarySchema, "The revoked key") },
  });
  r.registerPath({
    ...admin,
    method: "get",
    path: "/v1/admin/plans",
    summary: "List plans",
    responses: { 200: json(planListSchema, "The plans") },
  });
  r.registerPath({
    ...admin,
    method: "put",
    path: "/v1/admin/plans/{id}",
    summary: "Create or replace a plan (no deploy needed)",
    request: { params: id("id", "Plan id, [A-Za-z0-9_-]{1,64}"), body: jsonBody(planInputSchema) },
    responses: { 200: json(planSchema, "The plan") },
  });
}
