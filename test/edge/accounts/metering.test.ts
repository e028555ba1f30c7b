import { afterEach, describe, expect, it, vi } from "vitest";
import { call, generate, installGpu, ledgerRows, newCustomer } from "./support";

afterEach(() => vi.restoreAllMocks());

// Plan prices from newCustomer(): base 1000, 500 per megapixel-step, cache hit 200 (micro-USD).
const generatedPrice = (w: number, h: number, steps: number) =>
  1000 + Math.ceil((w * h * steps * 500) / 1_000_000);

describe("metering", () => {
  it("writes one ledger row per image, priced generated vs cache hit, matching what responses reported", async () => {
    const gpu = installGpu();
    const { key, accountId, keyId } = await newCustomer();
    const prompt = `moth ${crypto.randomUUID()}`;
    const miss = await generate(key, { prompt, size: "64x64", n: 2, seed: 100, steps: 4 });
    const hit = await generate(key, { prompt, size: "64x64", n: 2, seed: 100, steps: 4 });
    const partial = await generate(key, { prompt, size: "64x64", n: 3, seed: 100, steps: 4 });
    expect([miss, hit, partial].map((r) => r.headers.get("x-cache"))).toEqual(["MISS", "HIT", "PARTIAL"]);
    expect(gpu.calls).toHaveLength(3);

    const rows = await ledgerRows(accountId);
    expect(rows).toHaveLength(7);
    const byRequest = (res: Response) => rows.filter((r) => r.request_id === res.headers.get("x-request-id"));
    const gen = generatedPrice(64, 64, 4);
    expect(byRequest(miss).map((r) => [r.kind, r.amount_micros])).toEqual([
      ["generated", gen],
      ["generated", gen],
    ]);
    expect(byRequest(hit).map((r) => [r.kind, r.amount_micros])).toEqual([
      ["cache_hit", 200],
      ["cache_hit", 200],
    ]);
    expect(
      byRequest(partial)
        .map((r) => r.kind)
        .sort(),
    ).toEqual(["cache_hit", "cache_hit", "generated"]);
    expect(rows.every((r) => r.key_id === keyId && r.width === 64 && r.height === 64 && r.steps === 4)).toBe(
      true,
    );

    // Totals equal what clients were told, response by response.
    for (const res of [miss, hit, partial]) {
      const billed = byRequest(res);
      expect(Number(res.headers.get("x-usage-images"))).toBe(billed.length);
      expect(Number(res.headers.get("x-usage-amount-micros"))).toBe(
        billed.reduce((s, r) => s + r.amount_micros, 0),
      );
      const body = (await res.json()) as { data: { url: string }[]; usage: Record<string, number> };
      // The body's usage says the same as the headers and the ledger.
      expect(body.usage).toMatchObject({
        images: billed.length,
        generated: billed.filter((r) => r.kind === "generated").length,
        price_micros: billed.reduce((s, r) => s + r.amount_micros, 0),
      });
      expect(body.data.map((d) => d.url.split("/").pop()?.split(".")[0]).sort()).toEqual(
        billed.map((r) => r.cache_key).sort(),
      );
    }
  });

  it("does not bill failed generations", async () => {
    const gpu = installGpu();
    gpu
      .always("gpu-a.test", { kind: "status", status: 500 })
      .always("gpu-b.test", { kind: "status", status: 500 });
    const { key, accountId } = await newCustomer();
    const res = await generate(key, { prompt: `gnat ${crypto.randomUUID()}`, size: "64x64" });
    expect(res.status).toBeGreaterThanOrEqual(500); // 502, or 503 once the breaker opens
    expect(res.headers.get("x-usage-amount-micros")).toBeNull();
    expect(await ledgerRows(accountId)).toHaveLength(0);
  });

  it("does not bill requests refused by validation", async () => {
    installGpu();
    const { key, accountId } = await newCustomer();
    const res = await generate(key, { prompt: "", size: "64x64" });
    expect(res.status).toBe(400);
    expect(await ledgerRows(accountId)).toHaveLength(0);
  });
});

describe("GET /v1/usage", () => {
  async function seeded() {
    installGpu();
    const customer = await newCustomer();
    const prompt = `vole ${crypto.randomUUID()}`;
    await generate(customer.key, { prompt, size: "64x64", n: 2, seed: 1 });
    await generate(customer.key, { prompt, size: "64x64", n: 1, seed: 1 });
    return customer;
  }
  const usage = (key: string, query: string, accept?: string) =>
    call(`/v1/usage${query}`, { headers: { authorization: `Bearer ${key}`, ...(accept ? { accept } : {}) } });

  it("reports the caller's usage per day, totals equal to the ledger", async () => {
    const { key, accountId } = await seeded();
    const res = await usage(key, "");
    expect(res.status).toBe(200);
    const report = (await res.json()) as {
      account_id: string;
      data: { day: string; images: number; amount_micros: number }[];
      total: {
        images: number;
        generated: number;
        cache_hits: number;
        amount_micros: number;
        amount_usd: string;
      };
    };
    const rows = await ledgerRows(accountId);
    const total = rows.reduce((s, r) => s + r.amount_micros, 0);
    expect(report.account_id).toBe(accountId);
    expect(report.total).toEqual({
      images: 3,
      generated: 2,
      cache_hits: 1,
      amount_micros: total,
      amount_usd: `0.${String(total).padStart(6, "0")}`,
    });
    expect(report.data).toEqual([
      expect.objectContaining({
        day: new Date().toISOString().slice(0, 10),
        images: 3,
        amount_micros: total,
      }),
    ]);
  });

  it("groups by key, and answers CSV with Accept: text/csv", async () => {
    const { key, keyId, prefix, accountId } = await seeded();
    const total = (await ledgerRows(accountId)).reduce((s, r) => s + r.amount_micros, 0);
    const json = (await (await usage(key, "?group_by=key")).json()) as { data: unknown[] };
    expect(json.data).toEqual([expect.objectContaining({ key_id: keyId, key_prefix: prefix, images: 3 })]);

    const csv = await usage(key, "?group_by=key", "text/csv");
    expect(csv.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect((await csv.text()).split("\r\n")).toEqual([
      "key_id,key_prefix,images,generated,cache_hits,amount_micros,amount_usd",
      `${keyId},${prefix},3,2,1,${total},0.${String(total).padStart(6, "0")}`,
      "",
    ]);
  });

  it("honours the range and validates it", async () => {
    const { key } = await seeded();
    const past = (await (await usage(key, "?start=2020-01-01&end=2020-01-31")).json()) as { data: unknown[] };
    expect(past.data).toEqual([]);
    expect((await usage(key, "?start=yesterday")).status).toBe(400);
    expect((await usage(key, "?start=2026-01-02&end=2026-01-01")).status).toBe(400);
    expect((await usage(key, "?group_by=hour")).status).toBe(400);
  });

  it("shows only the caller's account; admins can read any account", async () => {
    const a = await seeded();
    const b = await newCustomer();
    const own = (await (await usage(b.key, "")).json()) as { total: { images: number } };
    expect(own.total.images).toBe(0);
    const viaAdmin = await call(`/v1/admin/accounts/${a.accountId}/usage?group_by=day`, {
      headers: { authorization: "Bearer test-admin-token" },
    });
    expect(((await viaAdmin.json()) as { total: { images: number } }).total.images).toBe(3);
  });
});
