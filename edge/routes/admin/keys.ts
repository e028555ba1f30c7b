/**
 * Admin: API keys of an account.
 *   POST /v1/admin/accounts/{id}/keys                {mode?, name?, scopes?} -> 201 key + `secret` (shown once)
 *   GET  /v1/admin/accounts/{id}/keys                                         -> keys (prefix, status, dates)
 *   POST /v1/admin/accounts/{id}/keys/{keyId}/revoke                          -> revoked key
 * A revoked key is refused at once by this isolate and by every other within AUTH_CACHE_TTL_MS (<= 60 s).
 * @module
 */
import type { Hono } from "hono";
import { z } from "zod";
import { KEY_MODES } from "../../accounts/api-key";
import { principalCache } from "../../accounts/principal-cache";
import { SCOPES } from "../../accounts/scopes";
import { AccountStore } from "../../accounts/store";
import { ApiError } from "../../errors";
import type { AppEnv } from "../../types";
import { readBody } from "../../validation";
import { requireAccount } from "./accounts";

export const issueKeySchema = z.strictObject({
  mode: z.enum(KEY_MODES).default("live"),
  name: z.string().max(200).default(""),
  scopes: z
    .array(z.enum(SCOPES))
    .min(1)
    .default([...SCOPES]),
});

export function mountAdminKeyRoutes(app: Hono<AppEnv>): void {
  app.post("/v1/admin/accounts/:id/keys", async (c) => {
    const input = await readBody(c, issueKeySchema);
    const store = new AccountStore(c.env.DB);
    const account = await requireAccount(store, c.req.param("id"));
    const { key, secret } = await store.issueKey(account.id, input);
    c.header("cache-control", "no-store");
    return c.json({ ...key, secret: secret.plaintext }, 201);
  });

  app.get("/v1/admin/accounts/:id/keys", async (c) => {
    const store = new AccountStore(c.env.DB);
    const account = await requireAccount(store, c.req.param("id"));
    return c.json({ object: "list", data: await store.listKeys(account.id) });
  });

  app.post("/v1/admin/accounts/:id/keys/:keyId/revoke", async (c) => {
    const revoked = await new AccountStore(c.env.DB).revokeKey(c.req.param("id"), c.req.param("keyId"));
    if (!revoked)
      throw new ApiError("not_found_error", "No such key for this account", { code: "key_not_found" });
    principalCache.delete(revoked.hash);
    console.log(
      JSON.stringify({
        level: "info",
        event: "key_revoked",
        keyId: revoked.key.id,
        prefix: revoked.key.prefix,
      }),
    );
    return c.json(revoked.key);
  });
}
