import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { readAccountsConfig } from "../../../edge/accounts/config";
import { admin, call, generate, installGpu, newCustomer, readError } from "./support";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const models = (authorization?: string) =>
  call("/v1/models", { headers: authorization === undefined ? {} : { authorization } });

describe("API key authentication", () => {
  it.each([
    ["missing", undefined, "missing_api_key"],
    ["not a bearer token", "Basic abc", "invalid_api_key"],
    ["malformed", "Bearer zi_live_short", "invalid_api_key"],
    ["unknown", `Bearer zi_live_${"A".repeat(32)}`, "invalid_api_key"],
  ])("answers 401 for a %s key", async (_, header, code) => {
    const res = await models(header);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await readError(res)).toMatchObject({ type: "authentication_error", code });
  });

  it("lets a valid key through", async () => {
    const { key } = await newCustomer();
    const res = await models(`Bearer ${key}`);
    expect(res.status).toBe(200);
  });

  it("answers 403 for a key without the route's scope", async () => {
    installGpu();
    const { key } = await newCustomer({}, { scopes: ["usage:read"] });
    const res = await generate(key, { prompt: "a cat", size: "64x64" });
    expect(res.status).toBe(403);
    expect(await readError(res)).toMatchObject({ type: "permission_error", code: "missing_scope" });
    const usageOnly = await newCustomer({}, { scopes: ["images:generate"] });
    const usage = await call("/v1/usage", { headers: { authorization: `Bearer ${usageOnly.key}` } });
    expect(usage.status).toBe(403);
  });

  it("answers 403 for a suspended account, and lets it back in when reactivated", async () => {
    const { accountId, key } = await newCustomer();
    await admin(`/accounts/${accountId}`, { method: "PATCH", body: { status: "suspended" } });
    const res = await models(`Bearer ${key}`);
    expect(res.status).toBe(403);
    expect(await readError(res)).toMatchObject({ code: "account_suspended" });
    await admin(`/accounts/${accountId}`, { method: "PATCH", body: { status: "active" } });
    expect((await models(`Bearer ${key}`)).status).toBe(200);
  });

  it("a key revoked elsewhere (straight in D1) is refused once the cache TTL has passed", async () => {
    const { key, keyId } = await newCustomer();
    const ttl = readAccountsConfig(env).authCacheTtlMs;
    expect(ttl).toBeLessThanOrEqual(60_000);
    vi.useFakeTimers({ toFake: ["Date"] });
    expect((await models(`Bearer ${key}`)).status).toBe(200);
    // Another isolate's revocation: this isolate's cache is not told.
    await env.DB.prepare("UPDATE api_keys SET status = 'revoked' WHERE id = ?").bind(keyId).run();
    vi.setSystemTime(Date.now() + ttl - 1);
    expect((await models(`Bearer ${key}`)).status).toBe(200);
    vi.setSystemTime(Date.now() + 1);
    const res = await models(`Bearer ${key}`);
    expect(res.status).toBe(401);
    expect(await readError(res)).toMatchObject({ code: "api_key_revoked" });
  });
});
