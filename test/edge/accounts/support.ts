/**
 * Drives the edge app with the accounts extension installed, in the Workers runtime, against the real D1,
 * R2 and Durable Object bindings and real Redis (redis-server behind infra/upstash-bridge, started by the
 * config's globalSetup). The GPU is the scripted fake; requests to the bridge (127.0.0.1) pass through.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { vi } from "vitest";
import { accountsExtension } from "../../../edge/accounts/extension";
import { createApp } from "../../../edge/app";
import type { GenerationRequestInput } from "../../../shared/api";
import type { ErrorEnvelope } from "../../../shared/errors";
import { EDIT_FIXTURES } from "../../fixtures/edits/fixtures";
import { ORIGIN } from "../support/api";
import { type FakeGpu, healthyFakeGpu } from "../support/fake-gpu";

export const ADMIN_TOKEN = env.ADMIN_TOKEN;
export type TestEnv = typeof env;

const app = createApp({ extensions: [accountsExtension()] });

/** One request through the app; waits for its waitUntil work so D1 side effects are visible. */
export async function call(
  path: string,
  init: RequestInit = {},
  overrides: Partial<Record<string, string>> = {},
) {
  const ctx = createExecutionContext();
  const testEnv = Object.keys(overrides).length > 0 ? { ...env, ...overrides } : env;
  const res = await app.fetch(new Request(`${ORIGIN}${path}`, init), testEnv, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

export function admin(path: string, init: { method?: string; body?: unknown; token?: string } = {}) {
  return call(`/v1/admin${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: { authorization: `Bearer ${init.token ?? ADMIN_TOKEN}`, "content-type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

export function generate(
  key: string,
  body: GenerationRequestInput,
  headers: Record<string, string> = {},
  overrides: Partial<Record<string, string>> = {},
) {
  return call(
    "/v1/images/generations",
    {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    },
    overrides,
  );
}

const PHOTO = Uint8Array.from(atob(EDIT_FIXTURES["photo64.png"]), (ch) => ch.charCodeAt(0));

/** POST /v1/images/edits with the 64x64 test photo as `image` and `fields` as text parts. */
export function edit(key: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  const form = new FormData();
  form.append("image", new File([PHOTO], "in.png", { type: "image/png" }));
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return call("/v1/images/edits", {
    method: "POST",
    body: form,
    headers: { authorization: `Bearer ${key}`, ...headers },
  });
}

export async function readError(res: Response): Promise<ErrorEnvelope["error"]> {
  return ((await res.json()) as ErrorEnvelope).error;
}

export interface PlanLimits {
  requests_per_minute?: number;
  images_per_day?: number;
  max_pixels?: number;
  max_images_per_request?: number;
  image_base_micros?: number;
  megapixel_step_micros?: number;
  cache_hit_micros?: number;
}

/** A fresh plan (unique id), an account on it and one key: isolated limits per test. */
export async function newCustomer(
  limits: PlanLimits = {},
  keyOptions: { mode?: "live" | "test"; scopes?: string[] } = {},
) {
  const planId = `plan_${crypto.randomUUID().slice(0, 8)}`;
  const plan = {
    name: `Test ${planId}`,
    requests_per_minute: 1000,
    images_per_day: 10_000,
    max_pixels: 1024 * 1024,
    image_base_micros: 1000,
    megapixel_step_micros: 500,
    cache_hit_micros: 200,
    ...limits,
  };
  const planRes = await admin(`/plans/${planId}`, { method: "PUT", body: plan });
  if (planRes.status !== 200) throw new Error(`plan: ${planRes.status} ${await planRes.text()}`);
  const account = (await (await admin("/accounts", { body: { name: "test", plan_id: planId } })).json()) as {
    id: string;
  };
  const key = (await (await admin(`/accounts/${account.id}/keys`, { body: keyOptions })).json()) as {
    id: string;
    secret: string;
    prefix: string;
  };
  return { planId, plan, accountId: account.id, keyId: key.id, key: key.secret, prefix: key.prefix };
}

/** The fake GPU as the isolate's fetch, letting requests to the Redis bridge (127.0.0.1) through. */
export function installGpu(): FakeGpu {
  const gpu = healthyFakeGpu();
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (new URL(url).hostname === "127.0.0.1") return realFetch(input, init);
    return gpu.handle(new Request(input, init));
  });
  return gpu;
}

export async function ledgerRows(accountId: string) {
  const { results } = await env.DB.prepare("SELECT * FROM ledger WHERE account_id = ? ORDER BY id")
    .bind(accountId)
    .all<{
      request_id: string;
      kind: string;
      amount_micros: number;
      unit_price_micros: number;
      cache_key: string;
      width: number;
      height: number;
      steps: number;
      key_id: string;
    }>();
  return results;
}
