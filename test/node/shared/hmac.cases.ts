/** HMAC signing cases, run both in Node (test/node/shared) and in workerd (test/edge/shared). */
import { describe, expect, it } from "vitest";
import { MemoryNonceStore, sha256Hex, signRequest, verifyRequest } from "../../../shared/hmac";
import { HMAC_HEADERS } from "../../../shared/protocol";

const SECRET = "vector-secret";
const BODY = '{"prompt":"a cat"}';
const NOW = 1_700_000_000_000;
// Nonce stores share the verifier's fixed clock (in production both read Date.now()).
const storeAtNow = () => new MemoryNonceStore({ now: () => NOW + 1000 });

/** Computed independently with node:crypto (createHmac) for the signed string of the contract. */
export const HMAC_VECTOR = {
  bodySha256: "6c2ed3bea0cbbaec773071995caf22fbd3b9ab40d6c93b804ddfb4ed9f6c33a2",
  signature: "64eaf8702c9530c1035c4a2a51634bf85888e91c920f9cc4b8df91dff3ff1d72",
};

const sign = (over: Partial<Parameters<typeof signRequest>[0]> = {}) =>
  signRequest({ secret: SECRET, method: "POST", path: "/v1/infer", body: BODY, now: NOW, ...over });

const verify = (
  headers: Record<string, string> | Headers,
  over: Partial<Parameters<typeof verifyRequest>[0]> = {},
) =>
  verifyRequest({
    secret: SECRET,
    method: "POST",
    path: "/v1/infer",
    body: BODY,
    headers,
    now: NOW + 1000,
    nonces: storeAtNow(),
    ...over,
  });

export function hmacCases(): void {
  describe("HMAC signing", () => {
    it("matches the fixed vector", async () => {
      expect(await sha256Hex(BODY)).toBe(HMAC_VECTOR.bodySha256);
      const headers = await sign({ nonce: "nonce-0001", method: "post" });
      expect(headers).toEqual({
        [HMAC_HEADERS.timestamp]: String(NOW),
        [HMAC_HEADERS.nonce]: "nonce-0001",
        [HMAC_HEADERS.signature]: HMAC_VECTOR.signature,
      });
    });

    it("accepts a fresh, correctly signed request (string or bytes body, Headers or record)", async () => {
      expect(await verify(await sign())).toEqual({ ok: true });
      const bytes = new TextEncoder().encode(BODY);
      expect(await verify(new Headers(await sign({ body: bytes })), { body: bytes })).toEqual({ ok: true });
    });

    it.each([
      ["another body", { body: '{"prompt":"a dog"}' }],
      ["another path", { path: "/v1/infer?x=1" }],
      ["another method", { method: "PUT" }],
      ["another secret", { secret: "not-the-secret" }],
    ])("rejects a signature over %s", async (_name, over) => {
      expect(await verify(await sign(), over)).toEqual({ ok: false, reason: "bad_signature" });
    });

    it("rejects a tampered or malformed signature", async () => {
      const headers = await sign();
      const sig = headers[HMAC_HEADERS.signature];
      const flipped = (sig[0] === "0" ? "1" : "0") + sig.slice(1);
      expect(await verify({ ...headers, [HMAC_HEADERS.signature]: flipped })).toMatchObject({
        reason: "bad_signature",
      });
      expect(await verify({ ...headers, [HMAC_HEADERS.signature]: "zz" })).toMatchObject({
        reason: "bad_signature",
      });
      expect(await verify({ ...headers, [HMAC_HEADERS.timestamp]: "soon" })).toMatchObject({
        reason: "bad_signature",
      });
    });

    it("rejects timestamps more than 5 minutes away, either way", async () => {
      const headers = await sign();
      expect(await verify(headers, { now: NOW + 300_000 })).toEqual({ ok: true });
      expect(await verify(headers, { now: NOW + 300_001 })).toEqual({ ok: false, reason: "stale" });
      expect(await verify(headers, { now: NOW - 300_001 })).toEqual({ ok: false, reason: "stale" });
      expect(await verify(headers, { now: NOW + 10_000, maxSkewMs: 5_000 })).toMatchObject({
        reason: "stale",
      });
    });

    it("rejects a replayed nonce", async () => {
      const nonces = storeAtNow();
      const headers = await sign();
      expect(await verify(headers, { nonces })).toEqual({ ok: true });
      expect(await verify(headers, { nonces })).toEqual({ ok: false, reason: "replay" });
      expect(await verify(await sign(), { nonces })).toEqual({ ok: true });
    });

    it("reports missing headers", async () => {
      const { [HMAC_HEADERS.nonce]: _dropped, ...rest } = await sign();
      expect(await verify(rest)).toEqual({ ok: false, reason: "missing" });
      expect(await verify({})).toEqual({ ok: false, reason: "missing" });
    });

    it("binds a signature to its audience: valid at that backend only", async () => {
      const A = "http://gpu-a.internal:8188";
      const B = "http://gpu-b.internal:8188";
      const headers = await sign({ audience: `${A}/` });
      expect(headers[HMAC_HEADERS.audience]).toBe(A);
      expect(await verify(headers, { audiences: [A] })).toEqual({ ok: true });
      expect(await verify(headers, { audiences: [B] })).toEqual({ ok: false, reason: "wrong_audience" });
      // Claiming B in the header does not help: the signature covers the audience.
      expect(await verify({ ...headers, [HMAC_HEADERS.audience]: B }, { audiences: [B] })).toEqual({
        ok: false,
        reason: "bad_signature",
      });
      // Nor does dropping it: a verifier that knows its audience requires one.
      const { [HMAC_HEADERS.audience]: _a, ...bare } = headers;
      expect(await verify(bare, { audiences: [A] })).toEqual({ ok: false, reason: "wrong_audience" });
      expect(await verify(bare)).toEqual({ ok: false, reason: "bad_signature" });
      // An audience-less signature is still the fixed vector's (verifiers without GPU_AUDIENCE accept it).
      expect(await verify(await sign())).toEqual({ ok: true });
      expect(await verify(await sign(), { audiences: [A] })).toEqual({ ok: false, reason: "wrong_audience" });
    });

    it("refuses a signature made before the verifier's process started", async () => {
      const headers = await sign();
      expect(await verify(headers, { notBeforeMs: NOW + 1 })).toEqual({
        ok: false,
        reason: "signed_before_start",
      });
      expect(await verify(headers, { notBeforeMs: NOW })).toEqual({ ok: true });
    });

    it("does not record nonces of forged requests", async () => {
      const nonces = storeAtNow();
      const headers = await sign({ nonce: "n-1" });
      await verify(headers, { nonces, secret: "wrong" });
      expect(nonces.size).toBe(0);
      expect(await verify(headers, { nonces })).toEqual({ ok: true });
    });
  });

  describe("MemoryNonceStore", () => {
    it("stays bounded, sweeping expired nonces first", () => {
      let now = 0;
      const store = new MemoryNonceStore({ maxEntries: 3, now: () => now });
      expect(store.checkAndAdd("a", 10)).toBe(true);
      expect(store.checkAndAdd("b", 100)).toBe(true);
      expect(store.checkAndAdd("c", 100)).toBe(true);
      now = 50; // "a" expired
      expect(store.checkAndAdd("d", 150)).toBe(true);
      expect(store.size).toBe(3);
      expect(store.checkAndAdd("b", 200)).toBe(false);
      expect(store.checkAndAdd("e", 200)).toBe(true); // full of live nonces: the oldest goes
      expect(store.size).toBe(3);
    });

    it("accepts a nonce again once it has expired", () => {
      let now = 0;
      const store = new MemoryNonceStore({ now: () => now });
      expect(store.checkAndAdd("x", 10)).toBe(true);
      now = 11;
      expect(store.checkAndAdd("x", 20)).toBe(true);
    });
  });
}
