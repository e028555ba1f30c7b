/**
 * The public job object (GET /v1/jobs/{id}, the 202 of Prefer: respond-async): status, progress, timestamps
 * (Unix seconds), the same `data` as the sync response once succeeded, the error envelope once failed.
 * @module
 */
import { servedBase } from "../generation/plan";
import type { JobState } from "./job-object";

/**
 * Denoising steps done and to do over all images (an edit's images run the steps after their start step): a
 * made or cached image counts in full, one being made by the steps its GPU reported, the rest as none.
 */
export function stepProgress(state: JobState): { steps_done: number; steps_total: number } {
  let done = 0;
  let total = 0;
  state.spec.images.forEach((image, i) => {
    const steps = servedBase(image).steps;
    total += steps;
    if (state.served[i]) done += steps;
    else if (state.status === "running") done += Math.min(steps, state.steps?.[i] ?? 0);
  });
  return { steps_done: done, steps_total: total };
}

export function jobView(state: JobState, origin: string) {
  const { spec } = state;
  const done = state.served.filter(Boolean).length;
  const sec = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));
  return {
    id: spec.id,
    object: "job" as const,
    // Which endpoint made it: the prefix of the events a stream of the same request would have sent.
    operation: spec.input ? ("image_edit" as const) : ("image_generation" as const),
    status: state.status,
    created_at: sec(spec.createdAt),
    started_at: sec(state.startedAt),
    completed_at: sec(state.completedAt),
    attempts: state.attempts,
    progress: {
      images_done: done,
      images_total: spec.images.length,
      ...stepProgress(state),
    },
    result:
      state.status === "succeeded"
        ? {
            created: sec(state.completedAt),
            data: state.served.map((s) => ({
              url: `${origin}/v1/images/${s!.cacheKey}.${s!.outputFormat}`,
              seed: s!.seed,
            })),
            size: spec.summary.size,
            quality: spec.summary.quality,
            output_format: spec.summary.output_format,
            background: "opaque",
            usage: {
              images: done,
              generated: state.served.filter((s) => s?.source === "generated").length,
              pixels: spec.summary.pixels,
              steps: spec.summary.steps,
              price_micros: state.billedMicros,
            },
          }
        : null,
    // Failed: why. Queued again after a GPU outage: the last attempt's error (the job retries until its deadline).
    error: state.status === "failed" || state.status === "queued" ? state.error : null,
    webhook: spec.webhook
      ? {
          url: spec.webhook.url,
          events: spec.webhook.events,
          deliveries: (state.deliveries ?? []).map((d) => ({
            id: d.id,
            event: d.event,
            state: d.state,
            next_attempt_at: d.nextAt === null ? null : Math.floor(d.nextAt / 1000),
            attempts: d.attempts.map((a) => ({
              at: Math.floor(a.at / 1000),
              status: a.status,
              error: a.error,
              ms: a.ms,
            })),
          })),
        }
      : null,
    urls: {
      get: `${origin}/v1/jobs/${spec.id}`,
      events: `${origin}/v1/jobs/${spec.id}/events`,
      cancel: `${origin}/v1/jobs/${spec.id}/cancel`,
    },
  };
}
