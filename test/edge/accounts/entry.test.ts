import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../../edge/index";
import { ORIGIN } from "../support/api";
import { newCustomer, readError } from "./support";

async function fetchEntry(path: string, headers: Record<string, string> = {}) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${ORIGIN}${path}`, { headers }), env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe("the deployed Worker entry (edge/index.ts)", () => {
  it("requires an API key and mounts the admin API", async () => {
    const anonymous = await fetchEntry("/v1/models");
    expect(anonymous.status).toBe(401);
    expect(await readError(anonymous)).toMatchObject({ code: "missing_api_key" });
    const { key } = await newCustomer();
    const res = await fetchEntry("/v1/models", { authorization: `Bearer ${key}` });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-ratelimit-limit")).toBe("1000");
    expect((await fetchEntry("/v1/admin/plans", { authorization: `Bearer ${env.ADMIN_TOKEN}` })).status).toBe(
      200,
    );
  });
});
