/**
 * Admin: accounts and plans.
 *   POST  /v1/admin/accounts           {name, plan_id?}        -> 201 account
 *   GET   /v1/admin/accounts/{id}                              -> account
 *   PATCH /v1/admin/accounts/{id}      {plan_id?, status?}     -> account (applies at once in this isolate,
 *                                                                 elsewhere within AUTH_CACHE_TTL_MS)
 *   GET   /v1/admin/accounts/{id}/usage?start&end&group_by    -> any account's usage (JSON or CSV)
 *   GET   /v1/admin/plans                                      -> plans
 *   PUT   /v1/admin/plans/{id}         plan                    -> plan (create or replace; no deploy needed)
 * @module
 */
import type { Hono } from "hono";
import { z } from "zod";
import { planInputSchema } from "../../accounts/plans";
import { principalCache } from "../../accounts/principal-cache";
import { type Account, AccountStore } from "../../accounts/store";
import { ApiError } from "../../errors";
import type { AppEnv } from "../../types";
import { readBody } from "../../validation";
import { respondWithUsage } from "../usage/respond";

const ID = /^[A-Za-z0-9_-]{1,64}$/;

export const createAccountSchema = z.strictObject({
  name: z.string().min(1).max(200),
  plan_id: z.string().regex(ID).default("free"),
});

export const updateAccountSchema = z
  .strictObject({
    plan_id: z.string().regex(ID).optional(),
    status: z.enum(["active", "suspended"]).optional(),
  })
  .refine((v) => v.plan_id !== undefined || v.status !== undefined, "give plan_id and/or status");

export async function requireAccount(store: AccountStore, id: string): Promise<Account> {
  const account = await store.getAccount(id);
  if (!account) throw new ApiError("not_found_error", `No account ${id}`, { code: "account_not_found" });
  return account;
}

async function requirePlan(store: AccountStore, id: string): Promise<void> {
  if (!(await store.getPlan(id))) {
    throw new ApiError("invalid_request_error", `No plan ${id}`, {
      param: "plan_id",
      code: "plan_not_found",
    });
  }
}

export function mountAdminAccountRoutes(app: Hono<AppEnv>): void {
  app.post("/v1/admin/accounts", async (c) => {
    const input = await readBody(c, createAccountSchema);
    const store = new AccountStore(c.env.DB);
    await requirePlan(store, input.plan_id);
    return c.json(await store.createAccount({ name: input.name, planId: input.plan_id }), 201);
  });

  app.get("/v1/admin/accounts/:id", async (c) =>
    c.json(await requireAccount(new AccountStore(c.env.DB), c.req.param("id"))),
  );

  app.patch("/v1/admin/accounts/:id", async (c) => {
    const input = await readBody(c, updateAccountSchema);
    const store = new AccountStore(c.env.DB);
    const id = c.req.param("id");
    await requireAccount(store, id);
    if (input.plan_id !== undefined) {
      await requirePlan(store, input.plan_id);
      await store.setAccountPlan(id, input.plan_id);
    }
    if (input.status !== undefined) await store.setAccountStatus(id, input.status);
    principalCache.deleteAccount(id);
    return c.json(await requireAccount(store, id));
  });

  app.get("/v1/admin/accounts/:id/usage", async (c) => {
    const id = c.req.param("id");
    await requireAccount(new AccountStore(c.env.DB), id);
    return respondWithUsage(c, id);
  });

  app.get("/v1/admin/plans", async (c) =>
    c.json({ object: "list", data: await new AccountStore(c.env.DB).listPlans() }),
  );

  app.put("/v1/admin/plans/:id", async (c) => {
    const id = c.req.param("id");
    if (!ID.test(id)) throw new ApiError("invalid_request_error", "plan id must match [A-Za-z0-9_-]{1,64}");
    const input = await readBody(c, planInputSchema);
    return c.json(await new AccountStore(c.env.DB).putPlan(id, input));
  });
}
