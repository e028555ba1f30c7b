/**
 * GET /v1/jobs (the account's jobs, newest first, cursor-paginated), GET /v1/jobs/{id}, GET /v1/jobs/{id}/events
 * (SSE, resumable with Last-Event-ID), POST /v1/jobs/{id}/cancel. Jobs belong to their account: any other key
 * gets 404, as for an unknown id. Auth is mounted by the accounts extension.
 * @module
 */
import type { Context, Hono } from "hono";
import "../middleware/api-key-auth";
import { readConfig } from "../config";
import { ApiError } from "../errors";
import type { AppEnv } from "../types";
import type { JobState } from "./job-object";
import { jobView, stepProgress } from "./view";

export const JOBS_PATH = "/v1/jobs";
const EVENTS_POLL_MS = 250;

async function ownedJob(c: Context<AppEnv>, id: string) {
  const row = await c.env.DB.prepare("SELECT account_id FROM jobs WHERE id = ?")
    .bind(id)
    .first<{ account_id: string }>();
  if (!row || row.account_id !== c.get("principal").accountId) {
    throw new ApiError("not_found_error", `No job ${id}`, { code: "job_not_found", param: "id" });
  }
  return c.env.JOBS.get(c.env.JOBS.idFromName(id));
}

const origin = (c: { env: Env; req: { url: string } }) =>
  readConfig(c.env).publicBaseUrl || new URL(c.req.url).origin;

export function mountJobRoutes(app: Hono<AppEnv>): void {
  app.get(JOBS_PATH, async (c) => {
    const limit = Math.min(100, Math.max(1, Number(c.req.query("limit") ?? 20) || 20));
    const after = c.req.query("after");
    let cursor: { created_at: number; id: string } | null = null;
    if (after) {
      cursor = await c.env.DB.prepare("SELECT created_at, id FROM jobs WHERE id = ? AND account_id = ?")
        .bind(after, c.get("principal").accountId)
        .first<{ created_at: number; id: string }>();
      if (!cursor)
        throw new ApiError("invalid_request_error", "Unknown cursor", {
          param: "after",
          code: "invalid_cursor",
        });
    }
    const { results } = await c.env.DB.prepare(
      `SELECT id, status, operation, created_at, updated_at FROM jobs WHERE account_id = ? AND expires_at > ?
       ${cursor ? "AND (created_at < ? OR (created_at = ? AND id < ?))" : ""}
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    )
      .bind(
        ...[c.get("principal").accountId, Date.now()],
        ...(cursor ? [cursor.created_at, cursor.created_at, cursor.id] : []),
        limit + 1,
      )
      .all<{ id: string; status: string; operation: string; created_at: number; updated_at: number }>();
    const page = results.slice(0, limit);
    return c.json({
      object: "list",
      data: page.map((r) => ({
        id: r.id,
        object: "job",
        operation: r.operation,
        status: r.status,
        created_at: Math.floor(r.created_at / 1000),
      })),
      has_more: results.length > limit,
      next_cursor: results.length > limit ? page.at(-1)!.id : null,
    });
  });

  app.get(`${JOBS_PATH}/:id`, async (c) => {
    const state = await (await ownedJob(c, c.req.param("id"))).get();
    if (!state) throw new ApiError("not_found_error", "No such job", { code: "job_not_found" });
    return c.json(jobView(state, origin(c)));
  });

  app.post(`${JOBS_PATH}/:id/cancel`, async (c) => {
    const state = await (await ownedJob(c, c.req.param("id"))).cancel();
    if (!state) throw new ApiError("not_found_error", "No such job", { code: "job_not_found" });
    return c.json(jobView(state, origin(c)));
  });

  app.get(`${JOBS_PATH}/:id/events`, async (c) => {
    const stub = await ownedJob(c, c.req.param("id"));
    let sent = Number(c.req.header("last-event-id") ?? 0) || 0;
    let stepsSent = -1;
    const base = origin(c);
    const encoder = new TextEncoder();
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        for (;;) {
          const state: JobState | null = await stub.get();
          if (!state) {
            controller.close();
            return;
          }
          const fresh = state.events.filter((e) => e.id > sent);
          const terminal = ["succeeded", "failed", "cancelled"].includes(state.status);
          for (const e of fresh) {
            const data =
              e.type === "succeeded" || e.type === "failed" ? { ...e, job: jobView(state, base) } : e;
            controller.enqueue(
              encoder.encode(`id: ${e.id}\nevent: job.${e.type}\ndata: ${JSON.stringify(data)}\n\n`),
            );
            sent = e.id;
          }
          if (terminal && state.events.every((e) => e.id <= sent)) {
            controller.close();
            return;
          }
          // Denoising progress while running: no `id` (not stored, so not replayed after Last-Event-ID).
          const steps = stepProgress(state);
          if (state.status === "running" && steps.steps_done !== stepsSent) {
            stepsSent = steps.steps_done;
            const progress = { type: "progress", at: Date.now(), data: steps };
            controller.enqueue(encoder.encode(`event: job.progress\ndata: ${JSON.stringify(progress)}\n\n`));
            return;
          }
          if (fresh.length > 0) return;
          await new Promise((r) => setTimeout(r, EVENTS_POLL_MS));
        }
      },
    });
    // c.body, not new Response: keeps the headers set earlier in the chain (x-request-id, rate limits).
    return c.body(stream, 200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
    });
  });
}
