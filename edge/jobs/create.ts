/**
 * Job creation from POST /v1/images/generations with `Prefer: respond-async` (202 at once) or `Prefer: wait=N`
 * (RFC 7240, as Replicate: hold the answer up to N seconds, max 60; the finished job with 200, else 202).
 * Either way the answer carries `Location: /v1/jobs/{id}` and the job object. Runs inside the accounts chain, so
 * quota, rate limit and Idempotency-Key apply exactly as for a sync request (a replay returns the same job).
 * @module
 */
import type { Context } from "hono";
import type { GenerationRequest } from "../../shared/api";
import { readConfig } from "../config";
import { ApiError } from "../errors";
import type { GenerationPlan } from "../generation/plan";
import type { AppEnv } from "../types";
import { checkWebhookUrl } from "../webhooks/ssrf";
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

export async function createJob(
  c: Context<AppEnv>,
  body: GenerationRequest,
  plan: GenerationPlan,
  waitS: number,
): Promise<Response> {
  const principal = c.get("principal");
  if (!principal) {
    throw new ApiError("invalid_request_error", "Async jobs need an API key", { code: "jobs_unavailable" });
  }
  let webhook: { url: string; events: "completed" | "all" } | null = null;
  if (body.webhook_url) {
    const allow = String((c.env as { WEBHOOK_ALLOW_HOSTS?: string }).WEBHOOK_ALLOW_HOSTS ?? "")
      .split(",")
      .map((h) => h.trim())
      .filter(Boolean);
    const verdict = checkWebhookUrl(body.webhook_url, allow);
    if (!verdict.ok) {
      throw new ApiError("invalid_request_error", verdict.reason, {
        param: "webhook_url",
        code: "webhook_url_refused",
      });
    }
    webhook = { url: verdict.url.href, events: body.webhook_events };
  }
  const id = `job_${crypto.randomUUID().replaceAll("-", "")}`;
  const now = Date.now();
  await c.env.DB.prepare(
    "INSERT INTO jobs (id, account_id, key_id, status, created_at, updated_at, expires_at) VALUES (?, ?, ?, 'queued', ?, ?, ?)",
  )
    .bind(id, principal.accountId, principal.keyId, now, now, now + JOB_RETENTION_MS)
    .run();
  const stub = c.env.JOBS.get(c.env.JOBS.idFromName(id));
  let state: JobState | null = await stub.create({
    id,
    principal,
    images: plan.images,
    summary: {
      size: `${plan.width}x${plan.height}`,
      quality: plan.quality,
      output_format: body.output_format,
      steps: plan.steps,
      pixels: plan.width * plan.height,
    },
    createdAt: now,
    origin: readConfig(c.env).publicBaseUrl || new URL(c.req.url).origin,
    webhook,
  });
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
