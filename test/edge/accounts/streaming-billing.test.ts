/**
 * Billing and Idempotency-Key for `stream: true` on the production app (accounts extension) in the Workers
 * runtime: a streamed image is billed exactly once, when it exists; a failed stream bills nothing and frees its
 * Idempotency-Key; a replay streams the stored transcript without a new ledger row.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { accountsExtension } from "../../../edge/accounts/extension";
import { createApp } from "../../../edge/app";
import type { GenerationRequestInput } from "../../../shared/api";
import { ORIGIN } from "../support/api";
import type { Behaviour, FakeGpu } from "../support/fake-gpu";
import { eventTypes, parseSse } from "../support/sse";
import { installGpu, ledgerRows, newCustomer } from "./support";

afterEach(() => vi.restoreAllMocks());

const app = createApp({ extensions: [accountsExtension()] });

/** Streams one request and reads it to the end before waiting for the request's background work. */
async function stream(key: string, body: GenerationRequestInput, headers: Record<string, string> = {}) {
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`${ORIGIN}/v1/images/generations`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
      body: JSON.stringify({ ...body, stream: true }),
    }),
    env,
    ctx,
  );
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { res, text, events: parseSse(text) };
}

function failingGpu(behaviour: Behaviour): FakeGpu {
  const gpu = installGpu();
  gpu.always("gpu-a.test", behaviour).always("gpu-b.test", behaviour);
  return gpu;
}

describe("billing of streamed generations", () => {
  it("bills a streamed miss once, at the price its completed event reports", async () => {
    installGpu();
    const { key, accountId } = await newCustomer();
    const { res, events } = await stream(key, {
      prompt: `streamed ${crypto.randomUUID()}`,
      size: "64x64",
      partial_images: 1,
    });
    expect(res.status).toBe(200);
    expect(eventTypes(events).at(-1)).toBe("image_generation.completed");
    const rows = await ledgerRows(accountId);
    expect(rows.map((r) => r.kind)).toEqual(["generated"]);
    expect(events.at(-1)!.data).toMatchObject({
      usage: { generated: 1, price_micros: rows[0].amount_micros },
    });
  });

  it("bills nothing for a stream that fails mid-way and frees its Idempotency-Key for the retry", async () => {
    failingGpu({ kind: "die", afterSteps: 2 });
    const { key, accountId } = await newCustomer();
    const body = { prompt: `fails ${crypto.randomUUID()}`, size: "64x64" };
    const idem = { "idempotency-key": `k-${crypto.randomUUID()}` };
    const failed = await stream(key, body, idem);
    expect(eventTypes(failed.events).at(-1)).toBe("error");
    expect(await ledgerRows(accountId)).toHaveLength(0);

    vi.restoreAllMocks();
    installGpu();
    const retried = await stream(key, body, idem);
    expect(retried.res.headers.get("idempotent-replayed")).toBeNull();
    expect(eventTypes(retried.events).at(-1)).toBe("image_generation.completed");
    expect(await ledgerRows(accountId)).toHaveLength(1);
  });

  it("replays a completed stream for the same Idempotency-Key without billing again", async () => {
    const gpu = installGpu();
    const { key, accountId } = await newCustomer();
    const body = { prompt: `replayed ${crypto.randomUUID()}`, size: "64x64" };
    const idem = { "idempotency-key": `k-${crypto.randomUUID()}` };
    const first = await stream(key, body, idem);
    const replay = await stream(key, body, idem);
    expect(replay.res.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(eventTypes(replay.events)).toEqual(["image_generation.completed"]);
    expect(replay.events[0].data).toEqual(first.events.at(-1)!.data);
    expect(gpu.calls).toHaveLength(1);
    expect(await ledgerRows(accountId)).toHaveLength(1);
  });
});
