/** A wrong method is a 405 in the envelope before auth, plan checks or rate limits run: it costs no quota. */
import { describe, expect, it } from "vitest";
import { call, generate, installGpu, newCustomer, readError } from "./support";

describe("wrong methods on the production app", () => {
  it("PUT/PATCH/DELETE with a JSON body answer 405 and leave the key's rate limit untouched", async () => {
    installGpu();
    const { key } = await newCustomer({ requests_per_minute: 1 });
    for (const method of ["PUT", "PATCH", "DELETE", "PUT"]) {
      const res = await call("/v1/images/generations", {
        method,
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ prompt: "p", size: "64x64" }),
      });
      expect(res.status, method).toBe(405);
      expect(res.headers.get("allow")).toBe("POST");
      expect(await readError(res)).toMatchObject({
        type: "invalid_request_error",
        code: "method_not_allowed",
      });
      expect(res.headers.get("ratelimit")).toBeNull();
    }
    // The one request the plan allows this minute is still there.
    const ok = await generate(key, { prompt: `after ${crypto.randomUUID()}`, size: "64x64" });
    expect(ok.status).toBe(200);
  });

  it("a wrong method is 405 even without a key, with a bad content type, or with a size over the plan", async () => {
    const { key } = await newCustomer({ max_pixels: 64 * 64 });
    const cases: RequestInit[] = [
      { method: "PUT", body: "{}" },
      { method: "PATCH", headers: { "content-type": "text/plain" }, body: "x" },
      {
        method: "PUT",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ prompt: "p", size: "2048x2048" }),
      },
      { method: "GET", headers: { authorization: `Bearer ${key}` } },
    ];
    for (const init of cases) {
      const res = await call("/v1/images/generations", init);
      expect(res.status, JSON.stringify(init)).toBe(405);
    }
  });
});
