/**
 * Webhook deliveries of a job: one per event the job's `webhook_events` selects, each signed per Standard
 * Webhooks with a `webhook-id` fixed for all its attempts. A non-2xx answer, a network error or no answer within
 * ATTEMPT_TIMEOUT_MS is retried with exponential backoff and jitter (base WEBHOOK_RETRY_BASE_MS, default 5 s,
 * doubling, at most 1 h apart) for RETRY_PERIOD_MS (24 h) after the first attempt; then the delivery is `failed`.
 * Every attempt is recorded on the job. At-least-once: receivers dedupe on `webhook-id`.
 * @module
 */
import { signDelivery } from "./signing";

export const ATTEMPT_TIMEOUT_MS = 10_000;
export const RETRY_PERIOD_MS = 24 * 3600 * 1000;
const MAX_GAP_MS = 3600 * 1000;

export interface DeliveryAttempt {
  at: number;
  status: number | null;
  error: string | null;
  ms: number;
}

export interface Delivery {
  id: string;
  event: string;
  payload: string;
  state: "pending" | "delivered" | "failed";
  attempts: DeliveryAttempt[];
  nextAt: number | null;
}

export function retryBaseMs(env: object): number {
  const raw = Number((env as { WEBHOOK_RETRY_BASE_MS?: string }).WEBHOOK_RETRY_BASE_MS);
  return Number.isInteger(raw) && raw > 0 ? raw : 5000;
}

/** Makes one attempt and updates the delivery (state, attempts, next attempt time). */
export async function attemptDelivery(
  delivery: Delivery,
  url: string,
  secrets: string[],
  baseMs: number,
  fetcher: typeof fetch = fetch,
): Promise<void> {
  const signed = signDelivery(secrets, delivery.id, JSON.parse(delivery.payload));
  const t0 = Date.now();
  let status: number | null = null;
  let error: string | null = null;
  try {
    const res = await fetcher(url, {
      method: "POST",
      headers: { ...signed.headers, "user-agent": "zimage-webhooks/1" },
      body: signed.body,
      redirect: "manual", // a redirect could lead to a private address the guard never saw
      signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
    });
    status = res.status;
    await res.body?.cancel();
  } catch (err) {
    error = (err as Error).name === "TimeoutError" ? "timeout" : "connection failed";
  }
  delivery.attempts.push({ at: t0, status, error, ms: Date.now() - t0 });
  if (status !== null && status >= 200 && status < 300) {
    delivery.state = "delivered";
    delivery.nextAt = null;
    return;
  }
  const first = delivery.attempts[0].at;
  const gap = Math.min(MAX_GAP_MS, baseMs * 2 ** (delivery.attempts.length - 1));
  const next = Date.now() + Math.round(gap * (0.5 + Math.random() * 0.5));
  if (next - first > RETRY_PERIOD_MS) {
    delivery.state = "failed";
    delivery.nextAt = null;
  } else delivery.nextAt = next;
}
