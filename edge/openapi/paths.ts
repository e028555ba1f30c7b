/**
 * OpenAPI descriptions of routes served by plain Hono handlers (usage, jobs, webhooks, admin API): registered without a handler,
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
import { webhookEndpointInputSchema } from "../webhooks/router";
import {
  accountKeysSchema,
  accountSchema,
  issuedKeySchema,
  jobListSchema,
  jobSchema,
  keySummarySchema,
  planListSchema,
  planSchema,
  usageReportSchema,
  webhookEndpointSchema,
  webhookSecretSchema,
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

  const jobs = { tags: ["Jobs"] };
  const jobId = id("id", "Job id (job_...)");
  r.registerPath({
    ...jobs,
    method: "get",
    path: "/v1/jobs",
    summary: "List the account's jobs, newest first (retained 7 days)",
    request: {
      query: z.object({
        limit: z.number().int().min(1).max(100).optional().meta({ description: "Page size, default 20" }),
        after: z.string().optional().meta({ description: "`next_cursor` of the previous page" }),
      }),
    },
    responses: { 200: json(jobListSchema, "A page of jobs") },
  });
  r.registerPath({
    ...jobs,
    method: "get",
    path: "/v1/jobs/{id}",
    summary: "Get a job: status, progress, result once succeeded, error once failed, webhook deliveries",
    request: { params: jobId },
    responses: { 200: json(jobSchema, "The job") },
  });
  r.registerPath({
    ...jobs,
    method: "get",
    path: "/v1/jobs/{id}/events",
    summary:
      "The job's events as server-sent events (job.queued ... job.succeeded), resumable with Last-Event-ID",
    request: { params: jobId },
    responses: {
      200: {
        description: "text/event-stream; ends after the terminal event (docs/streaming-jobs-webhooks.md)",
        content: { "text/event-stream": { schema: z.string() } },
      },
    },
  });
  r.registerPath({
    ...jobs,
    method: "post",
    path: "/v1/jobs/{id}/cancel",
    summary: "Cancel a job that has not finished (not billed); a finished job is returned unchanged",
    request: { params: jobId },
    responses: { 200: json(jobSchema, "The job") },
  });

  const webhooks = { tags: ["Webhooks"] };
  r.registerPath({
    ...webhooks,
    method: "get",
    path: "/v1/webhooks/secret",
    summary: "The account's webhook signing secret (created on first read)",
    responses: { 200: json(webhookSecretSchema, "The secret") },
  });
  r.registerPath({
    ...webhooks,
    method: "post",
    path: "/v1/webhooks/secret/rotate",
    summary: "Rotate the signing secret; the previous one keeps signing for 24 h",
    responses: { 200: json(webhookSecretSchema, "The new secret") },
  });
  r.registerPath({
    ...webhooks,
    method: "get",
    path: "/v1/webhooks/endpoint",
    summary: "The account's default webhook endpoint (url null when unset)",
    responses: { 200: json(webhookEndpointSchema, "The endpoint") },
  });
  r.registerPath({
    ...webhooks,
    method: "put",
    path: "/v1/webhooks/endpoint",
    summary: "Set the default endpoint: every async job without a webhook_url of its own is delivered there",
    request: { body: jsonBody(webhookEndpointInputSchema) },
    responses: { 200: json(webhookEndpointSchema, "The endpoint") },
  });
  r.registerPath({
    ...webhooks,
    method: "delete",
    path: "/v1/webhooks/endpoint",
    summary: "Remove the default endpoint (jobs already created keep theirs)",
    responses: { 200: json(webhookEndpointSchema, "The endpoint, now unset") },
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
