/**
 * `Idempotency-Key` for POST requests (draft-ietf-httpapi-idempotency-key-header), scoped to the account:
 * - first use: the request runs; a 2xx response is stored for 24 h together with its ledger rows (one D1
 *   batch, via the completion hook the metering middleware runs); any other response releases the key;
 * - same key, same method/path/body, after completion: the stored response is replayed
 *   (`idempotent-replayed: true`): no new generation, no new ledger row, no quota use;
 * - same key, different body: 422;
 * - same key while the first request is still running: the retry waits for it (polling the record with
 *   backoff, up to the generation deadline) and answers its replay; if the first fails, the retry runs itself.
 *   The openai SDK gives up on a 409 after two quick retries, so waiting is what makes its retries safe. Only
 *   when the wait runs out does it answer 409 with `Retry-After: 1` (the draft's answer).
 * Mount after `apiKeyAuth` and the JSON body guard.
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { sha256Hex } from "../../../shared/hmac";
import { readConfig } from "../../config";
import { ApiError } from "../../errors";
import "../../streaming/settlement";
import type { AppEnv } from "../../types";
import { type IdempotencyRecord, IdempotencyStore } from "./store";

/** Registered for a claimed request; returns the statement that marks the record done (run with the ledger). */
export type IdempotencyCompletion = (response: Response) => Promise<D1PreparedStatement>;

declare module "hono" {
  interface ContextVariableMap {
    /** Set while this request holds an Idempotency-Key; the metering middleware batches it with the ledger. */
    idempotencyCompletion: IdempotencyCompletion | undefined;
    /** Set by whoever ran the completion statement. */
    idempotencyCompleted: boolean | undefined;
  }
}

const MAX_KEY_LENGTH = 255;
const KEY_PATTERN = /^[\x21-\x7e]+$/;
/** Headers that describe this delivery rather than the stored result; replays get fresh ones. */
// x-usage-* too: a replay is not billed again, so it must not report a charge.
const NOT_STORED =
  /^(ratelimit|ratelimit-policy|x-ratelimit-.*|retry-after|retry-after-ms|x-request-id|x-usage-.*|date|set-cookie)$/;
const PURGE_INTERVAL_MS = 60 * 60 * 1000;
/** Polling of an in-flight original: first after 50 ms, then 1.5x slower, at most once a second. */
const FIRST_POLL_MS = 50;
const MAX_POLL_MS = 1000;
/** Beyond the generation deadline: the original's ledger write and completion. */
const WAIT_MARGIN_MS = 2000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function parseKey(raw: string): string {
  // The draft sends a structured-field string ("abc"); most clients send the bare token. Accept both.
  const key = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !KEY_PATTERN.test(key)) {
    throw new ApiError(
      "invalid_request_error",
      `Idempotency-Key must be 1-${MAX_KEY_LENGTH} visible ASCII characters`,
      { param: "Idempotency-Key", code: "invalid_idempotency_key" },
    );
  }
  return key;
}

function storedHeaders(response: Response): Record<string, string> {
  const kept: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (!NOT_STORED.test(name)) kept[name] = value;
  });
  return kept;
}

function reused(record: IdempotencyRecord, fingerprint: string): ApiError | null {
  if (record.fingerprint !== fingerprint) {
    return new ApiError(
      "idempotency_error",
      "This Idempotency-Key was already used with a different request; use a new key",
      { status: 422, param: "Idempotency-Key", code: "idempotency_key_reused" },
    );
  }
  return null;
}

const stillInProgress = () =>
  new ApiError("idempotency_error", "A request with this Idempotency-Key is still in progress; retry", {
    status: 409,
    param: "Idempotency-Key",
    code: "idempotency_key_in_progress",
    headers: { "retry-after": "1", "retry-after-ms": "1000" },
  });

type ClaimResult = Awaited<ReturnType<IdempotencyStore["claim"]>>;

/** Claims the key, or waits for the request holding it to finish: claimed, or the finished record. */
async function claimOrWait(
  claimOnce: () => Promise<ClaimResult>,
  fingerprint: string,
  waitMs: number,
): Promise<ClaimResult> {
  const giveUpAt = Date.now() + waitMs;
  let pause = FIRST_POLL_MS;
  for (;;) {
    const claim = await claimOnce();
    if (claim.claimed) return claim;
    const refusal = reused(claim.record, fingerprint);
    if (refusal) throw refusal;
    if (claim.record.state === "done") return claim;
    if (Date.now() + pause > giveUpAt) throw stillInProgress();
    await sleep(pause);
    pause = Math.min(MAX_POLL_MS, pause * 1.5);
  }
}

export interface IdempotencyOptions {
  /** What the fingerprint hashes instead of the raw body (edits: fields + file hashes; multipart boundaries vary). */
  fingerprintBody?: (c: Context<AppEnv>) => Promise<string>;
}

export function idempotency(options: IdempotencyOptions = {}): MiddlewareHandler<AppEnv> {
  let lastPurge = 0;

  return async function idempotency(c, next) {
    const header = c.req.header("idempotency-key");
    if (header === undefined || c.req.method !== "POST") return next();
    const key = parseKey(header);
    const { accountId } = c.var.principal;
    const requestId = c.var.requestId;
    const store = new IdempotencyStore(c.env.DB, c.env.IMAGES);
    const body = options.fingerprintBody
      ? await options.fingerprintBody(c)
      : new TextDecoder().decode(new Uint8Array(await c.req.arrayBuffer()));
    const fingerprint = await sha256Hex(`${c.req.method} ${c.req.path}\n${body}`);
    const now = Date.now();

    if (now - lastPurge >= PURGE_INTERVAL_MS) {
      lastPurge = now;
      c.executionCtx.waitUntil(
        store.purgeExpired(now).catch((error: unknown) => {
          console.error(
            JSON.stringify({ level: "error", event: "idempotency_purge_failed", error: String(error) }),
          );
        }),
      );
    }

    const claim = await claimOrWait(
      () => store.claim(accountId, key, fingerprint, requestId, Date.now()),
      fingerprint,
      readConfig(c.env).gpuDeadlineMs + WAIT_MARGIN_MS,
    );
    if (!claim.claimed) {
      const stored = await store.load(claim.record);
      if (!stored)
        throw new ApiError("server_error", "The stored response of this Idempotency-Key is unavailable");
      return new Response(stored.body, {
        status: stored.status,
        headers: {
          ...stored.headers,
          "idempotent-replayed": "true",
          "x-original-request-id": claim.record.request_id,
        },
      });
    }

    c.set("idempotencyCompletion", async (response) =>
      store.prepareCompletion(accountId, key, requestId, {
        status: response.status,
        headers: storedHeaders(response),
        body: await response.clone().arrayBuffer(),
      }),
    );
    c.set("idempotencyRelease", () => store.release(accountId, key, requestId));
    try {
      await next();
    } finally {
      c.set("idempotencyCompletion", undefined);
    }
    // A streamed body completes or releases the key itself, once it has ended (edge/streaming/settlement.ts).
    if (c.get("streamedResponse")) return;
    const ok = c.res.status >= 200 && c.res.status < 300;
    if (ok && !c.get("idempotencyCompleted")) {
      // No metering ran (a route without billable images): complete on our own.
      const statement = await store.prepareCompletion(accountId, key, requestId, {
        status: c.res.status,
        headers: storedHeaders(c.res),
        body: await c.res.clone().arrayBuffer(),
      });
      await statement.run();
    } else if (!ok) {
      await store.release(accountId, key, requestId);
    }
  };
}
