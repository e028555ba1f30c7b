/**
 * Job creation from POST /v1/images/generations and /v1/images/edits with `Prefer: respond-async` (202 at once) or `Prefer: wait=N`
 * (RFC 7240, as Replicate: hold the answer up to N seconds, max 60; the finished job with 200, else 202).
 * Either way the answer carries `Location: /v1/jobs/{id}` and the job object. An edit's input pixels are stored
 * in R2 for the job's life (inputs.ts). Runs inside the accounts chain, so
 * quota, rate limit and Idempotency-Key apply exactly as for a sync request (a replay returns the same job).
 * @module
 */
import type { Context } from "hono";
import type { GenerationRequest } from "../../shared/api";
import { readConfig } from "../config";
import { ApiError } from "../errors";
import { type GenerationPlan, servedBase } from "../generation/plan";
import type { AppEnv } from "../types";
import { checkWebhookTarget, readEndpoint, type WebhookTarget } from "../webhooks/endpoint";
import { deleteJobInput, storeJobInput } from "./inputs";
import { JOB_RETENTION_MS, type JobState } from "./job-object";
import { jobView } from "./view";

const MAX_WAIT_S = 60;

/** `Prefer` preferences this route honours; null when the request asks for neither (a sync request). */
export function parsePrefer(header: string | undefined): { wait: number } | null {
  if (!header) return null;
  const prefs = header.split(",").map((p) => p.trim().toLowerCase());
  const wait = prefs.map((p) => /^wait\s*=\s*(\d+)$/.exec(p)).find(Boolean);
  if (wait) return { wait: Math.min(MAX_WAIT_S, Number(wait[1])) };
  return prefs.includes("respond-async") ? { wait: 0 } : null;
}

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

function unavailable(code: string, err: unknown): ApiError {
  console.error(JSON.stringify({ level: "error", msg: code, error: String(err) }));
  return new ApiError("service_unavailable", "The job could not be created; retry later", {
    code,
    headers: { "retry-after": "1" },
  });
}

export async function createJob(
  c: Context<AppEnv>,
  body: Pick<GenerationRequest, "webhook_url" | "webhook_events" | "output_format" | "response_format">,
  plan: GenerationPlan,
  waitS: number,
): Promise<Response> {
  const principal = c.get("principal");
  if (!principal) {
    throw new ApiError("invalid_request_error", "Async jobs need an API key", { code: "jobs_unavailable" });
  }
  // A job's result (and its webhook payload) holds image URLs: base64 images would not fit a job's state.
  if (body.response_format === "b64_json") {
    throw new ApiError(
      "invalid_request_error",
      "response_format b64_json is not available for async jobs: a job's result holds image URLs (fetch them), or call synchronously for base64",
      { param: "response_format", code: "unsupported_value" },
    );
  }
  // The request's webhook_url, else the account's default endpoint (PUT /v1/webhooks/endpoint), else none.
  let webhook: WebhookTarget | null = null;
  if (body.webhook_url) {
    webhook = { url: checkWebhookTarget(c, body.webhook_url), events: body.webhook_events };
  } else {
    const endpoint = await readEndpoint(c.env.DB, principal.accountId);
    if (endpoint) webhook = { url: endpoint.url, events: endpoint.events };
  }
  const id = `job_${crypto.randomUUID().replaceAll("-", "")}`;
  const now = Date.now();
  const { images, input } = await storeJobInput(c.env, id, plan.images).catch((err) => {
    throw unavailable("job_input_store_failed", err);
  });
  let state: JobState | null;
  const stub = c.env.JOBS.get(c.env.JOBS.idFromName(id));
  try {
    await c.env.DB.prepare(
      "INSERT INTO jobs (id, account_id, key_id, status, operation, created_at, updated_at, expires_at) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
    )
      .bind(
        id,
        principal.accountId,
        principal.keyId,
        input ? "image_edit" : "image_generation",
        now,
        now,
        now + JOB_RETENTION_MS,
      )
      .run();
    state = await stub.create({
      id,
      principal,
      images,
      input,
      summary: {
        size: `${plan.width}x${plan.height}`,
        quality: plan.quality,
        output_format: body.output_format,
        // An edit runs the steps after its start step (the same for every image of the request).
        steps: plan.images[0] ? servedBase(plan.images[0]).steps : plan.steps,
        pixels: plan.width * plan.height,
      },
      createdAt: now,
      origin: readConfig(c.env).publicBaseUrl || new URL(c.req.url).origin,
      webhook,
    });
  } catch (err) {
    // Nothing half-made stays behind: no listed job without its object, no input without its job.
    await Promise.allSettled([
      c.env.DB.prepare("DELETE FROM jobs WHERE id = ?").bind(id).run(),
      deleteJobInput(c.env, input),
    ]);
    throw unavailable("job_create_failed", err);
  }
  const until = now + waitS * 1000;
  while (state && !TERMINAL.has(state.status) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
    state = await stub.get();
  }
  const origin = readConfig(c.env).publicBaseUrl || new URL(c.req.url).origin;
  const done = state !== null && TERMINAL.has(state.status);
  c.header("location", `/v1/jobs/${id}`);
  if (!done) c.header("preference-applied", waitS > 0 ? `wait=${waitS}` : "respond-async");
  return c.json(jobView(state!, origin), done ? 200 : 202);
}
