import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CACHE_KEY_VECTORS, cacheKeyCases } from "./cache-key.cases";
import { errorCases } from "./errors.cases";
import { HMAC_VECTOR, hmacCases } from "./hmac.cases";

cacheKeyCases();
hmacCases();
errorCases();

describe("fixed vectors agree with node:crypto", () => {
  it.each(CACHE_KEY_VECTORS)("sha256 of $canonical", ({ canonical, key }) => {
    expect(createHash("sha256").update(canonical).digest("hex")).toBe(key);
  });

  it("HMAC vector", () => {
    const body = '{"prompt":"a cat"}';
    const digest = createHash("sha256").update(body).digest("hex");
    expect(digest).toBe(HMAC_VECTOR.bodySha256);
    const signed = `POST\n/v1/infer\n1700000000000\nnonce-0001\n${digest}`;
    expect(createHmac("sha256", "vector-secret").update(signed).digest("hex")).toBe(HMAC_VECTOR.signature);
  });
});
