/**
 * A small client for the edge's admin API (`/v1/admin/*`, `Authorization: Bearer <ADMIN_TOKEN>`): the local
 * stack uses it to create the dev account and key, the e2e tests to set plans.
 *
 * @module
 */
import type { PlanInput } from "../../shared/plans";

export type { PlanInput };

export interface AdminAccount {
  id: string;
  name: string;
  plan_id: string;
  status: string;
}

export interface IssuedKey {
  id: string;
  prefix: string;
  /** The plaintext key: returned once by the API. */
  secret: string;
}

export class AdminClient {
  readonly #baseUrl: string;
  readonly #token: string;

  constructor(baseUrl: string, token: string) {
    this.#baseUrl = baseUrl.replace(/\/+$/, "");
    this.#token = token;
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.#baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.#token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok)
      throw new Error(`admin ${method} ${path}: HTTP ${response.status} ${text.slice(0, 500)}`);
    return JSON.parse(text) as T;
  }

  createAccount(name: string, planId: string): Promise<AdminAccount> {
    return this.#call("POST", "/v1/admin/accounts", { name, plan_id: planId });
  }

  setAccountPlan(accountId: string, planId: string): Promise<AdminAccount> {
    return this.#call("PATCH", `/v1/admin/accounts/${accountId}`, { plan_id: planId });
  }

  issueKey(accountId: string, name = "dev", mode: "live" | "test" = "live"): Promise<IssuedKey> {
    return this.#call("POST", `/v1/admin/accounts/${accountId}/keys`, { name, mode });
  }

  putPlan(planId: string, plan: PlanInput): Promise<unknown> {
    return this.#call("PUT", `/v1/admin/plans/${planId}`, plan);
  }

  accountUsage(accountId: string, query = ""): Promise<unknown> {
    return this.#call("GET", `/v1/admin/accounts/${accountId}/usage${query ? `?${query}` : ""}`);
  }
}

/** Creates an account on `planId` and one key for it; returns both. */
export async function createDevAccount(
  admin: AdminClient,
  options: { name?: string; planId?: string } = {},
): Promise<{ account: AdminAccount; key: IssuedKey }> {
  const account = await admin.createAccount(options.name ?? "local dev", options.planId ?? "pro");
  const key = await admin.issueKey(account.id, "dev");
  return { account, key };
}
