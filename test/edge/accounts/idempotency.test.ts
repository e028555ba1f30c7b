import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { sha256Hex } from "../../../shared/hmac";
import { gate } from "../support/fake-gpu";
import { generate, installGpu, ledgerRows, newCustomer, readError } from "./support";

afterEach(() => vi.restoreAllMocks());

describe("Idempotency-Key", () => {
  it("50 concurrent retries with one key: 1 backend call, 1 ledger row, the others wait and get its replay", async () => {
    const gpu = installGpu();
    const held = gate();
    gpu
      .always("gpu-a.test", { kind: "ok", gate: held.promise })
      .always("gpu-b.test", { kind: "ok", gate: held.promise });
    const { key, accountId } = await newCustomer();
    const body = { prompt: `lynx ${crypto.randomUUID()}`, size: "64x64", seed: 5 };
    const headers = { "idempotency-key": "order-123" };

    // All 50 race for the key; whoever claims it is held at the GPU while the other 49 wait for it.
    const pending = Array.from({ length: 50 }, () => generate(key, body, headers));
    while (gpu.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 200));
    held.release();
    const responses = await Promise.all(pending);
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    const originals = responses.filter((r) => r.headers.get("idempotent-replayed") !== "true");
    expect(originals).toHaveLength(1);
    const [original] = originals;
    const waited = responses.filter((r) => r !== original);
    const originalText = await original.clone().text();
    for (const res of waited) {
      expect(res.headers.get("x-original-request-id")).toBe(original.headers.get("x-request-id"));
      expect(await res.text()).toBe(originalText);
    }
    expect(gpu.calls).toHaveLength(1);
    expect(await ledgerRows(accountId)).toHaveLength(1);

    // A retry after completion replays the stored response: same body, no new generation or ledger row.
    const originalBody = await original.text();
    const replay = await generate(key, body, headers);
    expect(replay.status).toBe(200);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.headers.get("x-original-request-id")).toBe(original.headers.get("x-request-id"));
    expect(replay.headers.get("x-cache")).toBe(original.headers.get("x-cache"));
    expect(original.headers.get("x-usage-images")).toBe("1");
    expect(replay.headers.get("x-usage-images")).toBeNull(); // not billed again, so no charge reported
    expect(await replay.text()).toBe(originalBody);
    expect(gpu.calls).toHaveLength(1);
    expect(await ledgerRows(accountId)).toHaveLength(1);
  });

  it("a retry waiting on an original that fails runs the request itself", async () => {
    const gpu = installGpu();
    const held = gate();
    gpu
      .always("gpu-a.test", { kind: "status", status: 400, gate: held.promise })
      .always("gpu-b.test", { kind: "status", status: 400, gate: held.promise });
    const { key, accountId } = await newCustomer();
    const body = { prompt: `heron ${crypto.randomUUID()}`, size: "64x64", seed: 6 };
    const headers = { "idempotency-key": "order-fails-first" };
    const first = generate(key, body, headers);
    while (gpu.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const retry = generate(key, body, headers);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The original's call is already held with its refusal; calls from now on succeed.
    gpu.always("gpu-a.test", { kind: "ok" }).always("gpu-b.test", { kind: "ok" });
    held.release();
    expect((await first).status).toBe(502);
    const second = await retry;
    expect(second.status).toBe(200);
    expect(second.headers.get("idempotent-replayed")).toBeNull();
    expect(gpu.calls).toHaveLength(2);
    expect(await ledgerRows(accountId)).toHaveLength(1);
  });

  it("answers 409 + Retry-After only when the original outlasts the wait (the generation deadline)", async () => {
    installGpu();
    const { key, accountId } = await newCustomer();
    const body = { prompt: `stuck ${crypto.randomUUID()}`, size: "64x64" };
    const payload = JSON.stringify(body);
    const fingerprint = await sha256Hex(`POST /v1/images/generations\n${payload}`);
    const now = Date.now();
    // An original that holds the key and never finishes within the wait.
    await env.DB.prepare(
      `INSERT INTO idempotency_keys (account_id, idempotency_key, fingerprint, state, request_id, locked_until,
         created_at, expires_at) VALUES (?, ?, ?, 'in_flight', 'req_original', ?, ?, ?)`,
    )
      .bind(accountId, "order-stuck", fingerprint, now + 600_000, now, now + 86_400_000)
      .run();
    const res = await generate(key, body, { "idempotency-key": "order-stuck" }, { GPU_DEADLINE_MS: "100" });
    expect(res.status).toBe(409);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await readError(res)).toMatchObject({
      type: "idempotency_error",
      code: "idempotency_key_in_progress",
    });
  });

  it("answers 422 for the same key with a different body", async () => {
    installGpu();
    const { key } = await newCustomer();
    const headers = { "idempotency-key": "k-422" };
    expect((await generate(key, { prompt: "a", size: "64x64", seed: 1 }, headers)).status).toBe(200);
    const res = await generate(key, { prompt: "b", size: "64x64", seed: 1 }, headers);
    expect(res.status).toBe(422);
    expect(await readError(res)).toMatchObject({ type: "idempotency_error", code: "idempotency_key_reused" });
  });

  it("scopes keys to the account", async () => {
    const gpu = installGpu();
    const a = await newCustomer();
    const b = await newCustomer();
    const headers = { "idempotency-key": "shared-name" };
    const body = { prompt: `ibis ${crypto.randomUUID()}`, size: "64x64", seed: 2 };
    expect((await generate(a.key, body, headers)).status).toBe(200);
    const other = await generate(b.key, body, headers);
    expect(other.status).toBe(200);
    expect(other.headers.get("idempotent-replayed")).toBeNull();
    expect(gpu.calls).toHaveLength(1); // b's request was a cache hit, but it ran and was billed
    expect(await ledgerRows(b.accountId)).toHaveLength(1);
  });

  it("releases the key when the request fails, so a retry runs again", async () => {
    const gpu = installGpu();
    gpu
      .always("gpu-a.test", { kind: "status", status: 500 })
      .always("gpu-b.test", { kind: "status", status: 500 });
    const { key, accountId } = await newCustomer();
    const headers = { "idempotency-key": "retry-me" };
    const body = { prompt: `wren ${crypto.randomUUID()}`, size: "64x64", seed: 3 };
    expect((await generate(key, body, headers)).status).toBeGreaterThanOrEqual(500);
    expect(await ledgerRows(accountId)).toHaveLength(0);
    gpu.always("gpu-a.test", { kind: "ok" }).always("gpu-b.test", { kind: "ok" });
    const retried = await generate(key, body, headers);
    expect(retried.status).toBe(200);
    expect(retried.headers.get("idempotent-replayed")).toBeNull();
    expect(await ledgerRows(accountId)).toHaveLength(1);
  });

  it("rejects malformed keys", async () => {
    const { key } = await newCustomer();
    const res = await generate(key, { prompt: "a", size: "64x64" }, { "idempotency-key": "has space" });
    expect(res.status).toBe(400);
    expect(await readError(res)).toMatchObject({ param: "Idempotency-Key", code: "invalid_idempotency_key" });
  });
});
