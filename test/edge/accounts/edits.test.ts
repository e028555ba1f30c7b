/**
 * POST /v1/images/edits through the production entry (accounts): API key, image quota, Idempotency-Key and
 * metering exactly as for generations, billed with the steps that actually run.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, edit, installGpu, ledgerRows, newCustomer } from "./support";

afterEach(() => vi.restoreAllMocks());

describe("edits with accounts", () => {
  it("needs an API key, bills per image with the steps run, replays under Idempotency-Key", async () => {
    const gpu = installGpu();
    const { key, accountId } = await newCustomer();
    const fields = { prompt: `edit ${crypto.randomUUID()}`, n: "2", seed: "3", strength: "0.5", steps: "8" };

    const anonymous = await call("/v1/images/edits", { method: "POST", body: new FormData() });
    expect(anonymous.status).toBe(401);

    const idem = { "idempotency-key": `k-${crypto.randomUUID()}` };
    const first = await edit(key, fields, idem);
    expect(first.status).toBe(200);
    const body = (await first.json()) as { usage: { steps: number; price_micros: number } };
    expect(body.usage.steps).toBe(4); // 8 steps, strength 0.5 -> t_start 4 -> 4 run
    expect(gpu.calls).toHaveLength(2);

    const rows = await ledgerRows(accountId);
    expect(rows.map((r) => [r.kind, r.steps])).toEqual([
      ["generated", 4],
      ["generated", 4],
    ]);
    // Plan prices from newCustomer(): base 1000 + 500 per megapixel-step.
    const unit = 1000 + Math.ceil((64 * 64 * 4 * 500) / 1_000_000);
    expect(body.usage.price_micros).toBe(2 * unit);

    // A retry sends a new multipart boundary: still the same request for Idempotency-Key (replayed, not billed).
    const retry = await edit(key, fields, idem);
    expect(retry.status).toBe(200);
    expect(await retry.json()).toEqual(body);
    expect(await ledgerRows(accountId)).toHaveLength(2);
    expect(gpu.calls).toHaveLength(2);

    // Same key, other fields: 422 as for generations.
    const conflict = await edit(key, { ...fields, strength: "0.9" }, idem);
    expect(conflict.status).toBe(422);
  });

  it("a streamed edit is billed once, with the steps run, when its image exists", async () => {
    installGpu();
    const { key, accountId } = await newCustomer();
    const fields = { prompt: `streamed ${crypto.randomUUID()}`, strength: "0.5", steps: "8", stream: "true" };
    const res = await edit(key, fields);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const text = await res.text();
    expect(text).toContain("event: image_edit.completed");
    const rows = await ledgerRows(accountId);
    expect(rows.map((r) => [r.kind, r.steps])).toEqual([["generated", 4]]);
    const completed = JSON.parse(
      text
        .split("\n")
        .filter((line) => line.startsWith("data: ") && line.includes("image_edit.completed"))[0]
        .slice(6),
    ) as { usage: { steps: number; price_micros: number } };
    expect(completed.usage).toMatchObject({ steps: 4, price_micros: rows[0].amount_micros });
  });

  it("counts edits against the plan's images per request", async () => {
    installGpu();
    const { key } = await newCustomer({ max_images_per_request: 1 });
    const res = await edit(key, { prompt: "p", n: "2" });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("plan_max_images");
  });
});
