import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { hashApiKey } from "../../../edge/accounts/api-key";
import { admin, call, installGpu, newCustomer, readError } from "./support";

afterEach(() => vi.restoreAllMocks());

describe("admin API authentication", () => {
  it.each([
    ["no credential", {}],
    ["a wrong token", { authorization: "Bearer not-the-admin-token" }],
    ["a token differing only in length", { authorization: `Bearer ${env.ADMIN_TOKEN}x` }],
    ["basic auth", { authorization: `Basic ${btoa(`admin:${env.ADMIN_TOKEN}`)}` }],
  ])("answers 401 in the error envelope for %s", async (_, headers) => {
    const res = await call("/v1/admin/plans", { headers });
    expect(res.status).toBe(401);
    expect(await readError(res)).toMatchObject({ type: "authentication_error", code: "invalid_admin_token" });
  });

  it("does not accept an API key as the admin credential", async () => {
    const { key } = await newCustomer();
    const res = await call("/v1/admin/plans", { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(401);
  });

  it("answers 503 while ADMIN_TOKEN is unset", async () => {
    const res = await call("/v1/admin/plans", { headers: { authorization: "Bearer " } }, { ADMIN_TOKEN: "" });
    expect(res.status).toBe(503);
    expect(await readError(res)).toMatchObject({ code: "admin_not_configured" });
  });
});

describe("accounts and keys", () => {
  it("issues a key whose plaintext is shown once and whose hash alone is stored", async () => {
    const { accountId, key, keyId, prefix } = await newCustomer({}, { mode: "test" });
    expect(key).toMatch(/^zi_test_[0-9A-Za-z]{32}$/);
    expect(key.startsWith(prefix)).toBe(true);
    const row = await env.DB.prepare("SELECT * FROM api_keys WHERE id = ?")
      .bind(keyId)
      .first<Record<string, unknown>>();
    expect(row?.hash).toBe(await hashApiKey(key));
    expect(JSON.stringify(row)).not.toContain(key);

    const list = (await (await admin(`/accounts/${accountId}/keys`)).json()) as {
      data: Record<string, unknown>[];
    };
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({
      id: keyId,
      prefix,
      mode: "test",
      status: "active",
      last_used_at: null,
    });
    expect(list.data[0]).not.toHaveProperty("secret");
    expect(list.data[0]).not.toHaveProperty("hash");
  });

  it("records last use, and a revoked key stops working at once in this isolate", async () => {
    installGpu();
    const { accountId, key, keyId } = await newCustomer();
    const models = () => call("/v1/models", { headers: { authorization: `Bearer ${key}` } });
    expect((await models()).status).toBe(200);
    const list = (await (await admin(`/accounts/${accountId}/keys`)).json()) as {
      data: { last_used_at: number }[];
    };
    expect(list.data[0].last_used_at).toBeGreaterThan(0);

    const revoked = await admin(`/accounts/${accountId}/keys/${keyId}/revoke`, { body: {} });
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toMatchObject({ id: keyId, status: "revoked" });
    const res = await models();
    expect(res.status).toBe(401);
    expect(await readError(res)).toMatchObject({ type: "authentication_error", code: "api_key_revoked" });
  });

  it("does not revoke another account's key", async () => {
    const a = await newCustomer();
    const b = await newCustomer();
    const res = await admin(`/accounts/${b.accountId}/keys/${a.keyId}/revoke`, { body: {} });
    expect(res.status).toBe(404);
  });

  it("validates input and reports unknown accounts and plans", async () => {
    expect((await admin("/accounts", { body: { name: "" } })).status).toBe(400);
    expect((await admin("/accounts", { body: { name: "x", plan_id: "nope" } })).status).toBe(400);
    expect((await admin("/accounts/acct_missing")).status).toBe(404);
    expect((await admin("/accounts/acct_missing/keys", { body: {} })).status).toBe(404);
    const { accountId } = await newCustomer();
    const badScope = await admin(`/accounts/${accountId}/keys`, { body: { scopes: ["root"] } });
    expect(badScope.status).toBe(400);
    expect(await readError(badScope)).toMatchObject({ type: "invalid_request_error", param: "scopes.0" });
  });

  it("lists the seeded plans and replaces a plan as data", async () => {
    const plans = (await (await admin("/plans")).json()) as { data: { id: string }[] };
    expect(plans.data.map((p) => p.id)).toEqual(expect.arrayContaining(["free", "pro", "enterprise"]));
    const { planId, plan } = await newCustomer();
    const updated = await admin(`/plans/${planId}`, { method: "PUT", body: { ...plan, images_per_day: 7 } });
    expect(await updated.json()).toMatchObject({ id: planId, imagesPerDay: 7 });
  });
});
